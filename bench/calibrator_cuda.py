"""The calibrator's CUDA path: train the confidence model on cuda and on the CPU from the same data
and seed, and check the two runs agree (swap decision, threshold, held-out probabilities within
1e-6; float64 on both), with the time of each (the CPU run is the floor, measured in the same run).

    python bench/calibrator_cuda.py [bench/out/fix.json] [--repeat 4]

Data: every verified patch of a bench/fix.py run (its features, right or wrong; a no-fix case's
patches are wrong), else a synthetic set of the same shape drawn from the shipped prior with an
interaction the prior lacks, so that training has something to learn. Without a CUDA device it
says so and exits 0: nothing to compare.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rusta_lsp.heartbeat.training import TrainConfig, train_calibrator  # noqa: E402
from rusta_lsp.patches.confidence import FEATURES, Calibrator  # noqa: E402


def bench_data(path: Path | None) -> tuple[torch.Tensor, torch.Tensor, str]:
    if path is not None and path.is_file():
        cases = json.loads(path.read_text())["cases"]
        rows = [(p["features"], p["right"] and not c["no_fix"]) for c in cases for p in c["patches"]
                if len(p["features"]) == len(FEATURES)]
        if rows:
            x = torch.tensor([r for r, _ in rows], dtype=torch.float64)
            return x, torch.tensor([float(y) for _, y in rows], dtype=torch.float64), f"{path}: {len(rows)} patches"
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(600, len(FEATURES), generator=g, dtype=torch.float64) < 0.3).double()
    x[:, FEATURES.index("verified")] = 1.0
    prior = torch.tensor(Calibrator.prior().predict_many(x.tolist()), dtype=torch.float64)
    flip = x[:, 0] * x[:, 1]  # rustc and the rules at once: wrong, whatever the prior says
    p = prior * (1 - flip) + 0.1 * flip
    return x, (torch.rand(600, generator=g, dtype=torch.float64) < p).double(), "synthetic: 600 rows"


def train_on(device: str, x: torch.Tensor, y: torch.Tensor):
    started = time.monotonic()
    model, result = train_calibrator(x, y, Calibrator.prior().net, TrainConfig(device=device))
    seconds = time.monotonic() - started
    with torch.no_grad():
        probs = torch.sigmoid(model(x).reshape(-1))
    return result, probs, seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("skipped: torch sees no CUDA device here, so there is no cuda run to compare with the CPU's "
              f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})")
        return 0
    x, y, source = bench_data(args.data)
    print(f"device: {torch.cuda.get_device_name(0)}; data: {source}, {int(y.sum())} right")
    ok = True
    for i in range(args.repeat):
        cpu, cpu_probs, cpu_s = train_on("cpu", x, y)
        gpu, gpu_probs, gpu_s = train_on("cuda", x, y)
        gap = float((cpu_probs - gpu_probs).abs().max())
        same = (cpu.swapped == gpu.swapped and abs(cpu.threshold - gpu.threshold) < 1e-6 and gap < 1e-6
                and gpu.device == "cuda")
        ok &= same
        print(f"run {i + 1}: cuda {gpu_s:.2f}s, cpu {cpu_s:.2f}s (ratio {gpu_s / max(cpu_s, 1e-9):.2f}x); "
              f"swapped {gpu.swapped}/{cpu.swapped}, wins {gpu.wins}/{gpu.decided} vs {cpu.wins}/{cpu.decided}, "
              f"threshold {gpu.threshold:.4f}/{cpu.threshold:.4f}, max |p_cuda - p_cpu| {gap:.2e}: "
              f"{'same' if same else 'DIFFERENT'}")
    print("cuda matches cpu" if ok else "cuda and cpu DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
