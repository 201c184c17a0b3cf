"""Roots first, on real crates: an error that vanishes with another error's verified patch gets no
patch of its own and names its root."""

from __future__ import annotations

import pytest
from debian_crates import copy_debian_crate
from patches_support import config_for, copy_example

from rusta_lsp.patches.engine import PatchEngine

pytestmark = pytest.mark.slow
USE = "add `use crate::span::Span;`"
# An edit of the submodule while the lost `use` of lib.rs stays unchanged (answered from the cache).
PICK_EDIT = ("/// The words", "/// Keeps the order of `words`.\n/// The words")


def _follow_ons(report) -> dict:
    return {(f.path, f.start.line): f.reason for f in report.fixes if f.follows is not None}


def test_a_lost_use_is_the_root_and_its_follow_on_type_errors_get_no_patch(tmp_path):
    # Without the trait, `contains(word.len())` falls back to the slice's `contains(&usize)`; the
    # follow-on's own patch (`&`) compiles while the `use` is missing, and breaks the crate once
    # it is back. When the root came from the cache, that patch used to be offered.
    root = copy_example("broken-cascade", tmp_path / "ws")
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


def test_type_errors_behind_a_misspelt_impl_follow_from_it(tmp_path):
    # fixedbitset: a misspelt `impl BitOrAssign for FixedBitSet` leaves `a |= b` to the
    # `BitOrAssign<&Self>` impl; the `&b` the tests were offered is not the author's code.
    root = copy_debian_crate("fixedbitset-0.4.2", tmp_path / "fixedbitset")
    lib = root / "src/lib.rs"
    lib.write_text(lib.read_text().replace("impl<'a> BitOrAssign for FixedBitSet {", "impl<'a> BitOrAssign for FixedBiteSt {"))
    report = PatchEngine(root, config_for(tmp_path / "memory")).fix()
    [typo] = [f for f in report.fixes if f.diagnostic.code == "E0425"]
    assert typo.patches[0].title == "replace `FixedBiteSt` with `FixedBitSet`"
    follow_ons = [f for f in report.fixes if f.diagnostic.code == "E0308"]
    assert len(follow_ons) == 2
    assert {f.reason for f in follow_ons} == {f"follows from the error at src/lib.rs:{typo.start.line}"}


def test_a_name_error_behind_use_super_follows_from_the_lost_use(tmp_path):
    # ledger: `use crate::entry::Entry;` lost; the test module sees `Entry` through `use super::*`.
    root = copy_example("ledger", tmp_path / "ws")
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
    root = copy_debian_crate("fixedbitset-0.4.2", tmp_path / "fixedbitset")
    lib = root / "src/lib.rs"
    lib.write_text(lib.read_text().replace(
        "use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Index};\n", ""))
    report = PatchEngine(root, config_for(tmp_path / "memory")).fix()
    assert len({f.best.title for f in report.fixes if f.best}) == 7
    assert _follow_ons(report) == {}
    assert report.cargo_runs <= 3
