"""A long editing session: 1,000 saves of one file in the real server; does its memory stay flat?

The real `rusta serve` over stdio (heartbeat off, so the figure is the editing path alone) on a
copy of examples/ledger. Each save changes store.rs (a counter in a comment, and every other save a
new function), sends didChange and didSave, and waits until the server's fix check for it ends
(done, or cancelled by the next save), so every save goes through ingest, the shadow sync, cargo
and the verifier. The server's resident memory (VmRSS, its own process, not cargo's) is sampled
after each save.

The floor is the server's own resident memory once the first saves have warmed it up (models,
caches, cargo's first build): after that, the goal is a plateau — the resident memory of the
remaining saves stays within 50 MB of that warm-up figure.

    python bench/soak.py [--saves 1000] [--warmup 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from rpc_support import RawClient, progress_ended  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GOAL_MB = 50


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def save(client: RawClient, uri: str, path: Path, original: str, n: int) -> None:
    extra = f"\npub fn soak_{n}() -> u64 {{ {n} }}\n" if n % 2 else ""
    text = f"{original}\n// save {n}\n{extra}"
    path.write_text(text)
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": n + 2},
                                             "contentChanges": [{"text": text}]})
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rusta-soak-"))
    root = work / "ledger"
    shutil.copytree(EXAMPLES / "ledger", root, ignore=shutil.ignore_patterns("target"))
    path = root / "src" / "store.rs"
    original, uri = path.read_text(), path.as_uri()
    client = RawClient.spawn(work / "server.log")
    samples: list[float] = []
    started = time.monotonic()
    try:
        client.initialize(root, {"memory": {"uri": str(work / "memory")}, "heartbeat": {"enabled": False},
                                 "cargo": {"targetDir": str(work / "target")}})
        progress_ended(client, "Rusta: memory", timeout=600)
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "rust", "version": 1,
                                                                "text": original}})
        initial = rss_mb(client.proc.pid)
        for n in range(args.saves):
            client.received.clear()  # what earlier saves brought; keeps this side flat too
            save(client, uri, path, original, n)
            progress_ended(client, "Rusta: checking fixes", timeout=600)
            samples.append(rss_mb(client.proc.pid))
            if (n + 1) % 100 == 0:
                print(f"  save {n + 1:5d}: {samples[-1]:7.1f} MB resident", flush=True)
        client.call("shutdown")
        client.notify("exit")
        client.wait_exit(120)
    finally:
        client.close()
        shutil.rmtree(work, ignore_errors=True)
    report(samples, initial, args.warmup, time.monotonic() - started)


def report(samples: list[float], initial: float, warmup: int, seconds: float) -> None:
    after = samples[warmup:]
    floor = samples[warmup - 1]
    n = len(after)
    mean_x, mean_y = (n - 1) / 2, sum(after) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(after)) / sum((x - mean_x) ** 2 for x in range(n))
    spread = max(after) - floor
    print(f"machine: {os.uname().machine}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"saves: {len(samples)} in {seconds:.0f} s ({seconds / len(samples):.2f} s a save, check included)")
    print(f"resident memory: {initial:.0f} MB before the first save, {floor:.0f} MB after {warmup} warm-up "
          f"saves (the floor), {samples[-1]:.0f} MB after the last; min {min(after):.0f}, max {max(after):.0f} MB")
    print(f"growth after warm-up: {slope * 100:+.2f} MB per 100 saves; max above the floor {spread:+.1f} MB "
          f"(goal <= {GOAL_MB} MB: {'met' if spread <= GOAL_MB else 'NOT met'})")


if __name__ == "__main__":
    main()
