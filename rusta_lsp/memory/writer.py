"""The single writer: one thread owns every LanceDB mutation, behind a batching queue.

Why one: LanceDB commits a new version per add/delete, and deletes/merges from two writers
conflict. Ops queued while a batch is being written are coalesced into the next batch, so a
burst of saves costs a handful of commits. Tables are compacted (optimize + cleanup) in pauses
of the writes once `OPTIMIZE_EVERY` commits are pending, or at once at `MAX_UNOPTIMIZED`, which
keeps the number of versions bounded (MAX_UNOPTIMIZED + 2) under continuous edits; what is
pending is compacted after a minute without writes.

Crash safety (kill -9 at any point): a file's row is removed before its items/refs/passages are
replaced and written back last, so a file row exists only if everything derived from it is
committed. `Memory` deletes rows without a file row on open, and ingestion re-indexes files
without one: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import warnings
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

import pyarrow as pa
from lancedb.index import FTS, BTree

from ..errors import MemoryClosed

log = logging.getLogger(__name__)

OPTIMIZE_EVERY = 20  # commits after which a table's compaction is due ...
DUE_IDLE_S = 0.5  # ... at the next pause this long (compacting costs ~100 ms on 200k lines)
MAX_UNOPTIMIZED = 60  # ... or right away at this many, when writes never pause
# Tables with fewer pending commits are compacted after this long without writes. Not sooner:
# compacting after every save (a pause of 2 s) cost 0.15 CPU s a save on a 200k-line workspace,
# half of what Rusta spends following a save rust-analyzer checked (bench/coexist.py).
IDLE_OPTIMIZE_S = 60.0
MAX_BATCH_OPS = 256
SHARED_CLEANUP = timedelta(hours=1)  # versions of a shared table older than this go at compaction
# A shared table's commit that LanceDB gave up on (it retries conflicts for 30 s, then says "too
# many concurrent writers") is tried again after a pause, doubling, while the writer is open:
# ten developers committing at once must not lose a row.
SHARED_COMMIT_ATTEMPTS = 6
SHARED_RETRY_PAUSE_S = 0.5
_CONFLICT = ("too many concurrent writers", "commit conflict", "retryable")
# Per table: full-text columns, and BTREE columns for exact lookups (name, path, hash).
INDEXES = {
    "items": (("search_text",), ("name", "qualified", "path", "text_hash")),
    "passages": (("text",), ("path", "text_hash")),
    "refs": ((), ("name", "path")),
    "vectors": ((), ("text_hash",)),
}


@dataclass
class FileRows:
    """Everything derived from one file's content; `file` is written after the rest."""

    file: dict
    items: list[dict] = field(default_factory=list)
    refs: list[dict] = field(default_factory=list)
    passages: list[dict] = field(default_factory=list)


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_in(column: str, values) -> str:
    return f"{column} IN ({', '.join(sql_str(v) for v in values)})"


@dataclass
class _Op:
    kind: str  # "files" | "vectors" | "append" | "upsert" | "call"
    table: str
    payload: Any
    future: Future
    key: str = ""


_STOP = object()


class Writer:
    """Owns the write connection's table handles; `tables(name)` opens them lazily."""

    def __init__(self, open_table: Callable[[str], Any], known_paths: set[str], passage_paths: set[str],
                 guard: Callable[[], None] | None = None, shared: bool = False):
        self._open_table = open_table
        # Tables other processes write too (the team memory): compaction keeps old versions for
        # a while and never deletes unverified files, which may be another writer's commit in flight.
        self._shared = shared
        # Raises when this process may no longer write (a remote memory's lease was lost): every
        # batch and compaction checks it first, so nothing is committed beside another writer.
        self._guard = guard
        self._known = known_paths  # paths that have rows on disk (file row or derived rows)
        self._with_passages = passage_paths  # paths that have passages (most sources have none)
        self._queue: queue.Queue = queue.Queue()
        # Guards `_closed` with the queue, so no op can slip in after close() drained it.
        self._lock = threading.Lock()
        self._closed = False
        self._commits: dict[str, int] = {}
        self._indexed: set[str] = set()
        self.total_commits = 0
        # Commits re-run because another writer committed first (by LanceDB or, once it gave up, by us).
        self.conflict_retries = 0
        self._thread = threading.Thread(target=self._run, name="rusta-memory-writer", daemon=True)
        self._thread.start()

    # --- submitting ----------------------------------------------------------------------

    def submit(self, kind: str, table: str, payload: Any, key: str = "") -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                # A caller still waiting on this (an ingest racing shutdown) must not hang.
                future.set_exception(MemoryClosed("the memory is closed"))
            else:
                self._queue.put(_Op(kind, table, payload, future, key))
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued before this call is committed."""
        self.submit("call", "", lambda: None).result(timeout)

    def compact(self) -> Future:
        """Compact every table written since its last compaction, on the writer thread."""
        return self.submit("call", "", lambda: self._optimize_pending(threshold=1))

    def close(self, timeout: float = 30.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        # Whatever the writer did not reach fails instead of leaving its waiter blocked forever.
        while True:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is not _STOP and not op.future.done():
                op.future.set_exception(RuntimeError("the memory closed before this write"))

    # --- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            due = any(n >= OPTIMIZE_EVERY for n in self._commits.values())
            try:
                first = self._queue.get(timeout=DUE_IDLE_S if due else IDLE_OPTIMIZE_S)
            except queue.Empty:
                # A pause in the writes: compact now, off the path of the next save.
                self._optimize_pending(threshold=OPTIMIZE_EVERY if due else 1)
                continue
            if first is _STOP:
                self._optimize_pending(threshold=1)
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH_OPS:
                try:
                    op = self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is _STOP:
                    stop = True
                    break
                batch.append(op)
            self._apply(batch)
            # Writes without a pause: compact anyway before versions pile up.
            self._optimize_pending(threshold=MAX_UNOPTIMIZED)
            if stop:
                self._optimize_pending(threshold=1)
                return

    def _apply(self, batch: list[_Op]) -> None:
        if self._guard is not None:
            try:
                self._guard()
            except Exception as err:
                for op in batch:
                    op.future.set_exception(err)
                return
        # Coalesce runs of the same kind (and table) so one commit serves many ops.
        i = 0
        while i < len(batch):
            j = i + 1
            while j < len(batch) and _same_group(batch[i], batch[j]):
                j += 1
            group = batch[i:j]
            try:
                result = self._apply_group_retried(group) if self._shared else self._apply_group(group)
            except Exception as err:  # one bad group must not kill the writer
                log.exception("memory writer: %s on %s failed", group[0].kind, group[0].table)
                for op in group:
                    if not op.future.done():
                        op.future.set_exception(err)
            else:
                for op in group:
                    if not op.future.done():
                        op.future.set_result(result)
            i = j

    def _apply_group_retried(self, group: list[_Op]) -> Any:
        """A shared table's group, tried again when its commit lost to other writers' for too
        long (upserts are keyed: trying again never duplicates a row)."""
        pause = SHARED_RETRY_PAUSE_S
        for attempt in range(1, SHARED_COMMIT_ATTEMPTS + 1):
            try:
                return self._apply_group(group)
            except Exception as err:
                if attempt == SHARED_COMMIT_ATTEMPTS or self._closed or not _conflict(err):
                    raise
                self.conflict_retries += 1
                log.info("memory writer: %s on %s lost to other writers, again in %.1f s", group[0].kind,
                         group[0].table, pause)
                time.sleep(pause * (1 + random.random()))  # apart from the others retrying
                pause *= 2

    def _apply_group(self, group: list[_Op]) -> Any:
        kind = group[0].kind
        if kind == "call":  # never coalesced: a call is a barrier
            return group[0].payload()
        if kind == "files":
            changes: dict[str, FileRows | None] = {}
            for op in group:
                changes.update(op.payload)
            return self._write_files(changes)
        rows = [row for op in group for row in op.payload]
        if not rows:
            return 0
        table = self._open_table(group[0].table)
        if kind == "upsert":
            latest = {row[group[0].key]: row for row in rows}  # last write per key wins
            result = (
                table.merge_insert(group[0].key)
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(list(latest.values()))
            )
            self.conflict_retries += max(0, getattr(result, "num_attempts", 1) - 1)
        else:  # append, vectors
            table.add(rows)
        self.note_commit(group[0].table)
        return len(rows)

    def _write_files(self, changes: dict[str, FileRows | None]) -> int:
        replaced = [p for p in changes if p in self._known]
        if replaced:
            files = self._open_table("files")
            files.delete(sql_in("path", replaced))
            self.note_commit("files")
            for name in ("items", "refs", "passages"):
                paths = [p for p in replaced if name != "passages" or p in self._with_passages]
                if paths:
                    self._open_table(name).delete(sql_in("path", paths))
                    self.note_commit(name)
            self._known.difference_update(replaced)
            self._with_passages.difference_update(replaced)
        written = [rows for rows in changes.values() if rows is not None]
        for name in ("items", "refs", "passages"):
            new_rows = [row for rows in written for row in getattr(rows, name)]
            if new_rows:
                table = self._open_table(name)
                table.add(pa.Table.from_pylist(new_rows, schema=table.schema))
                self.note_commit(name)
        if written:
            self._open_table("files").add([rows.file for rows in written])
            self.note_commit("files")
            self._known.update(rows.file["path"] for rows in written)
            self._with_passages.update(rows.file["path"] for rows in written if rows.passages)
        return len(changes)

    def note_commit(self, table: str) -> None:
        """Count a commit on `table` towards its compaction (writer thread; `call` ops that write
        a table themselves say so here)."""
        self._commits[table] = self._commits.get(table, 0) + 1
        self.total_commits += 1

    # --- maintenance (writer thread only) ------------------------------------------------

    def ensure_indexes(self) -> None:
        """Build the indexes of tables that have rows but no indexes yet. Full-text indexes must
        come after a bulk load (one built on an empty table finds nothing); rows added later are
        searched flat until optimize folds them in."""
        for name, (fts, btree) in INDEXES.items():
            if name in self._indexed:
                continue
            try:
                table = self._open_table(name)
                if table.count_rows() == 0:
                    continue
            except Exception:  # `vectors` before the first embedding
                continue
            for column in fts:
                table.create_index(column, config=FTS(), replace=True)
            for column in btree:
                table.create_index(column, config=BTree(), replace=True)
            self._indexed.add(name)
            self.note_commit(name)

    def mark_indexed(self, name: str) -> None:
        self._indexed.add(name)

    def forget(self, name: str) -> None:
        """The table was dropped: no indexes, nothing to compact."""
        self._indexed.discard(name)
        self._commits.pop(name, None)

    def _optimize_pending(self, threshold: int) -> None:
        if self._guard is not None:
            try:
                self._guard()
            except Exception:  # noqa: BLE001 — not ours to compact any more
                return
        for name, count in list(self._commits.items()):
            if count < threshold:
                continue
            try:
                table = self._open_table(name)
                # Keep only the latest version; readers retry once if a file they planned to
                # read was cleaned up under them.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    if self._shared:
                        table.optimize(cleanup_older_than=SHARED_CLEANUP)
                    else:
                        table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
                        # optimize prunes before it brings the indexes up to date, so the version
                        # before that keeps the old index files: a fifth of the monorepo's memory
                        # on disk until the next compaction. In a pause, prune it now (a pass
                        # that merges what is left, at most a table rewrite, off the saves' path).
                        if threshold == 1 and len(table.list_versions()) > 1:
                            table.optimize(cleanup_older_than=timedelta(0), delete_unverified=True)
            except Exception as err:
                if self._shared:  # another writer compacted or committed first: theirs stands
                    log.info("memory writer: optimize %s skipped: %s", name, err)
                else:
                    log.exception("memory writer: optimize %s failed", name)
            self._commits[name] = 0
        if threshold == 1 and not self._shared:
            try:
                self.ensure_indexes()
            except Exception:  # a full disk: the writer lives on, the next pause tries again
                log.exception("memory writer: building indexes failed")


def _conflict(err: Exception) -> bool:
    text = str(err).lower()
    return any(words in text for words in _CONFLICT)


def _same_group(a: _Op, b: _Op) -> bool:
    if a.kind != b.kind or a.kind == "call":
        return False
    return a.kind == "files" or (a.table == b.table and a.key == b.key)
