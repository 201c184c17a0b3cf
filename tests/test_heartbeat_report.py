"""The report: fix rate and calibration per code over rounds, reliability, weak spots, HTML with plots."""

from __future__ import annotations

import base64
from pathlib import Path

from rusta_lsp.heartbeat.drills import STATE_FILE, DrillState
from rusta_lsp.heartbeat.report import (
    build_report, per_code_over_rounds, per_edit_kind, reliability_table, render_html,
)
from rusta_lsp.memory.store import Memory


def drill(i: int, code: str, rnd: int, outcome: str, confidence: float | None) -> dict:
    return {"id": f"m{i}:{rnd}", "kind": "drop_ref", "path": "src/lib.rs", "line": 1, "code": code,
            "round": rnd, "outcome": outcome, "correct": outcome == "restored", "confidence": confidence,
            "ts": float(i)}


def test_over_rounds_and_reliability():
    rows = [drill(1, "E0308", 1, "wrong", 0.9), drill(2, "E0308", 1, "restored", 0.9),
            drill(3, "E0308", 2, "restored", 0.95), drill(4, "E0599", 2, "abstained", None)]
    over = per_code_over_rounds(rows)
    assert over["E0308"] == [
        {"round": 1, "drills": 2, "fix_rate": 0.5, "calibration_gap": 0.5},
        {"round": 2, "drills": 1, "fix_rate": 1.0, "calibration_gap": 0.05},
    ]
    table, ece = reliability_table(rows)
    top = table[9]
    assert top["count"] == 3 and top["accuracy"] == round(2 / 3, 4)
    assert abs(ece - abs(2 / 3 - (0.9 + 0.9 + 0.95) / 3)) < 1e-3


def kinded(i: int, kind: str, correct: bool, abstained: bool, held_back=(), no_fix=False) -> dict:
    row = drill(i, "E0308", 1, "abstained" if abstained else "restored" if correct else "wrong", 0.9)
    return {**row, "abstained": abstained, "no_fix": no_fix, "held_back": list(held_back),
            "patches": [{"kind": kind, "correct": correct, "confidence": 0.9}]}


def test_fix_rate_and_precision_per_edit_kind():
    rows = [kinded(i, "add_borrow", True, False) for i in range(18)] + [
        kinded(20, "add_borrow", False, False), kinded(21, "add_borrow", True, True),
        kinded(22, "rename_similar", False, False, no_fix=True),
        {**drill(23, "E0425", 1, "abstained", None), "abstained": True, "no_fix": True, "patches": [],
         "held_back": ["rename_similar", "write_body"]},
    ]
    kinds = per_edit_kind(rows)
    assert set(kinds) == {"add_borrow", "rename_similar", "write_body"}
    borrow = kinds["add_borrow"]
    assert (borrow["best"], borrow["offered"], borrow["right"]) == (20, 19, 18)
    assert borrow["fix_rate"] == 0.9 and borrow["precision"] == round(18 / 19, 4)
    assert 0.75 < borrow["precision_lower"] < 18 / 19  # the Wilson bound sits below the point estimate
    assert kinds["rename_similar"] == {"best": 1, "offered": 1, "right": 0, "fix_rate": 0.0, "precision": 0.0,
                                       "precision_lower": 0.0, "held_back": 1}
    assert kinds["write_body"]["held_back"] == 1 and kinds["write_body"]["offered"] == 0


def test_report_json_and_html(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "lib.rs").write_text("fn f(x: &u8) -> u8 { *x }\n")
    state = DrillState(round=3, retired={"drop_mut": 2})
    state.save(tmp_path / "state" / STATE_FILE)
    with Memory.open(str(tmp_path / "memory"), root) as memory:
        memory.put_rows("drills", [{**drill(i, "E0308", 1 + i % 3, "restored" if i % 4 else "wrong", 0.8),
                                    "abstained": False,
                                    "patches": [{"kind": "add_borrow", "correct": bool(i % 4), "confidence": 0.8}]}
                                   for i in range(12)], "id")
        memory.put_rows("principles", [{"id": "p1", "text": "E0308 in src/lib.rs is fixed by borrowing with `&`: 9 times in 12 drills",
                                        "code": "E0308", "path": "src/lib.rs", "retired": False, "evidence": "drills",
                                        "anchors": [{"path": "src/lib.rs", "start_line": 1, "end_line": 1}]}], "id")
        memory.log_event("training", {"trained": True, "swapped": True, "before": {"brier": 0.2, "ece": 0.2, "n": 9},
                                      "after": {"brier": 0.1, "ece": 0.04, "n": 9}, "threshold": 0.9,
                                      "device": "cpu", "examples": 30}).result()
        report = build_report(memory, root, tmp_path / "state")
    assert report["drills"] == 12 and report["fix_rate"] == 0.75
    assert [p["round"] for p in report["learning_curve"]] == [1, 2, 3]
    assert report["retired_classes"] == [{"kind": "drop_mut", "round": 2}]
    assert report["weak_spots"][0]["code"] == "E0308"
    assert report["training"][0]["after"]["ece"] == 0.04
    assert report["edit_kinds"]["add_borrow"]["precision"] == 0.75
    assert report["principles"][0]["text"].startswith("E0308 in src/lib.rs")
    page = render_html(report)
    images = [part.split('"', 1)[0] for part in page.split("data:image/png;base64,")[1:]]
    assert len(images) == 2
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert "drop_mut (round 2)" in page and "fixed by borrowing" in page
    assert "<td>add_borrow</td><td>12</td><td>12</td><td>9</td>" in page
