"""The shadow workspace: a mirror of the user's workspace where candidates are applied and checked.

The user's files are only ever read. The mirror holds the sources and manifests with unsaved
buffers overlaid, the nearest `.cargo/config.toml` (offline sources, registry replacement), and
cargo builds it into its own persistent target directory, so the user's builds and
rust-analyzer's are never blocked by cargo's lock on `target/`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator

from ..config import RustaConfig, cache_home, memory_uri
from ..safe_read import read_or_skip, walk_files
from .candidate import Edit, patched

# Folders never mirrored: build output, VCS data, editor and tool state.
SKIP_DIRS = {"target", ".git", ".hg", ".svn", "node_modules", ".rusta", ".venv", "__pycache__", ".idea", ".vscode"}


def _workspace_id(root: Path) -> str:
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return f"{root.resolve().name}-{digest}"


def state_dir(root: Path, config: RustaConfig) -> Path:
    """A local folder for the patch engine's state: the memory folder when it is a local path,
    else one per workspace in the cache (a remote memory URI cannot hold a cargo target)."""
    uri = memory_uri(config, root)
    if "://" not in uri:
        return Path(uri)
    return cache_home() / "state" / _workspace_id(root)


def shadow_base(root: Path, config: RustaConfig) -> Path:
    # Keyed by the workspace too: one memory folder may serve several workspaces.
    return state_dir(root, config) / "shadow" / _workspace_id(root)


def target_dir(root: Path, config: RustaConfig) -> Path:
    if config.cargo.target_dir:
        return Path(config.cargo.target_dir).expanduser()
    return shadow_base(root, config) / "target"


def slot_dirs(root: Path, config: RustaConfig, slot: int) -> tuple[Path, Path]:
    """A slot's mirror and target directory. Slot 0's target is the base one; the other slots'
    targets are folders inside it (`slot-N`)."""
    base, target = shadow_base(root, config), target_dir(root, config)
    if not slot:
        return base / "mirror", target
    return base / f"mirror-{slot}", target / f"slot-{slot}"


_SLOT_TARGET = re.compile(r"slot-\d+")


def tree_bytes(folder: Path, skip=lambda name: False) -> int:
    """Disk taken by the files below `folder` (top-level entries for which `skip` holds left out)."""
    total = 0
    try:
        top = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in top:
        if skip(entry.name):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                for dirpath, _, filenames in os.walk(entry.path):
                    for name in filenames:
                        try:
                            total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
                        except OSError:
                            pass
            else:
                total += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            pass
    return total


def find_cargo_config(root: Path) -> Path | None:
    """The nearest `.cargo/config.toml` (or legacy `config`) at or above the workspace root."""
    for folder in [root, *root.parents]:
        for name in ("config.toml", "config"):
            candidate = folder / ".cargo" / name
            if candidate.is_file():
                return candidate
    return None


def _inside(rel: str) -> bool:
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and ".." not in path.parts and ":" not in rel


WARM_MARKER = ".rusta-warm"
SLOT_COUNT = 16  # shadow slots a workspace may have; each costs a mirror and a target directory
# Where each kind of engine looks for free slots first: the same slots every run, so their target
# directories stay warm. The server (or the CLI when no server runs) takes the first ones; "tests"
# is the heartbeat's run of the whole test suite (the last green state).
SLOT_PREFERENCE = {"main": 0, "tests": 6, "drill": 7, "bench": 8}


class SlotLease:
    """Consecutive shadow slots held by one engine, across processes, until `release()`."""

    def __init__(self, slots: list[int], files: list):
        self.slots = slots
        self._files = files

    @property
    def first(self) -> int:
        return self.slots[0]

    def release(self) -> None:
        for handle in self._files:
            handle.close()  # closing the file drops its lock
        self._files = []


class ShadowSlots:
    """The shadow slots of one workspace, handed out with a lock file each: the server's engine,
    `rusta fix` beside it, the drills and a benchmark never check in the same mirror, whichever
    process they run in."""

    def __init__(self, root: Path, config: RustaConfig):
        self.root = Path(root)
        self.config = config
        self.folder = shadow_base(root, config)

    def _try_lock(self, slot: int):
        """The slot's lock file, locked; None when another engine holds it."""
        handle = open(self.folder / f"slot-{slot}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return handle

    def claim(self, role: str, count: int) -> SlotLease:
        """`count` consecutive free slots, the role's preferred ones when free."""
        preferred = SLOT_PREFERENCE.get(role, 0)
        starts = [preferred] + [s for s in range(0, SLOT_COUNT - count + 1, count) if s != preferred]
        self.folder.mkdir(parents=True, exist_ok=True)
        for start in starts:
            held = []
            for slot in range(start, start + count):
                handle = self._try_lock(slot)
                if handle is None:
                    break
                held.append(handle)
            if len(held) == count:
                for slot in range(start, start + count):
                    os.utime(self.folder / f"slot-{slot}.lock")  # last used: what a cap removes last
                return SlotLease(list(range(start, start + count)), held)
            SlotLease([], held).release()
        raise RuntimeError(f"all {SLOT_COUNT} shadow slots of {self.folder} are in use")

    # --- disk ----------------------------------------------------------------------------------

    def usage(self) -> dict[int, int]:
        """Bytes on disk per slot that holds any (its mirror and its target directory)."""
        sizes = {}
        for slot in range(SLOT_COUNT):
            mirror, target = slot_dirs(self.root, self.config, slot)
            if not (mirror.exists() or target.exists()):
                continue
            # Slot 0's target holds the other slots' targets: they are theirs.
            skip = (lambda name: bool(_SLOT_TARGET.fullmatch(name))) if slot == 0 else (lambda name: False)
            size = tree_bytes(mirror) + tree_bytes(target, skip)
            if size:
                sizes[slot] = size
        return sizes

    def _last_used(self, slot: int) -> float:
        try:
            return (self.folder / f"slot-{slot}.lock").stat().st_mtime
        except OSError:
            return 0.0

    def _remove(self, slot: int) -> None:
        mirror, target = slot_dirs(self.root, self.config, slot)
        shutil.rmtree(mirror, ignore_errors=True)
        if slot:
            shutil.rmtree(target, ignore_errors=True)
            return
        for entry in list(os.scandir(target)) if target.is_dir() else []:
            if not _SLOT_TARGET.fullmatch(entry.name):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)

    def prune(self, cap_bytes: float) -> "Pruned":
        """Remove the least recently used slots until the rest fit in `cap_bytes` (0 removes every
        slot it can). A slot an engine holds — in this process or another — is never removed: its
        lock is taken for the removal, so no engine can claim it meanwhile either."""
        sizes = self.usage()
        total = sum(sizes.values())
        pruned = Pruned(before=total, after=total)
        for slot in sorted(sizes, key=self._last_used):
            if pruned.after <= cap_bytes:
                break
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = self._try_lock(slot)
            if handle is None:
                pruned.held.append(slot)
                continue
            try:
                self._remove(slot)
            finally:
                handle.close()
            pruned.removed.append(slot)
            pruned.after -= sizes[slot]
        return pruned


@dataclass
class Pruned:
    before: int  # bytes the slots took
    after: int
    removed: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # in use by an engine: kept


class ShadowWorkspace:
    def __init__(self, root: Path, mirror: Path, target: Path):
        self.root = root.resolve()
        self.mirror = mirror
        self.target = target
        self.mirror.mkdir(parents=True, exist_ok=True)
        self.target.mkdir(parents=True, exist_ok=True)
        if self.mirror.resolve() == self.root:
            raise ValueError("the shadow mirror must not be the workspace itself")
        # A memory folder inside the workspace must not be mirrored into itself.
        self._own = {self.mirror.resolve(), self.target.resolve()}
        self._stats: dict[str, tuple[int, int]] = {}  # rel path -> (size, mtime_ns) last copied
        self._overlaid: set[str] = set()
        self.contents: dict[str, bytes] = {}  # rel path -> bytes cargo will see (sources only)

    @property
    def warm(self) -> bool:
        """Whether a check has completed in this shadow's target directory: its dependencies are
        built, so a check here is incremental."""
        return (self.target / WARM_MARKER).exists()

    def mark_warm(self) -> None:
        (self.target / WARM_MARKER).touch()

    @classmethod
    def for_workspace(cls, root: Path, config: RustaConfig, slot: int = 0) -> "ShadowWorkspace":
        return cls(root, *slot_dirs(root, config, slot))

    # --- sync ------------------------------------------------------------------------------

    def _mirrored(self, folder: Path) -> bool:
        name = folder.name
        return (name not in SKIP_DIRS and (not name.startswith(".") or name == ".cargo")
                and not (folder / "CACHEDIR.TAG").exists() and folder.resolve() not in self._own)

    def _user_files(self) -> Iterator[tuple[str, Path]]:
        for full in walk_files(self.root, self._mirrored):
            yield full.relative_to(self.root).as_posix(), full

    def sync(self, overlays: dict[str, str] | None = None) -> list[str]:
        """Bring the mirror up to date; returns the relative paths whose content changed."""
        # Only paths inside the workspace: an absolute or `..` path joined to the mirror would
        # point outside it (an open file from elsewhere, an untitled buffer).
        overlays = {k: v for k, v in (overlays or {}).items() if _inside(k)}
        changed = []
        present = set()
        for rel, full in self._user_files():
            if rel in overlays:
                continue
            try:
                st = full.stat()
            except OSError:
                continue
            stamp = (st.st_size, st.st_mtime_ns)
            if self._stats.get(rel) == stamp and rel not in self._overlaid:
                present.add(rel)
                continue
            # Only regular files inside the workspace, capped: never a device, a FIFO or a
            # symlink out of it (its mirror copy, if any, is dropped below).
            data = read_or_skip(full, self.root)
            if data is None:
                continue
            present.add(rel)
            self._stats[rel] = stamp
            self._overlaid.discard(rel)
            if self._write(rel, data):
                changed.append(rel)
        for rel, text in overlays.items():
            present.add(rel)
            self._overlaid.add(rel)
            self._stats.pop(rel, None)
            if self._write(rel, text.encode("utf-8")):
                changed.append(rel)
        changed += self._drop_missing(present)
        self._sync_cargo_config(present)
        return changed

    def _write(self, rel: str, data: bytes) -> bool:
        dest = self.mirror / rel
        if rel in self.contents and self.contents[rel] == data:
            return False
        if rel not in self.contents and dest.is_file() and dest.read_bytes() == data:
            self._remember(rel, data)
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)  # a fresh mtime, so cargo's fingerprint sees the change
        self._remember(rel, data)
        return True

    def _remember(self, rel: str, data: bytes) -> None:
        if rel.endswith(".rs") or rel.endswith(".toml"):
            self.contents[rel] = data

    def _drop_missing(self, present: set[str]) -> list[str]:
        gone = []
        for dirpath, dirnames, filenames in os.walk(self.mirror):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                rel = (Path(dirpath) / name).relative_to(self.mirror).as_posix()
                # Cargo writes a lock file when the user has none; keeping it saves a resolution.
                if rel not in present and rel not in (".cargo/config.toml", "Cargo.lock"):
                    (Path(dirpath) / name).unlink()
                    self.contents.pop(rel, None)
                    self._stats.pop(rel, None)
                    gone.append(rel)
        return gone

    def _sync_cargo_config(self, present: set[str]) -> None:
        """Cargo reads config from the folders above the workspace too; the mirror lives elsewhere."""
        if ".cargo/config.toml" in present or ".cargo/config" in present:
            return
        found = find_cargo_config(self.root)
        dest = self.mirror / ".cargo" / "config.toml"
        if found is None:
            dest.unlink(missing_ok=True)
            return
        data = read_or_skip(found)
        if data is None:
            return
        if not dest.is_file() or dest.read_bytes() != data:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)

    # --- candidates --------------------------------------------------------------------------

    def read(self, rel: str) -> bytes:
        if rel in self.contents:
            return self.contents[rel]
        return (self.mirror / rel).read_bytes()

    @contextmanager
    def applied(self, edits: list[Edit]) -> Iterator[dict[str, bytes]]:
        """Write the edits into the mirror for the duration of the block, then put the text back."""
        originals = {rel: self.read(rel) for rel in {e.path for e in edits}}
        texts = patched(originals, edits)
        try:
            for rel, data in texts.items():
                (self.mirror / rel).write_bytes(data)
            yield texts
        finally:
            for rel, data in originals.items():
                (self.mirror / rel).write_bytes(data)

    def clear(self) -> None:
        shutil.rmtree(self.mirror, ignore_errors=True)
        self._stats.clear()
        self.contents.clear()
