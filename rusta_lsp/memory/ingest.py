"""Ingestion: keep the memory equal to the workspace (plus open editor buffers).

Two stages. Structure: discover and parse the workspace crate by crate (over a process pool for a
large workspace), and write files/items/refs/passages for every file whose content hash changed
(deleted files are dropped). Vectors: embed what has
no vector yet, behind. Both stages report progress (percent, message), stop at the next batch
when their CancelToken is set, and keep to a CPU budget by sleeping between batches. What was
committed before a cancel or a crash stays; the next run picks up the rest.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..analysis.model import Crate, FileAnalysis, SourceFile, Workspace
from ..analysis.parser import analyze_source
from ..analysis.workspace import (
    IGNORED_DIRS, DiskSource, analyses_of, crate_files, loose_files, workspace_crates,
)  # fmt: skip
from ..cancel import Cancelled, CancelToken
from ..safe_read import read_or_skip, utf8_name, walk_files
from .rows import content_hash, markdown_rows, rust_rows
from .store import Memory
from .writer import FileRows, sql_str

log = logging.getLogger(__name__)

Progress = Callable[[int, str], None]  # percent 0..100, message
WRITE_BATCH_FILES = 64
EMBED_BATCH = 64
EMBED_WINDOW = 1024  # texts read from the memory at a time by the vector stage
POOL_MIN_FILES = 400  # source files from which the structure stage fans out over processes


@dataclass
class IngestResult:
    files: int
    items: int
    embedded: int
    seconds: float
    changed: int  # files written or removed by this run
    cancelled: bool = False


class Pacer:
    """CPU budget: after each unit of work, sleep so work takes `budget` of the wall clock."""

    def __init__(self, budget: float, cancel: CancelToken | None):
        self.budget = min(max(budget, 0.05), 1.0)
        self.cancel = cancel
        self._mark = time.perf_counter()

    def step(self) -> None:
        if self.cancel is not None:
            self.cancel.check()
        now = time.perf_counter()
        if self.budget < 1.0:
            time.sleep((now - self._mark) * (1.0 - self.budget) / self.budget)
        self._mark = time.perf_counter()


class OverlaySource(DiskSource):
    """The disk, with open editor buffers on top; remembers the hash of what it handed out."""

    def __init__(self, root: Path, buffers: dict[str, bytes], on_read: Callable[[], None] = lambda: None):
        super().__init__(root)
        self.buffers = buffers
        self.on_read = on_read
        self.contents: dict[str, bytes] = {}

    def read_bytes(self, rel: str) -> bytes | None:
        self.on_read()  # paces the parse and lets a cancel stop it between files
        data = self.buffers.get(rel)
        if data is None:
            data = super().read_bytes(rel)
        if data is not None and rel.endswith(".rs"):
            self.contents[rel] = data
        return data

    def is_file(self, rel: str) -> bool:
        return rel in self.buffers or super().is_file(rel)


def count_sources(root: Path) -> int:
    """Rough number of .rs files, to turn "files parsed" into a percentage."""
    def keep(folder: Path) -> bool:
        return folder.name not in IGNORED_DIRS and not folder.name.startswith(".")

    return max(sum(1 for path in walk_files(root, keep) if path.name.endswith(".rs")), 1)


class _Writes:
    """Changes gathered into batches of WRITE_BATCH_FILES files for the writer; at most two
    batches in flight (the writer stays busy, the corpus is never queued whole)."""

    def __init__(self, memory: Memory, pacer: Pacer, written: Callable[[int], None]):
        self.memory = memory
        self.pacer = pacer
        self.written = written
        self.batch: dict[str, FileRows | None] = {}
        self.pending: list = []
        self.count = 0

    def add(self, changes: dict[str, FileRows | None]) -> None:
        for path, rows in changes.items():
            self.batch[path] = rows
            self.count += 1
            if len(self.batch) >= WRITE_BATCH_FILES:
                self._submit()

    def _submit(self) -> None:
        self.pacer.step()
        self.pending.append(self.memory.write_files(self.batch))
        self.written(len(self.batch))
        self.batch = {}
        if len(self.pending) > 2:
            self.pending.pop(0).result()

    def finish(self) -> None:
        if self.batch:
            self._submit()
        for future in self.pending:
            future.result()
        self.pending = []


def changed_rows(analyses: list[FileAnalysis], contents: dict[str, bytes], known: dict[str, str]) -> dict[str, FileRows]:
    """Rows of the analysed files whose content hash is not the one the memory holds."""
    rows = {}
    for analysis in analyses:
        data = contents.get(analysis.path)
        if data is None or analysis.skipped:
            continue
        digest = content_hash(data)
        if known.get(analysis.path) != digest:
            rows[analysis.path] = rust_rows(analysis, data, digest)
    return rows


def crate_structure(root: str, crate: Crate, buffers: dict[str, bytes], known: dict[str, str],
                    budget: float) -> tuple[list[SourceFile], list[str], dict[str, FileRows]]:
    """One crate's structure stage in a worker process: its files, the paths it parsed, and the
    rows of those whose content changed. Sleeps to keep to `budget` of the wall clock."""
    started = time.perf_counter()
    source = OverlaySource(Path(root), buffers)
    ws = Workspace(root=root)
    parsed: dict[str, FileAnalysis] = {}
    crate_files(source, ws, crate, set(), parsed)
    analyses = analyses_of(source, ws.files, parsed)
    rows = changed_rows(analyses, source.contents, known)
    if budget < 1.0:
        time.sleep((time.perf_counter() - started) * (1.0 - budget) / budget)
    return ws.files, [a.path for a in analyses if not a.skipped], rows


def _pool_size(workspace: Workspace, files: int) -> int:
    """Worker processes for the structure stage: one per core for a large multi-crate workspace
    (a small one would spend longer starting them than parsing)."""
    if len(workspace.crates) < 2 or files < POOL_MIN_FILES:
        return 1
    return min(os.cpu_count() or 1, len(workspace.crates))


class Ingestor:
    """Keeps one Memory in step with one workspace. Thread-safe: runs are serialised."""

    def __init__(self, memory: Memory, root: Path, *, embedder=None, cpu_budget: float = 1.0,
                 workers: int | None = None):
        self.memory = memory
        self.root = Path(root).resolve()
        self.embedder = embedder if embedder is not None else memory.embedder
        self.cpu_budget = cpu_budget  # per worker
        self.workers = workers  # processes for the structure stage; None: by the workspace's size
        self.buffers: dict[str, bytes] = {}
        self.workspace: Workspace | None = None  # crates and module tree of the last full pass
        self.files: dict[str, SourceFile] = {}  # from the last discovery
        self.watch_dirs: list[str] = []
        self.doc_paths: set[str] = set()
        self.crate_roots: set[str] = {""}
        self._lock = threading.RLock()  # one structure pass or file update at a time
        self._embed_lock = threading.Lock()

    # --- full pass -------------------------------------------------------------------------

    def run(self, progress: Progress | None = None, cancel: CancelToken | None = None,
            embed: bool = True) -> IngestResult:
        """Bring the memory up to date with the workspace; embed behind unless `embed` is False."""
        started = time.perf_counter()
        report = progress or (lambda percent, message: None)
        share = 50 if embed else 100  # percent of the bar the structure stage takes
        changed = 0
        cancelled = False
        try:
            with self._lock:
                changed = self._structure(report, cancel, share)
            if embed:  # outside the lock: buffer updates must not wait for the embedder
                self.embed_pending(lambda p, m: report(share + p * (100 - share) // 100, m), cancel)
        except Cancelled:
            cancelled = True
        self.memory.flush()
        stats = self.memory.stats()
        if not cancelled:
            report(100, "memory up to date")
        return IngestResult(stats["files"], stats["items"], stats["embedded"],
                            round(time.perf_counter() - started, 3), changed, cancelled)

    def _structure(self, report: Progress, cancel: CancelToken | None, share: int) -> int:
        """Crate by crate (in worker processes for a large workspace): analyse, turn the files
        whose content changed into rows, write them in batches, forget them; then drop the rows
        of files that are gone. Only a batch of rows is held at a time, never the workspace's."""
        pacer = Pacer(self.cpu_budget, cancel)
        expected = count_sources(self.root)
        done = {"parsing": 0, "writing": 0}

        def advance(stage: str, files: int) -> None:  # each file is parsed, then written (if changed)
            done[stage] += files
            report(min((done["parsing"] + done["writing"]) * share // (2 * expected), share - 1), stage)

        report(0, "discovering the workspace")
        known = self.memory.file_hashes()
        workspace, _ = workspace_crates(self.root)
        self.workspace = workspace
        self.watch_dirs = workspace.watch_dirs
        self.crate_roots = {""} | {crate.root for crate in workspace.crates}
        self.files = {}
        writes = _Writes(self.memory, pacer, lambda files: advance("writing", files))
        present: set[str] = set()
        for files, parsed, rows in self._crate_results(workspace, known, pacer, lambda: advance("parsing", 1)):
            claimed = [f for f in files if f.path not in self.files]  # a file two crates reach: the first's
            workspace.files.extend(claimed)
            self.files.update((f.path, f) for f in claimed)
            present.update(parsed)
            mine = {f.path for f in claimed}
            writes.add({p: r for p, r in rows.items() if p in mine})
        self.doc_paths = set(self._markdown_files(workspace))
        for rel in self.doc_paths:
            data = self._read(rel)
            if data is not None and known.get(rel) != content_hash(data):
                writes.add({rel: markdown_rows(rel, data.decode("utf-8", "replace"), content_hash(data))})
        writes.add({gone: None for gone in set(known) - present - self.doc_paths})
        writes.finish()
        self.memory.build_indexes().result()  # a no-op once every table has its indexes
        if writes.count:
            self.memory.prune_vectors()  # behind: vectors of texts that no longer exist
        return writes.count

    def _crate_results(self, workspace: Workspace, known: dict[str, str], pacer: Pacer, parsed_one: Callable[[], None]):
        """(files, paths parsed, rows of the changed ones) per crate, in crate order."""
        buffers = dict(self.buffers)
        workers = self.workers if self.workers is not None else _pool_size(workspace, count_sources(self.root))
        if workers < 2:
            def on_read() -> None:  # paces the parse and lets a cancel stop it between files
                pacer.step()
                parsed_one()

            source = OverlaySource(self.root, buffers, on_read=on_read)
            seen: set[str] = set()
            for crate in workspace.crates or [None]:
                ws = Workspace(root=workspace.root)
                parsed: dict[str, FileAnalysis] = {}
                if crate is None:
                    loose_files(source, ws)
                else:
                    crate_files(source, ws, crate, seen, parsed)
                analyses = analyses_of(source, ws.files, parsed)
                yield ws.files, [a.path for a in analyses if not a.skipped], changed_rows(analyses, source.contents, known)
                source.contents.clear()
            return
        context = multiprocessing.get_context("spawn")  # never fork a process running LanceDB's threads
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            in_flight: deque = deque()
            crates = iter(workspace.crates)
            try:
                while True:
                    while len(in_flight) < 2 * workers:  # bounded: results wait in memory otherwise
                        crate = next(crates, None)
                        if crate is None:
                            break
                        prefix = f"{crate.root}/" if crate.root else ""
                        mine = {p: h for p, h in known.items() if p.startswith(prefix)}
                        in_flight.append(pool.submit(crate_structure, workspace.root, crate, buffers, mine,
                                                     self.cpu_budget))
                    if not in_flight:
                        return
                    result = in_flight.popleft().result()
                    pacer.step()  # a cancel stops here, between crates
                    for _ in result[0]:
                        parsed_one()
                    yield result
            finally:
                for future in in_flight:
                    future.cancel()

    def _markdown_files(self, workspace) -> list[str]:
        """README and other .md files at the workspace root and in each crate's folder."""
        found = []
        for rel_dir in sorted(self.crate_roots):
            folder = self.root / rel_dir
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            found.extend(f"{rel_dir}/{n}".lstrip("/") for n in names if n.lower().endswith(".md") and utf8_name(n))
        return [rel for rel in found if (self.root / rel).is_file()]

    def _read(self, rel: str) -> bytes | None:
        data = self.buffers.get(rel)
        if data is not None:
            return data
        return read_or_skip(self.root / rel, self.root)

    # --- the vectors stage -----------------------------------------------------------------

    def embed_pending(self, progress: Progress | None = None, cancel: CancelToken | None = None) -> int:
        """Embed every item and passage that has no vector yet. Returns how many were embedded."""
        if self.embedder is None or not self.embedder.available:
            return 0  # a model that does not load changes nothing: the stored vectors stay
        self.memory.use_vector_model(self.embedder.name)
        hashes = self.memory.unembedded_hashes()
        report = progress or (lambda percent, message: None)
        done = 0
        for start in range(0, len(hashes), EMBED_WINDOW):  # a window of texts in memory at a time
            window = self.memory.texts_of(hashes[start : start + EMBED_WINDOW])
            done += self._embed(window, report, cancel, before=done, total=len(hashes))
        self.memory.finish_vector_model()
        return done

    def _embed(self, todo: list[tuple[str, str]], progress: Progress | None = None,
               cancel: CancelToken | None = None, before: int = 0, total: int | None = None) -> int:
        """Embed `todo`; progress counts from `before` of `total` texts (a window of a larger pass)."""
        report = progress or (lambda percent, message: None)
        total = before + len(todo) if total is None else total
        if not todo or self.embedder is None or not self.embedder.available:
            return 0
        # Similar lengths in a batch waste less compute on padding.
        todo = sorted(todo, key=lambda pair: len(pair[1]))
        pacer = Pacer(self.cpu_budget, cancel)
        done = 0
        with self._embed_lock:
            for start in range(0, len(todo), EMBED_BATCH):
                pacer.step()
                batch = todo[start : start + EMBED_BATCH]
                vectors = self.embedder.embed([text for _, text in batch])
                self.memory.write_vectors([h for h, _ in batch], vectors)
                done += len(batch)
                report((before + done) * 100 // total, f"embedding {before + done}/{total}")
        self.memory.build_indexes().result()  # the vectors table's, once it has rows
        return done

    # --- single files: watcher events and editor buffers -------------------------------------

    def update_paths(self, paths: Iterable[str], embed: bool = True) -> int:
        """Re-index these workspace-relative paths (changed, created or deleted on disk).
        A new source file or a manifest change needs the module tree: a full (hash-skipping) pass."""
        paths = list(dict.fromkeys(paths))
        with self._lock:
            paths = [p for p in paths if self._indexable(p) or p.endswith("Cargo.toml")]
            if any(self._needs_discovery(p) for p in paths):
                return self.run(embed=embed).changed
            changes = {rel: self._rows_for(rel) for rel in paths if self._indexable(rel)}
            if changes:
                self.memory.write_files(changes).result()
        if embed and self.embedder is not None and self.embedder.available:
            self.memory.use_vector_model(self.embedder.name)
            self._embed(self._missing_vectors(changes.values()))
        return len(changes)

    def _missing_vectors(self, rows: Iterable[FileRows | None]) -> list[tuple[str, str]]:
        texts: dict[str, str] = {}
        for file_rows in rows:
            if file_rows is None:
                continue
            for item in file_rows.items:
                if item["text_hash"]:
                    texts[item["text_hash"]] = item["embed_text"]
            for passage in file_rows.passages:
                texts[passage["text_hash"]] = passage["text"]
        have = self.memory.embedded_hashes(list(texts))
        return [(h, t) for h, t in texts.items() if h not in have]

    def _indexable(self, rel: str) -> bool:
        if rel.endswith(".md"):  # only the READMEs and docs beside the manifests
            return rel.rpartition("/")[0] in self.crate_roots
        if not rel.endswith(".rs"):
            return False
        # A crate's sources, or a new file where sources live; never build.rs and the like,
        # which would otherwise cost a full pass on every keystroke.
        return (rel in self.files or not self.watch_dirs
                or any(rel.startswith(d.rstrip("/") + "/") for d in self.watch_dirs if d != "."))

    def _needs_discovery(self, rel: str) -> bool:
        if rel.endswith("Cargo.toml"):
            return True
        if rel.endswith(".rs"):
            exists = rel in self.buffers or (self.root / rel).is_file()
            return exists and rel not in self.files
        return False

    def _rows_for(self, rel: str) -> FileRows | None:
        data = self._read(rel)
        if data is None:
            self.files.pop(rel, None)
            return None
        if rel.endswith(".md"):
            return markdown_rows(rel, data.decode("utf-8", "replace"), content_hash(data))
        source = self.files[rel]
        analysis = analyze_source(data, rel, source.module_path, test_file=source.target == "test")
        if analysis.skipped:
            return None
        return rust_rows(analysis, data, content_hash(data))

    def update_buffer(self, path: str, text: str, embed: bool = False) -> None:
        """An open editor buffer changed: it wins over the disk until closed."""
        data = self.buffers[path] = text.encode("utf-8")
        if not self._stored(path, data):
            self.update_paths([path], embed=embed)

    def close_buffer(self, path: str, embed: bool = False) -> None:
        """The buffer was closed: the disk is the truth again."""
        if self.buffers.pop(path, None) is not None and not self._stored(path, self._read(path)):
            self.update_paths([path], embed=embed)

    def _stored(self, rel: str, data: bytes | None) -> bool:
        """Whether the memory holds this very content as `rel`: a file opened or closed as it is on
        disk. Writing it again would move every table's version, and with them the explain
        catalog's reload of the whole memory (seconds on a million lines)."""
        if data is None or (rel not in self.files and rel not in self.doc_paths):
            return False
        stored = self.memory.select("files", f"path = {sql_str(rel)}", ["hash"])
        return len(stored) == 1 and stored[0]["hash"] == content_hash(data)
