"""Roots first, on real crates: an error that vanishes with another error's verified patch gets no
patch of its own and names its root; `--apply` writes only what cargo accepted together; a borrow
error that a type fix reveals is not blamed on the fix."""

from __future__ import annotations

import subprocess

import pytest
from debian_crates import copy_debian_crate
from patches_support import SHARED_TARGET, commit, config_for, copy_example, lost_use_checkout, one_file_crate

from rusta_lsp.patches import cascade
from rusta_lsp.patches.engine import PatchEngine

pytestmark = pytest.mark.slow
USE = "add `use crate::span::Span;`"
# An edit of the submodule while the lost `use` of lib.rs stays unchanged (answered from the cache).
PICK_EDIT = ("/// The words", "/// Keeps the order of `words`.\n/// The words")


def _follow_ons(report) -> dict:
    return {(f.path, f.start.line): f.reason for f in report.fixes if f.follows is not None}


def _compiles(root) -> bool:
    check = subprocess.run(["cargo", "check", "--all-targets", "--offline"], cwd=root, capture_output=True,
                           env={**__import__("os").environ, "CARGO_TARGET_DIR": str(SHARED_TARGET)})
    return check.returncode == 0


def test_a_lost_use_is_the_root_and_its_follow_on_type_errors_get_no_patch(tmp_path):
    # Without the trait, `contains(word.len())` falls back to the slice's `contains(&usize)`; the
    # follow-on's own patch (`&`) compiles while the `use` is missing, and breaks the crate once
    # it is back. When the root came from the cache, that patch used to be offered.
    root = lost_use_checkout(tmp_path / "ws")
    engine = PatchEngine(root, config_for(tmp_path / "memory"))
    first = engine.fix()
    [root_fix] = [f for f in first.fixes if f.follows is None]
    assert (root_fix.path, root_fix.start.line, root_fix.best.title) == ("src/lib.rs", 17, USE)
    expected = "follows from the error at src/lib.rs:17"
    assert _follow_ons(first) == {("src/lib.rs", 22): expected, ("src/pick.rs", 8): expected}
    assert all(not f.patches and f.abstained for f in first.fixes if f.follows is not None)

    pick = root / "src/pick.rs"
    pick.write_text(pick.read_text().replace(*PICK_EDIT))
    second = engine.fix()
    assert second.fixes[[f.path for f in second.fixes].index("src/lib.rs")].best.title == USE
    assert _follow_ons(second) == {("src/lib.rs", 22): expected, ("src/pick.rs", 9): expected}
    assert second.cargo_runs <= 3  # the check, the pick's candidate, the root alone

    applied = engine.apply(second)
    assert [c.title for c in applied.patches] == [USE] and applied.skipped == [] and applied.left_out == []
    assert _compiles(root)


def test_apply_writes_only_patches_cargo_accepts_together(tmp_path, monkeypatch):
    # With the roots-first pass off, the follow-on's `&` is offered beside the `use` (what
    # `--apply` used to write, leaving the crate broken): checked together, it is left out.
    monkeypatch.setattr(cascade, "MAX_ROOT_CHECKS", 0)
    root = lost_use_checkout(tmp_path / "ws")
    engine = PatchEngine(root, config_for(tmp_path / "memory"))
    engine.fix()
    pick = root / "src/pick.rs"
    pick.write_text(pick.read_text().replace(*PICK_EDIT))
    report = engine.fix()
    assert sorted(f.best.title for f in report.fixes if f.best) == ["add `&`", USE]
    applied = engine.apply(report)
    assert [c.title for c in applied.patches] == [USE]
    [(path, line, cand, why)] = applied.left_out
    assert (path, line, cand.title) == ("src/pick.rs", 9, "add `&`")
    assert why == "with the other patches in, it brings a new error: E0308 mismatched types"
    assert applied.to_json(report.edit_json)["skipped"] == [{"path": "src/pick.rs", "reason": (
        "the patch for the error at src/pick.rs:9 (add `&`) left out: " + why)}]
    assert list(applied.written) == ["src/lib.rs"] and applied.errors_after == 0
    assert "&w.len()" not in pick.read_text() and _compiles(root)


def test_type_errors_behind_a_misspelt_impl_follow_from_it(tmp_path):
    # fixedbitset: a misspelt `impl BitOrAssign for FixedBitSet` leaves `a |= b` to the
    # `BitOrAssign<&Self>` impl; the `&b` the tests were offered is not the author's code.
    root = copy_debian_crate("fixedbitset-0.4.2", tmp_path / "fixedbitset")
    lib = root / "src/lib.rs"
    lib.write_text(lib.read_text().replace("BitOrAssign for FixedBitSet {", "BitOrAssign for FixedBiteSt {"))
    report = PatchEngine(root, config_for(tmp_path / "memory")).fix()
    [typo] = [f for f in report.fixes if f.diagnostic.code == "E0425"]
    assert typo.patches[0].title == "replace `FixedBiteSt` with `FixedBitSet`"
    follow_ons = [f for f in report.fixes if f.diagnostic.code == "E0308"]
    assert len(follow_ons) == 2
    assert {f.reason for f in follow_ons} == {f"follows from the error at src/lib.rs:{typo.start.line}"}


def test_a_name_error_behind_use_super_follows_from_the_lost_use(tmp_path):
    # ledger: `use crate::entry::Entry;` lost; the test module sees `Entry` through `use super::*`.
    root = commit(copy_example("ledger", tmp_path / "ws"))  # a checkout, the `use` lost since
    store = root / "src/store.rs"
    store.write_text(store.read_text().replace("use crate::entry::Entry;\n", ""))
    report = PatchEngine(root, config_for(tmp_path / "memory")).fix()
    tests_module = store.read_text().index("mod tests")
    roots = [f for f in report.fixes if f.diagnostic.primary.byte_start < tests_module]
    in_tests = [f for f in report.fixes if f.diagnostic.primary.byte_start > tests_module]
    assert roots and in_tests
    assert {f.best.title for f in roots} == {"add `use crate::Entry;`"}
    assert {f.reason for f in in_tests} == {f"follows from the error at src/store.rs:{roots[0].start.line}"}


def test_independent_lost_imports_cost_no_check_of_their_own(tmp_path):
    # One lost `use` line of seven traits: seven patches, none of which a name error of another
    # trait could follow from, so no unit is checked on its own.
    root = commit(copy_debian_crate("fixedbitset-0.4.2", tmp_path / "fixedbitset"))  # a checkout, then the edit
    lib = root / "src/lib.rs"
    lib.write_text(lib.read_text().replace(
        "use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Index};\n", ""))
    report = PatchEngine(root, config_for(tmp_path / "memory")).fix()
    assert len({f.best.title for f in report.fixes if f.best}) == 7
    assert _follow_ons(report) == {}
    assert report.cargo_runs <= 3


def test_borrow_errors_two_type_fixes_reveal_together_are_not_blamed_on_them(tmp_path):
    # rustc borrow-checks `total` only once it type-checks: each literal's fix, verified while the
    # other type error was still there, passes; together they let rustc see that `s` was moved.
    root = one_file_crate(
        tmp_path / "ws", "moves",
        "fn take(s: String) -> usize {\n    s.len()\n}\n\nfn double(x: u32) -> u32 {\n    x * 2\n}\n\n"
        "fn half(x: u64) -> u64 {\n    x / 2\n}\n\npub fn total() -> usize {\n    let s = String::from(\"abc\");\n"
        "    let n = take(s);\n    let d = double(5u64);\n    let h = half(6u32);\n"
        "    n + d as usize + h as usize + s.len()\n}\n")
    engine = PatchEngine(root, config_for(tmp_path / "memory", abstain={"targetPrecision": 0.5}))
    report = engine.fix()
    assert [f.best.title for f in report.fixes] == ["replace `u64` with `u32`", "replace `u32` with `u64`"]
    applied = engine.apply(report)
    assert len(applied.patches) == 2 and applied.left_out == []
    assert applied.errors_after == 1 and applied.unmasked == 1  # the move, there all along
