"""One workspace session: the single owner of what Rusta holds for one workspace root.

Built once per root — by the server when the client names its folder, by a CLI command for its
PATH — and passed explicitly to every server feature and command. It holds:

- the settings (`config`), replaced only through `reconfigure`, which says which keys changed;
- the workspace's crates, targets and module tree (`workspace_model`, from `discover`);
- the embedder (the model loads on first use);
- the memory: a future, resolved once `open_memory` ran (the server opens it in the background,
  so hover and fixes start before a large memory is healed; a feature that needs it awaits it);
- the state folder and the one `CalibratorStore` every shadow slot and process reads;
- the shadow-slot allocator (`ShadowSlots`), from which every patch engine claims its slots;
- the `FlycheckWatch`: what the client says of rust-analyzer's checks, and cargo's lock on the
  user's build directory, so the shadow check takes its turn after theirs;
- whether cargo has run in this folder before (`first_cargo_run`), for the one-time notice.
- the team memory (`team.uri`, off by default), attached to the memory as `memory.team`, tagged
  with the author (`team.author`, else git's user.email) and the repository's commit.

Nothing else opens the memory or loads the calibrator: one writer, one confidence model.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import subprocess
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from .analysis.model import Workspace
from .analysis.workspace import discover_workspace
from .cancel import Cancelled, CancelToken
from .config import RustaConfig, cache_home, memory_uri
from .memory.embedder import Embedder
from .errors import MemoryUnavailable
from .memory.store import Memory
from .memory.team import TeamMemory
from .patches.confidence import CalibratorStore
from .patches.flycheck import FlycheckWatch
from .patches.shadow import ShadowSlots, state_dir

log = logging.getLogger(__name__)
# Settings read once, when the session is built: changing them takes a new session (a restart).
FIXED_KEYS = ("memory.uri", "memory.storage_options", "team.uri", "team.storage_options", "team.author")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted names of the settings; an object-valued setting (storage options) is one value."""
    if is_dataclass(value):
        out: dict[str, Any] = {}
        for f in fields(value):
            out.update(_flatten(getattr(value, f.name), f"{prefix}{f.name}."))
        return out
    return {prefix[:-1]: value}


def changed_keys(old: RustaConfig, new: RustaConfig) -> set[str]:
    """The dotted setting names whose values differ (as the dataclasses name them)."""
    before, after = _flatten(old), _flatten(new)
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def _git(root: Path, *args: str) -> str:
    """One line of git's output in `root`; "" when git or the repository is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _newest(rows: list[dict]) -> dict | None:
    return rows[-1] if rows else None  # team rows come oldest first


class WorkspaceSession:
    def __init__(self, root: Path, config: RustaConfig, embed_threads: int | None = None):
        self.root = Path(root).resolve()
        self.config = config
        self.memory_uri = memory_uri(config, self.root)
        self.state_dir = state_dir(self.root, config)
        self.calibrators = CalibratorStore(self.state_dir)
        self.slots = ShadowSlots(self.root, config)
        self.flycheck = FlycheckWatch(self.root)
        self.embedder = Embedder(config.model.embedding, config.device, threads=embed_threads)
        self.memory: Future[Memory] = Future()
        self._commit_read: tuple[float, str] = (-1e9, "")
        self.workspace_model = Workspace(root=str(self.root))  # empty until `discover`
        # Cancelled by `close`: the work of this workspace stops, the server may serve others on.
        self.closing = CancelToken()
        self._closing_lock = threading.Lock()

    def discover(self, quick: bool = False) -> Workspace:
        """Find the workspace's crates and module tree (blocking: reads manifests and, unless
        `quick`, parses every file to follow `mod` declarations; quick guesses module paths from
        file paths, and the server's first ingest replaces it with the real tree)."""
        self.workspace_model = discover_workspace(self.root, follow_modules=not quick)
        return self.workspace_model

    # --- settings ------------------------------------------------------------------------

    def reconfigure(self, config: RustaConfig) -> set[str]:
        """Take new settings; returns the dotted keys that changed (the caller rebuilds what
        depends on them). Keys in FIXED_KEYS keep their old value until the next session."""
        changed = changed_keys(self.config, config)
        config.memory, config.team = self.config.memory, self.config.team
        self.config = config
        self.slots.config = config
        return changed

    # --- cargo in a folder never seen ----------------------------------------------------

    def first_cargo_run(self) -> bool:
        """True the first time this is asked for the workspace's folder on this machine (and
        remembered from then on): the moment to say that cargo will run its build scripts."""
        record = cache_home() / "cargo-folders.json"
        try:
            seen = set(json.loads(record.read_text()))
        except (OSError, ValueError, TypeError):
            seen = set()
        if str(self.root) in seen:
            return False
        seen = {folder for folder in seen if Path(folder).is_dir()} | {str(self.root)}
        record.parent.mkdir(parents=True, exist_ok=True)
        partial = record.with_name(f"{record.name}.{os.getpid()}")
        partial.write_text(json.dumps(sorted(seen)))
        partial.replace(record)
        return True

    # --- the memory ----------------------------------------------------------------------

    def open_memory(self, *, embed: bool = True, mode: str = "writer") -> Memory:
        """Open the workspace memory (blocking) and resolve `memory` with it. `embed`: with the
        session's embedder (search, vectors). `mode`: "writer" (the server, `rusta drill`; read-only
        while another process holds the writer lock, until `Memory.take_writer`), "cli" (a writer
        unless a server holds the writer lock, then read-only) or "read"."""
        embedder = self.embedder if embed else None
        options = self.config.memory.storage_options
        try:
            if mode == "cli":
                memory = Memory.open_for_cli(self.memory_uri, self.root, embedder=embedder, storage_options=options)
            else:
                memory = Memory.open(self.memory_uri, self.root, embedder=embedder, read_only=mode == "read",
                                     storage_options=options)
        except BaseException as err:
            self.memory.set_exception(err)
            raise
        if self.config.team.uri:
            memory.team = self._open_team(memory)
        with self._closing_lock:
            if self.closing.is_set():  # closed while it opened (a folder removed from the window)
                memory.close()
                self.memory.set_exception(Cancelled())
                raise Cancelled()
            self.memory.set_result(memory)
        return memory

    def _open_team(self, memory: Memory) -> TeamMemory | None:
        """The team memory, or None (with a message) when it cannot be reached: the local memory
        works alone."""
        team_config = self.config.team
        author = team_config.author or _git(self.root, "config", "user.email") or getpass.getuser()
        try:
            team = TeamMemory.open(team_config.uri, team_config.storage_options, author, self._commit)
        except MemoryUnavailable as err:
            memory.messages.append(f"team memory not used: {err}")
            return None
        memory.messages.extend(team.messages)
        self.calibrators.shared = lambda: _newest(team.rows("calibrators"))
        return team

    def _commit(self) -> str:
        """The repository's commit, read at most once a minute (it tags what the team is sent)."""
        now = time.monotonic()
        if now - self._commit_read[0] > 60:
            self._commit_read = (now, _git(self.root, "rev-parse", "HEAD"))
        return self._commit_read[1]

    def memory_now(self) -> Memory | None:
        """The memory when it is open, else None (never blocks)."""
        if self.memory.done() and self.memory.exception() is None:
            return self.memory.result()
        return None

    def wait_memory(self, timeout: float | None = None) -> Memory | None:
        """Block until the memory is open (None when it failed to open or `timeout` passed)."""
        try:
            return self.memory.result(timeout)
        except FutureTimeout:
            return None
        except Exception:  # noqa: BLE001 — the opener reported it; callers work without a memory
            return None

    def writer_busy(self) -> bool:
        """Whether a server holds this memory's writer lock (it indexes and drills, not us)."""
        return Memory.writer_busy(self.memory_uri, self.config.memory.storage_options)

    def close(self) -> None:
        """Stop this workspace's work and close its memory (one still opening closes once open)."""
        with self._closing_lock:
            self.closing.cancel()
            memory = self.memory_now()
        if memory is not None:
            memory.close()
