"""Fit the confidence prior's weights on a bench/fix.py result (how PRIOR in
rusta_lsp/patches/confidence.py was obtained), and print them with the in-sample calibration.

    python bench/fit_prior.py bench/out/fix-seed1.json [L2=0.002]

It also prints PRIOR_CURVE for the prior as shipped: the precision of its best patch per fixable
diagnostic at rising thresholds (run it again after pasting new weights).

Only features with data in the bench are fitted (rustc's and the rules' sources, applicability,
error counts, edit shape, ranking, the edit kinds seen); `verified` stays hand-set (every labelled
patch is verified), and so do the weights of generators and signals the bench does not exercise
(the test evidence, edit kinds no verified patch had). Verified patches of no-fix cases (code in
progress, removals nobody can undo) are wrong ones, for the fit and for the curve alike.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rusta_lsp.patches.candidate import EDIT_KINDS  # noqa: E402
from rusta_lsp.patches.confidence import FEATURES, PRIOR, Calibrator, wilson_lower  # noqa: E402

# Never below 0.5: a patch offered as right must be likelier right than wrong by its own account.
THRESHOLDS = (0.5, 0.8, 0.9, 0.95)

# Hand-set: no data in the bench, or a sign the fit would make perverse (more errors left after
# the patch counting in its favour, none left counting against it).
HAND_SET = ("verified", "source=imports", "source=exemplars", "source=model", "history_rate",
            "history_count_log", "exemplar_support_log", "unmasked_errors_log", "fixes_all",
            "errors_after_log", "tests_not_run", "tests_passed_share", "tests_failed_share", "tests_unrun_share")


def main() -> None:
    data = json.loads(Path(sys.argv[1]).read_text())
    l2 = float(sys.argv[2]) if len(sys.argv) > 2 else 0.002
    rows = [(p["features"], p["right"] and not c["no_fix"]) for c in data["cases"] for p in c["patches"]]
    print(f"{len(rows)} verified patches, {sum(r for _, r in rows)} right")
    x = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    y = torch.tensor([float(r[1]) for r in rows], dtype=torch.float64)
    # A feature no verified patch has (an edit kind never seen) keeps its hand-set weight.
    learn = [i for i, name in enumerate(FEATURES) if name not in HAND_SET and bool(x[:, i].abs().sum())]
    w = torch.zeros(len(learn), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x[:, learn] @ w + b, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    for i, weight in zip(learn, w.tolist()):
        print(f"{FEATURES[i]:32} {weight:7.2f}   (shipped {PRIOR[FEATURES[i]]})")
    print("kept hand-set (no data or listed):", ", ".join(FEATURES[i] for i in range(len(FEATURES)) if i not in learn))
    print(f"bias for verified patches {b.item():.2f} -> PRIOR_BIAS = {b.item() - PRIOR['verified']:.2f}")
    with torch.no_grad():
        p = torch.sigmoid(x[:, learn] @ w + b)
    for t in (0.5, 0.8, 0.9, 0.95, 0.98):
        chosen = p >= t
        n = int(chosen.sum())
        print(f"p >= {t}: {n} patches, precision {float(y[chosen].mean()) if n else float('nan'):.3f}")
    per_kind(data)
    print(f"PRIOR_CURVE = {shipped_curve(data)}")


def best_patches(data: dict) -> list[tuple[float, bool, str]]:
    """The shipped prior's best verified patch per case: (confidence, right, edit kind)."""
    prior = Calibrator.prior()
    best = []
    for case in data["cases"]:
        if not case["patches"]:
            continue
        probs = prior.predict_many([p["features"] for p in case["patches"]])
        j = max(range(len(probs)), key=probs.__getitem__)
        best.append((probs[j], case["patches"][j]["right"] and not case["no_fix"], case["patches"][j].get("kind", "")))
    return best


def shipped_curve(data: dict) -> tuple:
    best = best_patches(data)
    return tuple((t, sum(p >= t for p, _, _ in best), sum(p >= t and r for p, r, _ in best)) for t in THRESHOLDS)


def per_kind(data: dict) -> None:
    """The shipped prior's precision per edit kind at its threshold for the default target."""
    threshold = Calibrator.prior().threshold(0.95)
    print(f"per edit kind at the shipped prior's threshold {threshold}:")
    for kind in EDIT_KINDS:
        offered = [r for p, r, k in best_patches(data) if k == kind and p >= threshold]
        if offered:
            right = sum(offered)
            print(f"  {kind:18} {right}/{len(offered)} right, precision {right / len(offered):.3f}"
                  f" (Wilson lower {wilson_lower(right, len(offered)):.3f})")


if __name__ == "__main__":
    main()
