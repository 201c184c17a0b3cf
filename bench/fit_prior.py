"""Fit the confidence prior's weights (how PRIOR in rusta_lsp/patches/confidence.py was obtained),
and print them with the calibration they reach.

    python bench/fit_prior.py bench/out/fix-seed1.json [--others bench/out/intent.json]
                              [--others-weight W] [--l2 0.002]

The corpus: the verified patches of a bench/fix.py result (our mutations of real crates: slips in
code that compiled a moment ago) and, with `--others`, those of a bench/intent.py result's
development half (programs other people wrote, judged by their authors' corrections; the held-out
half is never read). `--others-weight` is what one of those patches weighs against a fix.py one;
by default each corpus weighs the same in all. `--anchored` pulls the weights toward the shipped
PRIOR instead of zero (`never_seen_building`, the second corpus's own intercept, is not pulled). With
`--others` it also prints, for each of the development half's cases left out in turn
(leave-one-out), what the refit states and offers on it: the out-of-sample precision the refit
can claim on code others wrote (with `--anchored`, only before the refit's weights are pasted:
afterwards the anchor has seen every case). The shipped PRIOR came from
`--others bench/out/intent.json --others-weight 1 --anchored`.

It prints PRIOR_CURVE for the prior as shipped: the precision of its best patch per case at rising
thresholds, over both corpora (run it again after pasting new weights). A fix.py no-fix case
(code in progress, removals nobody can undo) with a verified patch counts as a wrong offer; an
intent.py case where the engine abstains whatever the confidence (its best patch is one of several
fixes rustc lists as equals) is left out.

Only features with data are fitted (rustc's and the rules' sources, applicability, error counts,
edit shape, ranking, the edit kinds seen); `verified` stays hand-set (every labelled patch is
verified), and so do the weights of generators and signals neither bench exercises (the test
evidence, edit kinds no verified patch had).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rusta_lsp.patches.candidate import EDIT_KINDS  # noqa: E402
from rusta_lsp.patches.confidence import FEATURES, PRIOR, PRIOR_BIAS, Calibrator, wilson_lower  # noqa: E402

INTERCEPTS = ("never_seen_building",)
# Never below 0.5: a patch offered as right must be likelier right than wrong by its own account.
THRESHOLDS = (0.5, 0.8, 0.9, 0.95)

# Hand-set: no data in the bench, or a sign the fit would make perverse (more errors left after
# the patch counting in its favour, none left counting against it).
HAND_SET = ("verified", "source=imports", "source=exemplars", "source=model", "history_rate",
            "history_count_log", "exemplar_support_log", "unmasked_errors_log", "fixes_all",
            "errors_after_log", "tests_not_run", "tests_passed_share", "tests_failed_share", "tests_unrun_share")


@dataclass
class Case:
    """One diagnostic of a corpus: its verified patches' features and labels, best first."""

    corpus: str  # "fix" or "others"
    name: str
    features: list[list[float]]
    right: list[bool]
    offerable: bool = True  # False: the engine abstains whatever the confidence


def fix_cases(data: dict) -> list[Case]:
    """bench/fix.py's cases with a verified patch. A result from before `never_seen_building` was a
    feature gets it as 0: bench/fix.py records every crate's green state before its cases."""
    def row(features: list[float]) -> list[float]:
        return features + [0.0] * (len(FEATURES) - len(features)) if len(features) == FEATURES.index(
            "never_seen_building") else features

    return [Case("fix", f"{c['crate']}:{c['kind']}:{c['line']}", [row(p["features"]) for p in c["patches"]],
                 [p["right"] and not c["no_fix"] for p in c["patches"]]) for c in data["cases"] if c["patches"]]


def others_cases(data: dict) -> list[Case]:
    """bench/intent.py's development half: judged cases whose target error had a verified patch."""
    return [Case("others", c["name"], [p["features"] for p in c["patches"]], [p["right"] for p in c["patches"]],
                 not c["result"]["rusta"].get("equals", False))
            for c in data["cases"] if c["half"] == "dev" and c.get("patches")]


def fit(cases: list[Case], others_weight: float, l2: float,
        anchored: bool = False) -> tuple[list[int], torch.Tensor, float]:
    """Weighted logistic regression of the learnable features: (feature indexes, weights, bias).
    `anchored`: the L2 pull is toward the shipped PRIOR instead of zero (a refit that moves the
    drill-fitted weights only as far as the new corpus shows them wrong)."""
    x = torch.tensor([f for c in cases for f in c.features], dtype=torch.float64)
    y = torch.tensor([float(r) for c in cases for r in c.right], dtype=torch.float64)
    weight = torch.tensor([others_weight if c.corpus == "others" else 1.0 for c in cases for _ in c.right],
                          dtype=torch.float64)
    # A feature no verified patch has (an edit kind never seen) keeps its hand-set weight.
    learn = [i for i, name in enumerate(FEATURES) if name not in HAND_SET and bool(x[:, i].abs().sum())]
    anchor = torch.tensor([PRIOR[FEATURES[i]] if anchored else 0.0 for i in learn], dtype=torch.float64)
    # `never_seen_building` is the corpus of code not built yet's own intercept: like the bias, no pull.
    penalised = torch.tensor([FEATURES[i] not in INTERCEPTS for i in learn], dtype=torch.float64)
    w = anchor.clone().requires_grad_(True)
    b = torch.tensor([PRIOR_BIAS + PRIOR["verified"] if anchored else 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x[:, learn] @ w + b, y, weight=weight,
                                                                    reduction="sum") / weight.sum()
        loss = loss + l2 * (((w - anchor) * penalised) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return learn, w.detach(), b.item()


def predictor(learn: list[int], w: torch.Tensor, bias: float):
    def predict(rows: list[list[float]]) -> list[float]:
        x = torch.tensor(rows, dtype=torch.float64)
        return torch.sigmoid(x[:, learn] @ w + bias).tolist()
    return predict


def best(cases: list[Case], predict) -> list[tuple[float, bool]]:
    """(confidence, right) of the best patch per offerable case."""
    out = []
    for case in cases:
        if case.offerable:
            probs = predict(case.features)
            j = max(range(len(probs)), key=probs.__getitem__)
            out.append((probs[j], case.right[j]))
    return out


def curve(offers: list[tuple[float, bool]]) -> tuple:
    return tuple((t, sum(p >= t for p, _ in offers), sum(p >= t and r for p, r in offers)) for t in THRESHOLDS)


def show(label: str, offers: list[tuple[float, bool]]) -> None:
    if not offers:
        return
    cells = []
    for t, n, right in curve(offers):
        cells.append(f">={t}: {right}/{n}" + (f" ({right / n:.3f}, Wilson {wilson_lower(right, n):.3f})" if n else ""))
    stated = sum(p for p, _ in offers) / len(offers)
    loss = -sum(math.log(max(1e-9, p if r else 1 - p)) for p, r in offers) / len(offers)
    print(f"  {label}: mean stated {stated:.3f}, measured {sum(r for _, r in offers) / len(offers):.3f}, "
          f"log loss {loss:.3f}; " + "; ".join(cells))


def leave_one_out(cases: list[Case], others_weight: float, l2: float, anchored: bool) -> list[tuple[float, bool]]:
    """The refit's best patch on each development case, fitted without that case."""
    out = []
    for i, case in enumerate(cases):
        if case.corpus == "others" and case.offerable:
            rest = cases[:i] + cases[i + 1:]
            out += best([case], predictor(*fit(rest, others_weight, l2, anchored)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("fix", help="a bench/fix.py result (the seed-1 corpus: seed 0 is its report's)")
    parser.add_argument("--others", help="a bench/intent.py result: its development half joins the fit")
    parser.add_argument("--others-weight", type=float, default=0.0, help="default: each corpus weighs the same")
    parser.add_argument("--l2", type=float, default=0.002)
    parser.add_argument("--anchored", action="store_true", help="pull the weights toward the shipped PRIOR, not zero")
    args = parser.parse_args()
    cases = fix_cases(json.loads(Path(args.fix).read_text()))
    cases += others_cases(json.loads(Path(args.others).read_text())) if args.others else []
    n_fix, n_others = (sum(len(c.right) for c in cases if c.corpus == k) for k in ("fix", "others"))
    weight = args.others_weight or (n_fix / n_others if n_others else 1.0)
    print(f"{n_fix + n_others} verified patches ({n_fix} of fix.py, {n_others} of intent.py's development half, "
          f"weighing {weight:.2f} each), {sum(r for c in cases for r in c.right)} right")
    learn, w, bias = fit(cases, weight, args.l2, args.anchored)
    for i, value in zip(learn, w.tolist()):
        print(f"{FEATURES[i]:32} {value:7.2f}   (shipped {PRIOR[FEATURES[i]]})")
    print("kept hand-set (no data or listed):", ", ".join(FEATURES[i] for i in range(len(FEATURES)) if i not in learn))
    print(f"bias for verified patches {bias:.2f} -> PRIOR_BIAS = {bias - PRIOR['verified']:.2f}")
    shipped = Calibrator.prior().predict_many
    for corpus in ("fix", "others"):
        part = [c for c in cases if c.corpus == corpus]
        if part:
            print(f"{corpus}: best patch per case")
            show("shipped prior", best(part, shipped))
            show("this fit, in sample", best(part, predictor(learn, w, bias)))
    if n_others:
        show("this fit, development cases left out in turn", leave_one_out(cases, weight, args.l2, args.anchored))
    per_kind(cases, shipped)
    print(f"PRIOR_CURVE = {curve(best([c for c in cases if c.corpus == 'fix'], shipped))}")
    if n_others:
        print(f"PRIOR_CURVE_UNBUILT = {curve(best([c for c in cases if c.corpus == 'others'], shipped))}")


def per_kind(cases: list[Case], predict) -> None:
    """The shipped prior's precision per edit kind at its threshold for the default target."""
    kind_of = {f"kind={k}": k for k in EDIT_KINDS}
    for corpus in ("fix", "others"):
        # The others corpus never built: the engine's threshold there is the one for such code.
        threshold = Calibrator.prior().threshold(0.95, seen_building=corpus == "fix")
        print(f"per edit kind at the shipped prior's threshold {threshold} ({corpus}):")
        tally: dict[str, list[int]] = {}
        for case in cases:
            if case.corpus != corpus or not case.offerable:
                continue
            probs = predict(case.features)
            j = max(range(len(probs)), key=probs.__getitem__)
            if probs[j] >= threshold:
                kind = next(k for name, k in kind_of.items() if case.features[j][FEATURES.index(name)])
                tally.setdefault(kind, [0, 0])[0] += case.right[j]
                tally[kind][1] += 1
        for kind, (right, n) in sorted(tally.items()):
            print(f"  {corpus:6} {kind:18} {right}/{n} right, precision {right / n:.3f}"
                  f" (Wilson lower {wilson_lower(right, n):.3f})")


if __name__ == "__main__":
    main()
