"""Calibration training: refit the patch-confidence model on drill and feedback labels.

Written in the nanoGPT manner: one config dataclass, one plain training loop in phases, and
`@torch.no_grad()` evaluation helpers. The model is any torch module mapping a feature matrix
[N, F] to logits [N, 1] (patches' `Calibrator` holds a `CalibratorNet`, a linear part plus an
MLP). It trains on cuda when there is one, else mps, else the CPU. The old model is replaced only
when the new one is better on held-out examples by a paired sign test judged with a Wilson bound,
not by a point estimate: among the held-out examples where the two disagree by more than a
tolerance, the new one must be the nearer to the truth in a share whose one-sided 95% Wilson
lower bound exceeds one half. The abstention threshold is re-derived on the held-out examples to
meet `abstain.targetPrecision`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..cancel import CancelToken
from ..device import pick_device
from ..patches.confidence import precision_threshold, wilson_lower


@dataclass
class TrainConfig:
    steps: int = 400  # full-batch optimisation steps; the data sets are small (hundreds of rows)
    learning_rate: float = 0.05  # Adam step size; a logistic regression converges well within `steps`
    prior_pull: float = 1e-3  # L2 pull toward the starting (prior or current) weights: a feature the
    # labels rarely show keeps its prior weight instead of drifting to zero on tiny, separable sets
    holdout_fraction: float = 0.3  # share of examples held out for before/after comparison and threshold
    min_examples: int = 20  # below this there is nothing to learn from; keep the current model
    min_holdout: int = 8  # a held-out set smaller than this cannot tell two models apart
    bins: int = 10  # equal-width confidence bins for the expected calibration error
    seed: int = 0  # split and initialisation are reproducible
    device: str = "auto"  # auto picks cuda, then mps, then cpu (rusta_lsp.device.pick_device)
    target_precision: float = 0.95  # abstain.targetPrecision: precision wanted above the threshold
    check_every: int = 25  # steps between cancellation checks
    cpu_threads: int = 1  # torch threads while training on the CPU: the tensors are tiny, and a thread
    # pool fighting the editor and cargo for busy cores made a run several times slower (measured)
    tolerance: float = 0.01  # a held-out example decides between two models when their distances
    # to its label differ by more than this (probability units); closer calls are ties


@dataclass
class Metrics:
    brier: float  # mean squared error of the probability, lower is better
    ece: float  # expected calibration error over `bins` bins, lower is better
    n: int  # examples measured


@dataclass
class TrainResult:
    trained: bool  # False when there were too few examples to try
    swapped: bool  # the new model replaced the old one
    before: Metrics | None  # old model on the held-out split
    after: Metrics | None  # new model on the held-out split
    threshold: float  # confidence at or above which a patch is offered
    precision: float  # held-out precision of the chosen model at the threshold
    coverage: float  # share of held-out examples at or above the threshold
    device: str
    seconds: float
    reason: str = ""
    wins: int = 0  # held-out examples where the new model was nearer the label, beyond the tolerance
    decided: int = 0  # held-out examples where either model was, beyond the tolerance
    wilson: float = 0.0  # one-sided 95% Wilson lower bound of wins / decided; > 0.5 swaps

    def to_json(self) -> dict:
        return asdict(self)


# --- evaluation ------------------------------------------------------------------------------


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.sigmoid(model(x).reshape(-1))


@torch.no_grad()
def brier_score(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return float(((probs - labels) ** 2).mean()) if len(labels) else 0.0


@torch.no_grad()
def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> float:
    """Sum over equal-width bins of |accuracy - confidence| weighted by the bin's share."""
    if not len(labels):
        return 0.0
    index = torch.clamp((probs * bins).long(), max=bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += float(mask.float().mean()) * abs(float(labels[mask].mean()) - float(probs[mask].mean()))
    return total


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bins: int = 10) -> Metrics:
    probs = predict(model, x)
    return Metrics(brier_score(probs, y), expected_calibration_error(probs, y, bins), len(y))


@torch.no_grad()
def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean confidence, observed rate, count) per non-empty bin, for the reliability diagram."""
    index = torch.clamp((probs * bins).long(), max=bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append((float(probs[mask].mean()), float(labels[mask].mean()), int(mask.sum())))
    return rows


@torch.no_grad()
def surely_better(new: torch.Tensor, old: torch.Tensor, labels: torch.Tensor,
                  tolerance: float) -> tuple[bool, int, int, float]:
    """A sign test of two models' held-out probabilities: (swap, wins, decided, Wilson bound).
    `decided`: examples where one model is nearer the label than the other by more than
    `tolerance`; `wins`: those where it is the new one. Swap when the one-sided 95% Wilson lower
    bound of wins / decided exceeds one half: a point estimate above it is not enough."""
    gain = (old - labels).abs() - (new - labels).abs()
    wins, decided = int((gain > tolerance).sum()), int((gain.abs() > tolerance).sum())
    bound = wilson_lower(wins, decided)
    return bound > 0.5, wins, decided, bound


def threshold_for_precision(probs: list[float], labels: list[float], target: float) -> tuple[float, float, float]:
    """Lowest confidence whose offered set (p >= t) reaches `target` precision.

    Returns (threshold, precision, coverage). When no threshold reaches the target, the threshold
    sits above every score: abstain on all, coverage 0.
    """
    threshold = precision_threshold(probs, [label >= 0.5 for label in labels], target)
    if threshold is None:
        return min(1.0, max(probs, default=0.0) + 1e-6), 1.0, 0.0
    offered = [label for p, label in zip(probs, labels) if p >= threshold]
    return threshold, sum(label >= 0.5 for label in offered) / len(offered), len(offered) / len(probs)


# --- training --------------------------------------------------------------------------------


def split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random train/held-out index split, reproducible for a seed."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_hold = max(1, int(round(n * fraction)))
    return order[n_hold:], order[:n_hold]


def train_calibrator(
    x: torch.Tensor,
    y: torch.Tensor,
    current: nn.Module,
    config: TrainConfig = TrainConfig(),
    cancel: CancelToken | None = None,
) -> tuple[nn.Module, TrainResult]:
    """Fit a copy of `current` on a training split; return (model to keep, result).

    The returned model is the new one when it beats `current` on the held-out split (the Wilson
    sign test of the module docstring), else `current` itself. Raises Cancelled when `cancel` is set.
    """
    started = time.monotonic()
    device = pick_device(config.device)
    dtype = next(current.parameters()).dtype
    # MPS has no float64: train there in float32 and hand back the model's own precision.
    work_dtype = torch.float32 if device == "mps" else dtype
    x, y = x.to(work_dtype), y.to(work_dtype)
    if len(y) < config.min_examples:
        return current, TrainResult(False, False, None, None, 1.0, 1.0, 0.0, device, 0.0,
                                    f"{len(y)} labelled examples, need {config.min_examples}")

    # Phase 1: data. A seeded split; everything moves to the chosen device once.
    train_idx, hold_idx = split(len(y), config.holdout_fraction, config.seed)
    if len(hold_idx) < config.min_holdout:
        return current, TrainResult(False, False, None, None, 1.0, 1.0, 0.0, device, 0.0,
                                    f"held-out split of {len(hold_idx)} is too small")
    x_train, y_train = x[train_idx].to(device), y[train_idx].to(device)
    x_hold, y_hold = x[hold_idx].to(device), y[hold_idx].to(device)

    # Phase 2: the candidate starts from the current weights (a warm start, the prior included).
    # Both live on the device as copies: the caller's model is never moved or changed.
    torch.manual_seed(config.seed)
    baseline = copy.deepcopy(current).to(device=device, dtype=work_dtype)
    model = copy.deepcopy(baseline)
    before = evaluate(baseline, x_hold, y_hold, config.bins)
    anchor = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()

    # Phase 3: full-batch optimisation, checking for pre-emption every few steps.
    model.train()
    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(config.cpu_threads)
    try:
        for step in range(config.steps):
            if cancel is not None and step % config.check_every == 0:
                cancel.check()
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train).reshape(-1), y_train)
            loss = loss + config.prior_pull * sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor))
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)

    # Phase 4: compare on held-out data; keep the new model only when it is surely better.
    after = evaluate(model, x_hold, y_hold, config.bins)
    swapped, wins, decided, wilson = surely_better(predict(model, x_hold), predict(baseline, x_hold), y_hold,
                                                   config.tolerance)

    # Phase 5: the abstention threshold for the kept model, on the same held-out examples.
    probs = predict(model if swapped else baseline, x_hold).cpu().tolist()
    threshold, precision, coverage = threshold_for_precision(probs, y_hold.cpu().tolist(), config.target_precision)
    result = TrainResult(True, swapped, before, after, threshold, precision, coverage, device,
                         time.monotonic() - started, wins=wins, decided=decided, wilson=round(wilson, 4))
    return (model.to(device="cpu", dtype=dtype) if swapped else current), result
