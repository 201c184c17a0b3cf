"""Candidate generators on real diagnostics: rules, memory imports, the user's exemplars."""

from __future__ import annotations

import pytest
from patches_support import config_for, copy_example, one_file_crate

from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.generators import exemplars, imports, rules
from rusta_lsp.patches.generators.exemplars import template
from rusta_lsp.patches.generators.imports import use_insertion_point


def test_use_goes_after_the_first_block_of_uses():
    text = b"//! doc\n\nuse a::b;\nuse c::d;\n\nfn f() {}\nuse late::x;\n"
    assert text[use_insertion_point(text):].startswith(b"\nfn f")
    assert use_insertion_point(b"//! doc\n#![allow(x)]\nfn f() {}\n") == len(b"//! doc\n#![allow(x)]\n")


@pytest.mark.parametrize(
    ("before", "after", "span", "expected"),
    [
        (b"f(name);", b"f(&name);", (2, 6), {"kind": "wrap", "prefix": "&", "suffix": ""}),
        (b"let a = v;", b"let a = v.clone();", (8, 9), {"kind": "wrap", "prefix": "", "suffix": ".clone()"}),
        (b"x: Rc<T>", b"x: Arc<T>", (3, 5), {"kind": "replace", "before": "Rc", "after": "Arc"}),
        (b"f(name);" + b" " * 200 + b"g();", b"f(name);" + b" " * 200 + b"h();", (2, 6), None),
    ],
)
def test_exemplar_templates(before, after, span, expected):
    assert template(before, after, *span) == expected


@pytest.mark.slow
def test_rules_cover_borrow_conversion_and_mut(tmp_path):
    root = copy_example("broken-types", tmp_path / "ws")
    engine = PatchEngine(root, config_for(tmp_path / "memory"), generators=(rules,))
    report = engine.fix()
    titles = {f.start.line: [p.title for p in f.patches] for f in report.fixes}
    assert "replace `name` with `name.as_str()`" in titles[14] or "replace `name` with `&name`" in titles[14]
    assert any("as u64" in t or ".into()" in t for t in titles[18])
    assert any(".to_string()" in t or ".to_owned()" in t for t in titles[23])
    assert titles[29] == ["add `mut`"]


@pytest.fixture
def ledger_memory(tmp_path):
    root = copy_example("ledger", tmp_path / "ws")
    memory = Memory.open(str(tmp_path / "memory"), root)
    Ingestor(memory, root).run(embed=False)
    yield root, memory
    memory.close()


@pytest.mark.slow
def test_imports_from_memory_fix_an_unresolved_type(tmp_path, ledger_memory):
    root, memory = ledger_memory
    store = root / "src/store.rs"
    store.write_text(store.read_text().replace("use crate::entry::Entry;\n", ""))
    engine = PatchEngine(root, config_for(tmp_path / "memory"), memory=memory, generators=(imports,))
    report = engine.fix()
    fixes = [f for f in report.fixes if "Entry" in f.diagnostic.message]
    assert fixes
    best = fixes[0].patches[0]
    assert best.source == "imports" and best.verified
    assert best.title in ("add `use crate::entry::Entry;`", "add `use crate::Entry;`")


@pytest.mark.slow
def test_user_fix_becomes_an_exemplar_that_fixes_the_next_error(tmp_path, ledger_memory):
    _, memory = ledger_memory
    root = copy_example("broken-types", tmp_path / "types")
    engine = PatchEngine(root, config_for(tmp_path / "memory"), memory=memory)
    lib = root / "src/lib.rs"
    assert any(f.start.line == 14 for f in engine.fix(learn=True).fixes)
    lib.write_text(lib.read_text().replace("shout(name)", "shout(&name)"))  # the user's own fix
    engine.fix(learn=True)
    rows = memory.rows("exemplars")
    assert any(r["code"] == "E0308" and r["kind"] == "wrap" and r["prefix"] == "&" for r in rows)
    # The same slip elsewhere: the exemplar alone proposes the user's fix, and cargo accepts it.
    lib.write_text(lib.read_text() + "\npub fn label2(a: &Account) -> String {\n    let n = a.owner.clone();\n    shout(n)\n}\n")
    learned = PatchEngine(root, config_for(tmp_path / "memory"), memory=memory, generators=(exemplars,))
    [fix] = [f for f in learned.fix().fixes if f.start.line == 36]
    assert fix.patches[0].source == "exemplars" and fix.patches[0].title == "replace `n` with `&n`"


@pytest.mark.slow
def test_our_own_applied_patch_is_not_learned_as_the_users_fix(tmp_path, ledger_memory):
    _, memory = ledger_memory
    root = copy_example("broken-types", tmp_path / "types")
    engine = PatchEngine(root, config_for(tmp_path / "memory"), memory=memory)
    report = engine.fix(learn=True)
    engine.apply(report)  # what `rusta fix --apply` does
    engine.fix(learn=True)
    assert memory.rows("exemplars") == []


def rules_engine(tmp_path, lib_rs: str) -> PatchEngine:
    """A one-file crate and an engine with the rules alone."""
    root = one_file_crate(tmp_path / "ws", "tiny", lib_rs)
    return PatchEngine(root, config_for(tmp_path / "memory"), generators=(rules,))


@pytest.mark.slow
def test_rule_changes_the_declared_type_when_the_value_is_right(tmp_path):
    engine = rules_engine(tmp_path, "pub fn width(s: &str) -> usize {\n    let n: u32 = s.len();\n    n\n}\n")
    fixes = {f.start.line: f for f in engine.fix().fixes}  # line 2, and `n` returned on line 3
    # The annotation was wrong: changing it is verified (next to a cast, which leaves line 3 broken).
    assert "replace `u32` with `usize`" in [p.title for p in fixes[2].patches]


# Slips in real crates that rustc flags away from where they were made, or without a suggestion
# of its own: (file, original text, slip, title of the rule's patch that undoes it).
RULE_SLIPS = {
    "humantime-2.1.0": [
        # A `?` lost inside one arm's tuple: the `match` arms disagree, rustc offers nothing.
        ("src/duration.rs", '"weeks" | "week" | "w" => (n.mul(86400*7)?, 0),',
         '"weeks" | "week" | "w" => (n.mul(86400*7), 0),', "replace `n.mul(86400*7)` with `n.mul(86400*7)?`"),
        # A parameter declared with the wrong type: rustc flags the argument at the call site.
        ("src/date.rs", "fn is_leap_year(y: u64) -> bool {", "fn is_leap_year(y: isize) -> bool {",
         "replace `isize` with `u64`"),
        # `b2 < b'0'`: the comparison is right, the parameter's type is not.
        ("src/date.rs", "fn two_digits(b1: u8, b2: u8)", "fn two_digits(b1: u8, b2: u32)", "replace `u32` with `u8`"),
        # `mut` dropped from a trait method's parameter: rustc's own fix names a type not in scope.
        ("src/date.rs", "f: &mut fmt::Formatter<'_>)", "f: &fmt::Formatter<'_>)",
         "replace `&fmt::Formatter<'_>` with `&mut fmt::Formatter<'_>`"),
    ],
    # A misspelt associated type of a bound: rustc has no suggestion.
    "either-1.6.1": [
        ("src/lib.rs", "    R: ExactSizeIterator<Item = L::Item>,", "    R: ExactSizeIterator<Item = L::Iem>,",
         "replace `Iem` with `Item`"),
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("crate", sorted(RULE_SLIPS))
def test_rules_fix_slips_where_they_were_made_in_a_real_crate(tmp_path, crate):
    from debian_crates import copy_debian_crate

    from rusta_lsp.patches.candidate import apply_edits

    slips = RULE_SLIPS[crate]
    root = copy_debian_crate(crate, tmp_path / "crate")
    for path, good, slip, _ in slips:
        text = (root / path).read_text()
        assert text.count(good) == 1
        (root / path).write_text(text.replace(good, slip))
    report = PatchEngine(root, config_for(tmp_path / "memory"), generators=(rules,)).fix()
    restoring = set()  # (path, title) of the verified patches that undo exactly one slip
    for patch in (p for f in report.fixes for p in f.patches):
        path = patch.edits[0].path
        text = report.contents[path]
        undone = {text.replace(slip.encode(), good.encode()) for p, good, slip, _ in slips if p == path}
        if apply_edits(text, list(patch.edits)) in undone:
            restoring.add((path, patch.title))
    assert restoring == {(path, title) for path, _, _, title in slips}


def test_exemplars_that_reflection_retired_are_not_proposed():
    from rusta_lsp.patches.diagnostics import Diagnostic, DiagSpan
    from rusta_lsp.patches.generators import GenContext

    text = b"fn f(s: String) { g(s) }"
    span = DiagSpan("src/lib.rs", text.index(b"s)"), text.index(b"s)") + 1, 1, 21, 1, 22, True)
    diag = Diagnostic("error", "mismatched types", "E0308", (span,))
    live = {"code": "E0308", "kind": "wrap", "prefix": "&", "suffix": ""}
    retired = {"code": "E0308", "kind": "wrap", "prefix": "", "suffix": ".clone()", "retired": True}
    ctx = GenContext({"src/lib.rs": text}, exemplars=[live, retired])
    assert [c.title for c in exemplars.generate(diag, ctx)] == ["replace `s` with `&s`"]


@pytest.mark.parametrize(
    ("message", "code", "proposed"),
    [
        ("associated type `Iem` not found for `L`", "E0220", ["replace `Iem` with `Item`"]),
        # A crate that cannot be found is a missing dependency, not a typo of `Item`'s neighbours.
        ("cannot find module or crate `Iem` in this scope", "E0433", []),
    ],
)
def test_similar_names_only_for_names_that_look_misspelt(message, code, proposed):
    from rusta_lsp.patches.diagnostics import Diagnostic, DiagSpan
    from rusta_lsp.patches.generators import GenContext

    text = b"fn f<L: Iterator>(x: L) -> Option<L::Iem> { let Item = 1; x.next() }"
    start = text.index(b"Iem")
    diag = Diagnostic("error", message, code, (DiagSpan("src/lib.rs", start, start + 3, 1, 1, 1, 1, True),))
    assert [c.title for c in rules.generate(diag, GenContext({"src/lib.rs": text}))] == proposed


@pytest.mark.slow
def test_inside_a_macro_call_only_declarations_are_rewritten(tmp_path):
    # fixedbitset's `assert!(to < self.length)` with `to: isize`: the tokens inside `assert!` are not
    # expressions to rewrite, but the parameter they name is declared outside it.
    engine = rules_engine(tmp_path, "pub fn check(len: usize, to: isize) {\n    assert!(to < len);\n}\n")
    [fix] = engine.fix().fixes
    # Either parameter's type may be the wrong one (both compile); nothing inside `assert!` changes.
    assert {p.title for p in fix.patches} == {"replace `isize` with `usize`", "replace `usize` with `isize`"}
    assert all(e.end < len("pub fn check(len: usize, to: isize)") for p in fix.patches for e in p.edits)
