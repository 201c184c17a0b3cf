"""An in-process copy of the memory's items and references, for lookups at hover speed.

A LanceDB filter scan costs 10-20 ms on a 150k-line workspace and a hover needs several; a dict
lookup costs microseconds. The copy follows the tables' versions (checked at most once a second)
in a background thread, and lookups fall back to the memory until the first load ends. The files
table's (path, hash) rows tell what moved: nothing (a compaction, a new index), a few files (a
save: only their rows are read and patched in) or many (a first load, an ingest: read whole). A
copy that lags a save is harmless: every claim is verified against the current files.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..memory.records import ItemRecord, PassageRecord, RefRecord

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between version checks
NAMED_CACHE = 512  # names whose references stay materialised ...
CACHED_RECORDS = 100_000  # ... as long as they hold this many records in all
RELOAD_SPACING = 10.0  # wait this many load durations between reloads: bounded CPU while typing
SCAN_ROWS = 65_536  # rows read at a time when the tables are read whole
PATCHED_FILES = 256  # at most this many changed files are patched into the copy; more: read it whole
_TABLES = ("files", "items", "refs", "passages")  # the tables whose versions the copy follows
_ITEM_COLUMNS = [f.name for f in fields(ItemRecord)]
_REF_COLUMNS = [f.name for f in fields(RefRecord)]
_PASSAGE_COLUMNS = [f.name for f in fields(PassageRecord)]
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Groups:
    """Row numbers grouped by a column's value: one sorted numpy array and the bounds of each
    value's run (a hundred thousand small arrays would cost more than the rows themselves)."""

    def __init__(self, column: pa.ChunkedArray):
        self.code_of: dict[str, int] = {}
        self.values: list[str] = []  # by code
        self.order = self.bounds = self.codes = np.zeros(0, dtype=np.int64)
        if not len(column):
            return
        encoded = pc.dictionary_encode(column).combine_chunks()
        self.codes = encoded.indices.to_numpy(zero_copy_only=False)  # each row's value, as a code
        self.order = np.argsort(self.codes, kind="stable")
        self.bounds = np.concatenate([[0], np.cumsum(np.bincount(self.codes, minlength=len(encoded.dictionary)))])
        self.values = encoded.dictionary.to_pylist()
        self.code_of = {value: code for code, value in enumerate(self.values)}

    def rows(self, value: str) -> np.ndarray | None:
        code = self.code_of.get(value)
        return None if code is None else self.order[self.bounds[code] : self.bounds[code + 1]]


class _Rows:
    """A table kept in Arrow, its rows grouped by one or more columns; only the rows asked for
    become Python records, and the most asked-for stay so (`new`, `len`)."""

    def __init__(self, table: pa.Table, record: type, keys: tuple[str, ...], order: tuple[str, ...]):
        # One chunk per column: LanceDB returns hundreds of batches, and a `take` across 731 chunks
        # cost 20-150 ms on the monorepo's references where one chunk costs under a millisecond.
        table = table.unify_dictionaries().combine_chunks()
        self.record = record
        self.columns = [f.name for f in fields(record)]  # the grouping keys may be extra columns
        self.table = table  # `records` and the extra grouping columns: what `patched` filters
        self.records = table.select(self.columns)
        self.keys = keys
        self.order = order
        self.groups = {key: _Groups(table.column(key)) for key in keys}
        self._cache: OrderedDict[tuple[str, str], list] = OrderedDict()
        self._cached_records = 0
        self._lock = threading.Lock()

    def get(self, key: str, value: str) -> list:
        with self._lock:
            cached = self._cache.get((key, value))
            if cached is not None:
                self._cache.move_to_end((key, value))
                return cached
        rows = self.groups[key].rows(value)
        found = [] if rows is None or not len(rows) else self._records(rows)
        found.sort(key=lambda r: tuple(getattr(r, f) for f in self.order))
        with self._lock:
            # Bounded by records, not names: on a large workspace `new` alone has ten thousand
            # references, and a few hundred such lists would take gigabytes.
            if len(found) <= CACHED_RECORDS // 4 and (key, value) not in self._cache:
                self._cache[(key, value)] = found
                self._cached_records += len(found)
                while len(self._cache) > NAMED_CACHE or self._cached_records > CACHED_RECORDS:
                    self._cached_records -= len(self._cache.popitem(last=False)[1])
        return found

    def ranked(self, key: str, value: str, rank: Callable[[str], int], limit: int) -> list:
        """The rows `get` returns, ordered by `rank` of their first `order` column (a grouping key,
        a string) and then as `get` orders them (the other `order` columns are numbers); the
        first `limit`, and only those become records: `new` has ten thousand references."""
        rows = self.groups[key].rows(value)
        if rows is None or len(rows) <= limit:
            return sorted(self.get(key, value), key=lambda r: rank(getattr(r, self.order[0])))[:limit]
        by = self.groups[self.order[0]]
        codes, at = np.unique(by.codes[rows], return_inverse=True)
        written = [by.values[code] for code in codes]
        ranks = np.array([rank(v) for v in written])[at]
        alphabetical = np.argsort(np.argsort(np.array(written, dtype=object)))[at]
        numbers = [self.records.column(c).to_numpy(zero_copy_only=False)[rows] for c in self.order[:0:-1]]
        return self._records(rows[np.lexsort([*numbers, alphabetical, ranks])[:limit]])

    def patched(self, paths: pa.Array, rows: pa.Table) -> _Rows:
        """A copy whose rows of `paths` are `rows` (the new rows of those files, plain strings):
        the rows of every other file are kept as they are, no table is read whole."""
        kept = self.table.filter(pc.invert(pc.is_in(self.table.column("path"), value_set=paths)))
        # The new rows in the kept rows' types (their strings as dictionaries where those are).
        columns = [pc.dictionary_encode(rows.column(f.name)) if pa.types.is_dictionary(f.type)
                   else rows.column(f.name) for f in kept.schema]
        new = pa.table([c.cast(f.type) for c, f in zip(columns, kept.schema)], schema=kept.schema)
        return _Rows(pa.concat_tables([kept, new]), self.record, self.keys, self.order)

    def _records(self, rows: np.ndarray) -> list:
        """These rows as records, column by column (in the record's field order): a dictionary
        column turned into Python strings as a whole costs a sixth of row-by-row `to_pylist`
        (1,340 items named `new`: 4.8 ms against 28 ms)."""
        taken = self.records.take(pa.array(rows)).columns
        plain = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in taken]
        return [self.record(*values) for values in zip(*(c.to_pylist() for c in plain))]


def _shared_strings(batches: pa.RecordBatchReader) -> pa.Table:
    """The batches as a table whose string columns with repeated values (a reference's file, kind
    and enclosing item) are dictionaries, each distinct string stored once: the monorepo's
    references take 89 MB as plain strings. Encoded batch by batch (which columns: as the first
    batch says), so the plain strings of a whole table never exist at once."""
    shared, encoded = None, []
    for batch in batches:
        if shared is None:
            shared = {field.name for field, column in zip(batch.schema, batch.columns)
                      if pa.types.is_string(field.type) and 2 * pc.count_distinct(column).as_py() <= len(column)}
        encoded.append(pa.RecordBatch.from_arrays(
            [pc.dictionary_encode(column) if field.name in shared else column
             for field, column in zip(batch.schema, batch.columns)], names=batch.schema.names))
    return pa.Table.from_batches(encoded) if encoded else batches.schema.empty_table()


def _with_member_key(items: pa.Table) -> pa.Table:
    """Items with `member_of`: for impls and methods, the type their impl's head names (its last
    path segment), "" for everything else."""
    kind, impl_type = (items.column(name).cast(pa.string()) for name in ("kind", "impl_type"))
    member = pc.is_in(kind, value_set=pa.array(["impl", "method"]))
    type_name = pc.replace_substring_regex(pc.fill_null(impl_type, ""), pattern=r"^.*::", replacement="")
    return items.append_column("member_of", pc.if_else(member, type_name, ""))


class _Snapshot:
    def __init__(self, items: _Rows, refs: _Rows, passages: list[PassageRecord]):
        self.items = items
        self.refs = refs
        self.passages = passages
        self.passages_by_word: dict[str, list[int]] = {}
        for number, passage in enumerate(passages):
            for word in set(_WORD.findall(passage.text)):
                self.passages_by_word.setdefault(word, []).append(number)

    @classmethod
    def of(cls, items: pa.RecordBatchReader, refs: pa.RecordBatchReader, passages: list[PassageRecord]) -> _Snapshot:
        # A large workspace has a hundred thousand items and millions of references: as Python
        # objects they would take gigabytes, so both stay in Arrow.
        items = _Rows(_with_member_key(_shared_strings(items)), ItemRecord, ("name", "qualified", "member_of"),
                      ("path", "start_line"))
        return cls(items, _Rows(_shared_strings(refs), RefRecord, ("name", "path"), ("path", "line", "col")), passages)

    def patched(self, paths: list[str], items: pa.Table, refs: pa.Table, passages: list[PassageRecord]) -> _Snapshot:
        """This snapshot with the rows of `paths` replaced by these, the files' current rows."""
        changed, gone = pa.array(paths, pa.string()), set(paths)
        return _Snapshot(self.items.patched(changed, _with_member_key(items)), self.refs.patched(changed, refs),
                         [p for p in self.passages if p.path not in gone] + passages)

    def refs_named(self, name: str) -> list[RefRecord]:
        """References to `name`, in file order."""
        return self.refs.get("name", name)


def _in_a_thread(fn: Callable[[], Any]) -> None:
    threading.Thread(target=fn, name="rusta-explain-catalog", daemon=True).start()


class Catalog:
    """The `resolve.Index` protocol over a memory, served from a snapshot once loaded."""

    def __init__(self, memory, auto_load: bool = False, after_load: Callable[[], None] | None = None,
                 behind: Callable[[Callable[[], Any]], Any] | None = None):
        self.memory = memory
        # True in the server: load a snapshot behind, follow version changes. False for one-shot
        # use (the CLI): every lookup queries the memory.
        self.auto_load = auto_load
        # Called after each load, in the loading thread: the server returns the freed heap pages.
        self.after_load = after_load
        # Starts a reload behind the lookups (the server's background executor, at a lower CPU
        # priority than the hovers); a thread of its own by default.
        self.behind = behind or _in_a_thread
        self._snapshot: _Snapshot | None = None
        self._loaded: tuple | None = None  # the tables' versions the snapshot was read at
        self._hashes: dict[str, str] | None = None  # and each file's content hash then (None: unsure)
        self.generation = 0  # bumped by every load: explanations cached before it are stale
        self._checked = 0.0
        self._next_load = 0.0  # monotonic time before which no background reload starts
        self._loading = threading.Lock()

    # --- loading -------------------------------------------------------------------------

    def _rows(self, name: str, columns: list[str], paths: list[str] | None = None):
        return self.memory.read_table(name, columns, paths)

    def _passages(self, paths: list[str] | None = None) -> list[PassageRecord]:
        rows = self._rows("passages", _PASSAGE_COLUMNS, paths)
        return [] if rows is None else [PassageRecord(**row) for row in rows.to_pylist()]

    def _version(self) -> tuple | None:
        try:
            return self.memory.versions(_TABLES)
        except Exception:
            return None

    def _changed(self, hashes: dict[str, str]) -> list[str] | None:
        """The files whose content differs from the snapshot's; None when that is unknown."""
        if self._snapshot is None or self._hashes is None:
            return None
        return sorted(p for p in self._hashes.keys() | hashes.keys() if self._hashes.get(p) != hashes.get(p))

    def load(self) -> bool:
        """Bring the snapshot up to date now (blocking). False when another load is running or
        nothing is there."""
        if not self._loading.acquire(blocking=False):
            return False
        started = time.monotonic()
        try:
            version = self._version()
            if version is None:
                return False
            hashes = self.memory.file_hashes()
            changed = self._changed(hashes)
            whole = changed is None or len(changed) > PATCHED_FILES
            if whole:
                self._snapshot = _Snapshot.of(self.memory.scan("items", _ITEM_COLUMNS, SCAN_ROWS),
                                              self.memory.scan("refs", _REF_COLUMNS, SCAN_ROWS), self._passages())
            elif changed:  # a save: only its files' rows are read
                self._snapshot = self._snapshot.patched(
                    changed, self._rows("items", _ITEM_COLUMNS, changed), self._rows("refs", _REF_COLUMNS, changed),
                    self._passages(changed))
            if self._version() != version:  # a commit during the reads: what was read may be half
                # written (a file saved again with the same content): read it again next time.
                again = set(changed or ())
                hashes = None if whole else {path: h for path, h in hashes.items() if path not in again}
            self._hashes = hashes
            self._loaded = version
            if changed == []:  # a compaction or a new index: the same rows
                return True
            self.generation += 1
            # A load frees the last snapshot (and a whole read, 0.2-0.3 GB of pages on the
            # monorepo) that Arrow's allocator (and glibc's, under LanceDB) would keep.
            pa.default_memory_pool().release_unused()
            if self.after_load is not None:
                self.after_load()
            # Long-lived objects (passages, index dicts): keep the cyclic collector from rescanning
            # them on every hover-time collection (a gen-2 pass over them costs tens of ms).
            gc.freeze()
            return True
        except Exception as err:  # keep serving from the memory itself
            log.warning("explain: cannot load the memory snapshot: %s", err)
            return False
        finally:
            self._next_load = time.monotonic() + RELOAD_SPACING * (time.monotonic() - started)
            self._loading.release()

    def _current(self) -> _Snapshot | None:
        now = time.monotonic()
        if self.auto_load and now - self._checked >= CHECK_EVERY and now >= self._next_load:
            self._checked = now
            if self._version() != self._loaded and not self._loading.locked():
                self.behind(self.load)
        return self._snapshot

    # --- the Index protocol --------------------------------------------------------------

    def lookup_name(self, name: str, kind: str | None = None) -> list[ItemRecord]:
        snap = self._current()
        if snap is None:
            return self.memory.lookup_name(name, kind)
        return [r for r in snap.items.get("name", name) if kind is None or r.kind == kind]

    def lookup_path(self, qualified: str) -> list[ItemRecord]:
        snap = self._current()
        if snap is None:
            return self.memory.lookup_path(qualified)
        return list(snap.items.get("qualified", qualified))

    def members_of(self, type_name: str) -> list[ItemRecord]:
        """Impls and methods of types named `type_name` (as written in their impls' heads); none
        until the snapshot is loaded (the memory has no index for it)."""
        snap = self._current()
        return list(snap.items.get("member_of", type_name)) if snap is not None and type_name else []

    def references(self, name: str, qualifier: str | None = None, *, rank: Callable[[str], int] | None = None,
                   limit: int | None = None) -> list[RefRecord]:
        """References to `name` (written with `qualifier`, if given); `rank`: those whose path
        ranks lowest first, file order within a rank; `limit`: at most that many."""
        snap = self._current()
        if snap is not None and rank is not None and limit is not None and qualifier is None:
            return snap.refs.ranked("name", name, rank, limit)
        if snap is None:
            found = self.memory.references(name, qualifier)
        else:
            found = [r for r in snap.refs_named(name) if qualifier is None or r.qualifier == qualifier]
        if rank is not None:
            found.sort(key=lambda r: rank(r.path))
        return found[:limit]

    def passages_mentioning(self, name: str, k: int) -> list[PassageRecord]:
        """README/docs passages that contain `name` as a word, most mentions first (the same
        passages whether the snapshot is loaded or not: few enough to read whole)."""
        snap = self._current()
        if snap is None:
            found = self._passages()
        else:
            found = [snap.passages[n] for n in snap.passages_by_word.get(name, [])]
        word = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        counted = [(len(word.findall(p.text)), p) for p in found]
        counted = [(n, p) for n, p in counted if n]
        counted.sort(key=lambda pair: (-pair[0], pair[1].path, pair[1].start_line))
        return [p for _, p in counted[:k]]

    def events(self, kind: str | None = None) -> list[dict]:
        return self.memory.events(kind)


class NoMemory:
    """The `resolve.Lookups` protocol with nothing in it: explanations from the analysis alone (the
    open file's own items, its locals and generics) while the memory opens, or when it cannot."""

    generation = 0

    def lookup_name(self, name: str, kind: str | None = None) -> list[ItemRecord]:
        return []

    def lookup_path(self, qualified: str) -> list[ItemRecord]:
        return []

    def members_of(self, type_name: str) -> list[ItemRecord]:
        return []

    def references(self, name: str, qualifier: str | None = None, *, rank: Callable[[str], int] | None = None,
                   limit: int | None = None) -> list[RefRecord]:
        return []

    def passages_mentioning(self, name: str, k: int) -> list[PassageRecord]:
        return []

    def events(self, kind: str | None = None) -> list[dict]:
        return []
