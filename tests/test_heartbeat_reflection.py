"""Reflection: per-code statistics, anchored principles, recurrence with self-diffs, on a real memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from rusta_lsp.heartbeat.reflection import code_stats, reflect
from rusta_lsp.memory.store import Memory

STORE = """pub struct Store { items: Vec<String> }

impl Store {
    pub fn first(&self) -> String {
        let item = self.items[0].clone();
        item
    }
    pub fn last(&self) -> String {
        self.items[self.items.len() - 1].clone()
    }
}
"""


def drill_row(i: int, line: int, outcome: str, confidence: float | None) -> dict:
    lines = STORE.splitlines()
    return {"id": f"m{i}:1", "mutation_id": f"m{i}", "kind": "drop_clone", "path": "src/store.rs",
            "line": line, "snippet": lines[line - 1].strip(), "code": "E0507", "outcome": outcome,
            "correct": outcome == "restored", "confidence": confidence, "source": "rustc", "ts": float(i)}


@pytest.fixture
def workspace(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "store.rs").write_text(STORE)
    memory = Memory.open(str(tmp_path / "memory"), root)
    yield root, memory
    memory.close()


def test_principle_with_anchors_then_retired_when_the_code_changes(workspace):
    root, memory = workspace
    outcomes = ["restored"] * 5 + ["wrong"]
    rows = [drill_row(i, 5 if i % 2 else 9, o, 0.9) for i, o in enumerate(outcomes)]
    memory.put_rows("drills", rows, "id")
    memory.log_event("patch_outcome", {"code": "E0507", "correct": True, "source": "rustc"})
    memory.log_event("patch_outcome", {"code": "E0507", "correct": False, "source": "rustc", "drill": True}).result()

    summary = reflect(memory, root)
    principles = memory.rows("principles")
    assert len(principles) == 1
    p = principles[0]
    assert p["text"] == "E0507 in src/store.rs is fixed by cloning: 5 times in 6 drills"
    assert {(a["path"], a["start_line"]) for a in p["anchors"]} == {("src/store.rs", 5), ("src/store.rs", 9)}
    assert not p["retired"] and summary["principles"] == 1
    assert summary["stats"]["E0507"]["fix_rate"] == round(5 / 6, 4)
    assert summary["stats"]["E0507"]["applied"] == 1

    # The user rewrites the file: the anchored lines are gone, so the principle retires.
    (root / "src" / "store.rs").write_text("pub struct Store;\n")
    summary = reflect(memory, root)
    p = memory.rows("principles")[0]
    assert p["retired"] and summary["principles"] == 0
    diffs = memory.events(kind="self_diff")
    assert len(diffs) == 1 and diffs[0]["payload"]["before"] == "E0507 in src/store.rs is fixed by cloning: 5 times in 6 drills"
    assert diffs[0]["payload"]["agree"] is False


def test_changed_rate_is_logged_as_a_self_diff(workspace):
    root, memory = workspace
    memory.put_rows("drills", [drill_row(i, 5, "restored", 0.9) for i in range(3)], "id")
    reflect(memory, root)
    memory.put_rows("drills", [drill_row(i, 5, "wrong", 0.9) for i in range(3, 9)], "id")
    reflect(memory, root)
    p = memory.rows("principles")[0]
    assert p["text"] == "E0507 in src/store.rs is not reliably fixed by cloning: 3 times in 9 drills"
    diff = memory.events(kind="self_diff")[-1]["payload"]
    assert diff["before"].endswith("3 times in 3 drills") and diff["agree"] is False


def test_stale_exemplar_retires(workspace):
    root, memory = workspace
    memory.put_rows("exemplars", [
        {"id": "e1", "code": "E0425", "path": "src/store.rs", "kind": "replace", "before": "itme", "after": "item"},
        {"id": "e2", "code": "E0425", "path": "src/gone.rs", "kind": "replace", "before": "x", "after": "y"},
    ], "id")
    summary = reflect(memory, root)
    rows = {r["id"]: r for r in memory.rows("exemplars")}
    assert not rows["e1"].get("retired")
    assert rows["e2"]["retired"] and "no longer exists" in rows["e2"]["retired_reason"]
    assert summary["retired"] == 1


def test_code_stats_counts_events_and_drills():
    events = [{"kind": "diagnostic", "payload": {"code": "E0308"}},
              {"kind": "patch_outcome", "payload": {"code": "E0308", "correct": False}}]
    drills = [{"code": "E0308", "outcome": "abstained", "confidence": None},
              {"code": "E0308", "outcome": "restored", "confidence": 0.8, "correct": True}]
    stats = code_stats(events, drills)["E0308"]
    assert (stats["seen"], stats["rejected"], stats["drills"], stats["restored"]) == (1, 1, 2, 1)
    assert stats["calibration_gap"] == 0.2 and stats["fix_rate"] == 0.5
