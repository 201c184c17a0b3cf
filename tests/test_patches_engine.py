"""The patch engine end to end on the broken example crates: cargo in a shadow, real rustc."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import pytest
from patches_support import committed_then_broken, config_for, copy_example, one_file_crate, settings_flags, tree_bytes

from rusta_lsp.cancel import Cancelled, CancelToken
from rusta_lsp.cli import main
from rusta_lsp.patches.candidate import EDIT_KINDS, PLACEHOLDER
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.oracle import CargoOracle

pytestmark = pytest.mark.slow


def _engine(tmp_path, example, **options):
    root = copy_example(example, tmp_path / "ws")
    return root, PatchEngine(root, config_for(tmp_path / "memory", **options))


def test_same_missing_use_from_several_errors_is_inserted_once(tmp_path):
    root = copy_example("broken-imports", tmp_path / "ws")
    # A checkout of the crate that built, its imports lost since the commit.
    lib = (root / "src/lib.rs").read_text()
    working = lib.replace("\n\n", "\n\nuse std::collections::HashMap;\nuse std::io::Write;\n\n", 1)
    committed_then_broken(root, {"src/lib.rs": working})
    engine = PatchEngine(root, config_for(tmp_path / "memory", abstain={"targetPrecision": 0.5}))
    report = engine.fix()
    hashmap = [f for f in report.fixes if "HashMap" in f.diagnostic.message]
    assert len(hashmap) == 4  # E0425 and E0433 in two functions
    assert {f.patches[0].title for f in hashmap} == {"add `use std::collections::HashMap;`"}
    written = engine.apply(report).written
    text = written["src/lib.rs"].decode()
    assert text.count("use std::collections::HashMap;") == 1
    assert text.count("use std::io::Write;") == 1
    after = PatchEngine(root, engine.config).fix()
    assert after.fixes == [] and after.cargo_error is None


def test_type_and_ownership_errors_get_verified_patches(tmp_path):
    root, engine = _engine(tmp_path, "broken-types")
    report = engine.fix()
    by_line = {f.start.line: f for f in report.fixes}
    assert set(by_line) == {14, 18, 23, 29}
    for fix in report.fixes:
        assert fix.patches, fix.reason
        assert all(p.verified for p in fix.patches)
        confidences = [p.confidence for p in fix.patches]
        assert confidences == sorted(confidences, reverse=True)
    assert by_line[29].patches[0].edits[0].new_text.strip() == "mut"


def test_errors_without_a_local_fix_are_abstained_and_no_placeholder_is_offered(tmp_path):
    for example in ("broken-nofix", "broken-match"):
        _, engine = _engine(tmp_path / example, example)
        report = engine.fix()
        assert {f.diagnostic.code for f in report.fixes} <= {"E0061", "E0063", "E0004"}
        assert report.fixes
        for fix in report.fixes:
            assert fix.abstained and fix.reason
            for patch in fix.patches:
                assert not any(PLACEHOLDER.search(e.new_text) for e in patch.edits)
    # rustc did propose placeholders (`todo!()`, `/* f64 */`): they were rejected, not missed.
    assert "placeholder" in report.fixes[0].reason


def test_user_workspace_is_byte_identical_after_any_number_of_fixes(tmp_path):
    root, engine = _engine(tmp_path, "broken-types")
    before = tree_bytes(root)
    source = (root / "src/lib.rs").read_text()
    outside = tmp_path / "elsewhere.rs"
    outside.write_text("fn elsewhere() {}\n")
    for i in range(3):
        # Open buffers from outside the workspace (absolute, `..`, untitled) never reach the disk.
        engine.fix(overlays={"src/lib.rs": source + f"\n// unsaved edit {i}\n", str(outside): "changed",
                             "../elsewhere.rs": "changed", "untitled:Untitled-1": "changed"})
        engine.fix()
    assert tree_bytes(root) == before
    assert outside.read_text() == "fn elsewhere() {}\n"
    assert not (root / "target").exists()
    assert engine.shadows[0].mirror != root and root not in engine.shadows[0].mirror.parents


def test_unsaved_buffer_is_what_cargo_checks(tmp_path):
    root, engine = _engine(tmp_path, "broken-match")
    text = (root / "src/lib.rs").read_text()
    fixed = text.replace("Light::Green => 0,", "Light::Green => 0,\n        Light::Amber => 5,")
    assert engine.fix().fixes
    assert engine.fix(overlays={"src/lib.rs": fixed}).fixes == []
    assert engine.fix().fixes  # the saved file is still broken


def test_cancel_kills_cargo(tmp_path):
    slow = tmp_path / "cargo"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    slow.chmod(0o755)
    oracle = CargoOracle(["check"], cargo=str(slow))
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        oracle.check(tmp_path, tmp_path / "target", cancel)
    assert time.monotonic() - started < 10


def test_new_edit_cancels_the_running_fix(tmp_path):
    root, engine = _engine(tmp_path, "broken-types")
    cancel = CancelToken()
    cancel.cancel()  # an edit arrived before the check could finish
    with pytest.raises(Cancelled):
        engine.fix(cancel=cancel)
    assert engine.fix().fixes  # the next run is unaffected


def _run_cli(capsys, path, *flags, config=None):
    code = main(["fix", *flags, *settings_flags(config), str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_contract_with_non_ascii_columns(tmp_path, capsys):
    root = copy_example("broken-imports", tmp_path / "ws")
    config = config_for(tmp_path / "memory")
    code, out, _ = _run_cli(capsys, root, "--json", config=config)
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"diagnostics"}
    for diag in data["diagnostics"]:
        assert set(diag) == {"code", "message", "path", "start_line", "start_col", "abstained", "reason", "patches"}
        assert diag["path"] == "src/lib.rs"
        for patch in diag["patches"]:
            assert set(patch) == {"title", "confidence", "verified", "source", "kind", "edits", "tests"}
            assert patch["kind"] in EDIT_KINDS
            # The crate has no tests: nothing related, nothing run.
            assert patch["tests"] == {"related": 0, "passed": 0, "failed": 0, "not_run": 0, "ran": False}
            for edit in patch["edits"]:
                assert set(edit) == {"path", "start_line", "start_col", "end_line", "end_col", "new_text"}
                assert not os.path.isabs(edit["path"])
    write = next(d for d in data["diagnostics"] if d["code"] == "E0599")
    line = (root / "src/lib.rs").read_text().splitlines()[write["start_line"] - 1]
    assert line[write["start_col"] - 1 :].startswith("write_all")  # scalar values, after «héllo»


def test_cli_apply_writes_only_patches_above_the_threshold(tmp_path, capsys):
    root = copy_example("broken-types", tmp_path / "ws")
    config = config_for(tmp_path / "memory")
    _, out, _ = _run_cli(capsys, root, "--json", config=config)
    offered = [d for d in json.loads(out)["diagnostics"] if not d["abstained"]]
    assert offered
    before = (root / "src/lib.rs").read_text()
    code, out, _ = _run_cli(capsys, root, "--apply", config=config)
    assert code == 0 and "applied to 1 file" in out
    after = (root / "src/lib.rs").read_text()
    assert after != before
    remaining = PatchEngine(root, config).fix().fixes
    assert len(remaining) == 4 - len(offered)  # each applied patch fixed its error, broke nothing


def test_cli_rejects_a_folder_without_a_manifest(tmp_path, capsys):
    code, out, err = _run_cli(capsys, tmp_path, "--json")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_results_are_cached_until_an_edit(tmp_path):
    root, engine = _engine(tmp_path, "broken-types")
    first = engine.fix()
    runs = engine.oracle.runs
    assert engine.fix() is first and engine.oracle.runs == runs  # nothing changed: no cargo at all
    edited = (root / "src/lib.rs").read_text() + "\n// an edit\n"
    again = engine.fix(overlays={"src/lib.rs": edited})
    assert engine.oracle.runs > runs + 1  # checked and verified anew
    assert [f.best.title if f.best else None for f in again.fixes] == [
        f.best.title if f.best else None for f in first.fixes]


def test_errors_of_targets_that_could_not_build_before_are_not_blamed_on_the_patch(tmp_path):
    # A test target with its own error only compiles once the library does: its error shows up
    # after the patch, but the patch did not cause it.
    root = copy_example("ledger", tmp_path / "ws")
    store = root / "src/store.rs"
    store.write_text(store.read_text().replace("self.balance(&entry.from)", "self.balance(entry.from)"))
    (root / "tests/extra.rs").write_text('#[test]\nfn broken() {\n    let _n: u32 = "seven";\n}\n')
    engine = PatchEngine(root, config_for(tmp_path / "memory"))
    [fix] = engine.fix().fixes
    best = fix.patches[0]
    assert best.verified and best.extra["unmasked"] == 1 and best.errors_after == 1
    assert best.title in ("add `&`", "replace `entry.from` with `&entry.from`")


def test_a_cancelled_check_leaves_nothing_stale(tmp_path):
    root, engine = _engine(tmp_path, "broken-match")
    assert engine.fix().fixes
    fixed = (root / "src/lib.rs").read_text().replace("Light::Green => 0,", "Light::Green => 0,\n        Light::Amber => 5,")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        engine.fix(overlays={"src/lib.rs": fixed}, cancel=cancel)
    assert engine.fix(overlays={"src/lib.rs": fixed}).fixes == []  # not the report of the old text


def test_one_lost_use_with_many_errors_costs_few_cargo_runs(tmp_path):
    # A lost `use` breaks every line that names it; the `use` rustc suggests for each is one edit,
    # verified once, and needs no alternatives probed per error.
    from debian_crates import copy_debian_crate

    root = copy_debian_crate("humantime-2.1.0", tmp_path / "humantime")
    date = root / "src/date.rs"
    date.write_text(date.read_text().replace("use std::fmt;\n", "", 1))
    engine = PatchEngine(root, config_for(tmp_path / "memory"))
    report = engine.fix()
    fmt = [f for f in report.fixes if "`fmt`" in f.diagnostic.message]
    assert len(fmt) >= 4
    assert {f.patches[0].title for f in fmt} == {"add `use std::fmt;`"}
    assert report.cargo_runs <= 3  # the check, then one round (two batches at once at most)


def test_a_second_shadow_is_used_once_its_dependencies_are_built(tmp_path):
    # A cold shadow would build every dependency before its first verdict: it warms up in the
    # background while the first shadow answers, and joins once warm (also in the next process).
    root = copy_example("broken-types", tmp_path / "ws")
    config = config_for(tmp_path / "memory", cargo={"targetDir": str(tmp_path / "own-target")})
    engine = PatchEngine(root, config, workers=2)
    assert engine.verifier.ready == engine.shadows[:1]
    assert engine.fix().fixes
    deadline = time.monotonic() + 120
    while len(engine.verifier.ready) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine.verifier.ready == engine.shadows and engine.shadows[1].warm
    engine.close()  # the process ends; the next one takes the same, warm slots
    again = PatchEngine(root, config, workers=2)
    assert [s.mirror for s in again.verifier.ready] == [s.mirror for s in again.shadows]


def test_a_shadow_cargo_cannot_build_in_stays_cold_and_checks_nothing(tmp_path):
    # A target cargo cannot build into (here a file where its `debug` folder goes; in the intent
    # benchmark a mirror deleted under a warm-up made cargo cache a failed rustc probe there)
    # must not be marked warm: every check given to it would fail, and its candidates would read
    # as not fixing their error.
    root = copy_example("broken-types", tmp_path / "ws")
    config = config_for(tmp_path / "memory", cargo={"targetDir": str(tmp_path / "own-target")})
    engine = PatchEngine(root, config, workers=2)
    (engine.shadows[1].target / "debug").write_text("not a folder")
    assert engine.fix().fixes[0].patches  # the first shadow answers
    engine.close()  # waits for the warm-up
    assert not engine.shadows[1].warm and engine.verifier.ready == engine.shadows[:1]
    # Marked warm all the same (by an older version), it is taken, and says what went wrong.
    engine.shadows[1].mark_warm()
    again = PatchEngine(root, config, workers=2)
    try:
        fixes = again.fix().fixes
    finally:
        again.close()
    reasons = [c.reason for f in fixes for c in f.checked if not c.verified]
    assert any(r.startswith("not checked: cargo failed") for r in reasons), reasons
    assert "the error remains" not in reasons, reasons


def test_a_patch_rustc_warns_about_on_its_own_text_is_not_verified(tmp_path):
    # The error index's E0383: `drop(&x)` compiles, and rustc says it does nothing.
    root = one_file_crate(
        tmp_path / "ws", "dropped",
        "struct Foo {\n    a: u32,\n}\nimpl Drop for Foo {\n    fn drop(&mut self) {}\n}\n"
        "fn main() {\n    let mut x = Foo { a: 1 };\n    drop(x);\n    x.a = 2;\n    println!(\"{}\", x.a);\n}\n",
        "src/main.rs")
    engine = PatchEngine(root, config_for(tmp_path / "memory"))
    try:
        [fix] = engine.fix().fixes
    finally:
        engine.close()
    borrow = next(c for c in fix.checked if c.title == "replace `x` with `&x`")
    assert not borrow.verified
    assert borrow.reason.startswith("brings a warning on its own text: calls to `std::mem::drop`")
    assert fix.best is None
