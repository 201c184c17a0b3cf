"""Names inside macro calls, on Debian's regex and serde_json: std's formatting, assert, `vec!`,
serde_json's own `tri!`, nested calls; implicit format captures and `matches!`/`dbg!` (which
neither crate uses) in a buffer of the shop fixture; and the macros whose expansion stays unknown."""

import re
import shutil
from pathlib import Path

import pytest

from explain_support import explain_at, index, write_shop
from rusta_lsp.analysis.macro_args import STD_SHAPES, expand, format_captures, rules_shape
from rusta_lsp.analysis.parser import parse_tree
from rusta_lsp.analysis.workspace import discover_workspace
from rusta_lsp.explain.engine import explainer_for

REGISTRY = Path("/usr/share/cargo/registry")
REGEX, SERDE_JSON = REGISTRY / "regex-1.7.1", REGISTRY / "serde_json-1.0.87"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (REGEX.is_dir() and SERDE_JSON.is_dir()),
                                                   reason="librust-regex-dev and librust-serde-json-dev are needed")]


@pytest.fixture(scope="module")
def crates(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    shutil.copytree(REGEX, root / "regex")
    shutil.copytree(SERDE_JSON, root / "serde_json")
    write_shop(root / "shop")
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["regex", "serde_json", "shop"]\n')
    memory = index(root, tmp_path_factory.mktemp("memory"))
    yield root, explainer_for(memory, root, discover_workspace(root))
    memory.close()


def at(crates, rel, line, needle, text=None):
    """Explain the first `needle` on 1-based `line` of `rel` (or of `text`, an unsaved buffer)."""
    root, explainer = crates
    data = (root / rel).read_bytes() if text is None else text.encode()
    source = data.decode().split("\n")[line - 1]
    assert needle in source, source
    return explain_at(explainer, rel, data, line, source.index(needle) + 1)


def definition(explanation):
    assert not explanation.abstained, explanation.reason
    anchor = next(a for c in explanation.claims for a in c.anchors if a.kind == "definition")
    return anchor.path, anchor.start_line


# (file, line, needle) -> symbol and the line its definition (or binding) starts on; each line
# was read in the crate's source.
RESOLVED = [
    # `write!(f, "SparseSet({:?})", self.dense)`: a field, through the writer and the format string
    ("regex/src/sparse.rs", 66, "dense", "crate::sparse::SparseSet::dense", ("regex/src/sparse.rs", 17)),
    # `sparse: vec![0; size].into_boxed_slice()`: `vec!`'s `[x; n]` form
    ("regex/src/sparse.rs", 31, "size", "size", ("regex/src/sparse.rs", 28)),
    # `assert_eq!(chunk1, chunk2);` inside `for (chunk1, chunk2) in ..`
    ("regex/src/exec.rs", 1624, "chunk2", "chunk2", ("regex/src/exec.rs", 1623)),
    # `panic!("BUG: {} is too big to be pointer sized", n)`: a positional format argument
    ("regex/src/compile.rs", 1216, "n)", "n", ("regex/src/compile.rs", 1211)),
    # `.map_err(|err| format!("{}", err))`: a closure's parameter
    ("regex/src/exec.rs", 1609, "err))", "err", ("regex/src/exec.rs", 1609)),
    # `assert_eq!(vec!['a', 'x'], *pool.get().value().borrow())`: `vec!` nested in `assert_eq!`
    ("regex/src/pool.rs", 331, "pool.get", "pool", ("regex/src/pool.rs", 301)),
    # regex's test macro `mat!($name:ident, $re:expr, $text:expr, $($loc:tt)+)`: its `expr` arguments
    ("regex/tests/bytes.rs", 52, "R(b", "crate::bytes::R", ("regex/tests/bytes.rs", 5)),
    # serde_json's own `macro_rules! tri { ($e:expr $(,)?) => .. }`
    ("serde_json/src/value/ser.rs", 191, "to_value", "crate::value::to_value", ("serde_json/src/value/mod.rs", 884)),
    ("serde_json/src/value/ser.rs", 191, "value)", "value", ("serde_json/src/value/ser.rs", 185)),
]


@pytest.mark.parametrize("rel,line,needle,symbol,anchor", RESOLVED, ids=[f"{r[0]}:{r[1]}:{r[2]}" for r in RESOLVED])
def test_names_in_macro_arguments_resolve(crates, rel, line, needle, symbol, anchor):
    explanation = at(crates, rel, line, needle)
    assert explanation.symbol == symbol
    assert definition(explanation) == anchor
    # The hover's range is the name in the file, not in the rewritten call.
    root, _ = crates
    data = (root / rel).read_bytes()
    start, end = explanation.span
    assert data[start:end].decode() == re.match(r"\w+", needle).group(0)


def test_unknown_expansions_abstain_saying_why(crates):
    # serde_json's `json!` hands its `tt`s to `json_internal!`, a tt-muncher: `let value = json!(({
    # let mut map = BTreeMap::new(); .. }))` in tests/test.rs.
    explanation = at(crates, "serde_json/tests/test.rs", 987, "BTreeMap")
    assert explanation.abstained
    assert "`json!` passes its `tt` fragments on to something that is not known to take expressions" \
        in explanation.reason
    # A macro of a dependency: nothing in the workspace says how it expands.
    root, _ = crates
    text = (root / "shop/src/lib.rs").read_text() + "\npub fn dep(n: u32) -> u32 { some_dep::twice!(n) }\n"
    lines = text.split("\n")
    explanation = at(crates, "shop/src/lib.rs", len(lines) - 1, "n) }", text)
    assert explanation.abstained
    assert "`some_dep::twice!`, a macro defined outside the workspace's source" in explanation.reason
    # `mat!`'s last arguments are `tt`s it hands on whole: not read as expressions.
    explanation = at(crates, "regex/tests/bytes.rs", 52, "Some((1")
    assert explanation.abstained and "that its rules do not take as an expression" in explanation.reason


@pytest.mark.parametrize("rel,line,needle,label,template", [
    # regex's `mat!($name:ident, ..) => ( #[test] fn $name() { .. } )`: the test it defines
    ("regex/tests/bytes.rs", 52, "dotstar_prefix_not_unicode1", "function", ("regex/tests/macros.rs", 25)),
    # the shop's `make_counter!($name:ident) => { pub struct $name(pub u32); }`
    ("shop/src/lib.rs", 15, "Visits", "struct", ("shop/src/lib.rs", 11)),
])
def test_names_a_macro_call_defines(crates, rel, line, needle, label, template):
    explanation = at(crates, rel, line, needle)
    assert not explanation.abstained, explanation.reason
    claim = explanation.claims[0]
    assert claim.text.startswith(f"`{needle}` names the {label} that this `")
    assert [(a.path, a.start_line) for a in claim.anchors] == [(rel, line), template]


def test_a_name_a_call_defines_inside_a_trait_impl_is_the_traits_item(crates):
    # Inside `impl Trait for T`, a call defining `fn $name` implements the trait's item: that is
    # what the name is (as serde_json's deserialize_number! calls implement serde's Deserializer).
    root, _ = crates
    text = (root / "shop/src/lib.rs").read_text() + (
        "\nmacro_rules! describe_as { ($name:ident, $text:expr) => { fn $name(&self) -> &'static str { $text } }; }\n"
        "impl Describe for item::Item {\n    describe_as!(describe, \"an item\");\n}\n")
    line = len(text.split("\n")) - 2
    explanation = at(crates, "shop/src/lib.rs", line, "describe,", text)
    assert not explanation.abstained, explanation.reason
    assert explanation.symbol == "crate::Describe::describe"


CAPTURES = '''
pub fn report(total: u32, names: &[&str], width: usize) -> String {
    let label = "sum";
    let first = names.first();
    dbg!(first, total);
    if matches!(first, Some(name) if name.len() > width) {
        return format!("{label}: {total:>width$} {} {extra}", names.len(), extra = total * 2);
    }
    format!("{label:?}")
}
'''


def test_paths_through_a_type_parameter_and_std_integer_methods(crates):
    # serde_json's `impl<'a, 'de, R: Read<'de>> Read<'de> for &'a mut R`: `R::parse_str(self, scratch)`
    # is the trait's method, through R's bound (it was taken for the impl's own method).
    explanation = at(crates, "serde_json/src/read.rs", 740, "parse_str")
    assert explanation.symbol == "crate::read::Read::parse_str"
    assert definition(explanation) == ("serde_json/src/read.rs", 61)
    # `checked_add` on a receiver of unknown type is std's integer method as likely as a workspace one.
    root, _ = crates
    text = (root / "shop/src/lib.rs").read_text() + (
        "\npub struct Meter(u32);\nimpl Meter {\n    pub fn checked_add(&self, n: u32) -> Option<u32> { None }\n}\n"
        "pub fn grow() -> Option<u32> { let x = make(); x.checked_add(1) }\n")
    explanation = at(crates, "shop/src/lib.rs", len(text.split("\n")) - 1, "checked_add(1)", text)
    assert explanation.abstained and "also a method of standard library types" in explanation.reason


def test_captures_named_arguments_matches_and_dbg(crates):
    root, _ = crates
    text = (root / "shop/src/lib.rs").read_text() + CAPTURES
    base = text[: text.index(CAPTURES)].count("\n") + 1  # the line of CAPTURES' first (empty) line

    def local(line, needle, bound_on, how):
        explanation = at(crates, "shop/src/lib.rs", base + line, needle, text)
        assert explanation.symbol == re.match(r"\w+", needle).group(0)
        assert definition(explanation) == ("shop/src/lib.rs", base + bound_on)
        assert how in explanation.claims[0].text
        return explanation

    local(4, "first, total", 3, "bound by `let`")  # dbg!
    local(4, "total);", 1, "a parameter")
    local(5, "first, Some", 3, "bound by `let`")  # matches!'s expression
    local(5, "name.len", 5, "`match` arm")  # its guard sees the pattern's binding
    local(5, "width)", 1, "a parameter")
    local(6, "label}", 2, "bound by `let`")  # an implicit capture
    local(6, "total:>", 1, "a parameter")
    local(6, "width$", 1, "a parameter")  # a capture in the width
    local(6, "extra}", 6, "a named argument of this macro call")  # a capture of a named argument
    local(8, "label:?", 2, "bound by `let`")
    # Text of the format string that names nothing stays a string literal.
    explanation = at(crates, "shop/src/lib.rs", base + 6, ": {", text)
    assert explanation.abstained and "string literal" in explanation.reason


def test_format_captures_and_expansion_map():
    assert format_captures(b'"{a} {{b}} {c:?} {:.prec$} {0} {d:>w$}"') == [
        (2, "a"), (12, "c"), (20, "prec"), (32, "d"), (35, "w")]
    source = b'fn f(x: u32) {\n    println!("{x} {}", x + 1, y = 2);\n}\n'
    tree = parse_tree(source)
    call = tree.root_node.named_children[0].child_by_field_name("body").named_children[0].named_children[0]
    expansion = expand(source, tree, call, STD_SHAPES["println"])
    assert not expansion.tree.root_node.has_error
    rewritten = expansion.data[expansion.start : expansion.new_end]
    assert rewritten == b"{ let y = 2; ({ {x} },x + 1,) }"
    for needle in (b"x}", b"x + 1", b"y ="):  # a capture, a positional argument, a named one
        offset = source.index(needle)
        here = expansion.from_source(offset)
        assert expansion.data[here : here + 1] == needle[:1] and expansion.to_source(here) == offset
    assert expansion.from_source(source.index(b"println")) is None  # the macro's name is not an argument
    after = source.index(b"}\n", source.index(b";"))
    assert expansion.to_source(expansion.from_source(after)) == after  # text after the call shifts back


@pytest.mark.parametrize("definition,shape,why", [
    (b"macro_rules! tri { ($e:expr $(,)?) => { match $e { Ok(v) => v, Err(e) => return Err(e) } }; }",
     "exprs", ""),
    (b"macro_rules! log { ($($t:tt)*) => { eprintln!($($t)*) }; }", "exprs", ""),
    (b"macro_rules! pair { ($a:expr, $b:expr) => { ($a, $b) }; ($a:expr) => { ($a, $a) }; }", "exprs", ""),
    (b"macro_rules! make { ($name:ident) => { struct $name; }; }", "exprs", ""),  # names what it defines
    (b"macro_rules! make { ($t:ident) => { $t::new() }; }", None, "takes `ident` fragments"),
    (b"macro_rules! json { ($($json:tt)+) => { json_internal!($($json)+) }; }", None, "passes its `tt` fragments"),
    (b"macro_rules! m { (@inner $e:expr) => { $e }; }", None, "matches the token `@`"),
])
def test_which_macro_rules_take_expressions(definition, shape, why):
    found, reason = rules_shape(definition)
    assert (found.kind if found else None) == shape
    assert why in reason
    if b"struct $name" in definition:
        assert found.defines == ("struct",) and found.expressions == (False,)


def test_arguments_split_at_the_rules_own_separators(crates):
    # serde_json's `deserialize_number!($deserialize:ident => $visit:ident)`: the arguments split at
    # `=>`; the first names the method the call defines, inside `impl Deserializer for Number`:
    # serde's trait method, which it implements. The second is not a name the call defines.
    definition = b"macro_rules! n { ($d:ident => $v:ident) => { fn $d(self) { self.$v() } }; }"
    shape = rules_shape(definition)[0]
    assert shape.defines == ("fn", None) and shape.separators == ("=>",)
    explanation = at(crates, "serde_json/src/number.rs", 544, "deserialize_u64")
    assert explanation.abstained  # serde is not in this test's workspace: nothing to anchor
    assert "Deserializer" in explanation.reason
    explanation = at(crates, "serde_json/src/number.rs", 544, "visit_u64")
    assert explanation.abstained and "deserialize_number!" in explanation.reason
