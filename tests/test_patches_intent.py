"""Intent: edit kinds, and the never-rules on code in progress, in Debian's `either` crate with
code half written at its end (rustc's own suggestions for it are what the engine test checks)."""

from __future__ import annotations

import time

import pytest
from debian_crates import REGISTRY, copy_debian_crate
from patches_support import config_for

from rusta_lsp.memory.store import Memory
from rusta_lsp.patches import intent
from rusta_lsp.patches.candidate import Candidate, Edit
from rusta_lsp.patches.diagnostics import Diagnostic, DiagSpan
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.generators import GenContext

LIB = "src/lib.rs"
# Written the way people write: the tests and the calls first, the bodies later.
IN_PROGRESS = """
/// How many of `total` items sit on the left.
pub fn left_count(total: usize) -> usize {
    // TODO
}

/// The side a value sits on, as a word.
pub fn side_name<L, R>(value: &Either<L, R>) -> Option<&'static str> {
    todo!()
}

fn describe() -> &'static str {
    "either"
}

pub fn label<L, R>(value: &Either<L, R>, is_morning: bool) -> &'static str {
    let max_len = 5;
    describe("left or right");
    if is_evening && min_len > max_len { "late" } else { side_name(valeu).unwrap_or("none") }
}

#[test]
fn side_names() {
    let name = side_name(&Left::<u8, u8>(1));
    assert_eq!(name, "left"); // do not change
    assert_eq!(left_count(4), 2);
}
"""


def either_text() -> bytes:
    return (REGISTRY / "either-1.6.1" / LIB).read_bytes() + IN_PROGRESS.encode()


def ctx_for(text: bytes, signature_changes=()) -> GenContext:
    return GenContext({LIB: text}, signature_changes=list(signature_changes))


def at(text: bytes, needle: str, new: str, within: str | None = None, start: int = 0, end: int | None = None) -> Edit:
    """An edit replacing `needle` (the first one after `within`, in the in-progress part)."""
    base = text.index(IN_PROGRESS.encode())
    if within is not None:
        base = text.index(within.encode(), base)
    lo = text.index(needle.encode(), base) + start
    hi = lo + (len(needle.encode()) if end is None else end) - start
    return Edit(LIB, lo, hi, new)


def candidate(ctx: GenContext, *edits: Edit, hint: str | None = None) -> Candidate:
    diag = Diagnostic("error", "m", "E0000", (DiagSpan(LIB, edits[0].start, edits[0].end, 1, 1, 1, 1, True),))
    return Candidate(diag, "t", edits, "rustc", kind=intent.kind_of(edits, ctx, hint))


def test_edit_kinds_are_read_from_where_and_what_the_edit_changes():
    text = either_text()
    ctx = ctx_for(text)
    label = "pub fn label"
    cases = {
        "add_borrow": [at(text, "valeu", "&valeu", label)],
        "add_clone": [at(text, "valeu", "valeu.clone()", label)],
        "add_deref": [at(text, "max_len {", "*max_len", label, end=7)],
        "add_mut": [at(text, "let max_len", "let mut max_len", label)],
        "add_import": [Edit(LIB, 0, 0, "use std::fmt;\n")],
        "rename_similar": [at(text, "valeu", "value", label)],
        "restore_name": [at(text, "describe(", "self::describe", label, end=8)],
        "convert_type": [at(text, "let max_len = 5", "let max_len = 5usize", label)],
        # A parameter's type in a signature, though the rule only meant to retype it.
        "change_signature": [at(text, "total: usize", "total: u64", "pub fn left_count")],
        "delete_code": [at(text, '"left or right"', "", label)],
        "write_body": [at(text, "\n    // TODO\n", "\n    // TODO\n    total\n", "pub fn left_count")],
        "edit_test": [at(text, '"left"', "Some(", "fn side_names", end=0), at(text, '"left"', ")", "fn side_names",
                                                                               start=6)],
    }
    for kind, edits in cases.items():
        hint = "convert_type" if kind == "change_signature" else None
        assert candidate(ctx, *edits, hint=hint).kind == kind, kind
    # A misspelt type in a signature is a rename, not a change of the signature.
    assert intent.kind_of([at(text, "Either", "Eihter", "pub fn side_name")], ctx) == "rename_similar"
    # An empty `()` is not the author's words; `mut` in a signature stays a `mut`.
    src = b"fn f(x: ()) {}\nfn g(v: &Vec<u8>) { f(()) }\n"
    small = GenContext({LIB: src})
    assert intent.kind_of([Edit(LIB, src.index(b"(())") + 1, src.index(b"(())") + 3, "")], small) != "delete_code"
    assert intent.kind_of([Edit(LIB, src.index(b"&Vec"), src.index(b"&Vec") + 1, "&mut ")], small) == "add_mut"
    # A test file is test code, whatever the edit.
    tests = GenContext({"tests/it.rs": b"fn helper(x: u8) -> u8 { x }\n"})
    assert intent.kind_of([Edit("tests/it.rs", 25, 25, "&")], tests) == "edit_test"


def test_never_rules_hold_back_what_the_author_has_not_written_or_decided():
    text = either_text()
    ctx = ctx_for(text)
    label = "pub fn label"
    held = lambda *edits, hint=None: intent.held_back(candidate(ctx, *edits, hint=hint), ctx)  # noqa: E731

    # rustc's "consider returning the local binding `total`" for a body left at a TODO.
    assert "not written yet (`left_count`: its body is empty)" in held(
        at(text, "\n    // TODO\n", "\n    // TODO\n    total\n", "pub fn left_count"))
    # Fitting the signature to an unfinished body (`-> Option<..>` to `-> ()`, say).
    assert "not written yet (`side_name`: its body still has `todo!()`)" in held(
        at(text, "Option<&'static str>", "()", "pub fn side_name"), hint="convert_type")
    # The same kind of edit in a finished function is not this rule's business.
    assert held(at(text, '"either"', '"either"\n    ;', "fn describe")) is None
    # rustc's "remove the extra argument" for a call to a function still taking none.
    assert held(at(text, '"left or right"', "", label)) == "this would delete code you wrote (`\"left or right\"`)"
    # Near misses of another meaning, and a plain slip.
    assert held(at(text, "is_evening", "is_morning", label)) == \
        "`is_evening` looks like a name not declared yet; `is_morning` means something else"
    assert "`min_len` looks like a name not declared yet" in held(at(text, "min_len", "max_len", label))
    assert held(at(text, "valeu", "value", label)) is None
    # A test's expectation: rustc's `Some("left")`, a changed literal, the asserted binding.
    assert held(at(text, '"left"', "Some(", "fn side_names", end=0),
                at(text, '"left"', ")", "fn side_names", start=6)) == intent.EXPECTS
    assert held(at(text, "2);", "3);", "fn side_names", end=1)) == intent.EXPECTS
    assert held(at(text, "(1));", "(1)).unwrap();", "fn side_names")) == intent.EXPECTS
    # ...but borrowing a compared value, or making the asserted binding `mut`, keeps what it expects.
    assert held(at(text, "name,", "&name", "fn side_names", end=4)) is None
    assert held(at(text, "let name", "let mut name", "fn side_names")) is None


def test_what_rustc_invents_or_leaves_to_the_author_is_held_back():
    # Shapes of the rustc error index's lessons (E0381, E0023, E0254, E0586, E0449, E0401, E0746).
    src = b"""extern crate core;
mod foo { pub trait core {} }
use foo::core;
enum Fruit { Apple(String, String), Pear(u32) }
trait T {}
struct S;
impl T for S {}
pub fn make() -> dyn T { S }
fn outer<U>(u: U) {
    fn inner(y: U) {}
}
fn main() {
    let x: i32;
    let y = x;
    match Fruit::Pear(1) { Fruit::Apple(a) => {}, _ => {} }
    let v = [1, 2, 3];
    let w = &v[1..=];
    let t = (1, 2);
}
"""
    ctx = GenContext({LIB: src})

    def edit(needle: str, new: str, start: int = 0, end: int | None = None) -> Edit:
        lo = src.index(needle.encode()) + start
        return Edit(LIB, lo, lo + (len(needle.encode()) if end is None else end) - start, new)

    def held(*edits: Edit, code: str = "E0000") -> str | None:
        cand = candidate(ctx, *edits)
        cand.diagnostic = Diagnostic("error", "m", code, cand.diagnostic.spans)
        return intent.held_back(cand, ctx)

    # rustc's "consider assigning a value": `= 42` is a value nobody wrote.
    assert held(edit("let x: i32;", " = 42", 10, 10)) == "this would invent a value you have not written (`42`)"
    assert held(edit("(1, 2);", "(1, 2).0;")) is None  # a tuple's field is no value
    # `Apple(a)` for a variant of two fields: `_` decides which field `a` is and drops the other.
    assert "ignore a value with `_`" in held(edit("Apple(a)", "Apple(a, _)"))
    # Two items named `core`: which one to rename, and to what, is the author's.
    assert "which one to rename" in held(edit("use foo::core;", " as other_core", 13, 13))
    # `1..=` with no end: dropping the `=` deletes what the author began to write.
    assert held(edit("[1..=]", "", 4, 5)) == "this would delete code you wrote (`=`)"
    assert held(edit("[1..=]", "..", 2, 5)) == "this would delete code you wrote (`=`)"  # however cut
    # A `pub` rustc rejects where it stands (E0449) has no meaning there to lose.
    assert held(edit("pub trait core", "", 0, 4)) is None
    # `dyn` -> `impl` is no rename of a name, so no near miss either.
    assert candidate(ctx, edit("dyn T", "impl", 0, 3)).kind == "change_signature"
    assert held(edit("dyn T", "impl", 0, 3)) is None
    assert intent.text_kind("union_with", "union") == "rename_similar"  # a weak keyword names things
    # A generic the signature lacks is its own error, even in a function with an empty body...
    lacks = Edit(LIB, src.index(b"inner(") + 5, src.index(b"inner(") + 5, "<U>")
    t_span = src.index(b"y: U") + 3
    cand = candidate(ctx, lacks)
    cand.diagnostic = Diagnostic("error", "m", "E0401", (DiagSpan(LIB, t_span, t_span + 1, 1, 1, 1, 1, True),))
    assert cand.kind == "change_signature" and intent.held_back(cand, ctx) is None
    # ...but a mismatch with the body that is not written yet is the body's (rustc's E0308).
    cand.diagnostic = Diagnostic("error", "m", "E0308", cand.diagnostic.spans)
    assert "not written yet (`inner`: its body is empty)" in intent.held_back(cand, ctx)


def test_equal_alternatives_rustc_lists_are_the_authors_choice():
    src = b"trait G { fn create() -> u32; }\nfn main() { let c: u32 = G::create(); }\n"
    ctx = GenContext({LIB: src})
    at_call = src.index(b"G::create")

    def rustc_says(impl: str, help_text: str, kind_hint: str | None = None) -> Candidate:
        edits = (Edit(LIB, at_call, at_call, f"<{impl} as "), Edit(LIB, at_call + 1, at_call + 1, ">"))
        cand = candidate(ctx, *edits, hint=kind_hint)
        cand.extra["help"] = help_text
        return cand

    one = "use a fully-qualified path to one of the available implementations"
    first, second = rustc_says("Impl", one), rustc_says("AnotherImpl", one)
    assert "which one is yours to choose" in intent.alternatives(first, [first, second])
    assert intent.alternatives(first, [first]) is None  # only one compiles: no choice left
    assert intent.alternatives(first, [first, rustc_says("AnotherImpl", "another help")]) is None
    # rustc's own word for a second way (E0746: `impl Trait`, "alternatively, box the return type").
    boxed = rustc_says("Box", "alternatively, box the return type, and wrap all of the returned values")
    assert "which one is yours to choose" in intent.alternatives(first, [first, boxed])
    imports = [rustc_says("Impl", one, "add_import"), rustc_says("AnotherImpl", one, "add_import")]
    for cand in imports:
        cand.kind = "add_import"
    assert intent.alternatives(imports[0], imports) is None  # the workspace's imports rank those


def test_unfinished_functions_are_told_by_their_body_and_comments():
    src = b"""fn a() -> u8 {}
fn b() -> u8 { unimplemented!("later") }
fn c(x: u8) -> u8 {
    let y = x + 1;
    // FIXME: overflow
    y
}
// TODO: handle the zero case
#[inline]
fn d(x: u8) -> u8 { x }
fn e(x: u8) -> u8 { x }
"""
    tree = GenContext({LIB: src}).tree(LIB)
    why = {intent._text(f.child_by_field_name("name")): intent.unfinished(f)
           for f in tree.root_node.named_children if f.type == "function_item"}
    assert why == {"a": "its body is empty", "b": "its body still has `unimplemented!()`",
                   "c": "it has a TODO comment", "d": "a TODO comment above it says so", "e": None}


def test_removing_an_argument_is_allowed_when_the_author_just_removed_the_parameter():
    text = either_text()
    removal = at(text, '"left or right"', "", "pub fn label")
    before = text.replace(b"fn describe() ->", b"fn describe(what: &str) ->")
    changes = intent.signature_changes(before, text)
    assert changes == [{"name": "describe", "before": 1, "after": 0}]
    ctx = ctx_for(text, changes)
    assert intent.held_back(candidate(ctx, removal), ctx) is None
    # A parameter added, or another function changed, is no evidence.
    assert intent.signature_changes(text, before) == []
    other = ctx_for(text, [{"name": "left_count", "before": 2, "after": 1}])
    assert intent.held_back(candidate(other, removal), other) is not None


def test_removing_an_import_is_held_back():
    src = b"use std::fmt;\nuse std::io;\n\nfn f() {}\n"
    ctx = GenContext({LIB: src})
    cand = candidate(ctx, Edit(LIB, 0, len(b"use std::fmt;\n"), ""))
    assert cand.kind == "delete_code"
    assert intent.held_back(cand, ctx) == f"{intent.IMPORT_KEPT} (`use std::fmt;`)"


def test_near_miss_tells_a_new_name_from_a_slip():
    src = b"""// The fee of an amount: a rate off the top.
fn fee(max_len: usize, secs: u64, wtr: u8) -> u64 { let form_data = 1; form_data + secs + off(wtr) }
"""
    names = intent.code_names(GenContext({LIB: src}), LIB)
    assert "of" not in names and "form_data" in names  # the code's names, not its comments' words
    assert intent.near_miss("min_len", "max_len", names)  # two letters apart: another word
    assert intent.near_miss("form", "from", names)  # one swap, but `form` is a word of this file
    assert not intent.near_miss("sces", "secs", names)  # one swap: a slip
    assert not intent.near_miss("lenght", "length", names)
    assert intent.near_miss("sces", "secs", names + ["sces", "sces"])  # the same slip twice: meant
    assert intent.near_miss("y", "x", names)  # too short to tell a slip
    assert not intent.near_miss("wt", "wtr", names) and not intent.near_miss("of", "off", names)  # a letter dropped
    assert intent.segments("isMorningHTTP2") == ["is", "morning", "http", "2"]


@pytest.mark.slow
def test_code_in_progress_gets_no_patch_and_its_reasons_in_real_crate(tmp_path):
    """Real rustc, real cargo: every in-progress error of the text above abstains with its
    reason; the one slip among them (`valeu`) is still fixed."""
    root = copy_debian_crate("either-1.6.1", tmp_path / "either")
    (root / LIB).write_bytes(either_text())
    engine = PatchEngine(root, config_for(tmp_path / "memory"))
    try:
        report = engine.fix()
    finally:
        engine.close()
    by_text = {}
    for fix in report.fixes:
        span = fix.diagnostic.primary
        by_text.setdefault(report.contents[fix.path][span.byte_start : span.byte_end].decode(), []).append(fix)
    offered = {text: [f.best.title for f in fixes if f.best] for text, fixes in by_text.items()}
    assert offered.pop("valeu") == ["replace `valeu` with `value`"] * len(by_text["valeu"])
    assert not any(offered.values()), offered  # nothing else: all of it is code in progress
    reasons = {text: {f.reason for f in fixes} for text, fixes in by_text.items()}
    assert reasons["is_evening"] == {
        "`is_evening` looks like a name not declared yet; `is_morning` means something else"}
    assert reasons["min_len"] == {"`min_len` looks like a name not declared yet; `max_len` means something else"}
    assert reasons["describe"] == {"this would delete code you wrote (`\"left or right\"`)"}  # E0061 at the call
    assert reasons["usize"] == {"this function is not written yet (`left_count`: its body is empty)"}  # `-> usize`
    assert reasons['"left"'] == {intent.EXPECTS}
    held = [f for f in report.fixes if f.held_back]
    assert len(held) >= 5 and all(f.abstained and f.withheld for f in held)
    json_reasons = {d["reason"] for d in report.to_json()["diagnostics"] if d["abstained"]}
    assert {f.held_back for f in held} <= json_reasons


@pytest.mark.slow
def test_the_authors_own_parameter_removal_is_evidence_for_removing_the_argument(tmp_path):
    root = copy_debian_crate("either-1.6.1", tmp_path / "either")
    lib = root / LIB
    original = lib.read_bytes()
    lib.write_bytes(original + b"\nfn tally(unit: &str) -> usize { unit.len() }\n"
                               b"pub fn tallied() -> usize { tally(\"left\") }\n")
    config = config_for(tmp_path / "memory")
    with Memory.open(str(tmp_path / "memory"), root) as memory:
        engine = PatchEngine(root, config, memory)
        try:
            assert engine.fix(learn=True).fixes == []
            # The author drops the parameter: the call's argument is now the one thing left over.
            lib.write_bytes(lib.read_bytes().replace(b"fn tally(unit: &str) -> usize { unit.len() }",
                                                     b"fn tally() -> usize { 4 }"))
            [fix] = engine.fix(learn=True).fixes
        finally:
            engine.close()
        assert fix.diagnostic.code == "E0061" and fix.held_back is None
        assert [p.kind for p in fix.patches] == ["delete_code"] and fix.patches[0].verified
        deadline = time.monotonic() + 10
        while not memory.events(intent.SIGNATURE_EVENT) and time.monotonic() < deadline:
            time.sleep(0.1)
        [event] = memory.events(intent.SIGNATURE_EVENT)
        assert event["payload"] == {"name": "tally", "before": 1, "after": 0}
    # Without that edit on record (a fresh process, no memory), the argument is the author's.
    fresh = PatchEngine(root, config)
    try:
        [fix] = fresh.fix().fixes
    finally:
        fresh.close()
    assert fix.abstained and fix.held_back == 'this would delete code you wrote (`"left"`)'
