"""Ingestion: keep the memory equal to the workspace (plus open editor buffers).

Two stages. Structure: discover and parse the workspace, and write files/items/refs/passages
for every file whose content hash changed (deleted files are dropped). Vectors: embed what has
no vector yet, behind. Both stages report progress (percent, message), stop at the next batch
when their CancelToken is set, and keep to a CPU budget by sleeping between batches. What was
committed before a cancel or a crash stays; the next run picks up the rest.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..analysis.model import SourceFile
from ..analysis.parser import analyze_source
from ..analysis.workspace import IGNORED_DIRS, DiskSource, analyze_workspace
from ..cancel import Cancelled, CancelToken
from ..safe_read import read_or_skip, utf8_name, walk_files
from .rows import content_hash, markdown_rows, rust_rows
from .store import Memory
from .writer import FileRows

log = logging.getLogger(__name__)

Progress = Callable[[int, str], None]  # percent 0..100, message
WRITE_BATCH_FILES = 64
EMBED_BATCH = 64


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


class Ingestor:
    """Keeps one Memory in step with one workspace. Thread-safe: runs are serialised."""

    def __init__(self, memory: Memory, root: Path, *, embedder=None, cpu_budget: float = 1.0):
        self.memory = memory
        self.root = Path(root).resolve()
        self.embedder = embedder if embedder is not None else memory.embedder
        self.cpu_budget = cpu_budget
        self.buffers: dict[str, bytes] = {}
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
        pacer = Pacer(self.cpu_budget, cancel)
        expected = count_sources(self.root)
        source = OverlaySource(self.root, dict(self.buffers))

        def on_read() -> None:
            pacer.step()
            report(min(len(source.contents) * share // 2 // expected, share // 2), "parsing")

        source.on_read = on_read
        report(0, "discovering the workspace")
        workspace, analyses = analyze_workspace(self.root, source)
        self.files = {f.path: f for f in workspace.files}
        self.watch_dirs = workspace.watch_dirs
        self.crate_roots = {""} | {crate.root for crate in workspace.crates}
        known = self.memory.file_hashes()
        changes: dict[str, FileRows | None] = {}
        for analysis in analyses:
            data = source.contents.get(analysis.path)
            if data is None or analysis.skipped:
                continue
            digest = content_hash(data)
            if known.get(analysis.path) != digest:
                changes[analysis.path] = rust_rows(analysis, data, digest)
        self.doc_paths = set(self._markdown_files(workspace))
        for rel in self.doc_paths:
            data = self._read(rel)
            if data is not None and known.get(rel) != content_hash(data):
                changes[rel] = markdown_rows(rel, data.decode("utf-8", "replace"), content_hash(data))
        present = {a.path for a in analyses if not a.skipped} | self.doc_paths
        for gone in set(known) - present:
            changes[gone] = None
        self._write(changes, pacer, lambda done: report(share // 2 + done * share // 2 // max(len(changes), 1), "writing"))
        self.memory.build_indexes().result()  # a no-op once every table has its indexes
        if changes:
            self.memory.prune_vectors()  # behind: vectors of texts that no longer exist
        return len(changes)

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

    def _write(self, changes: dict[str, FileRows | None], pacer: Pacer, report: Callable[[int], None]) -> None:
        paths = list(changes)
        pending = []
        for start in range(0, len(paths), WRITE_BATCH_FILES):
            pacer.step()
            chunk = {p: changes[p] for p in paths[start : start + WRITE_BATCH_FILES]}
            pending.append(self.memory.write_files(chunk))
            if len(pending) > 2:  # keep the writer busy, but don't queue the whole corpus
                pending.pop(0).result()
            report(start + len(chunk))
        for future in pending:
            future.result()

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
        done = self._embed(self.memory.unembedded(), progress, cancel)
        self.memory.finish_vector_model()
        return done

    def _embed(self, todo: list[tuple[str, str]], progress: Progress | None = None,
               cancel: CancelToken | None = None) -> int:
        report = progress or (lambda percent, message: None)
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
                report(done * 100 // len(todo), f"embedding {done}/{len(todo)}")
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
        self.buffers[path] = text.encode("utf-8")
        self.update_paths([path], embed=embed)

    def close_buffer(self, path: str, embed: bool = False) -> None:
        """The buffer was closed: the disk is the truth again."""
        if self.buffers.pop(path, None) is not None:
            self.update_paths([path], embed=embed)
