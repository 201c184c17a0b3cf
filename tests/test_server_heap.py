"""The server's C heap gives back what a job freed: free chunks held between live ones (what
stepped the soak's resident memory up) return to the system on `heap.give_back`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rusta_lsp.server import heap

FRAGMENT = """
import sys
from rusta_lsp.server import heap

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

heap.limit_heap()
blocks = [bytearray(64 * 1024) for _ in range(4000)]  # 250 MB through malloc, below mmap's threshold
del blocks[::2]  # half freed, each between two live blocks: nothing free at the heap's top
before = rss_mb()
if sys.argv[1] == "give back":
    heap.give_back()
print(before - rss_mb())
"""


def freed(fragment: str, how: str) -> float:
    """MB the fragment's process gave back to the system, run as `how` says."""
    run = subprocess.run([sys.executable, "-c", fragment, how], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return float(run.stdout)


@pytest.mark.skipif(heap._LIBC is None, reason="glibc only")
def test_give_back_returns_the_free_chunks_between_live_ones():
    assert freed(FRAGMENT, "keep") < 10  # glibc alone keeps them
    assert freed(FRAGMENT, "give back") > 100  # about 125 MB were freed


LARGE = """
import sys
from rusta_lsp.server import heap

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

if sys.argv[1] == "limit":
    heap.limit_heap()
first = b"x" * (4 << 20)
del first  # a mapped block freed: glibc alone now serves blocks this large from its arenas
blocks = [b"x" * (4 << 20) for _ in range(50)]  # 200 MB, as an embedding batch's activations
before = rss_mb()
del blocks[::2]
print(before - rss_mb())
"""


@pytest.mark.skipif(heap._LIBC is None, reason="glibc only")
def test_large_blocks_go_back_when_freed():
    assert freed(LARGE, "glibc's default") < 10  # held in the arena until a `give_back`
    assert freed(LARGE, "limit") > 90  # about 100 MB, at once
