"""Analysis throughput against a raw tree-sitter parse of the same files, in the same run.

    python bench/parse.py [CRATE_DIR ...]   (default: the Debian librust crates `make bench` installs)

Prints lines/s for both and their ratio (goal: the analysis keeps at least 50% of the raw
throughput). Shared machines are noisy, so each of REPEATS rounds times the floor and the analysis
back to back, and the ratio reported is the median of the rounds' ratios.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rusta_lsp.analysis.parser import analyze_source, parse_tree  # noqa: E402
from rusta_lsp.analysis.workspace import discover_workspace  # noqa: E402

REGISTRY = Path("/usr/share/cargo/registry")
# The crates `make bench` installs (with their dependencies, more lie in the registry; these are fixed).
CORPUS = ("regex-1", "serde-1", "serde_json-1", "syn-1", "tokio-1")
REPEATS = int(os.environ.get("REPEATS", "3"))


def load_corpus(dirs: list[Path]) -> list[tuple[str, str, bytes, bool]]:
    """(path, module path, source, is test file) of every file the workspace discovery finds."""
    files = []
    for crate_dir in dirs:
        ws = discover_workspace(crate_dir)
        for f in ws.files:
            files.append((f.path, f.module_path, (crate_dir / f.path).read_bytes(), f.target == "test"))
    return files


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    crate_dirs = [Path(a) for a in sys.argv[1:]] or [
        max(REGISTRY.glob(f"{name}.*"), default=None) for name in CORPUS]
    missing = [name for name, d in zip(CORPUS, crate_dirs) if d is None]
    if missing:
        sys.exit(f"missing crates {missing}: run `make bench-crates`")
    files = load_corpus(crate_dirs)
    lines = sum(src.count(b"\n") + 1 for _, _, src, _ in files)
    if lines < 100_000:
        print(f"warning: corpus has only {lines} lines (goal: at least 100k)")

    def raw():
        for _, _, src, _ in files:
            parse_tree(src)

    def analysis():
        for path, module, src, test in files:
            analyze_source(src, path, module, test_file=test)

    rounds = [(timed(raw), timed(analysis)) for _ in range(REPEATS)]
    floor = min(r for r, _ in rounds)
    ours = min(a for _, a in rounds)
    ratio = statistics.median(r / a for r, a in rounds)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    print(f"corpus: {len(crate_dirs)} crates, {len(files)} files, {lines} lines; {REPEATS} rounds")
    print(f"raw tree-sitter parse: {lines / floor:12,.0f} lines/s  (best {floor:.2f} s)")
    print(f"analysis:              {lines / ours:12,.0f} lines/s  (best {ours:.2f} s)")
    print("per-round ratios: " + ", ".join(f"{r / a:.0%}" for r, a in rounds))
    print(f"ratio: {ratio:.0%} of raw throughput (goal: >= 50%) -> {'met' if ratio >= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
