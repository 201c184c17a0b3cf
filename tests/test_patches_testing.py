"""Tests as the second oracle, on the ledger example (real cargo, real libtest): the last green
state the heartbeat records, related tests run after a candidate compiled, a patch that breaks a
passing test rejected, the budget and cancellation of a test run."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from debian_crates import REGISTRY, copy_debian_crate
from patches_support import config_for, copy_example, settings_flags

from rusta_lsp.cancel import Cancelled, CancelToken
from rusta_lsp.cli import main
from rusta_lsp.heartbeat.jobs import WorkspaceJobs
from rusta_lsp.heartbeat.loop import context_for_cli
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory
from rusta_lsp.patches.confidence import CalibratorStore
from rusta_lsp.patches.shadow import ShadowSlots
from rusta_lsp.patches import intent
from rusta_lsp.patches.candidate import Candidate
from rusta_lsp.patches.candidate import TestEvidence as Evidence  # a name pytest does not collect
from rusta_lsp.patches.diagnostics import Diagnostic
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.testing import GreenRecorder, checked_phrase, green_outcomes

LEDGER_TESTS = {
    ("src/lib.rs", "store::tests::apply_moves_money"): "passed",
    ("src/lib.rs", "store::tests::apply_refuses_overdraft"): "passed",
    ("tests/ledger.rs", "history_keeps_order"): "passed",
    ("tests/ledger.rs", "euros_formats_cents"): "passed",
}


@pytest.mark.parametrize("evidence, phrase", [
    (None, "compiles, tests not run"),
    (Evidence(related=3, not_run=3), "compiles, tests not run"),
    (Evidence(), "compiles, no related tests"),
    (Evidence(related=1, passed=1, ran=True), "compiles, 1 related test passes"),
    (Evidence(related=7, passed=7, ran=True), "compiles, 7 related tests pass"),
    (Evidence(related=7, passed=5, failed=1, not_run=1, ran=True),
     "compiles, 5 of 7 related tests pass, 1 fails, 1 not run"),
])
def test_what_was_checked_reads_as_the_code_action_says_it(evidence, phrase):
    diagnostic = Diagnostic("error", "mismatched types", "E0308", ())
    cand = Candidate(diagnostic, "add `.clone()`", (), "rules", tests=evidence)
    assert checked_phrase(cand) == phrase


def indexed_ledger(tmp_path: Path, extra_tests: str = "") -> tuple[Path, object, Memory]:
    root = copy_example("ledger", tmp_path / "ledger")
    if extra_tests:
        with open(root / "tests" / "ledger.rs", "a") as tests:
            tests.write(extra_tests)
    config = config_for(tmp_path / "memory")
    memory = Memory.open(config.memory.uri, root)
    Ingestor(memory, root).run(embed=False)
    return root, config, memory


def heartbeat_jobs(root: Path, config, memory: Memory) -> WorkspaceJobs:
    return WorkspaceJobs(root, config, lambda: memory, CalibratorStore(Path(config.memory.uri)),
                         ShadowSlots(root, config))


@pytest.mark.slow
def test_the_heartbeat_records_the_last_green_state_per_test_and_keeps_it_across_a_restart(tmp_path):
    extra = ('\n#[test]\n#[should_panic]\nfn zero_amounts_are_refused() {\n'
             '    Entry::new("a", "b", 0).unwrap();\n}\n'
             '\n#[test]\n#[ignore = "needs a bank"]\nfn settles_with_the_bank() {}\n')
    root, config, memory = indexed_ledger(tmp_path, extra)
    jobs = heartbeat_jobs(root, config, memory)
    try:
        result = jobs.test(context_for_cli(120))
    finally:
        jobs.close()
    assert result["complete"] and (result["tests"], result["passed"], result["ignored"]) == (6, 5, 1)
    expected = {**LEDGER_TESTS, ("tests/ledger.rs", "zero_amounts_are_refused"): "passed",
                ("tests/ledger.rs", "settles_with_the_bank"): "ignored"}
    assert green_outcomes(memory) == expected
    memory.close()

    memory = Memory.open(config.memory.uri, root)  # a restart: a new process opens the memory
    jobs = heartbeat_jobs(root, config, memory)
    try:
        assert green_outcomes(memory) == expected
        assert jobs.test(context_for_cli(120))["skipped"] == "the tests already ran on this state"
        # The author's change that breaks a test: the next green state records it as failed.
        lib = root / "src" / "lib.rs"
        lib.write_text(lib.read_text().replace("map(|e| e.amount).sum()", "map(|e| e.amount).sum::<i64>() + 1"))
        changed = jobs.test(context_for_cli(120))
        assert changed["complete"] and changed["failed"] == 1
        now = {**expected, ("tests/ledger.rs", "history_keeps_order"): "failed"}
        assert green_outcomes(memory) == now
        # Saved text that does not compile is no green state: the record stays as it was.
        lib.write_text(lib.read_text().replace("sum::<i64>() + 1", 'sum::<i64>() + "1"'))
        broken = jobs.test(context_for_cli(120))
        assert broken["skipped"].startswith("not a green state: the tests do not compile")
        assert green_outcomes(memory) == now
    finally:
        jobs.close()
        memory.close()


@pytest.mark.slow
@pytest.mark.skipif(not (REGISTRY / "stable_deref_trait-1.2.0").is_dir(), reason="librust-stable-deref-trait-dev")
def test_a_workspace_without_tests_is_a_green_state_with_no_tests(tmp_path):
    root = copy_debian_crate("stable_deref_trait-1.2.0", tmp_path / "crate")
    config = config_for(tmp_path / "memory")
    with Memory.open(config.memory.uri, root) as memory:
        jobs = heartbeat_jobs(root, config, memory)
        engine = PatchEngine(root, config, memory, role="bench")
        try:
            assert not engine._evidence().seen_building  # never seen building: the confidence feature says so
            result = jobs.test(context_for_cli(120))
            assert result["complete"] and result["tests"] == 0 and green_outcomes(memory) == {}
            assert jobs.test(context_for_cli(120))["skipped"] == "the tests already ran on this state"
            assert engine._evidence().seen_building
        finally:
            engine.close()
            jobs.close()


@pytest.mark.slow
def test_a_patch_that_breaks_a_test_that_passed_is_rejected_the_other_carries_its_evidence(tmp_path, capsys,
                                                                                            monkeypatch):
    # The second oracle on its own: the never-rules hold rustc's `.expect("REASON")` back (a value
    # the author never wrote); without them it compiles, and panics on an unknown account.
    monkeypatch.setattr(intent, "held_back", lambda candidate, ctx: None)
    root, config, memory = indexed_ledger(tmp_path)
    green = GreenRecorder(root, config, ShadowSlots(root, config))
    try:
        assert green.record(memory)["passed"] == 4
    finally:
        green.close()
        memory.close()
    store = root / "src" / "store.rs"
    text = store.read_text()
    # `balance` loses its default: the patch that compiles (`.expect(..)`) panics on an unknown account.
    text = text.replace("self.balances.get(account).copied().unwrap_or(0)", "self.balances.get(account).copied()")
    # A test's binding loses its `mut`: adding it back keeps that test passing.
    text = text.replace("let mut ledger = Ledger::new();\n        ledger.deposit(",
                        "let ledger = Ledger::new();\n        ledger.deposit(")
    store.write_text(text)

    assert main(["fix", "--json", *settings_flags(config), str(root)]) == 0
    data = json.loads(capsys.readouterr().out)
    by_code = {d["code"]: d for d in data["diagnostics"]}
    assert set(by_code) == {"E0308", "E0596"}
    balance = by_code["E0308"]
    assert balance["abstained"] and balance["patches"] == []
    assert "breaks test `store::tests::apply_refuses_overdraft` in src/lib.rs" in balance["reason"]
    [mutable] = by_code["E0596"]["patches"]
    assert mutable["tests"] == {"related": 1, "passed": 1, "failed": 0, "not_run": 0, "ran": True}


def harness_pids(target: Path) -> set[int]:
    """Running test binaries built into `target` (the green run's shadow)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if exe.startswith(str(target)) and "/deps/ledger-" in exe and state != "Z":
            found.add(int(entry))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/exe").exists(), reason="needs /proc")
def test_a_test_run_stops_at_its_budget_and_is_killed_on_cancel(tmp_path):
    slow = '\n#[test]\nfn reconciles_a_year() {\n    std::thread::sleep(std::time::Duration::from_secs(300));\n}\n'
    root, _, memory = indexed_ledger(tmp_path, slow)
    # A target of its own: in the shared one another test's cargo may hold slot 6's build lock,
    # and this test times what its own runs do.
    config = config_for(tmp_path / "memory", cargo={"targetDir": str(tmp_path / "target")})
    green = GreenRecorder(root, config, ShadowSlots(root, config))
    cancel, outcome = CancelToken(), {}
    try:
        # The slow test cannot finish in the budget: not run, never passed; the state stays incomplete.
        # The budget counts the harness's build too: 40 s leaves room for it on a loaded machine.
        result = green.record(memory, budget_s=40)
        assert (result["passed"], result["not_run"], result["complete"]) == (4, 1, False)
        assert green_outcomes(memory) == LEDGER_TESTS
        assert not harness_pids(green.shadow.target)

        # The next run takes only what is missing, and an edit (the token) kills it.
        def record() -> None:
            try:
                outcome["result"] = green.record(memory, cancel, budget_s=600)
            except Cancelled:
                outcome["cancelled"] = time.monotonic()

        worker = threading.Thread(target=record)
        worker.start()
        deadline = time.monotonic() + 180
        while not harness_pids(green.shadow.target) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert harness_pids(green.shadow.target), "the slow test never started"
        cancelled = time.monotonic()
        cancel.cancel()
        worker.join(10)
        assert "cancelled" in outcome and outcome["cancelled"] - cancelled < 5
        assert not harness_pids(green.shadow.target)
    finally:
        cancel.cancel()  # a failed assertion must not leave the 300 s test holding pytest's exit
        green.close()
        memory.close()
