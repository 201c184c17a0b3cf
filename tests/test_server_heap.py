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

heap.fewer_arenas()
blocks = [bytearray(64 * 1024) for _ in range(4000)]  # 250 MB through malloc, below mmap's threshold
del blocks[::2]  # half freed, each between two live blocks: nothing free at the heap's top
before = rss_mb()
if sys.argv[1] == "give back":
    heap.give_back()
print(before - rss_mb())
"""


@pytest.mark.skipif(heap._LIBC is None, reason="glibc only")
def test_give_back_returns_the_free_chunks_between_live_ones():
    def freed(how: str) -> float:
        run = subprocess.run([sys.executable, "-c", FRAGMENT, how], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return float(run.stdout)

    assert freed("keep") < 10  # glibc alone keeps them
    assert freed("give back") > 100  # about 125 MB were freed
