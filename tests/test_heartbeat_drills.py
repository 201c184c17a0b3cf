"""Drills: outcome labels, gap-tension scheduling and retirement, and `rusta drill`/`rusta report` on a real crate."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rusta_lsp.analysis.model import Pos
from rusta_lsp.cli import main
from rusta_lsp.config import read_config
from rusta_lsp.heartbeat.drills import (
    MASTERY_ROUNDS, Driller, DrillState, class_stats, close_round, is_holdout, label, pick_kind,
)
from rusta_lsp.cancel import Cancelled
from rusta_lsp.heartbeat.loop import context_for_cli
from rusta_lsp.patches.candidate import Candidate, Edit
from rusta_lsp.patches.diagnostics import Diagnostic
from rusta_lsp.patches.candidate import DiagnosticFix

from debian_crates import REGISTRY, copy_debian_crate

ORIGINAL = b"fn f(s: &String) -> usize { s.len() }\n"
MUTATED = b"fn f(s: &String) -> usize { s.lne() }\n"
AT = MUTATED.index(b"lne")


def fix_with(*candidates: Candidate, abstained: bool = False) -> DiagnosticFix:
    diag = Diagnostic("error", "no method named `lne`", "E0599")
    return DiagnosticFix(diag, "src/lib.rs", Pos(1, 31), Pos(1, 34), list(candidates), abstained)


def patch(new_text: str, errors_after: int = 0, applicability: str | None = "MaybeIncorrect") -> Candidate:
    diag = Diagnostic("error", "no method named `lne`", "E0599")
    return Candidate(diag, f"use {new_text}", (Edit("src/lib.rs", AT, AT + 3, new_text),), "rustc",
                     applicability, verified=True, errors_after=errors_after, confidence=0.9)


def test_outcome_labels():
    assert label(fix_with(patch("len")), MUTATED, ORIGINAL, "src/lib.rs") == "restored"
    assert label(fix_with(patch("capacity")), MUTATED, ORIGINAL, "src/lib.rs") == "compiled"
    assert label(fix_with(patch("todo!()")), MUTATED, ORIGINAL, "src/lib.rs") == "placeholder"
    assert label(fix_with(patch("line", errors_after=2)), MUTATED, ORIGINAL, "src/lib.rs") == "wrong"
    assert label(fix_with(patch("len"), abstained=True), MUTATED, ORIGINAL, "src/lib.rs") == "abstained"
    assert label(None, MUTATED, ORIGINAL, "src/lib.rs") == "abstained"


def row(kind: str, outcome: str, confidence: float | None, ts: float = 0.0) -> dict:
    return {"kind": kind, "outcome": outcome, "confidence": confidence, "correct": outcome == "restored", "ts": ts}


def test_gap_tension_favours_weak_and_miscalibrated_classes():
    rows = ([row("drop_ref", "restored", 0.95)] * 10 + [row("drop_clone", "wrong", 0.9)] * 10
            + [row("drop_mut", "restored", 0.3)] * 10)
    stats = class_stats(rows, DrillState())
    assert stats["drop_clone"].tension > stats["drop_mut"].tension > stats["drop_ref"].tension
    assert stats["remove_use"].tension > stats["drop_ref"].tension  # never practised: novelty
    picks = [pick_kind(stats, {"drop_ref", "drop_clone"}, random.Random(i)) for i in range(200)]
    assert picks.count("drop_clone") > 3 * picks.count("drop_ref")


def test_mastered_classes_retire_after_k_rounds_and_return_on_failure():
    state = DrillState()
    for rnd in range(1, MASTERY_ROUNDS + 1):
        state.round = rnd
        changes = close_round(state, [row("drop_mut", "restored", 0.97), row("drop_ref", "wrong", 0.4)])
    assert changes == {"drop_mut": "retired"} and "drop_mut" in state.retired
    assert class_stats([], state)["drop_mut"].tension < class_stats([], state)["drop_ref"].tension
    assert close_round(state, [row("drop_mut", "abstained", None)]) == {"drop_mut": "returned"}
    assert "drop_mut" not in state.retired and state.streak["drop_mut"] == 0


def test_abstaining_on_code_in_progress_is_the_right_answer():
    no_fix = lambda outcome, conf: {**row("empty_body", outcome, conf), "no_fix": True}  # noqa: E731
    stats = class_stats([no_fix("abstained", None)] * 9 + [no_fix("compiled", 0.9)], DrillState())
    assert stats["empty_body"].fix_rate == 0.9  # nine abstentions right, one compiled patch wrong
    state = DrillState()
    for rnd in range(1, MASTERY_ROUNDS + 1):
        state.round = rnd
        changes = close_round(state, [no_fix("abstained", None), row("drop_ref", "abstained", None)])
    assert changes == {"empty_body": "retired"}  # where a fix was right, abstaining is no mastery
    assert close_round(state, [no_fix("compiled", 0.97)]) == {"empty_body": "returned"}


def test_holdout_is_a_stable_fifth():
    ids = [hashlib.sha1(str(i).encode()).hexdigest()[:12] for i in range(2000)]  # like Mutation.id
    held = [i for i in ids if is_holdout(i)]
    assert 0.15 < len(held) / len(ids) < 0.25
    # Stable: another process (another hash seed, as after a restart) holds out the same mutations.
    script = ("import hashlib, sys; from rusta_lsp.heartbeat.drills import is_holdout; "
              "ids = [hashlib.sha1(str(i).encode()).hexdigest()[:12] for i in range(2000)]; "
              "print(' '.join(i for i in ids if is_holdout(i)))")
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.split()
    assert other == held


@pytest.mark.slow
def test_drill_and_report_commands_on_a_real_crate(tmp_path: Path, capsys):
    crate = copy_debian_crate("humantime-2.1.0", tmp_path / "humantime")
    flags = ["--memory", str(tmp_path / "memory"), "--set", 'cargo.checkArgs=["check", "--lib"]']
    assert main(["drill", "--json", "--budget", "12", *flags, str(crate)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["round"] == 1 and first["drills"] >= 1
    assert sum(first["outcomes"].values()) == first["drills"]

    assert main(["drill", "--json", "--budget", "4", *flags, str(crate)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["round"] == 2  # the drill state persisted
    for rel in ("src/date.rs", "src/duration.rs", "src/wrapper.rs", "src/lib.rs"):  # shadow only
        assert (crate / rel).read_bytes() == (REGISTRY / "humantime-2.1.0" / rel).read_bytes()

    out = tmp_path / "out" / "report.html"
    assert main(["report", "--json", "--html", str(out), *flags, str(crate)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["drills"] == first["drills"] + second["drills"]
    assert [p["round"] for p in report["learning_curve"]] == [1, 2][: 1 + (second["drills"] > 0)]
    assert sum(c["count"] for c in report["reliability"]) <= report["drills"]
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 2 and "Per error code" in page


def test_bad_paths_exit_2(tmp_path: Path, capsys):
    assert main(["drill", "--budget", "5", str(tmp_path)]) == 2
    assert main(["drill", "--budget", "0", str(tmp_path)]) == 2
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no Cargo.toml" in capsys.readouterr().err


class CancelledCargo:
    """A patch engine whose cargo run is killed: what the oracle does when the user types."""

    def __init__(self):
        self.shadows = [type("Shadow", (), {"sync": lambda self: []})()]
        self.last = None

    def fix(self, overlays=None, cancel=None):
        if overlays is None:  # the clean baseline
            return type("Report", (), {"fixes": [], "cargo_error": None})()
        raise Cancelled()


def test_a_killed_cargo_run_preempts_the_round_and_keeps_its_state(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "ws"\nversion = "0.1.0"\n')
    (root / "src" / "lib.rs").write_text("fn f(v: &Vec<u8>) -> usize { let w = v.clone(); w.len() }\n")
    config, _ = read_config({"memory.uri": str(tmp_path / "memory")})
    driller = Driller(root, config, memory=None, engine=CancelledCargo())
    with pytest.raises(Cancelled):
        driller.run_round(context_for_cli(60))
    assert Driller(root, config, memory=None, engine=CancelledCargo()).state.round == 1
