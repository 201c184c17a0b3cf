"""Calibration training: Brier improves on a synthetic set; the model is swapped only when a Wilson
bound says it is better on held-out data; the MLP calibrator learns what a linear one cannot."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rusta_lsp.cancel import Cancelled, CancelToken
from rusta_lsp.heartbeat.training import (
    TrainConfig,
    expected_calibration_error,
    split,
    surely_better,
    threshold_for_precision,
    train_calibrator,
)
from rusta_lsp.patches.confidence import CalibratorNet


def synthetic(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels drawn from a known logistic model: p = sigmoid(2*x0 - x1)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    p = torch.sigmoid(2 * x[:, 0] - x[:, 1])
    return x, (torch.rand(n, generator=g) < p).float()


def zero_model() -> nn.Module:
    model = nn.Linear(3, 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return model  # predicts 0.5 everywhere: Brier 0.25


def test_training_improves_brier_and_swaps():
    x, y = synthetic(400, seed=1)
    current = zero_model()
    kept, result = train_calibrator(x, y, current, TrainConfig(device="cpu"))
    assert result.trained and result.swapped
    assert kept is not current
    assert result.after.brier < result.before.brier - 0.03
    assert abs(result.before.brier - 0.25) < 1e-6
    assert result.after.ece < 0.1
    assert result.device == "cpu"


def test_model_kept_when_the_candidate_is_worse_on_held_out_data():
    # Train and held-out examples disagree: what the candidate learns is wrong on held-out data.
    x, y = synthetic(200, seed=2)
    config = TrainConfig(device="cpu", seed=5)
    train_idx, _ = split(len(y), config.holdout_fraction, config.seed)
    y = (x[:, 0] > 0).float()
    y[train_idx] = 1 - y[train_idx]
    current = nn.Linear(3, 1)
    with torch.no_grad():
        current.weight[:] = torch.tensor([[3.0, 0.0, 0.0]])
        current.bias.zero_()
    kept, result = train_calibrator(x, y, current, config)
    assert result.trained and not result.swapped
    assert kept is current
    assert result.after.brier > result.before.brier


def test_too_few_examples_keep_the_model():
    x, y = synthetic(10, seed=3)
    current = zero_model()
    kept, result = train_calibrator(x, y, current, TrainConfig(device="cpu"))
    assert kept is current and not result.trained and "need" in result.reason


def test_cancel_interrupts_training():
    x, y = synthetic(100, seed=4)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        train_calibrator(x, y, zero_model(), TrainConfig(device="cpu"), cancel=cancel)


def test_threshold_meets_target_precision_with_most_coverage():
    probs = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = [1, 1, 1, 1, 0, 1, 0, 0]
    threshold, precision, coverage = threshold_for_precision(probs, labels, 0.8)
    assert threshold == 0.6 and precision == 5 / 6 and coverage == 6 / 8
    threshold, precision, coverage = threshold_for_precision([0.9, 0.8], [0, 0], 0.95)
    assert threshold > 0.9 and coverage == 0.0


def test_ece_is_zero_when_confidence_matches_frequency():
    probs = torch.tensor([0.25] * 4 + [0.75] * 4)
    labels = torch.tensor([1.0, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(probs, labels) < 1e-6
    assert abs(expected_calibration_error(torch.tensor([0.9] * 4), torch.tensor([0.0] * 4)) - 0.9) < 1e-6


def test_swap_takes_a_wilson_bound_above_one_half_not_a_point_estimate():
    labels = torch.ones(60, dtype=torch.float64)
    old = torch.full((60,), 0.8, dtype=torch.float64)
    # 11 of 20 decided examples better: a point estimate of 0.55, but the bound is below 0.5.
    new = old.clone()
    new[:11], new[11:20] = 0.9, 0.7
    swap, wins, decided, bound = surely_better(new, old, labels, 0.01)
    assert (wins, decided) == (11, 20) and bound < 0.5 and not swap
    # 45 of 60: surely better. Differences within the tolerance are ties, not wins.
    new = old.clone()
    new[:45], new[45:] = 0.9, 0.7
    assert surely_better(new, old, labels, 0.01)[0]
    assert surely_better(old + 0.005, old, labels, 0.01)[1:3] == (0, 0)


def test_the_mlp_calibrator_learns_an_interaction_and_is_swapped_in():
    # Right exactly when one of two signals is present, not both (a conversion from rustc is
    # right, from the rules wrong, say): no linear model over the two can say so.
    g = torch.Generator().manual_seed(7)
    x = torch.randint(0, 2, (400, 2), generator=g).double()
    y = ((x[:, 0] != x[:, 1]).double() * 0.9 + 0.05 > torch.rand(400, generator=g, dtype=torch.float64)).double()
    current = CalibratorNet(2)  # zero weights: 0.5 everywhere, as an untrained prior would say
    with torch.no_grad():
        current.linear.weight.zero_()
        current.linear.bias.zero_()
    kept, result = train_calibrator(x, y, current, TrainConfig(device="cpu", prior_pull=0.0))
    assert result.swapped and kept is not current and result.wilson > 0.5
    assert result.after.brier < 0.12 < result.before.brier  # a linear fit stays at 0.25 here
    assert next(kept.parameters()).device.type == "cpu"


def test_calibrate_learns_from_rows_of_todays_features_only(tmp_path):
    from rusta_lsp.config import RustaConfig
    from rusta_lsp.heartbeat.jobs import calibrate
    from rusta_lsp.memory.store import Memory
    from rusta_lsp.patches.confidence import FEATURES, CalibratorStore

    (tmp_path / "ws").mkdir()
    g = torch.Generator().manual_seed(3)
    rows = []
    for i in range(60):  # today's: right exactly when the patch is a rename
        x = [0.0] * len(FEATURES)
        x[FEATURES.index("verified")] = 1.0
        x[FEATURES.index("kind=rename_similar" if i % 2 else "kind=convert_type")] = 1.0
        rows.append({"features": x, "correct": bool(i % 2) != (torch.rand(1, generator=g).item() < 0.05)})
    old = [{"features": [1.0] * 23, "correct": True}] * 40  # drills of an older Rusta, 23 features
    store = CalibratorStore(tmp_path / "state")
    with Memory.open(str(tmp_path / "memory"), tmp_path / "ws") as memory:
        memory.put_rows("drills", [{"id": "new", "patches": rows}, {"id": "old", "patches": old}], "id")
        summary = calibrate(store, RustaConfig(), memory, train_config=TrainConfig(device="cpu"))
    assert summary["trained"] and summary["examples"] == 60  # the 40 older rows are left out
    model = store.current()
    assert model.trained and model.predict(rows[1]["features"]) > model.predict(rows[0]["features"])
