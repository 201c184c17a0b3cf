"""Whether the workspace's code was ever seen building.

On code that never compiled (a snippet someone is still writing, a program from a book) the drills'
slips in code that built say little about what the author means: there a patch is offered only at
the target precision itself (`Calibrator.threshold(..., seen_building=False)`). A workspace Rusta
has merely not watched build yet is not such code: a fresh checkout with one lost `use` must still
get its import. So "seen building" is true when any of these holds, the cheapest asked first:

- a check Rusta ran on the user's own text passed (`record_check`; kept in the state folder);
- the memory holds a run of the test suite (the heartbeat's green state, on code that compiled);
- cargo's own record of a workspace member it compiled in the user's target directory (where the
  user's builds and rust-analyzer's flycheck write): cargo writes a unit's
  `.fingerprint/<package>-<hash>/<kind>-<target>.json` only once the unit compiled; a unit that
  failed gets `output-<kind>-<target>` and an emptied hash file, and the `.json` of an earlier
  success stays (checked with cargo 1.95: `check`, `build` and `test --no-run`);
- the repository: HEAD holds the workspace's `Cargo.toml` (committed code is its author's last
  known state).

Once seen, it stays seen (recorded in the state folder, shared by every engine and process of the
workspace); until then the disk is asked again at most every `RECHECK_S` seconds. No build runs:
a listing of fingerprint folders, one small file read, one `git ls-tree`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import threading
import time
from pathlib import Path

from ..analysis.workspace import workspace_crates
from .flycheck import fingerprint_units, user_target_dirs
from .testing import RUN_EVENT as TEST_RUN_EVENT

log = logging.getLogger(__name__)
RECORD = "seen-building.json"
RECHECK_S = 30.0
GIT_TIMEOUT_S = 3.0
# The units of a package that are its code (a build script compiling says nothing of the crate).
_CODE_UNIT = re.compile(r"^(lib|bin|test|example|bench)-.+\.json$")
_HASH = re.compile(r"^[0-9a-f]{16}$")


def cargo_built(root: Path, targets: list[Path] | None = None) -> str | None:
    """The first workspace member cargo's own records show compiled in the user's target
    directories (`<target>/<profile>/.fingerprint`), or None. A listing of folders, no build."""
    try:
        packages = {crate.name for crate in workspace_crates(root)[0].crates}
    except Exception:  # noqa: BLE001 — an unreadable manifest: no member known, no record
        return None
    for target in targets if targets is not None else user_target_dirs(root):
        for unit in fingerprint_units(target):
            package, _, digest = unit.name.rpartition("-")
            if package not in packages or not _HASH.match(digest):
                continue
            try:
                if any(_CODE_UNIT.match(name) for name in os.listdir(unit.path)):
                    return package
            except OSError:
                continue
    return None


def committed(root: Path) -> bool:
    """Whether the workspace is a git repository whose HEAD commit holds its `Cargo.toml`
    (False without git, outside a repository, before the first commit, or when git hangs)."""
    try:
        done = subprocess.run(["git", "ls-tree", "--name-only", "HEAD", "--", "Cargo.toml"], cwd=root,
                              capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "Cargo.toml" in done.stdout.split("\n")


class SeenBuilding:
    """Whether, and how, the workspace at `root` was seen building (see the module's doc).
    `state` is the workspace's state folder, where the answer is kept once it is yes."""

    def __init__(self, root: Path, state: Path, targets: list[Path] | None = None):
        self.root = Path(root)
        self.record = Path(state) / RECORD
        self.targets = targets
        self._how: str | None = None
        self._disk_asked = -1e9
        self._lock = threading.Lock()

    def how(self, memory=None) -> str | None:
        """How it was seen building ("a passing check", "the test suite's green state",
        "cargo built PACKAGE", "committed in git"), or None: never."""
        with self._lock:
            if self._how is None:
                self._how = self._recorded() or self._green(memory) or self._on_disk()
                if self._how is not None:
                    self._write(self._how)
            return self._how

    def record_check(self) -> None:
        """A check of the user's own text passed: the code builds."""
        with self._lock:
            if self._how is None:
                self._how = "a passing check"
                self._write(self._how)

    def _recorded(self) -> str | None:
        try:
            return json.loads(self.record.read_text())["how"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _green(memory) -> str | None:
        try:
            return "the test suite's green state" if memory is not None and memory.events(TEST_RUN_EVENT) else None
        except Exception:  # noqa: BLE001 — no devlog yet: no green state
            return None

    def _on_disk(self) -> str | None:
        now = time.monotonic()
        if now - self._disk_asked < RECHECK_S:
            return None
        self._disk_asked = now
        if package := cargo_built(self.root, self.targets):
            return f"cargo built {package}"
        return "committed in git" if committed(self.root) else None

    def _write(self, how: str) -> None:
        try:
            self.record.parent.mkdir(parents=True, exist_ok=True)
            partial = self.record.with_name(f"{RECORD}.{os.getpid()}")
            partial.write_text(json.dumps({"how": how, "at": time.time()}))
            partial.replace(self.record)
        except OSError:
            log.debug("patches: could not record that the workspace builds", exc_info=True)
