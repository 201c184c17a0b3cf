"""Where a memory lives: a local folder or object storage (`s3://`, `gs://`, `az://`), through
LanceDB, which does the storage and the atomic commits (nothing here copies or syncs data).

- `connect` opens a LanceDB database with the memory's storage options (endpoint, region, ...);
  credentials come from the usual environment variables (AWS_ACCESS_KEY_ID, ...) or the options,
  and are never logged: messages name the URI and the endpoint only.
- `unavailable` turns an object store's error into one line a user can act on.
- `WriterLease` keeps one writer per remote memory across machines. A local memory uses a lock
  file (the OS drops it when its process dies); object storage has no such lock, so the lease is
  a row in a LanceDB table, taken and renewed by conditional `merge_insert` commits. LanceDB
  detects two commits that update the same row and retries the later one against the new
  version, where its condition no longer holds: of two machines racing for a free lease, exactly
  one gets it. A killed writer's lease lapses after LEASE_SECONDS, at once for a process on the
  same machine that sees the holder's pid is gone.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from datetime import timedelta
from typing import Any, Callable

import lancedb
import pyarrow as pa

from ..errors import MemoryUnavailable

log = logging.getLogger(__name__)

LEASE_TABLE = "writer_lease"
LEASE_SECONDS = 60.0  # a writer that stops renewing (killed, cut off) loses the lease after this
RENEW_EVERY = 15.0
LEASE_MARGIN = 5.0  # a lease this close to its end no longer covers a write
_LEASE_SCHEMA = pa.schema([("key", pa.string()), ("owner", pa.string()), ("host", pa.string()),
                           ("pid", pa.int64()), ("expires", pa.float64())])
_CLEANUP_EVERY = 40  # renewals between removals of the lease table's old versions
# Object stores retry a failed request with backoff for minutes by default; an editor must hear
# sooner that the memory is unreachable (the server then works from the analysis alone).
_FAIL_FAST = {"connect_timeout": "5s", "timeout": "60s", "client_max_retries": "3", "client_retry_timeout": "20s"}
# object_store's names for one S3 setting (the first is the one the settings use).
_ALIASES = (("endpoint", "aws_endpoint", "aws_endpoint_url", "endpoint_url"), ("region", "aws_region"))
_SECRET = re.compile(r"secret|token|password|credential|access_key|account_key|sas", re.IGNORECASE)


def is_remote(uri: str) -> bool:
    return "://" in uri


def storage_options(uri: str, options: dict[str, Any] | None) -> dict[str, str] | None:
    """LanceDB's storage options for `uri`: the configured ones (as strings) over fail-fast
    retry limits; None for a local folder. A configured endpoint or region is given under each
    of its names: Lance adds the AWS_* environment under theirs (`aws_endpoint_url`) and applies
    both in a random order, so a setting would otherwise lose to the environment now and then."""
    if not is_remote(uri):
        return None
    merged = dict(_FAIL_FAST)
    merged.update({str(k): _option_text(v) for k, v in (options or {}).items()})
    for names in _ALIASES:
        given = next((merged[name] for name in names if name in merged), None)
        if given is not None:
            merged.update(dict.fromkeys(names, given))
    return merged


def _option_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def connect(uri: str, options: dict[str, Any] | None = None, *, read_consistency: bool = False,
            session: Any = None) -> Any:
    """A LanceDB connection. `read_consistency`: check for a newer version on every read;
    `session`: the `lancedb.Session` whose (bounded) caches it uses."""
    kwargs: dict[str, Any] = {"storage_options": storage_options(uri, options)} if is_remote(uri) else {}
    if read_consistency:
        kwargs["read_consistency_interval"] = timedelta(0)
    if session is not None:
        kwargs["session"] = session
    return lancedb.connect(uri, **kwargs)


def public_options(options: dict[str, Any] | None) -> dict[str, str]:
    """The options as they may be shown: secrets replaced by `***`."""
    return {k: "***" if _SECRET.search(k) else _option_text(v) for k, v in (options or {}).items()}


_REASONS = (
    (re.compile(r"Connection refused|ConnectionRefused", re.I), "connection refused"),
    (re.compile(r"dns error|failed to lookup address|Name or service not known", re.I), "unknown host"),
    (re.compile(r"timed out|TimedOut|deadline has elapsed", re.I), "timed out"),
    (re.compile(r"NoSuchBucket|bucket does not exist|The specified bucket", re.I), "no such bucket"),
    (re.compile(r"InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden|403", re.I),
     "access denied (check the credentials in the AWS_* environment variables)"),
    (re.compile(r"Missing region|region is required", re.I), "no region (set AWS_REGION or the region option)"),
    (re.compile(r"Unable to find credentials|NoCredentials|Missing credentials", re.I),
     "no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"),
)
_ENDPOINT = re.compile(r"(https?://[^/\s\"'?]+)")


def unavailable(uri: str, err: BaseException) -> MemoryUnavailable:
    """One line saying why `uri` cannot be used, from an object store's (multi-line, nested) error.
    Only the endpoint is quoted from the error: never a query string or a header."""
    text = str(err)
    reason = next((why for pattern, why in _REASONS if pattern.search(text)), None)
    if reason is None:
        reason = text.splitlines()[0][:160] if text else type(err).__name__
    endpoint = _ENDPOINT.search(text)
    where = f" at {endpoint.group(1)}" if endpoint else ""
    return MemoryUnavailable(f"{uri} is unreachable: {reason}{where}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class WriterLease:
    """The right to write one remote memory, held by at most one process at a time."""

    def __init__(self, db: Any):
        self._db = db
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.expires = 0.0  # our lease's end, by our clock; 0 when we do not hold it
        self.lost: Callable[[str], None] = lambda why: None  # told once when renewal fails
        self._table: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewals = 0

    # --- the row -------------------------------------------------------------------------

    def _lease_table(self) -> Any:
        if self._table is None:
            # Created with its one row: a create that races another one becomes an overwrite
            # with the same row, and a lease taken in between is noticed at the next renewal.
            seed = [{"key": "writer", "owner": "", "host": "", "pid": 0, "expires": 0.0}]
            self._table = self._db.create_table(LEASE_TABLE, data=seed, schema=_LEASE_SCHEMA, exist_ok=True)
        return self._table

    def _current_row(self) -> dict | None:
        table = self._lease_table()
        table.checkout_latest()
        rows = [r for r in table.to_arrow().to_pylist() if r["key"] == "writer"]
        return rows[0] if rows else None

    def _dead_here(self, row: dict) -> bool:
        """Held by a process on this machine that died holding it."""
        return row["host"] == self.host and row["pid"] != self.pid and not _alive(row["pid"])

    def holder(self) -> dict | None:
        """The current holder's row ({owner, host, pid, expires}) while its lease runs, else None."""
        row = self._current_row()
        if row is None or not row["owner"] or row["expires"] <= time.time() or self._dead_here(row):
            return None
        return row

    def _update(self, condition: str, owner: str, expires: float) -> bool:
        """One conditional commit; LanceDB retries it on a conflicting commit, re-checking the
        condition against the version that won. True when our row was written."""
        row = {"key": "writer", "owner": owner, "host": self.host if owner else "", "pid": self.pid if owner else 0,
               "expires": expires}
        for attempt in (1, 2):
            table = self._lease_table()
            try:
                result = (table.merge_insert("key").when_matched_update_all(where=condition)
                          .execute(pa.Table.from_pylist([row], schema=_LEASE_SCHEMA)))
                return result.num_updated_rows > 0
            except Exception as err:
                # Another process's create of the table won as an overwrite (its seed row: a free
                # lease); LanceDB does not retry an update over an overwrite, so we do, once.
                if attempt == 2 or "incompatible transaction" not in str(err).lower():
                    raise
                table.checkout_latest()
        return False

    def acquire(self) -> bool:
        """Take the lease when it is free, lapsed, ours, or held by a dead process on this machine."""
        now = time.time()
        free = [f"target.expires < {now!r}", f"target.owner = '{self.owner}'", "target.owner = ''"]
        current = self._current_row()
        if current and current["owner"] and self._dead_here(current):
            free.append(f"target.owner = '{current['owner']}'")
        self._update(" OR ".join(free), self.owner, now + LEASE_SECONDS)
        held = self._current_row()
        if held is None or held["owner"] != self.owner:
            return False
        self.expires = now + LEASE_SECONDS
        return True

    def renew(self) -> bool:
        now = time.time()
        if not self._update(f"target.owner = '{self.owner}'", self.owner, now + LEASE_SECONDS):
            self.expires = 0.0
            return False
        self.expires = now + LEASE_SECONDS
        self._renewals += 1
        if self._renewals % _CLEANUP_EVERY == 0:  # every renewal is a version: keep a few
            try:
                self._lease_table().optimize(cleanup_older_than=timedelta(minutes=5))
            except Exception as err:  # noqa: BLE001 — only the table's size suffers
                log.info("memory lease: cleanup failed: %s", err)
        return True

    def held(self) -> bool:
        """Whether our lease still covers a write (by our clock, with a margin)."""
        return self.expires - time.time() > LEASE_MARGIN

    def check(self) -> None:
        """Raise unless we hold the lease: the writer calls this before every commit."""
        if not self.held():
            raise MemoryUnavailable("this process no longer holds the memory's writer lease")

    # --- keeping it ----------------------------------------------------------------------

    def keep(self) -> None:
        """Renew in the background until `release`; tell `lost` once if the lease is gone."""
        self._thread = threading.Thread(target=self._renew_loop, name="rusta-memory-lease", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            try:
                kept = self.renew()
            except Exception as err:  # noqa: BLE001 — unreachable for a moment: retry until it lapses
                log.warning("memory lease: renewal failed: %s", unavailable("the memory", err))
                kept = self.held()
            if not kept:
                self.expires = 0.0
                self.lost("another process took over this memory's writer lease")
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.expires:
            try:
                self._update(f"target.owner = '{self.owner}'", "", 0.0)
            except Exception as err:  # noqa: BLE001 — it lapses on its own
                log.info("memory lease: release failed: %s", err)
            self.expires = 0.0
