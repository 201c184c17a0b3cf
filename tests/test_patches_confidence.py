"""The confidence model: a sensible prior, training, persistence, and the precision threshold."""

from __future__ import annotations

import torch

from rusta_lsp.patches import candidate as cands
from rusta_lsp.patches.candidate import EDIT_KINDS, Candidate, Edit
from rusta_lsp.patches.confidence import (
    FEATURES, PRIOR, Calibrator, CalibratorConfig, CalibratorStore, ConfidenceContext, calibrator_path, features,
    precision_threshold, wilson_lower,
)
from rusta_lsp.patches.diagnostics import Diagnostic, DiagSpan

DIAG = Diagnostic("error", "mismatched types", "E0308", (DiagSpan("src/lib.rs", 10, 14, 1, 11, 1, 15, True),))


def _cand(source="rustc", applicability=None, verified=True, siblings=0, after=0, text="&", kind="add_borrow"):
    c = Candidate(DIAG, "t", (Edit("src/lib.rs", 10, 10, text),), source, applicability, kind=kind)
    c.verified, c.verified_siblings, c.errors_before, c.errors_after = verified, siblings, 1, after
    return c


def _p(cand, history=None, rank=0, seen_building=True):
    return Calibrator.prior().predict(features(cand, ConfidenceContext(history or {}, rank, seen_building)))


def test_prior_orders_evidence_sensibly():
    borrow = _p(_cand(applicability="MaybeIncorrect"))
    ambiguous = _p(_cand(applicability="MaybeIncorrect", siblings=2))
    conversion = _p(_cand(applicability="MaybeIncorrect", text=".into()"))
    unverified = _p(_cand(applicability="MaybeIncorrect", verified=False, after=1))
    model = _p(_cand(source="model"))
    assert borrow > 0.95 and unverified < 0.2
    assert borrow > ambiguous > unverified  # competing verified answers are a doubt
    assert borrow > conversion  # `.into()` compiles more often than it is what was meant
    assert model < _p(_cand(source="rustc"))
    # A history of right answers for (E0308, rules) lifts a rules patch; a history of wrong ones sinks it.
    good = _p(_cand(source="rules"), {("E0308", "rules"): (19, 20)})
    bad = _p(_cand(source="rules"), {("E0308", "rules"): (1, 20)})
    assert good > _p(_cand(source="rules")) > bad


def test_features_have_stable_names_and_length():
    assert len(features(_cand(), ConfidenceContext())) == len(FEATURES)
    assert len(set(FEATURES)) == len(FEATURES)


def test_store_saves_reloads_when_the_file_changes_and_falls_back_to_prior(tmp_path):
    path = calibrator_path(tmp_path)
    store, reader = CalibratorStore(tmp_path), CalibratorStore(tmp_path)  # reader: another process's
    assert not reader.current().trained  # nothing saved: the prior
    cal = Calibrator.prior()
    with torch.no_grad():
        cal.net.linear.weight.mul_(0.5)  # as training would: other weights than the prior's
    cal.threshold_override = 0.9
    store.save(cal)
    assert store.current() is cal
    loaded = reader.current()  # the file changed: read again
    row = features(_cand(), ConfidenceContext())
    assert loaded.trained and abs(loaded.predict(row) - cal.predict(row)) < 1e-12
    assert loaded.threshold(0.95) == 0.9
    assert reader.current() is loaded  # unchanged file: no reload
    torch.save({"names": ["other"], "state": {}, "threshold": None}, path)
    assert not reader.current().trained  # trained on other features: ignored
    # A logistic regression saved by an older Rusta, on today's names: not this net's shape.
    torch.save({"names": list(FEATURES), "state": torch.nn.Linear(len(FEATURES), 1).state_dict(), "threshold": 0.61},
               path)
    assert not reader.current().trained and reader.current().threshold(0.95) != 0.61
    path.write_bytes(b"not a model")
    assert not reader.current().trained


def test_precision_threshold_picks_the_lowest_score_reaching_the_target():
    scores = [0.99, 0.97, 0.9, 0.8, 0.7]
    labels = [True, True, True, False, True]
    assert precision_threshold(scores, labels, 0.95) == 0.9
    assert precision_threshold(scores, labels, 0.75) == 0.7
    assert precision_threshold([0.9], [False], 0.95) is None


def test_prior_threshold_comes_from_its_measured_precision():
    prior = Calibrator.prior()
    # A measured threshold whose precision surely (Wilson bound) reaches the target...
    t95 = prior.threshold(0.95)
    assert any(t == t95 and wilson_lower(right, n) >= 0.95 for t, n, right in prior.curve)
    assert prior.threshold(0.8) <= t95
    # ...and where no measured threshold is sure enough, the target itself.
    assert prior.threshold(0.999) == 0.999


def test_prior_threshold_offers_the_most_right_patches_and_no_needless_wrong_ones():
    prior = Calibrator.prior()
    # Lowering 0.8 to 0.5 adds one offered patch and no right one; 0.9 loses right ones.
    prior.curve = ((0.5, 164, 161), (0.8, 163, 161), (0.9, 156, 154))
    assert prior.threshold(0.95) == 0.8
    # A target only the highest threshold reaches picks it, even with fewer right patches.
    prior.curve = ((0.5, 100, 90), (0.9, 60, 60))
    assert prior.threshold(0.95) == 0.9
    assert wilson_lower(96, 97) < 96 / 97 and wilson_lower(0, 0) == 0.0


def test_kind_and_test_evidence_are_features():
    row = dict(zip(FEATURES, features(_cand(kind="delete_code"), ConfidenceContext())))
    assert [k for k in EDIT_KINDS if row[f"kind={k}"]] == ["delete_code"]
    assert row["tests_not_run"] == 1.0 and row["tests_passed_share"] == 0.0
    cand = _cand()
    cand.tests = cands.TestEvidence(related=4, passed=3, failed=0, not_run=1, ran=True)
    row = dict(zip(FEATURES, features(cand, ConfidenceContext())))
    assert (row["tests_not_run"], row["tests_passed_share"], row["tests_unrun_share"]) == (0.0, 0.75, 0.25)
    # The evidence moves the prior's confidence: passing tests up, a failing one down.
    failing = _cand()
    failing.tests = cands.TestEvidence(related=4, passed=3, failed=1, ran=True)
    assert _p(cand) > _p(_cand()) and _p(failing) < _p(cand)
    assert _p(_cand(kind="delete_code")) < _p(_cand())


def test_code_never_seen_building_gets_a_lower_confidence():
    # Fitted on programs others wrote that never built: there the drill-fitted prior said 0.94 of
    # patches right 0.82 of the time.
    cand = _cand(applicability="MachineApplicable", kind="add_mut", text="mut ")
    unbuilt, built = (dict(zip(FEATURES, features(cand, ConfidenceContext(seen_building=g)))) for g in (False, True))
    assert unbuilt["never_seen_building"] == 1.0 and built["never_seen_building"] == 0.0
    assert 0.5 < _p(cand, seen_building=False) < _p(cand) - 0.03


def test_code_never_seen_building_is_offered_only_at_the_target():
    prior = Calibrator.prior()
    # Measured on such code, no threshold reaches 0.95 at 95% confidence: the target itself.
    assert prior.threshold(0.95, seen_building=False) == 0.95 > prior.threshold(0.95)
    # A target the unbuilt curve does reach (0.75: 10/10 at 0.9 bounds 0.79) keeps its threshold,
    # never below the one for code that built.
    assert prior.threshold(0.75, seen_building=False) == 0.9
    prior.threshold_override = 0.97  # a trained model's own threshold, when higher, stands
    assert prior.threshold(0.95, seen_building=False) == 0.97


def test_a_fresh_net_is_its_linear_prior_and_a_trained_one_round_trips(tmp_path):
    prior = Calibrator.prior()
    rows = [features(_cand(kind=k, after=i % 2), ConfidenceContext(rank=i % 3)) for i, k in enumerate(EDIT_KINDS)]
    x = torch.tensor(rows, dtype=torch.float64)
    weights = torch.tensor([PRIOR[n] for n in FEATURES], dtype=torch.float64)
    linear = torch.sigmoid(x @ weights + prior.net.linear.bias).tolist()
    assert max(abs(a - b) for a, b in zip(prior.predict_many(rows), linear)) < 1e-12  # the MLP adds zero
    trained = Calibrator(config=CalibratorConfig(hidden=8))
    with torch.no_grad():
        for p in trained.net.parameters():
            p.normal_(0, 0.3)
    trained.threshold_override = 0.7
    trained.save(calibrator_path(tmp_path))
    loaded = Calibrator.load(calibrator_path(tmp_path))
    assert loaded.config.hidden == 8 and loaded.threshold(0.95) == 0.7
    assert loaded.predict_many(rows) == trained.predict_many(rows)
