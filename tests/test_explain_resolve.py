"""Resolution and claims on a small crate with the hard cases: qualified paths, aliases, `Self`,
locals with shadowing, fields, methods of the same name on different types, macros."""


import pytest

from explain_support import explain_at, index, position, write_shop
from rusta_lsp.analysis.workspace import discover_workspace
from rusta_lsp.explain.catalog import Catalog
from rusta_lsp.explain.engine import Explainer, Layout
from rusta_lsp.explain.render import to_json


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = write_shop(tmp_path_factory.mktemp("shop"))
    memory = index(root, tmp_path_factory.mktemp("memory"))
    yield root, Explainer(Catalog(memory), root, Layout.of(discover_workspace(root)))
    memory.close()


def explain(shop, rel, needle, delta=0, nth=0):
    root, explainer = shop
    line, col = position(root, rel, needle, delta, nth)
    return explain_at(explainer, rel, (root / rel).read_bytes(), line, col)


def definition(explanation):
    anchors = [a for c in explanation.claims for a in c.anchors if a.kind == "definition"]
    assert anchors, explanation
    return anchors[0].path, anchors[0].start_line


# (file, needle, offset into needle) -> symbol stated as fact, and the line its definition starts
RESOLVED = [
    ("src/lib.rs", "Ledger::new", 8, "crate::store::Ledger::new", ("src/store.rs", 10)),
    ("src/lib.rs", "Ledger::new", 0, "crate::store::Ledger", ("src/store.rs", 3)),  # via `pub use store::Ledger`
    ("src/lib.rs", "Product::new", 9, "crate::item::Item::new", ("src/item.rs", 7)),  # alias `Item as Product`
    ("src/lib.rs", "Item as Product", 9, "crate::item::Item", ("src/item.rs", 1)),  # the alias in the use itself
    ("src/lib.rs", "ledger.apply", 7, "crate::store::Ledger::apply", ("src/store.rs", 15)),  # typed receiver, inherent first
    ("src/lib.rs", "item.price", 5, "crate::item::Item::price", ("src/item.rs", 3)),  # receiver typed through the alias
    ("src/lib.rs", "ledger.total", 7, "crate::store::Ledger::total", ("src/store.rs", 5)),
    ("src/store.rs", "Self { total", 0, "crate::store::Ledger", ("src/store.rs", 3)),
    ("src/store.rs", "self.total +=", 0, "crate::store::Ledger", ("src/store.rs", 3)),
    ("src/store.rs", "self.total +=", 5, "crate::store::Ledger::total", ("src/store.rs", 5)),
    ("src/store.rs", "self.apply(item", 5, "crate::store::Ledger::apply", ("src/store.rs", 15)),
    ("src/store.rs", "Ledger::apply(self", 8, "crate::store::Ledger::apply", ("src/store.rs", 15)),
    ("src/store.rs", "crate::Apply", 7, "crate::Apply", ("src/lib.rs", 48)),
    ("src/lib.rs", "pub fn ring_up", 7, "crate::ring_up", ("src/lib.rs", 17)),  # definition site
    ("src/lib.rs", "make_counter!(V", 0, "crate::make_counter", ("src/lib.rs", 9)),
]


@pytest.mark.parametrize("rel,needle,delta,symbol,anchor", RESOLVED, ids=[f"{r[1]}+{r[2]}" for r in RESOLVED])
def test_resolves_with_a_definition_anchor(shop, rel, needle, delta, symbol, anchor):
    explanation = explain(shop, rel, needle, delta)
    assert not explanation.abstained, explanation.reason
    assert explanation.symbol == symbol
    assert definition(explanation) == anchor


def test_confidence_follows_how_the_symbol_was_found(shop):
    from rusta_lsp.explain.render import markdown

    pinned = explain(shop, "src/lib.rs", "pub fn ring_up", 7)  # its own definition
    typed = explain(shop, "src/lib.rs", "ledger.total", 7)  # receiver typed by `Ledger::new()`
    assert pinned.confidence == 1.0 and "confidence" not in markdown(pinned)
    assert 0.5 < typed.confidence < 0.95
    assert f"resolved with confidence {typed.confidence:.2f}" in markdown(typed).splitlines()[0]
    assert "likely" in typed.claims[0].text


def test_local_shadowing_names_the_binding_in_scope(shop):
    first = explain(shop, "src/lib.rs", "total + 1")
    assert first.symbol == "total" and not first.abstained
    assert definition(first) == ("src/lib.rs", 22)  # `let total = ledger.total;`
    # The binding on line 23 shadows the one on line 22, and says so with an anchor.
    binding = explain(shop, "src/lib.rs", "let total = total", 4)
    texts = [c.text for c in binding.claims]
    assert definition(binding) == ("src/lib.rs", 23)
    assert any("shadows an earlier `total`" in t for t in texts)
    assert binding.claims[1].anchors[0].start_line == 22


@pytest.mark.parametrize("needle,delta,bound_on,how", [
    ("double(seen)", 0, 25, "bound by `let`"),  # a closure stored in a local
    ("double(seen)", 7, 27, "`match` arm"),  # bound by the arm pattern, used in its body
    ("seen > 1", 0, 27, "`match` arm"),  # used in the arm's guard
    ("x * 2", 0, 25, "closure parameter"),
    ("price);", 0, 18, "a parameter"),
])
def test_locals_from_patterns_parameters_and_closures(shop, needle, delta, bound_on, how):
    explanation = explain(shop, "src/lib.rs", needle, delta)
    assert not explanation.abstained
    assert definition(explanation) == ("src/lib.rs", bound_on)
    assert how in explanation.claims[0].text


def test_non_ascii_columns_are_unicode_scalars(shop):
    root, explainer = shop
    data = (root / "src/lib.rs").read_bytes()
    line = data.decode().splitlines()[37]  # `let café = "ünïcödé 🎉"; let n = café.len() as u32;`
    col = line.index("café.len") + 1  # Python indexes Unicode scalars
    assert len(line[: col - 1].encode()) - (col - 1) == 8  # a byte count would land in the string
    explanation = explain_at(explainer, "src/lib.rs", data, 38, col)
    assert explanation.symbol == "café" and definition(explanation) == ("src/lib.rs", 38)
    binding = explain_at(explainer, "src/lib.rs", data, 38, line.index("n = café") + 1)
    assert binding.symbol == "n" and not binding.abstained


@pytest.mark.parametrize("needle,delta,line,text", [
    ("helper(STEP)", 0, 44, "`helper` is a function declared inside `nested`"),
    ("helper(STEP)", 7, 43, "`STEP` is a constant declared inside `nested`"),
    ("x + STEP", 4, 43, "`STEP` is a constant"),  # block items are visible inside nested fns
    ("fn helper", 3, 44, "`helper` is a function declared inside `nested`"),  # its own definition site
])
def test_items_declared_in_function_bodies(shop, needle, delta, line, text):
    explanation = explain(shop, "src/lib.rs", needle, delta)
    assert not explanation.abstained, explanation.reason
    assert definition(explanation) == ("src/lib.rs", line)
    assert explanation.claims[0].text.startswith(text)


def test_default_method_of_an_implemented_trait(shop):
    # `ledger: &store::Ledger` and `impl Describe for store::Ledger {}`: the trait's default method.
    explanation = explain(shop, "src/lib.rs", "ledger.describe", 7)
    assert not explanation.abstained, explanation.reason
    assert explanation.symbol == "crate::Describe::describe"
    assert "provided by trait `Describe`, which `Ledger` implements" in explanation.claims[0].text


def test_generic_receiver_resolves_through_its_bound(shop):
    # `thing: &mut T` with `T: Apply`: of the three `apply`s only the trait's can be meant.
    explanation = explain(shop, "src/lib.rs", "thing.apply", 6)
    assert not explanation.abstained, explanation.reason
    assert explanation.symbol == "crate::Apply::apply"
    assert "a bound of `T`" in explanation.claims[0].text


def test_ambiguous_method_lists_candidates(shop, tmp_path):
    root, explainer = shop
    # A buffer the disk has not seen: a receiver whose type nothing tells.
    text = (root / "src/lib.rs").read_text() + "\npub fn mystery() { let x = make(); x.apply(1); }\n"
    data = text.encode()
    offset = data.index(b"x.apply(1)") + 2
    explanation = explainer.explain("src/lib.rs", data, offset)
    assert explanation.abstained and explanation.reason.startswith("ambiguous")
    candidates = {c.text.split("`")[1] for c in explanation.claims}
    assert {"store::Ledger::apply", "item::Item::apply"} <= candidates
    assert all(c.text.startswith("Candidate:") for c in explanation.claims)


def test_items_from_unexpandable_macros_abstain_naming_the_macro(shop):
    root, explainer = shop
    text = (root / "src/lib.rs").read_text() + "\nother_crate::make_items!(Hidden);\npub fn f() -> u32 { Hidden::count() }\n"
    data = text.encode()
    explanation = explainer.explain("src/lib.rs", data, data.index(b"Hidden::count") + 1)
    assert explanation.abstained and explanation.claims == []
    assert "invokes `other_crate::make_items!`" in explanation.reason


def test_claims_cover_doc_callers_tests_and_readme(shop):
    explanation = explain(shop, "src/lib.rs", "Ledger::new", 8)
    kinds = {a.kind for c in explanation.claims for a in c.anchors}
    assert {"definition", "doc", "reference", "test"} <= kinds
    doc = next(c for c in explanation.claims if c.anchors[0].kind == "doc")
    assert doc.text == "Docs: Creates an empty ledger."
    test = next(c for c in explanation.claims if c.anchors[0].kind == "test")
    assert "new_ledger_is_empty" in test.text  # found inside `assert_eq!` by its `Ledger::` qualifier
    ledger = explain(shop, "src/lib.rs", "Ledger::new", 0)
    related = [c for c in ledger.claims if c.anchors[0].kind == "related"]
    assert related and related[0].anchors[0].path == "README.md"


ABSTENTIONS = [
    ("src/lib.rs", "//! Shop", 4, "inside a comment"),
    ("src/lib.rs", '"{}"', 1, "inside a string literal"),
    ("src/lib.rs", "Some(total)", 0, "standard prelude"),
    ("src/lib.rs", "println!", 0, "macro of Rust's standard library"),
    ("src/lib.rs", "Visits(n)", 0, "a macro generates it"),
    ("src/lib.rs", "pub struct $name", 12, "inside a `macro_rules!` template"),
    ("src/lib.rs", "u32 {", 0, "built-in primitive type"),
    ("src/store.rs", "crate::Apply", 0, "root module of a crate"),
    ("src/lib.rs", "thing.apply(1)", 6, "known only by its bounds (`Clone`)"),
    ("src/lib.rs", "names.len", 6, "`Vec` comes from Rust's standard prelude"),
    ("src/lib.rs", "f.write_str", 2, "is in Rust's standard library"),
    ("src/store.rs", "#[test]", 2, "attribute"),
    ("src/lib.rs", "-> u32 {\n    let mut", 0, "no identifier"),
]


@pytest.mark.parametrize("rel,needle,delta,reason", ABSTENTIONS, ids=[a[3] for a in ABSTENTIONS])
def test_every_abstention_path_says_why(shop, rel, needle, delta, reason):
    explanation = explain(shop, rel, needle, delta)
    assert explanation.abstained
    assert reason in explanation.reason
    payload = to_json(explanation)
    assert payload["abstained"] is True and reason in payload["markdown"]


def indexed_crate(tmp_path, files: dict[str, str]):
    """A crate written from `files` (path -> text), indexed: (root, memory, explainer)."""
    root = tmp_path / "crate"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    memory = index(root, tmp_path / "memory")
    return root, memory, Explainer(Catalog(memory), root, Layout.of(discover_workspace(root)))


def test_namesake_types_get_the_tests_that_import_them(tmp_path):
    """`a::Thing::new` and `b::Thing::new`: each test file's `use` says which one it exercises."""
    files = {
        "Cargo.toml": '[package]\nname = "twins"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": "pub mod a;\npub mod b;\n",
        "src/a.rs": "pub struct Thing;\n\nimpl Thing {\n    pub fn new() -> Thing {\n        Thing\n    }\n}\n",
        "src/b.rs": "pub struct Thing;\n\nimpl Thing {\n    pub fn new() -> Thing {\n        Thing\n    }\n}\n",
        "tests/uses_a.rs": "use twins::a::Thing;\n\n#[test]\nfn makes_a() {\n    let _ = Thing::new();\n}\n",
        "tests/uses_b.rs": "use twins::b::Thing;\n\n#[test]\nfn makes_b() {\n    let _ = Thing::new();\n}\n",
    }
    root, memory, explainer = indexed_crate(tmp_path, files)
    for module, test in (("a", "makes_a"), ("b", "makes_b")):
        rel = f"src/{module}.rs"
        explanation = explain_at(explainer, rel, (root / rel).read_bytes(), 4, 12)  # `new`
        assert explanation.symbol == f"crate::{module}::Thing::new"
        tests = [c.text for c in explanation.claims if c.anchors[0].kind == "test"]
        assert tests == [f"Exercised by test `{test}`."]
    memory.close()


def test_grouped_imports_and_namesake_types_resolve_by_module(tmp_path):
    """`use crate::a::{Thing, Other}` names a's types; `self.touch()` inside `impl Thing` in b.rs
    is b's `Thing`, though a.rs also has a `Thing` with a `touch`: the impl's own module decides."""
    files = {
        "Cargo.toml": '[package]\nname = "twins"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": "pub mod a;\npub mod b;\npub mod c;\n",
        "src/a.rs": "pub struct Thing;\npub struct Other;\n\nimpl Thing {\n    pub fn new() -> Thing {\n"
                    "        Thing\n    }\n\n    pub fn touch(&self) {}\n}\n",
        "src/b.rs": "pub struct Thing;\n\nimpl Thing {\n    pub fn touch(&self) {}\n\n"
                    "    pub fn twice(&self) {\n        self.touch();\n        self.touch();\n    }\n}\n",
        "src/c.rs": "use crate::a::{Other, Thing};\n\n"
                    "pub fn make() -> (Thing, Other) {\n    (Thing::new(), Other)\n}\n",
    }
    root, memory, explainer = indexed_crate(tmp_path, files)

    def at(rel, line, needle, delta=0):
        data = (root / rel).read_bytes()
        col = data.decode().split("\n")[line - 1].index(needle) + 1 + delta
        return explain_at(explainer, rel, data, line, col)

    grouped = at("src/c.rs", 4, "Thing::new", 7)
    assert (grouped.symbol, grouped.abstained) == ("crate::a::Thing::new", False)
    assert at("src/c.rs", 4, "Thing::new").symbol == "crate::a::Thing"
    assert at("src/c.rs", 4, "Other").symbol == "crate::a::Other"
    own = at("src/b.rs", 7, "touch")
    assert not own.abstained, own.reason
    assert own.symbol == "crate::b::Thing::touch"
    assert own.claims[0].anchors[0].path == "src/b.rs"
    memory.close()


def test_paths_through_glob_reexports(tmp_path):
    """`pub use self::imp::*;` (regex's literal module does this): `crate::literal::Searcher::empty`
    is `crate::literal::imp::Searcher::empty` (it was "`crate::literal` has no `Searcher`")."""
    root, memory, explainer = indexed_crate(tmp_path, {
        "Cargo.toml": '[package]\nname = "globs"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": "pub mod literal;\npub mod exec;\n",
        "src/literal/mod.rs": "pub use self::imp::*;\n\nmod imp;\n",
        "src/literal/imp.rs": "pub struct Searcher;\n\nimpl Searcher {\n    pub fn empty() -> Searcher {\n"
                              "        Searcher\n    }\n}\n",
        "src/exec.rs": "use crate::literal::Searcher;\n\npub fn make() -> Searcher {\n    Searcher::empty()\n}\n",
    })
    data = (root / "src/exec.rs").read_bytes()
    for line, col, symbol in ((1, 22, "crate::literal::imp::Searcher"), (4, 15, "crate::literal::imp::Searcher::empty"),
                              (4, 5, "crate::literal::imp::Searcher")):
        explanation = explain_at(explainer, "src/exec.rs", data, line, col)
        assert (explanation.symbol, explanation.abstained) == (symbol, False), explanation.reason
    memory.close()
