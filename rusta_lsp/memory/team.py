"""The team memory: what Rusta learns, shared through one LanceDB database (`team.uri`, usually
object storage) by everyone who sets it. LanceDB does the storage and the commits; nothing here
copies, replicates or syncs: each developer's Rusta upserts its own rows and reads everyone's.

What is shared (the projections below; README "Team memory" says the same):

- `exemplars`: a fix the user made, as a template: error code, kind, the few flagged/inserted
  bytes (`prefix`, `suffix`, `before`, `after`) and the file's path; never the file around it.
- `principles`: the sentence, code, counts and anchors as path + line numbers (no source line).
- `drills`: per drill, the error code, mutation kind, outcome, confidence and which generator won.
- `training`: the confidence model's training rows: a feature vector (numbers) and a label.
- `calibrators`: the trained confidence model: its feature names, weights and threshold.

Every row carries its `author` and the repository's `commit` at the time, and is keyed
`author|id`, so two developers never update the same row (their commits only ever conflict on
compaction, which LanceDB retries or we skip). Reads return the other authors' rows: one's own
are in the local memory already.

A team table that is unreadable or has another schema, or a team memory written by another
schema version, is left alone (it is shared: never dropped or rebuilt from here) and skipped with
a message; the local memory never depends on the team memory.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

import pyarrow as pa

from ..errors import MemoryUnavailable
from . import storage
from .writer import Writer

log = logging.getLogger(__name__)

TEAM_SCHEMA_VERSION = "1"
TABLES = ("exemplars", "principles", "drills", "training", "calibrators")
# Local tables whose rows are shared when written (the others are per checkout).
SHARED = ("exemplars", "principles", "drills")
ROW = pa.schema([("key", pa.string()), ("id", pa.string()), ("author", pa.string()), ("commit", pa.string()),
                 ("ts", pa.float64()), ("payload", pa.string())])
META = pa.schema([("key", pa.string()), ("value", pa.string())])
_META_TABLE = "team_meta"
_NO_LIMIT = 1 << 30

_EXEMPLAR_FIELDS = ("id", "code", "kind", "prefix", "suffix", "before", "after", "path", "retired")
_PRINCIPLE_FIELDS = ("id", "code", "path", "fix", "text", "right", "total", "evidence", "retired")
_DRILL_FIELDS = ("id", "code", "kind", "outcome", "on_target", "abstained", "correct", "source", "confidence",
                 "threshold", "round")


def shareable(table: str, row: dict) -> dict[str, list[dict]]:
    """What of one local row goes to the team, by team table (the privacy boundary)."""
    if table == "exemplars":
        return {"exemplars": [{k: row.get(k) for k in _EXEMPLAR_FIELDS}]}
    if table == "principles":
        shared = {k: row.get(k) for k in _PRINCIPLE_FIELDS}
        shared["anchors"] = [{k: a.get(k) for k in ("path", "start_line", "end_line")} for a in row.get("anchors") or []]
        return {"principles": [shared]}
    if table == "drills":
        training = [{"id": f"{row['id']}#{n}", "features": patch["features"], "correct": bool(patch["correct"]),
                     "code": row.get("code", ""), "source": patch.get("source", ""), "origin": "drill"}
                    for n, patch in enumerate(row.get("patches") or []) if patch.get("features")]
        return {"drills": [{k: row.get(k) for k in _DRILL_FIELDS}], "training": training}
    if table in ("training", "calibrators"):
        return {table: [row]}
    return {}


class TeamMemory:
    """One developer's connection to the team memory: `publish` (behind, never blocking the
    caller) and `rows` (the other authors' payloads, each with its `author` and `commit`)."""

    def __init__(self, uri: str, storage_options: dict | None, author: str, commit: Callable[[], str]):
        self.uri = uri
        self.author = author
        self.commit = commit
        self.messages: list[str] = []
        self._db = storage.connect(uri, storage_options)
        self._reader = storage.connect(uri, storage_options, read_consistency=True)
        self._usable: set[str] = set()
        self._cache: dict[str, tuple[int, list[dict]]] = {}
        self._lock = threading.Lock()
        self._writer: Writer | None = None
        self._write_tables: dict[str, Any] = {}
        self._failed_reads: set[str] = set()

    @classmethod
    def open(cls, uri: str, storage_options: dict | None, author: str, commit: Callable[[], str]) -> "TeamMemory":
        """Connect and check the tables; MemoryUnavailable (one line) when it cannot be reached."""
        try:
            team = cls(uri, storage_options, author, commit)
            team._check()
        except MemoryUnavailable:
            raise
        except Exception as err:
            raise storage.unavailable(uri, err) from err
        team._writer = Writer(team._write_table, set(), set(), shared=True)
        return team

    def _check(self) -> None:
        names = set(self._db.list_tables(limit=10_000).tables)
        version = self._schema_version(names)
        if version != TEAM_SCHEMA_VERSION:
            self._say(f"team memory {self.uri} has schema {version}, this Rusta reads {TEAM_SCHEMA_VERSION}: "
                      "not using it (the local memory works alone)")
            return
        for name in TABLES:
            if name not in names:
                self._db.create_table(name, schema=ROW, exist_ok=True)
                self._usable.add(name)
            elif self._readable(name):
                self._usable.add(name)

    def _schema_version(self, names: set[str]) -> str | None:
        if _META_TABLE not in names:
            seed = [{"key": "schema_version", "value": TEAM_SCHEMA_VERSION}]
            self._db.create_table(_META_TABLE, data=seed, schema=META, exist_ok=True)
        try:
            rows = self._db.open_table(_META_TABLE).to_arrow().to_pylist()
        except Exception as err:  # noqa: BLE001 — a damaged meta table: leave the team alone
            log.warning("team memory meta unreadable: %s", err)
            return "unreadable"
        versions = {r.get("value") for r in rows if r.get("key") == "schema_version"}
        return versions.pop() if len(versions) == 1 else "unknown"

    def _readable(self, name: str) -> bool:
        try:
            table = self._db.open_table(name)
            if table.schema != ROW:
                self._say(f"team table {name!r} has another schema: not using it")
                return False
            table.search().select(["key"]).limit(_NO_LIMIT).to_arrow()
            return True
        except Exception as err:  # noqa: BLE001 — damaged: skip it, never drop a shared table
            log.warning("team table %s unreadable: %s", name, err)
            self._say(f"team table {name!r} cannot be read: not using it")
            return False

    def _say(self, message: str) -> None:
        log.warning(message)
        self.messages.append(message)

    def _write_table(self, name: str) -> Any:
        """Team writer thread only."""
        if name not in self._write_tables:
            self._write_tables[name] = self._db.open_table(name)
        return self._write_tables[name]

    @property
    def usable(self) -> bool:
        return bool(self._usable)

    # --- writing -------------------------------------------------------------------------

    def publish(self, table: str, rows: list[dict]) -> None:
        """Share what these local rows of `table` hold that may be shared, tagged by author and
        commit; behind, on the team writer (a failure is logged, never raised)."""
        if self._writer is None:
            return
        by_table: dict[str, list[dict]] = {}
        for row in rows:
            for name, shared in shareable(table, row).items():
                by_table.setdefault(name, []).extend(shared)
        commit, now = self.commit(), time.time()
        for name, shared in by_table.items():
            if name not in self._usable or not shared:
                continue
            stored = [{"key": f"{self.author}|{row['id']}", "id": str(row["id"]), "author": self.author,
                       "commit": commit, "ts": now, "payload": json.dumps(row)} for row in shared]
            self._writer.submit("upsert", name, stored, key="key")

    def writes(self) -> dict[str, int]:
        """This process's commits to the team tables and the ones LanceDB had to retry."""
        writer = self._writer
        return {"commits": writer.total_commits, "retries": writer.conflict_retries} if writer else {}

    def flush(self, timeout: float | None = None) -> None:
        if self._writer is not None:
            self._writer.flush(timeout)

    # --- reading -------------------------------------------------------------------------

    def rows(self, table: str, *, own: bool = False) -> list[dict]:
        """The other authors' rows of `table` (with yours too when `own`), oldest first, each a
        payload with `author` and `commit` added; [] when the table is not usable or unreachable."""
        if table not in self._usable:
            return []
        try:
            handle = self._reader.open_table(table)
            version = handle.version
            with self._lock:
                cached = self._cache.get(table)
            if cached is None or cached[0] != version:
                found = handle.search().select(["author", "commit", "ts", "payload"]).limit(_NO_LIMIT).to_arrow()
                cached = (version, _payloads(found.to_pylist()))
                with self._lock:
                    self._cache[table] = cached
            self._failed_reads.discard(table)
        except Exception as err:  # noqa: BLE001 — the team memory never breaks the local one
            if table not in self._failed_reads:
                self._failed_reads.add(table)
                log.warning("team memory: reading %s failed: %s", table, storage.unavailable(self.uri, err))
            return []
        return [r for r in cached[1] if own or r["author"] != self.author]

    def authors(self) -> set[str]:
        return {r["author"] for name in TABLES for r in self.rows(name, own=True)}

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _payloads(stored: list[dict]) -> list[dict]:
    out = []
    for row in sorted(stored, key=lambda r: r["ts"]):
        try:
            payload = json.loads(row["payload"])
        except (TypeError, ValueError):
            continue  # one bad row costs itself only
        if isinstance(payload, dict):
            out.append({**payload, "author": row["author"], "commit": row["commit"]})
    return out
