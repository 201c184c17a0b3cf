"""Read only what is safe to read: every file Rusta reads from a workspace comes through here.

A cloned repository may hold anything: a symlink to /dev/zero (endless bytes, reported size 0),
a FIFO (a read that never returns), a socket, a symlink out of the workspace, a file name that is
not UTF-8. So a read

- takes regular files only, checked with `lstat` before opening and `fstat` after (a FIFO
  swapped in between is opened without blocking, then refused);
- follows a symlink only when its target stays inside the workspace root;
- is capped by the bytes actually read, never by the size `stat` reports;
- refuses a file whose name is not UTF-8 (nothing downstream can store or show it).

A refusal is an `Unreadable` with the reason; `walk_files` skips what it cannot list safely.
Each skipped path is logged once per process, so a pass that runs on every save stays quiet.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path
from typing import Callable, Iterator

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 8 * 1024 * 1024  # larger than any hand-written source; generated tables fit
_said: set[str] = set()
_said_lock = threading.Lock()


class Unreadable(Exception):
    """A path Rusta will not read; the message says why."""


def skip(path: Path | str, reason: str) -> None:
    """Log that `path` is skipped, once per process."""
    key = f"{path}: {reason}"
    with _said_lock:
        if key in _said:
            return
        _said.add(key)
    log.warning("skipping %s: %s", printable(path), reason)


def printable(path: Path | str) -> str:
    """A path as it can be shown and logged, undecodable bytes escaped."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def utf8_name(path: Path | str) -> bool:
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:  # os.fsdecode kept the bad bytes as surrogates
        return False


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check(path: Path, root: Path | None) -> Path:
    """The real path to open, or Unreadable: a regular file with a UTF-8 name, inside `root` (the
    path itself and, for a symlink, its target)."""
    if not utf8_name(path):
        raise Unreadable("file name is not UTF-8")
    st = os.lstat(path)
    link = stat.S_ISLNK(st.st_mode)
    real = Path(os.path.realpath(path))
    if root is not None and not real.is_relative_to(os.path.realpath(root)):
        raise Unreadable("a symlink to outside the workspace" if link else "outside the workspace")
    if link:
        st = os.stat(real)
    if not stat.S_ISREG(st.st_mode):
        raise Unreadable(_kind(st.st_mode) + (" behind a symlink" if link else ""))
    return real


def read_file(path: Path | str, root: Path | None = None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file (see the module's rules). Raises Unreadable, or OSError when
    the file is gone or not permitted."""
    real = check(Path(path), root)
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped after the check
            raise Unreadable(_kind(mode))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise Unreadable(f"larger than {limit:,} bytes")
    return b"".join(chunks)


def read_or_skip(path: Path | str, root: Path | None = None, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """`read_file`, None (logged once) for what it refuses or cannot read."""
    try:
        return read_file(path, root, limit)
    except Unreadable as err:
        skip(_shown(path, root), str(err))
    except OSError:
        pass  # gone or not permitted: like a file that is not there
    return None


def _shown(path: Path | str, root: Path | None) -> Path | str:
    """`path` relative to `root` when inside it: what the log names."""
    try:
        return Path(path).relative_to(root) if root is not None else path
    except ValueError:
        return path


def walk_files(top: Path, keep_dir: Callable[[Path], bool] = lambda d: True,
               root: Path | None = None) -> Iterator[Path]:
    """Files under `top` in a stable order, never into symlinked folders; entries whose name is
    not UTF-8 are skipped (logged once, relative to `root`), folders pruned by `keep_dir`."""
    root = top if root is None else root
    for dirpath, dirnames, filenames in os.walk(top):
        folder = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            if not utf8_name(name):
                skip(_shown(folder / name, root), "folder name is not UTF-8")
            elif keep_dir(folder / name):
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if utf8_name(name):
                yield folder / name
            else:
                skip(_shown(folder / name, root), "file name is not UTF-8")


def unreadable_files(root: Path, keep_dir: Callable[[Path], bool] = lambda d: True) -> list[tuple[str, str]]:
    """(path relative to `root`, reason) for each entry under `root` that Rusta skips, for
    `rusta doctor` to list."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        folder = Path(dirpath)
        found += [(printable((folder / d).relative_to(root)), "folder name is not UTF-8")
                  for d in sorted(dirnames) if not utf8_name(d)]
        dirnames[:] = [d for d in sorted(dirnames) if utf8_name(d) and keep_dir(folder / d)]
        for name in sorted(filenames):
            try:
                check(folder / name, root)
            except Unreadable as err:
                found.append((printable((folder / name).relative_to(root)), str(err)))
            except OSError as err:
                found.append((printable((folder / name).relative_to(root)), err.strerror or str(err)))
    return found
