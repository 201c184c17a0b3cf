"""Data-driven tests of the analysis: each case is Rust source and the items it must yield."""

import pytest

from rusta_lsp.analysis.parser import analyze_source


def check(source: str, expected: list[tuple], module: str = "crate", **fields):
    """Compare (kind, qualified path, start line) of every item with `expected`, in source order."""
    result = analyze_source(source.encode(), "src/lib.rs", module)
    got = [(i.kind, i.path, i.span.start_line) for i in result.items]
    assert got == expected
    return result


def item(result, path):
    return next(i for i in result.items if i.path == path)


def test_functions_structs_fields_and_docs():
    r = check(
        """/// Adds.
/// Twice.
pub fn add(a: u8) -> u8 { a + 1 }
#[derive(Debug)]
pub struct Point { /// x axis
    pub x: i32, y: i32 }
""",
        [("fn", "crate::add", 1), ("struct", "crate::Point", 4), ("field", "crate::Point::x", 5),
         ("field", "crate::Point::y", 6)],
    )
    add = item(r, "crate::add")
    assert add.signature == "pub fn add(a: u8) -> u8"
    assert add.doc == "Adds.\nTwice."
    assert add.doc_span.start_line == 1 and add.doc_span.end_line == 2
    assert add.name_span.start.line == 3 and add.name_span.start.col == 8
    assert item(r, "crate::Point").attrs == ["derive(Debug)"]
    assert item(r, "crate::Point::x").doc == "x axis"
    assert item(r, "crate::Point::x").visibility == "pub"


def test_impls_traits_and_methods_carry_context():
    r = check(
        """trait Shape { fn area(&self) -> f64; type Unit; const SIDES: u8; }
impl<T: Copy> Shape for Square<T> { fn area(&self) -> f64 { self.side() } type Unit = f64; const SIDES: u8 = 4; }
impl<T> Square<T> { pub fn side(&self) -> f64 { 1.0 } }
""",
        [("trait", "crate::Shape", 1), ("method", "crate::Shape::area", 1), ("type", "crate::Shape::Unit", 1),
         ("const", "crate::Shape::SIDES", 1), ("impl", "crate::<impl Shape for Square>", 2),
         ("method", "crate::Square::area", 2), ("type", "crate::Square::Unit", 2),
         ("const", "crate::Square::SIDES", 2), ("impl", "crate::<impl Square>", 3),
         ("method", "crate::Square::side", 3)],
    )
    area = item(r, "crate::Square::area")
    assert (area.impl_type, area.trait_name, area.parent) == ("Square", "Shape", "crate::<impl Shape for Square>")
    # Primitive types are not references; the method call is.
    assert [(ref.kind, ref.name) for ref in area.refs] == [("method", "side")]
    assert item(r, "crate::Square::side").trait_name is None


def test_nested_modules_enums_consts_statics_aliases_unions_and_macros():
    check(
        """mod outer {
    pub mod inner {
        pub enum Colour { Red, Green(u8) }
        pub const MAX: u32 = 3;
        static mut COUNT: usize = 0;
        type Pair = (u8, u8);
        union Bits { i: u32, f: f32 }
    }
    macro_rules! square { ($x:expr) => { $x * $x }; }
}
""",
        [("mod", "crate::outer", 1), ("mod", "crate::outer::inner", 2),
         ("enum", "crate::outer::inner::Colour", 3), ("variant", "crate::outer::inner::Colour::Red", 3),
         ("variant", "crate::outer::inner::Colour::Green", 3), ("const", "crate::outer::inner::MAX", 4),
         ("static", "crate::outer::inner::COUNT", 5), ("type", "crate::outer::inner::Pair", 6),
         ("union", "crate::outer::inner::Bits", 7), ("field", "crate::outer::inner::Bits::i", 7),
         ("field", "crate::outer::inner::Bits::f", 7), ("macro", "crate::outer::square", 9)],
    )


def test_use_trees_flatten_with_aliases_and_relative_paths():
    r = analyze_source(b"use std::{io::{self, Write}, fmt as f};\nuse super::Thing;\nuse crate::a::*;\n",
                       "src/x/y.rs", "crate::x::y")
    uses = [(i.name, i.use_target) for i in r.items if i.kind == "use"]
    assert uses == [("io", "std::io"), ("Write", "std::io::Write"), ("f", "std::fmt"),
                    ("Thing", "crate::x::Thing"), ("*", "crate::a::*")]


def test_tests_and_cfg_test_modules_are_marked():
    r = analyze_source(b"""fn real() {}
#[cfg(test)]
mod tests { use super::*; fn helper() {} #[test] fn works() { real(); } }
#[tokio::test]
async fn async_case() {}
""", "src/lib.rs")
    marked = {i.path: i.is_test for i in r.items}
    assert marked == {"crate::real": False, "crate::tests": True, "crate::tests::*": True,
                      "crate::tests::helper": True, "crate::tests::works": True, "crate::async_case": True}
    assert [(ref.kind, ref.name) for ref in item(r, "crate::tests::works").refs] == [("call", "real")]


def test_non_ascii_identifiers_and_strings():
    source = 'const NAME: &str = "Größe 𝄞";\nfn größe(ü: u8) -> u8 { ü }\n'
    r = check(source, [("const", "crate::NAME", 1), ("fn", "crate::größe", 2)])
    f = item(r, "crate::größe")
    assert f.name_span.start.col == 4 and f.name_span.end.col == 9
    assert f.name_span.start_byte == source.encode().index("größe".encode())


@pytest.mark.parametrize("source,expected", [
    ("fn ok() {}\nfn broken( {\nstruct After;\n", [("fn", "crate::ok", 1)]),
    ("struct A {\n  x: u8,\n\nfn f() {}\n", None),
    ("impl Foo {\n fn a(&self) { let x = ; }\n fn b(&self) {}\n}\n", [("impl", "crate::<impl Foo>", 1),
                                                                 ("method", "crate::Foo::a", 2),
                                                                 ("method", "crate::Foo::b", 3)]),
])
def test_syntax_errors_give_partial_results(source, expected):
    r = analyze_source(source.encode(), "src/lib.rs")
    assert r.errors, "a syntax error must be reported"
    assert all(e.span.start.line >= 1 for e in r.errors)
    if expected is not None:
        got = [(i.kind, i.path, i.span.start_line) for i in r.items]
        assert all(e in got for e in expected)


def test_references_are_classified():
    r = analyze_source(b"""fn f(l: &mut Ledger) {
    let e = Entry::new("a", 1);
    l.apply(e.clone());
    let n = l.total;
    println!("{}", helper(n));
    std::mem::drop(n);
}
""", "src/lib.rs")
    refs = [(ref.kind, ref.name, ref.qualifier, ref.line) for ref in r.items[0].refs]
    assert refs == [("type", "Ledger", "", 1), ("path", "new", "Entry", 2), ("method", "apply", "", 3),
                    ("method", "clone", "", 3), ("field", "total", "", 4), ("macro", "println", "", 5),
                    ("token", "helper", "", 5), ("token", "n", "", 5),
                    # Module segments of a path are references too (to the module).
                    ("path", "mem", "std", 6), ("path", "drop", "std::mem", 6)]


def test_macro_rules_templates_name_their_items_per_invocation():
    r = analyze_source(b"""macro_rules! define {
    ($name:ident, $t:ty) => {
        pub mod $name {
            /// A set.
            pub struct Set(Vec<$t>);
            impl Set { pub fn new() -> Set { Set(Vec::new()) } }
        }
    };
}
define! { text, String }
define! { bytes, Vec<u8> }
""", "src/set.rs", "crate::set")
    found = [(i.kind, i.path, i.span.start_line, i.name_span.start.line) for i in r.items if i.kind in ("struct", "method")]
    assert found == [("struct", "crate::set::text::Set", 4, 5), ("method", "crate::set::text::Set::new", 6, 6),
                     ("struct", "crate::set::bytes::Set", 4, 5), ("method", "crate::set::bytes::Set::new", 6, 6)]
    assert item(r, "crate::set::bytes::Set").doc == "A set."
    assert "expanded from define!" in item(r, "crate::set::text::Set").attrs


def test_binary_and_non_utf8_files_are_skipped_with_a_reason():
    assert "binary" in analyze_source(b"\x7fELF\x00\x00fn", "a.rs").skipped
    assert "UTF-8" in analyze_source(b"fn caf\xe9() {}", "a.rs").skipped
    assert analyze_source(b"", "a.rs").items == []
