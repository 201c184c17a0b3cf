"""Shared by bench/ingest.py and bench/retrieval.py: the corpus workspace and small statistics.

The corpus is the Debian crates of bench/parse.py, copied into one Cargo workspace (copied, so
the save benchmarks may edit files) under bench/out/.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from parse import CORPUS, REGISTRY  # noqa: E402

OUT = BENCH / "out"


def corpus_workspace(name: str = "memory-corpus") -> Path:
    """A workspace holding a copy of every corpus crate (made once, reused by later runs)."""
    root = OUT / name
    crates = [max(REGISTRY.glob(f"{c}.*"), default=None) for c in CORPUS]
    if None in crates:
        sys.exit(f"missing crates {[c for c, d in zip(CORPUS, crates) if d is None]}: run `make bench-crates`")
    if not (root / "Cargo.toml").is_file():
        root.mkdir(parents=True, exist_ok=True)
        for crate in crates:
            if not (root / crate.name).exists():
                shutil.copytree(crate, root / crate.name)
        members = ", ".join(f'"{c.name}"' for c in crates)
        (root / "Cargo.toml").write_text(f"[workspace]\nmembers = [{members}]\n")
    return root


def rust_lines(root: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("target", ".git")]
        for name in filenames:
            if name.endswith(".rs"):
                total += (Path(dirpath) / name).read_bytes().count(b"\n") + 1
    return total


def machine() -> str:
    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
            f"(load avg {os.getloadavg()[0]:.1f}), Python {platform.python_version()}, "
            f"torch {torch.__version__}, cuda={'yes' if torch.cuda.is_available() else 'no'}")


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"
