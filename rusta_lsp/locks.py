"""Probing another process's file lock without taking or waiting for it."""

from __future__ import annotations

import fcntl
from pathlib import Path


def lock_held(path: Path) -> bool:
    """Whether someone holds an exclusive `flock` on `path`: a shared probe that never blocks, never
    creates the file, and lets go at once (a holder waiting on it waits microseconds at most)."""
    try:
        probe = open(path, "rb")
    except OSError:
        return False  # no file, no lock
    with probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
    return False
