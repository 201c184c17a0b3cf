"""The server process's C heap (glibc's malloc, which LanceDB, torch and Python's large objects
share).

glibc gives threads up to 8 malloc arenas per core and returns an arena's free memory to the
system only from its top: a long session's resident memory stepped up by 64 MB arena heaps as
cargo watchers, executor and LanceDB threads came and went, and held the free chunks each save
left between live ones (`bench/soak.py`; `malloc_stats` showed 118 MB free of an arena's 194).
So the server keeps two arenas (most Python objects come from pymalloc's own pools, so the lock
the threads share is cheap), maps every block of a megabyte or more on its own (`limit_heap`) and,
when a job ends or the explain catalog has reloaded (it reads
the memory's tables whole), hands the free pages of every arena back (`malloc_trim`, off the
event loop: cheap beside the job). Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_ARENA_MAX = -8  # glibc's mallopt parameters
_M_MMAP_THRESHOLD = -3
MAPPED_BLOCK = 1 << 20


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _glibc()


def limit_heap() -> None:
    """Two malloc arenas for the whole process, and blocks of `MAPPED_BLOCK` bytes or more in
    mappings of their own, returned to the system when freed; call before the threads start.

    glibc maps large blocks by default too, but raises that threshold to the size of each mapped
    block freed (up to 32 MB): after the first batch the embedding model's activations (tens of
    MB a batch) and LanceDB's scan buffers came from the arenas and stayed there until the next
    `give_back`, 0.3 GB of the monorepo server's resident memory between two."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, 2)
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MAPPED_BLOCK)


def give_back() -> None:
    """Return the free pages of every arena to the system (blocking: call off the event loop)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
