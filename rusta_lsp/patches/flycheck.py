"""Taking turns with the other cargo on the workspace: rust-analyzer's flycheck and the user's builds.

Every save starts rust-analyzer's flycheck (`cargo check` into the user's target directory) and
Rusta's shadow check. Run at once, on a laptop, they slow each other down; and when rust-analyzer
just found no error, Rusta's own check would find none either. So the shadow check waits its turn:

- while cargo holds the lock of the user's build directory (`target/<profile>/.cargo-lock`,
  whoever runs it: rust-analyzer, a terminal, a build script of the editor);
- while the editor says rust-analyzer's flycheck runs (`rusta/companion`, which the VS Code
  extension and the Neovim plugin send from what they see of rust-analyzer);

and then it is skipped when rust-analyzer checked this save (the client said so, the lock was
seen held, or a unit's `invoked.timestamp` in the user's target is newer than the save: a small
crate's flycheck can be over before Rusta looks) and the client counts none of its errors.
Without a companion nothing is skipped: only the lock is waited for.

When rust-analyzer checked the save and found errors, and the client handed all of them over,
the turn carries them (`Turn.known`): the engine may take rustc's errors from them instead of
checking first (`KnownErrors`), and go straight to verifying candidates. What an editor sees of
an error is not all rustc said (the suggestions' applicability, multipart suggestions, labels are
lost on the way), so the errors themselves are read where rust-analyzer's cargo left them: cargo
keeps every unit's compiler messages beside its fingerprint (`.fingerprint/*/output-*`, replayed
when the unit is fresh), and the units compiled since the save hold this save's. They count only
when they are exactly the errors the client reported.

`FlycheckWatch` is thread-safe: the server's handler reports, the check's thread waits.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..cancel import CancelToken
from ..locks import lock_held
from ..safe_read import Unreadable, read_file
from .diagnostics import Diagnostic, parse_cargo_messages

log = logging.getLogger(__name__)
# After a save, the time rust-analyzer takes to start its flycheck (cargo metadata, then the lock).
GRACE_S = 1.5
# After the flycheck, the time its diagnostics take to reach the client and the client's report us.
SETTLE_S = 0.75
# The longest the shadow check waits for someone else's cargo before it runs anyway.
MAX_WAIT_S = 600.0
POLL_S = 0.2


def user_target_dirs(root: Path) -> list[Path]:
    """The build directories the user's cargo and rust-analyzer's flycheck use: `<root>/target`,
    `build.target-dir` of the nearest `.cargo/config.toml` that sets it (relative to the folder
    holding `.cargo`), and `CARGO_TARGET_DIR` (which wins over both)."""
    dirs = [root / "target"]
    for folder in [root, *root.parents]:
        configured = _configured_target_dir(folder)
        if configured is not None:
            dirs.append(Path(os.path.normpath(folder / configured)))
            break
    env = os.environ.get("CARGO_TARGET_DIR")
    if env:
        dirs.append(Path(env) if Path(env).is_absolute() else root / env)
    return dirs


def _configured_target_dir(folder: Path) -> Path | None:
    for name in ("config.toml", "config"):
        try:
            config = tomllib.loads(read_file(folder / ".cargo" / name, limit=1 << 20).decode("utf-8"))
        except (OSError, Unreadable, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        build = config.get("build")
        target_dir = build.get("target-dir") if isinstance(build, dict) else None
        if isinstance(target_dir, str) and target_dir:
            return Path(target_dir)
    return None


def build_locked(target: Path) -> bool:
    """Whether a cargo holds the lock of a profile's build directory below `target` (a shared
    probe: it never blocks, and a cargo waiting for the lock waits a few microseconds at most)."""
    try:
        profiles = [e.path for e in os.scandir(target) if e.is_dir()]
    except OSError:
        return False
    return any(lock_held(Path(profile) / ".cargo-lock") for profile in profiles)


def built_since(target: Path, wall_time: float) -> bool:
    """Whether a cargo started compiling a unit in `target` at or after `wall_time` (it writes
    the unit's `invoked.timestamp` when it starts): the evidence of a flycheck too short for the
    lock to be seen held, a few hundred milliseconds on a small crate."""
    for unit in fingerprint_units(target):
        try:
            if os.stat(os.path.join(unit.path, "invoked.timestamp")).st_mtime >= wall_time:
                return True
        except OSError:
            continue
    return False


def fingerprint_units(target: Path) -> Iterator[os.DirEntry]:
    """The unit folders cargo keeps beside its fingerprints in `target`, every profile's
    (`<profile>/.fingerprint/<package>-<hash>`; one folder deeper, `<triple>/<profile>` when
    cross-compiling and `rust-analyzer/<profile>`, where rust-analyzer builds when kept apart)."""
    folders = [*target.glob("*/.fingerprint"), *target.glob("*/*/.fingerprint")] if target.is_dir() else []
    for profile in folders:
        try:
            yield from list(os.scandir(profile))
        except OSError:
            continue


def cached_messages(target: Path, wall_time: float) -> list[Diagnostic]:
    """rustc's diagnostics as cargo cached them for the units it compiled in `target` at or after
    `wall_time` (each unit's `output-KIND-NAME` file beside its fingerprint, one rustc JSON
    diagnostic a line), deduplicated across targets as in a check's own output."""
    messages = []
    for output in (target.glob("*/.fingerprint/*/output-*") if target.is_dir() else ()):
        try:
            if output.stat().st_mtime < wall_time:
                continue
            lines = read_file(output).decode("utf-8", "replace").splitlines()
        except (OSError, Unreadable):
            continue
        kind, _, name = output.name.removeprefix("output-").partition("-")
        for line in lines:
            messages.append(json.dumps({"reason": "compiler-message", "target": {"kind": [kind], "name": name},
                                        "message": json.loads(line)}) if line.startswith("{") else "")
    return parse_cargo_messages(messages).diagnostics


@dataclass
class Turn:
    waited_s: float  # seconds the shadow check waited for another cargo
    skip: str | None = None  # why the check is not needed, or None: run it
    flycheck_seen: bool = False  # rust-analyzer (or another cargo) checked after the save
    # The companion's error diagnostics of this save by URI, every one of them (LSP dicts), when
    # its flycheck checked the save and found errors; None otherwise.
    known: dict[str, list[dict]] | None = None


@dataclass(frozen=True)
class ReportedError:
    """One of rustc's errors as the companion's flycheck reported it: its primary span in byte
    offsets of the file the flycheck read, rustc's message (without what rust-analyzer appends)."""

    path: str  # relative to the workspace root, as rustc names it
    byte_start: int
    byte_end: int
    message: str
    code: str | None


@dataclass
class KnownErrors:
    """rustc's errors in the saved state, found by the companion's check: as the client reported
    them (`errors`; `texts` holds the files they point into, as read when their offsets were
    computed) and as rustc wrote them (`cached`: errors and warnings, see `cached_messages`)."""

    errors: list[ReportedError]
    texts: dict[str, bytes]
    cached: list[Diagnostic] = field(default_factory=list)

    def diagnostics(self, contents: dict[str, bytes]) -> list[Diagnostic] | None:
        """rustc's diagnostics of `contents` (the text the engine checks), or None when they are
        not known: a file the errors point into reads differently there, or the errors cargo
        cached are not exactly those reported (another check's, or one error in several places)."""
        if any(contents.get(path) != text for path, text in self.texts.items()):
            log.info("flycheck: the companion's errors point into text other than the one checked")
            return None
        cached = [d for d in self.cached if d.is_error and d.primary and d.primary.path in contents]
        reported = Counter((e.code, e.message, e.path, e.byte_start) for e in self.errors)
        if Counter((d.code, d.message, d.primary.path, d.primary.byte_start) for d in cached) != reported:
            log.info("flycheck: the companion reported %d error(s), its cargo cached %d others: checking",
                     len(self.errors), len(cached))
            return None
        return cached

    def warnings(self) -> list[Diagnostic]:
        """rustc's warnings where the companion's cargo compiled since the save."""
        return [d for d in self.cached if d.level == "warning" and d.primary]


class FlycheckWatch:
    """What Rusta knows of the other checks of its workspace."""

    def __init__(self, root: Path, targets: list[Path] | None = None):
        self.root = Path(root)
        self.targets = targets if targets is not None else user_target_dirs(self.root)
        self._changed = threading.Condition()
        self.companion: str | None = None  # "rust-analyzer" once a client reported it
        self.checking = False  # the companion's flycheck runs, as the client last said
        self.errors: int | None = None  # the companion's error count, as the client last said
        self.started_at = float("-inf")  # monotonic time of the last flycheck start the client reported
        self.reported_at = 0.0
        # The companion's error diagnostics by document URI, as the client handed them (LSP dicts).
        self.diagnostics: dict[str, list[dict]] = {}
        self.position_encoding = "utf-16"  # of the diagnostics' ranges, as the client said
        self.skipped = False  # the last shadow check was skipped on the companion's word
        self.on_late_errors = lambda: None  # called when errors arrive after a skip: check after all

    def report(self, name: str, checking: bool | None = None, errors: int | None = None,
               diagnostics: dict[str, list[dict]] | None = None, position_encoding: str | None = None) -> None:
        """The client's word on the companion: present, checking or not, its errors (None: unknown)."""
        with self._changed:
            now = time.monotonic()
            self.companion = name
            if position_encoding is not None:
                self.position_encoding = position_encoding
            if checking is not None:
                if checking and not self.checking:
                    self.started_at = now
                self.checking = checking
            if errors is not None:
                self.errors = errors
            if diagnostics is not None:
                self.diagnostics = diagnostics
            self.reported_at = now
            late = self.skipped and bool(self._flycheck_errors())
            if late:
                self.skipped = False
            self._changed.notify_all()
        if late:
            self.on_late_errors()

    def _complete(self) -> bool:
        """The client handed over every error it counts (it may cut a long list)."""
        return self.errors is not None and sum(map(len, self.diagnostics.values())) == self.errors

    def _flycheck_errors(self) -> int | None:
        """The errors of the companion's flycheck, rustc's: its own analysis's (an unresolved
        macro, a false positive) say nothing of what `cargo check` finds. The client's count
        when it handed over no diagnostics, or not all of them; None: unknown."""
        if self.errors and self._complete():
            return sum(d.get("source") == "rustc" for ds in self.diagnostics.values() for d in ds)
        return self.errors

    def busy(self) -> str | None:
        """Who is checking the workspace now, other than Rusta: the companion, "cargo" (someone
        holds the user's build lock) or None."""
        if self.checking:
            return self.companion
        if any(build_locked(t) for t in self.targets):
            return self.companion or "cargo"
        return None

    def _wait(self, seconds: float, cancel: CancelToken | None) -> None:
        if cancel is not None:
            cancel.check()
        with self._changed:
            self._changed.wait(seconds)
        if cancel is not None:
            cancel.check()

    def wait_turn(self, saved_at: float | None, cancel: CancelToken | None = None,
                  waiting=lambda who: None) -> Turn:
        """Block until no other cargo checks the workspace; `saved_at` is the save's monotonic time,
        None for the check that warms the shadow up (waited for, never skipped: it builds the
        dependencies every later check needs). `waiting(who)` is called when the wait starts.
        Raises Cancelled when `cancel` fires."""
        started = time.monotonic()
        warm_up = saved_at is None
        saved_at = started if warm_up else saved_at
        seen = self.started_at >= saved_at
        if self.companion is not None and not warm_up:
            # Give rust-analyzer's flycheck time to start and take the lock.
            while not seen and time.monotonic() < saved_at + GRACE_S:
                seen = self.started_at >= saved_at or self.busy() is not None
                if not seen:
                    self._wait(POLL_S, cancel)
        told = False
        while time.monotonic() - started < MAX_WAIT_S:
            who = self.busy()
            if who is None:
                break
            seen = True
            if not told:
                waiting(who)
                told = True
            self._wait(POLL_S, cancel)
        if not seen and not warm_up:
            saved_wall = time.time() - (time.monotonic() - saved_at)
            seen = any(built_since(t, saved_wall) for t in self.targets)
        turn = Turn(waited_s=time.monotonic() - started, flycheck_seen=seen)
        if self.companion is None or not seen or warm_up:
            self.skipped = False
            return turn
        # Its diagnostics reach the client after its cargo exits: let the count catch up.
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            self._wait(POLL_S, cancel)
        with self._changed:
            found = self._flycheck_errors()
            if found == 0 and not self.checking:
                turn.skip = f"{self.companion} checked this save and found no error"
            elif found and not self.checking and self._complete():
                turn.known = {uri: list(ds) for uri, ds in self.diagnostics.items()}
        self.skipped = turn.skip is not None
        return turn
