"""The memory: LanceDB tables behind one writer, read by everyone without waiting for it.

Readers use their own connection that checks for the latest version on every query, so they
see each commit as soon as it lands and never queue behind the writer. On open the memory checks
its schema version and that every table can be read; a mismatch or a corrupted table is dropped
and recreated (the workspace is re-indexed), with a message in `Memory.messages`: never a crash,
never a "delete your index" step.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import MemoryUnavailable
from ..locks import lock_held
from . import schema, storage
from . import team as team_tables
from .records import ItemRecord, PassageRecord, RefRecord
from .storage import WriterLease, is_remote, unavailable
from .team import TeamMemory
from .writer import INDEXES, FileRows, Writer, sql_in, sql_str

log = logging.getLogger(__name__)

_ITEM_FIELDS = [f.name for f in fields(ItemRecord)]
_REF_FIELDS = [f.name for f in schema.REFS]
_NO_LIMIT = 1 << 30
INDEX_CACHE_BYTES = 8 << 20
METADATA_CACHE_BYTES = 8 << 20
STAGED_VECTORS = "vectors_next"  # a new embedding model's vectors, until they are complete


def column_of(table: Any, column: str) -> pa.ChunkedArray:
    """One column of every row (reads every fragment, so it also detects damaged files)."""
    return table.search().select([column]).limit(_NO_LIMIT).to_arrow().column(column)


class ReadOnlyMemoryError(Exception):
    """Raised for writes on a memory opened read-only."""


class Memory:
    def __init__(self, uri: str, workspace_root: Path, embedder: Any, read_only: bool,
                 storage_options: dict | None = None):
        self.uri = uri
        self.workspace_root = Path(workspace_root)
        self.embedder = embedder
        self.read_only = read_only
        self.storage_options = storage_options
        self.messages: list[str] = []  # rebuilds and other things the user should hear about
        # LanceDB caches what it read per table version, by default up to 6 GB of indexes and 1 GB
        # of metadata; every commit makes versions, so a long session only ever grew (a quarter MB
        # a save). Queries need the latest version's: small caches hold it.
        self._session = lancedb.Session(index_cache_size_bytes=INDEX_CACHE_BYTES,
                                        metadata_cache_size_bytes=METADATA_CACHE_BYTES)
        self._reader = storage.connect(uri, storage_options, read_consistency=True, session=self._session)
        self._db = None  # the write connection, once `take_writer` succeeded
        self._lease: WriterLease | None = None  # a remote memory's writer lease, while we hold it
        self._held_by: str | None = None  # who holds a remote memory's lease we could not take
        # The team layer (memory/team.py), attached by the session when `team.uri` is set.
        self.team: TeamMemory | None = None
        self._read_tables: dict[str, Any] = {}
        self._write_tables: dict[str, Any] = {}
        self._writer: Writer | None = None
        self._lock_file = None
        self._vectors_cache: tuple | None = None  # (table key, matrix, model name)
        self._vector_table = "vectors"  # where new vectors go (see `use_vector_model`)

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls, uri: str, workspace_root: Path, *, embedder: Any = None, read_only: bool = False,
        storage_options: dict | None = None,
    ) -> "Memory":
        """Open the memory; as its one writer unless `read_only`. A writer that finds the writer
        lock held (a `rusta index` running; on object storage, another machine's lease) opens
        read-only, says so in `messages`, and becomes the writer once `take_writer()` succeeds.
        `storage_options` for object storage; a remote memory that cannot be reached raises
        MemoryUnavailable (one line, no secrets)."""
        if not is_remote(uri):
            return cls._open(uri, workspace_root, embedder, read_only, None)
        try:
            return cls._open(uri, workspace_root, embedder, read_only, storage_options)
        except MemoryUnavailable:
            raise
        except Exception as err:  # the object store's own error: long, nested, says the same
            raise unavailable(uri, err) from err

    @classmethod
    def _open(cls, uri: str, workspace_root: Path, embedder: Any, read_only: bool,
              storage_options: dict | None) -> "Memory":
        if not is_remote(uri):
            Path(uri).mkdir(parents=True, exist_ok=True)
        memory = cls(uri, workspace_root, embedder, read_only=True, storage_options=storage_options)
        if not read_only and not memory.take_writer():
            if memory._held_by:  # a remote memory's lease: which machine writes it
                memory._say(f"{memory._held_by} writes this memory: reading it only until it is done")
            else:
                memory._say("another Rusta process is writing this memory (a `rusta index`?): "
                            "reading it only until it is done")
        return memory

    def take_writer(self) -> bool:
        """Become the memory's one writer if no other process is: heal the tables, drop what a
        crash left half-written, start the writer thread. False while the lock is held."""
        if self._writer is not None:
            return True
        if not self._lock_writer():
            return False
        self._db = storage.connect(self.uri, self.storage_options, session=self._session)
        self._heal()
        guard = self._lease.check if self._lease is not None else None  # the lease covers each commit
        self._writer = Writer(self._write_table, self._paths_with_rows(), self._distinct_paths("passages"),
                              guard=guard)
        self._writer.submit("call", "", self._reconcile).result()
        self.read_only = False
        damaged = False
        for name in INDEXES:
            if not self._has_indexes(name):
                continue  # built after the next bulk load
            if self._indexes_answer(name):
                self._writer.mark_indexed(name)
            else:
                self._say(f"memory index of {name!r} is damaged: rebuilding it")
                damaged = True
        if damaged:
            self.build_indexes().result()
        return True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        if self.team is not None:
            self.team.close()
            self.team = None

    def _lock_writer(self) -> bool:
        """Take the memory's writer lock: a lock file for a local memory (the OS drops it if we
        crash), a lease for a remote one (renewed behind; it lapses when we stop). False while
        another process holds it."""
        if is_remote(self.uri):
            lease = WriterLease(storage.connect(self.uri, self.storage_options))
            if not lease.acquire():
                holder = lease.holder()
                self._held_by = f"another Rusta ({holder['host']}, pid {holder['pid']})" if holder else None
                return False
            lease.lost = self._lease_lost
            lease.keep()
            self._lease = lease
            return True
        handle = open(Path(self.uri) / "writer.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _lease_lost(self, why: str) -> None:
        """Renewal thread: another process writes the memory now; our writes fail from here on."""
        self._say(f"{why}: this memory is read-only from now on")

    @classmethod
    def open_for_cli(cls, uri: str, workspace_root: Path, *, embedder: Any = None,
                     storage_options: dict | None = None) -> "Memory":
        """A command's memory: writable, or read-only while a server holds the writer lock (one
        writer per memory), with a message saying so."""
        if not cls.writer_busy(uri, storage_options):
            return cls.open(uri, workspace_root, embedder=embedder, storage_options=storage_options)
        memory = cls.open(uri, workspace_root, embedder=embedder, read_only=True, storage_options=storage_options)
        memory.messages.append("a running Rusta server owns this memory: reading it only")
        return memory

    @staticmethod
    def writer_busy(uri: str, storage_options: dict | None = None) -> bool:
        """Whether another opener holds this memory's writer lock (a server on the same memory):
        a command run beside it should open the memory read-only, so the memory keeps one writer."""
        if is_remote(uri):
            try:
                return WriterLease(storage.connect(uri, storage_options)).holder() is not None
            except Exception as err:  # noqa: BLE001 — said in one line, like opening it
                raise unavailable(uri, err) from err
        return lock_held(Path(uri) / "writer.lock")

    def __enter__(self) -> "Memory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _heal(self) -> None:
        """Create missing tables; drop and recreate mismatched or unreadable ones."""
        names = self._table_names()
        version = self._meta_value("schema_version") if "meta" in names else None
        rebuild = version is not None and version != str(schema.SCHEMA_VERSION)
        if rebuild:
            self._say(f"memory schema {version} is not {schema.SCHEMA_VERSION}: rebuilding it from the workspace")
        for name, expected in schema.DERIVED.items():
            if name in names and not rebuild and not self._readable(name, expected):
                self._say(f"memory table {name!r} is damaged: rebuilding the memory from the workspace")
                rebuild = True
        if rebuild:
            for name in [*schema.DERIVED, "vectors", STAGED_VECTORS]:
                self._drop(name)
            names = self._table_names()
        for name, expected in schema.DERIVED.items():
            if name not in names:
                self._db.create_table(name, schema=expected)
        if version != str(schema.SCHEMA_VERSION):
            meta = self._db.open_table("meta")
            meta.delete("true")
            meta.add([{"key": "schema_version", "value": str(schema.SCHEMA_VERSION)}])
        if "vectors" in names and not self._readable("vectors", None):
            self._say("memory vectors are damaged: embeddings will be recomputed")
            self._drop("vectors")
        if STAGED_VECTORS in names and not self._readable(STAGED_VECTORS, None):
            self._drop(STAGED_VECTORS)
        for name, expected in schema.HISTORY.items():
            if name in names and not self._readable(name, expected):
                self._say(f"memory table {name!r} is damaged and was reset; its history is lost")
                self._drop(name)
                names.discard(name)
            if name not in names:
                self._db.create_table(name, schema=expected)

    def _table_names(self) -> set[str]:
        return set(self._db.list_tables(limit=10_000).tables)

    def _readable(self, name: str, expected: pa.Schema | None) -> bool:
        try:
            table = self._db.open_table(name)
            if expected is not None and table.schema != expected:
                return False
            # Reading one column of every fragment catches missing or truncated data files.
            first = table.schema.names[0]
            column_of(table, first)
            return True
        except Exception as err:
            log.warning("memory table %s unreadable: %s", name, err)
            return False

    def _drop(self, name: str) -> None:
        if self._writer is not None:
            self._writer.forget(name)
        self._write_tables.pop(name, None)
        self._read_tables.pop(name, None)
        try:
            self._db.drop_table(name)
        except Exception:
            if not is_remote(self.uri):  # a table too broken to drop: remove its folder
                shutil.rmtree(Path(self.uri) / f"{name}.lance", ignore_errors=True)

    def _say(self, message: str) -> None:
        log.warning(message)
        self.messages.append(message)

    def _meta_value(self, key: str) -> str | None:
        try:
            rows = self._db.open_table("meta").search().where(f"key = {sql_str(key)}").to_list()
        except Exception:
            return "unreadable"
        return rows[0]["value"] if rows else None

    def _paths_with_rows(self) -> set[str]:
        paths: set[str] = set()
        for name in ("files", "items", "refs", "passages"):
            paths.update(self._distinct_paths(name))
        return paths

    def _distinct_paths(self, name: str) -> set[str]:
        return set(pc.unique(column_of(self._write_table(name), "path")).to_pylist())

    def _reconcile(self) -> None:
        """After a crash: drop rows whose file row was never written (writer thread)."""
        indexed = self._distinct_paths("files")
        for name in ("items", "refs", "passages"):
            orphans = self._distinct_paths(name) - indexed
            if orphans:
                log.info("memory: removing %d orphaned paths from %s", len(orphans), name)
                self._write_table(name).delete(sql_in("path", orphans))

    def _write_table(self, name: str) -> Any:
        table = self._write_tables.get(name)
        if table is None:
            table = self._write_tables[name] = self._db.open_table(name)
        return table

    def _has_indexes(self, name: str) -> bool:
        fts, btree = INDEXES[name]
        try:
            indexed = {column for ix in self._write_table(name).list_indices() for column in ix.columns}
        except Exception:
            return False
        return set(fts) | set(btree) <= indexed

    def _indexes_answer(self, name: str) -> bool:
        """Whether each index of the table answers a query: LanceDB lists an index whose files
        are gone, and a search through it then loses rows without a word."""
        fts, btree = INDEXES[name]
        table = self._write_table(name)
        try:
            for column in fts:
                table.search("probe", query_type="fts", fts_columns=column).limit(1).to_arrow()
            for column in btree:
                table.search().where(f"{column} = ''").select([column]).limit(1).to_arrow()
            return True
        except Exception as err:
            log.info("memory: the indexes of %s do not answer: %s", name, err)
            return False

    # --- reading -------------------------------------------------------------------------

    def _read_table(self, name: str) -> Any | None:
        table = self._read_tables.get(name)
        if table is None:
            try:
                table = self._read_tables[name] = self._reader.open_table(name)
            except Exception:
                return None
        return table

    def read_table(self, name: str, columns: list[str], paths: list[str] | None = None):
        """A whole table's `columns` (a pyarrow Table) at its latest version, or only the rows of
        these `paths`, for in-process snapshots (explain's catalog); None when the table does not
        exist."""
        table = self._read_table(name)
        if table is None:
            return None
        # Only these columns are read: items' search and embed texts would triple the read.
        query = table.search().select(columns).limit(_NO_LIMIT)
        return (query if paths is None else query.where(sql_in("path", paths))).to_arrow()

    def scan(self, name: str, columns: list[str], batch_rows: int):
        """A whole table's `columns` at its latest version as a stream of record batches of
        `batch_rows` rows (a pyarrow RecordBatchReader), for snapshots that keep the rows in
        another form; None when the table does not exist."""
        table = self._read_table(name)
        return None if table is None else table.search().select(columns).limit(_NO_LIMIT).to_batches(batch_rows)

    def versions(self, names) -> tuple[int, ...] | None:
        """The current version of each named table (cheap: no version listing), to tell whether a
        snapshot is stale; None when one of them does not exist."""
        tables = [self._read_table(name) for name in names]
        return None if any(t is None for t in tables) else tuple(t.version for t in tables)

    def _query(self, name: str, build) -> list[dict]:
        """Run `build(table)` -> query builder; retry once on a fresh handle (the writer may
        have compacted away a file this handle was about to read, or rebuilt the table)."""
        for attempt in (0, 1):
            table = self._read_table(name)
            if table is None:
                return []
            try:
                return build(table).to_arrow().to_pylist()
            except Exception as err:
                self._read_tables.pop(name, None)
                if attempt:
                    log.warning("memory: query on %s failed: %s", name, err)
        return []

    def select(self, name: str, where: str, columns: list[str]) -> list[dict]:
        """`columns` of every row of table `name` matching the SQL `where` ([] without the table)."""
        return self._query(
            name, lambda t: t.search().where(where).select(columns).limit(_NO_LIMIT)
        )

    def full_text(self, name: str, column: str, text: str, columns: list[str], limit: int) -> list[dict]:
        """The `limit` rows of table `name` whose full-text `column` best matches `text` (BM25),
        best first, with `columns` and the score as `_score`."""
        return self._query(
            name,
            lambda t: t.search(text, query_type="fts", fts_columns=column).select([*columns, "_score"]).limit(limit),
        )

    def _items(self, where: str) -> list[ItemRecord]:
        rows = self.select("items", where, _ITEM_FIELDS)
        rows.sort(key=lambda r: (r["path"], r["start_line"]))
        return [ItemRecord(**row) for row in rows]

    def lookup_name(self, name: str, kind: str | None = None) -> list[ItemRecord]:
        where = f"name = {sql_str(name)}"
        if kind:
            where += f" AND kind = {sql_str(kind)}"
        return self._items(where)

    def lookup_path(self, qualified: str) -> list[ItemRecord]:
        return self._items(f"qualified = {sql_str(qualified)}")

    def lookup_suffix(self, suffix: str) -> list[ItemRecord]:
        """Items whose qualified path is `suffix` or ends with `::suffix` (`Ledger::new`)."""
        last = suffix.rsplit("::", 1)[-1]
        rows = self.lookup_name(last)
        return [r for r in rows if r.qualified == suffix or r.qualified.endswith("::" + suffix)]

    def items_in_file(self, path: str) -> list[ItemRecord]:
        return self._items(f"path = {sql_str(path)}")

    def references(self, name: str, qualifier: str | None = None) -> list[RefRecord]:
        where = f"name = {sql_str(name)}"
        if qualifier is not None:
            where += f" AND qualifier = {sql_str(qualifier)}"
        rows = self.select("refs", where, _REF_FIELDS)
        rows.sort(key=lambda r: (r["path"], r["line"], r["col"]))
        return [RefRecord(**row) for row in rows]

    def tests_referencing(self, name: str) -> list[ItemRecord]:
        """Test functions (and items inside #[cfg(test)]) whose body mentions `name`."""
        rows = self.select("refs", f"name = {sql_str(name)} AND in_test", ["enclosing"])
        enclosing = sorted({r["enclosing"] for r in rows})
        if not enclosing:
            return []
        return self._items(f"{sql_in('qualified', enclosing)} AND is_test")

    def tests_reaching(self, names: set[str], depth: int = 3, limit: int = 200) -> list[ItemRecord]:
        """Test functions that mention one of `names`, or mention an item that does, through
        `depth` levels of callers (by name, so namesakes count too: more tests, never fewer).
        Bounded: the walk stops widening once `limit` names were visited."""
        seen, frontier, tests = set(names), set(names), set()
        for _ in range(depth + 1):
            if not frontier:
                break
            rows = self.select("refs", sql_in("name", frontier), ["enclosing", "in_test"])
            tests |= {r["enclosing"] for r in rows if r["in_test"]}
            # Test helpers are walked too: the tests that call them reach the item as well.
            frontier = {r["enclosing"].rsplit("::", 1)[-1] for r in rows} - seen
            frontier = set(sorted(frontier)[: max(0, limit - len(seen))])
            seen |= frontier
        if not tests:
            return []
        return self._items(f"{sql_in('qualified', tests)} AND is_test AND {sql_in('kind', ('fn', 'method'))}")

    def passages_in_file(self, path: str) -> list[PassageRecord]:
        rows = self.select("passages", f"path = {sql_str(path)}", [f.name for f in fields(PassageRecord)])
        rows.sort(key=lambda r: r["start_line"])
        return [PassageRecord(**row) for row in rows]

    def file_hashes(self) -> dict[str, str]:
        rows = self._query("files", lambda t: t.search().select(["path", "hash"]).limit(_NO_LIMIT))
        return {r["path"]: r["hash"] for r in rows}

    def is_empty(self) -> bool:
        table = self._read_table("files")
        return table is None or table.count_rows() == 0

    def _table_rows(self, name: str) -> int:
        table = self._read_table(name)
        try:
            return 0 if table is None else table.count_rows()
        except Exception:
            return 0

    def vector_matrix(self) -> tuple[list[str], np.ndarray] | None:
        """(text hashes, unit vectors as one float32 matrix), cached until the table changes."""
        table = self._read_table("vectors")
        if table is None:
            return None
        try:
            # A dropped and recreated table restarts its versions: the size and type tell them apart.
            version = (table.version, table.count_rows(), str(table.schema.field("vector").type))
            cached = self._vectors_cache
            if cached is not None and cached[0] == version:
                return cached[1]
            data = table.search().select(["text_hash", "vector"]).limit(_NO_LIMIT).to_arrow()
        except Exception:
            self._read_tables.pop("vectors", None)
            return None
        column = data.column("vector").combine_chunks()
        vectors = column.flatten().to_numpy().reshape(len(column), column.type.list_size)
        matrix = (data.column("text_hash").to_pylist(), vectors)
        self._vectors_cache = (version, matrix, self.vector_model())
        return matrix

    def has_vectors_of(self, model: str) -> bool:
        """Whether stored vectors exist and came from `model` (checked when the table changes)."""
        if self.vector_matrix() is None:
            return False
        return self._vectors_cache[2] == model

    def has_vectors(self) -> bool:
        return self._table_rows("vectors") > 0

    def embedded_hashes(self, among: list[str] | None = None, table: str | None = None) -> set[str]:
        """Text hashes that have a vector (all of them, or those of `among`) in the table the
        embedder fills (`vectors`, or the staged table while a new model re-embeds)."""
        table = table or self._vector_table
        if among is not None:
            if not among:
                return set()
            rows = self.select(table, sql_in("text_hash", among), ["text_hash"])
        else:
            rows = self._query(table, lambda t: t.search().select(["text_hash"]).limit(_NO_LIMIT))
        return {r["text_hash"] for r in rows}

    def unembedded(self) -> list[tuple[str, str]]:
        """(text_hash, text) of items and passages that have no vector yet, deduplicated."""
        return self.texts_of(self.unembedded_hashes())

    def unembedded_hashes(self) -> list[str]:
        """Text hashes of items and passages that have no vector yet, deduplicated (their texts
        are read in windows: a large workspace's would take hundreds of megabytes at once)."""
        done = self.embedded_hashes()
        todo: dict[str, None] = {}
        for name in ("items", "passages"):
            for row in self.select(name, "text_hash != ''", ["text_hash"]):
                if row["text_hash"] not in done:
                    todo.setdefault(row["text_hash"])
        return list(todo)

    def texts_of(self, hashes: list[str]) -> list[tuple[str, str]]:
        """(text_hash, text) for these hashes, in their order (the item's embed text or the passage)."""
        if not hashes:
            return []
        texts: dict[str, str] = {}
        for name, column in (("items", "embed_text"), ("passages", "text")):
            for row in self.select(name, sql_in("text_hash", hashes), ["text_hash", column]):
                texts.setdefault(row["text_hash"], row[column])
        return [(h, texts[h]) for h in hashes if h in texts]

    def stats(self) -> dict:
        done = self.embedded_hashes(table="vectors")
        hashes = self._query("items", lambda t: t.search().select(["text_hash"]).limit(_NO_LIMIT))
        return {
            "files": self._table_rows("files"),
            "items": len(hashes),
            "embedded": sum(1 for r in hashes if r["text_hash"] in done),
        }

    def compact(self):
        """Compact the tables now (the heartbeat's reflection); a Future, done when compacted."""
        return self._require_writer().compact()

    def table_versions(self) -> dict[str, int]:
        """How many versions each table keeps on disk (bounded by compaction)."""
        out = {}
        for name in [*schema.DERIVED, *schema.HISTORY, "vectors"]:
            for _ in range(3):  # a compaction may remove a version while we list them
                table = self._read_table(name)
                if table is None:
                    break
                try:
                    out[name] = len(table.list_versions())
                    break
                except Exception:
                    self._read_tables.pop(name, None)
        return out

    # --- writing (all through the writer thread) -----------------------------------------

    def _require_writer(self) -> Writer:
        if self._writer is None:
            raise ReadOnlyMemoryError("this memory is open read-only")
        return self._writer

    def write_files(self, changes: dict[str, FileRows | None]):
        """Replace (FileRows) or delete (None) everything derived from these paths. -> Future"""
        return self._require_writer().submit("files", "files", changes)

    def write_vectors(self, hashes: list[str], vectors) -> Any:
        writer = self._require_writer()
        rows = [{"text_hash": h, "vector": list(map(float, v))} for h, v in zip(hashes, vectors)]
        dim = len(rows[0]["vector"]) if rows else 0
        table = self._vector_table
        return writer.submit("call", "", lambda: self._add_vectors(table, rows, dim))

    def _add_vectors(self, name: str, rows: list[dict], dim: int) -> int:
        """Writer thread. A vectors table is created with the first embedding's size; vectors of
        another size (the model's files changed under its name) replace it."""
        if not rows:
            return 0
        names = self._table_names()
        expected = schema.vectors_schema(dim)
        if name in names and self._write_table(name).schema != expected:
            self._say(f"stored vectors are not {dim}-dimensional: recomputing them")
            self._drop(name)
            names.discard(name)
        if name not in names:
            self._db.create_table(name, schema=expected)
        table = self._write_table(name)
        # Two passes may embed the same new text (a save during a full pass): store it once.
        wanted = sql_in("text_hash", [r["text_hash"] for r in rows])
        found = table.search().where(wanted).select(["text_hash"]).limit(_NO_LIMIT).to_arrow()
        present = set(found.column("text_hash").to_pylist())
        rows = [r for r in rows if r["text_hash"] not in present]
        if not rows:
            return 0
        table.add(pa.Table.from_pylist(rows, schema=expected))
        self._writer.note_commit(name)
        return len(rows)

    def vector_model(self) -> str | None:
        """Name of the model the stored vectors came from (None before any)."""
        return self._meta("vector_model")

    def _meta(self, key: str) -> str | None:
        rows = self.select("meta", f"key = {sql_str(key)}", ["value"])
        return rows[0]["value"] if rows else None

    def _set_meta(self, key: str, value: str | None) -> None:
        """Writer thread."""
        meta = self._write_table("meta")
        meta.delete(f"key = {sql_str(key)}")
        if value is not None:
            meta.add([{"key": key, "value": value}])

    def use_vector_model(self, name: str) -> None:
        """Embed with `name` from now on (call once the model has loaded). Vectors of two models
        are not comparable, but the old ones stay until the new model has embedded everything
        (`finish_vector_model`): new vectors go to a staged table meanwhile, so a typo in the
        setting, a switch back or a crash loses nothing."""
        current = self.vector_model()
        if current is None or current == name:
            self._vector_table = "vectors"

            def settle() -> None:
                self._set_meta("vector_model", name)
                self._set_meta("vector_model_next", None)
                self._drop(STAGED_VECTORS)

            if current is None or self._meta("vector_model_next") is not None:
                self._require_writer().submit("call", "", settle).result()
            return
        self._vector_table = STAGED_VECTORS
        staged = self._meta("vector_model_next")
        if staged == name:
            return  # a re-embedding that a restart or an edit interrupted goes on

        def stage() -> None:
            self._say(f"embedding model changed ({current} -> {name}): re-embedding; the old vectors "
                      "stay until it is done, search uses full text meanwhile")
            self._drop(STAGED_VECTORS)
            self._set_meta("vector_model_next", name)

        self._require_writer().submit("call", "", stage).result()

    def finish_vector_model(self) -> None:
        """Once the staged model has embedded everything, its vectors replace the old ones."""
        if self._vector_table != STAGED_VECTORS or self.unembedded():
            return

        def promote() -> None:
            name = self._meta("vector_model_next")
            staged = self._write_table(STAGED_VECTORS).to_arrow()
            self._drop("vectors")
            self._db.create_table("vectors", data=staged, schema=staged.schema)
            self._set_meta("vector_model", name)
            self._set_meta("vector_model_next", None)
            self._drop(STAGED_VECTORS)
            self._writer.ensure_indexes()
            self._vectors_cache = None
            self._say(f"vectors of {name} replaced the old ones")

        self._require_writer().submit("call", "", promote).result()
        self._vector_table = "vectors"

    def prune_vectors(self) -> Any:
        """Forget vectors no item or passage uses any more (writer thread)."""

        def prune() -> int:
            if "vectors" not in self._table_names():
                return 0
            used: set[str] = set()
            for name in ("items", "passages"):
                used.update(column_of(self._write_table(name), "text_hash").to_pylist())
            table = self._write_table("vectors")
            stored = set(column_of(table, "text_hash").to_pylist())
            stale = stored - used
            if stale:
                table.delete(sql_in("text_hash", stale))
                self._writer.note_commit("vectors")
            return len(stale)

        return self._require_writer().submit("call", "", prune)

    def build_indexes(self) -> Any:
        """Build the full-text indexes (after a bulk load). -> Future"""
        writer = self._require_writer()
        return writer.submit("call", "", writer.ensure_indexes)

    def flush(self, timeout: float | None = None) -> None:
        if self._writer is not None:
            self._writer.flush(timeout)

    # --- devlog and the generic tables -----------------------------------------------------

    def log_event(self, kind: str, payload: dict, path: str | None = None, line: int | None = None):
        """Append an event to the devlog (non-blocking). -> Future"""
        row = {"ts": time.time(), "kind": kind, "path": path, "line": line, "payload": json.dumps(payload)}
        return self._require_writer().submit("append", "devlog", [row])

    def events(self, kind: str | None = None, since: float | None = None) -> list[dict]:
        """Devlog events, oldest first: {ts, kind, path, line, payload (dict)}."""
        clauses = []
        if kind is not None:
            clauses.append(f"kind = {sql_str(kind)}")
        if since is not None:
            clauses.append(f"ts >= {float(since)!r}")
        where = " AND ".join(clauses) or "true"
        rows = self.select("devlog", where, ["ts", "kind", "path", "line", "payload"])
        rows.sort(key=lambda r: r["ts"])
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return rows

    def put_rows(self, table: str, rows: list[dict], key: str, wait: bool = True):
        """Upsert JSON documents into exemplars/principles/drills, keyed by `row[key]`."""
        if table not in schema.KEYED_TABLES:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(schema.KEYED_TABLES)}")
        now = time.time()
        stored = [{"key": str(row[key]), "ts": now, "payload": json.dumps(row)} for row in rows]
        future = self._require_writer().submit("upsert", table, stored, key="key")
        if table in team_tables.SHARED:
            self.share(table, rows)
        if wait:
            future.result()
        return future

    # --- the team layer --------------------------------------------------------------------

    def share(self, table: str, rows: list[dict]) -> None:
        """Publish what of these learned rows may be shared to the team memory, when there is one
        (behind; put_rows does it for exemplars, principles and drills)."""
        if self.team is not None:
            self.team.publish(table, rows)

    def team_rows(self, table: str) -> list[dict]:
        """What teammates shared in `table` (each row with its `author` and `commit`); [] alone."""
        return self.team.rows(table) if self.team is not None else []

    def learned(self, table: str) -> list[dict]:
        """This memory's documents of `table` followed by the teammates' (the merged read)."""
        return self.rows(table) + self.team_rows(table)

    def prune_rows(self, table: str, keep: set[str], wait: bool = True):
        """Delete the documents of a generic table whose key is not in `keep`."""
        if table not in schema.KEYED_TABLES:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(schema.KEYED_TABLES)}")

        def prune() -> None:
            target = self._write_table(table)
            target.delete(f"NOT ({sql_in('key', keep)})" if keep else "true")
            self._writer.note_commit(table)

        future = self._require_writer().submit("call", "", prune)
        if wait:
            future.result()
        return future

    def rows(self, table: str, where: str | None = None) -> list[dict]:
        """Documents of a generic table; `where` is SQL over its columns key, ts, payload."""
        if table not in schema.KEYED_TABLES:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(schema.KEYED_TABLES)}")
        found = self.select(table, where or "true", ["key", "ts", "payload"])
        found.sort(key=lambda r: r["ts"])
        return [json.loads(r["payload"]) for r in found]

