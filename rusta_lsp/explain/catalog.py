"""An in-process copy of the memory's items and references, for lookups at hover speed.

A LanceDB filter scan costs 10-20 ms on a 150k-line workspace and a hover needs several; a dict
lookup costs microseconds. The copy is reloaded in a background thread when the tables' versions
move (checked at most once a second), and lookups fall back to the memory until the first load
ends. A copy that lags a save is harmless: every claim is verified against the current files.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..memory.records import ItemRecord, PassageRecord, RefRecord

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between version checks
NAMED_CACHE = 512  # names whose references stay materialised
RELOAD_SPACING = 10.0  # wait this many load durations between reloads: bounded CPU while typing
_ITEM_COLUMNS = [f.name for f in fields(ItemRecord)]
_REF_COLUMNS = [f.name for f in fields(RefRecord)]
_PASSAGE_COLUMNS = [f.name for f in fields(PassageRecord)]
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Snapshot:
    def __init__(self, items: list[ItemRecord], refs, passages: list[PassageRecord]):
        self.by_name: dict[str, list[ItemRecord]] = {}
        self.by_qualified: dict[str, list[ItemRecord]] = {}
        self.by_impl_type: dict[str, list[ItemRecord]] = {}
        for item in sorted(items, key=lambda r: (r.path, r.start_line)):
            self.by_name.setdefault(item.name, []).append(item)
            self.by_qualified.setdefault(item.qualified, []).append(item)
            if item.impl_type and item.kind in ("impl", "method"):
                self.by_impl_type.setdefault(item.impl_type.rsplit("::", 1)[-1], []).append(item)
        # References stay in Arrow; only the rows of the name asked for become Python objects.
        # Grouping row numbers by name in numpy keeps the load short and mostly off the GIL.
        self.refs = refs.combine_chunks()
        self.refs_by_name: dict[str, np.ndarray] = {}
        if refs.num_rows:
            encoded = pc.dictionary_encode(refs.column("name").combine_chunks())
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            order = np.argsort(codes, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(encoded.dictionary)))])
            for code, name in enumerate(encoded.dictionary.to_pylist()):
                self.refs_by_name[name] = order[bounds[code] : bounds[code + 1]]
        self.passages = passages
        self.passages_by_word: dict[str, list[int]] = {}
        for number, passage in enumerate(passages):
            for word in set(_WORD.findall(passage.text)):
                self.passages_by_word.setdefault(word, []).append(number)

        self._named: OrderedDict[str, list[RefRecord]] = OrderedDict()
        self._named_lock = threading.Lock()

    def refs_named(self, name: str) -> list[RefRecord]:
        """References to `name`, in file order; the common names (`new`, `len`) stay cached."""
        with self._named_lock:
            cached = self._named.get(name)
            if cached is not None:
                self._named.move_to_end(name)
                return cached
        rows = self.refs_by_name.get(name)
        found = [] if rows is None or not len(rows) else [
            RefRecord(**row) for row in self.refs.take(pa.array(rows)).to_pylist()]
        found.sort(key=lambda r: (r.path, r.line, r.col))
        with self._named_lock:
            self._named[name] = found
            while len(self._named) > NAMED_CACHE:
                self._named.popitem(last=False)
        return found


class Catalog:
    """The `resolve.Index` protocol over a memory, served from a snapshot once loaded."""

    def __init__(self, memory, auto_load: bool = False):
        self.memory = memory
        # True in the server: load a snapshot behind, follow version changes. False for one-shot
        # use (the CLI): every lookup queries the memory.
        self.auto_load = auto_load
        self._snapshot: _Snapshot | None = None
        self._loaded: tuple | None = None
        self.generation = 0  # bumped by every load: explanations cached before it are stale
        self._checked = 0.0
        self._next_load = 0.0  # monotonic time before which no background reload starts
        self._loading = threading.Lock()

    # --- loading -------------------------------------------------------------------------

    def _rows(self, name: str, columns: list[str]):
        return self.memory.read_table(name, columns)

    def _version(self) -> tuple | None:
        try:
            return self.memory.versions(("items", "refs", "passages"))
        except Exception:
            return None

    def load(self) -> bool:
        """Read both tables now (blocking). False when another load is running or nothing is there."""
        if not self._loading.acquire(blocking=False):
            return False
        started = time.monotonic()
        try:
            version = self._version()
            if version is None:
                return False
            items = [ItemRecord(**row) for row in self._rows("items", _ITEM_COLUMNS).to_pylist()]
            refs = self._rows("refs", _REF_COLUMNS)
            passages = [PassageRecord(**row) for row in self._rows("passages", _PASSAGE_COLUMNS).to_pylist()]
            self._snapshot = _Snapshot(items, refs, passages)
            self._loaded = version
            self.generation += 1
            # Tens of thousands of long-lived records: keep the cyclic collector from rescanning
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
                threading.Thread(target=self.load, name="rusta-explain-catalog", daemon=True).start()
        return self._snapshot

    # --- the Index protocol --------------------------------------------------------------

    def lookup_name(self, name: str, kind: str | None = None) -> list[ItemRecord]:
        snap = self._current()
        if snap is None:
            return self.memory.lookup_name(name, kind)
        found = snap.by_name.get(name, [])
        return [r for r in found if kind is None or r.kind == kind]

    def lookup_path(self, qualified: str) -> list[ItemRecord]:
        snap = self._current()
        if snap is None:
            return self.memory.lookup_path(qualified)
        return list(snap.by_qualified.get(qualified, []))

    def members_of(self, type_name: str) -> list[ItemRecord]:
        """Impls and methods of types named `type_name` (as written in their impls' heads); none
        until the snapshot is loaded (the memory has no index for it)."""
        snap = self._current()
        return list(snap.by_impl_type.get(type_name, [])) if snap is not None else []

    def references(self, name: str, qualifier: str | None = None) -> list[RefRecord]:
        snap = self._current()
        if snap is None:
            return self.memory.references(name, qualifier)
        return [r for r in snap.refs_named(name) if qualifier is None or r.qualifier == qualifier]

    def passages_mentioning(self, name: str, k: int) -> list[PassageRecord]:
        """README/docs passages that contain `name` as a word, most mentions first (the same
        passages whether the snapshot is loaded or not: few enough to read whole)."""
        snap = self._current()
        if snap is None:
            rows = self._rows("passages", _PASSAGE_COLUMNS)
            found = [] if rows is None else [PassageRecord(**row) for row in rows.to_pylist()]
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

    def references(self, name: str, qualifier: str | None = None) -> list[RefRecord]:
        return []

    def passages_mentioning(self, name: str, k: int) -> list[PassageRecord]:
        return []

    def events(self, kind: str | None = None) -> list[dict]:
        return []
