"""The mutation engine: sites per kind, determinism, and real rustc codes on a real crate."""

from __future__ import annotations

from pathlib import Path

import pytest

from rusta_lsp.config import RustaConfig
from rusta_lsp.heartbeat.mutations import (
    IN_PROGRESS_KINDS, MUTATION_KINDS, NO_FIX_KINDS, Mutation, find_mutations, mutation_corpus,
)
from rusta_lsp.patches.oracle import CargoOracle
from rusta_lsp.patches.shadow import ShadowWorkspace

from debian_crates import REGISTRY, copy_debian_crate

SNIPPET = b"""use std::collections::HashMap;
struct Point { left: i64, top: i64 }
enum Dir { Up, Down }
fn area(p: &Point, scale: i64) -> i64 { p.left * p.top * scale }
fn run(items: &mut Vec<String>, d: Dir) -> Result<usize, std::num::ParseIntError> {
    let mut total: u32 = 0;
    let name = items[0].clone();
    let first = &name;
    let n: usize = first.parse()?;
    let p = Point { left: 1, top: 2 };
    let m: HashMap<String, Point> = HashMap::new();
    total += *&3;
    items.push(name);
    match d {
        Dir::Up => total += 1,
        Dir::Down => total += 2,
    }
    Ok(n + area(&p, 2) as usize + m.len() + total as usize)
}
"""


# Code about to be changed: a function tests assert on, imports with one user each.
IN_PROGRESS_SNIPPET = b"""use std::fmt;
use std::collections::BTreeMap;
fn width(max_len: usize, pad: usize) -> usize {
    let min_len = max_len / 2;
    min_len + pad
}
fn label(n: usize) -> String {
    let text = format!("{}", n + 1);
    text
}
struct Wide;
impl fmt::Display for Wide {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { write!(f, "{}", label(3)) }
}
fn report() {
    BTreeMap::<u8, u8>::new();
}
#[cfg(test)]
mod tests {
    #[test]
    fn widths() { assert_eq!(super::width(4, 1), 3); }
}
"""


def test_every_kind_has_sites_with_their_original_text():
    found = [(SNIPPET, m) for m in find_mutations(SNIPPET, "src/lib.rs")]
    found += [(IN_PROGRESS_SNIPPET, m) for m in find_mutations(IN_PROGRESS_SNIPPET, "src/lib.rs")]
    assert {m.kind for _, m in found} == set(MUTATION_KINDS)
    for source, m in found:
        assert source[m.start_byte : m.end_byte].decode() == m.original
        assert m.apply(source) != source
        assert m.expected_codes


def test_code_in_progress_kinds_leave_what_the_author_will_write():
    by_kind = {}
    for m in find_mutations(IN_PROGRESS_SNIPPET, "src/lib.rs", kinds=IN_PROGRESS_KINDS):
        by_kind.setdefault(m.kind, []).append(m)
        assert m.no_fix and m.kind in NO_FIX_KINDS
    mutated = lambda kind: by_kind[kind][0].apply(IN_PROGRESS_SNIPPET).decode()  # noqa: E731
    assert "-> Option<usize> {\n    todo!()\n}" in mutated("unfinished_producer")  # `width`, asserted on
    assert [m.original.split("(")[0] for m in by_kind["unwritten_fn"]] == ["fn label"]  # called by `fmt`
    assert all(m.replacement in ("{}", "{\n    // TODO\n}") for m in by_kind["empty_body"])
    assert "let min_len" not in mutated("undeclared_local") and "min_len + pad" in mutated("undeclared_local")
    # Each import's only user deleted: a statement, or the impl block holding every use.
    orphans = {m.original.split("\n")[0]: m.apply(IN_PROGRESS_SNIPPET).decode() for m in by_kind["orphan_import"]}
    assert set(orphans) == {"use std::fmt;", "use std::collections::BTreeMap;"}
    assert "#[deny(unused_imports)]\nuse std::collections::BTreeMap;" in orphans["use std::collections::BTreeMap;"]
    assert "BTreeMap::<u8, u8>::new();" not in orphans["use std::collections::BTreeMap;"]
    assert "impl fmt::Display" not in orphans["use std::fmt;"] and "fn report()" in orphans["use std::fmt;"]
    # A name not declared anywhere, one word of a local's name swapped for a like-spelt word.
    for m in by_kind["near_miss_name"]:
        old, new = m.original.split("_"), m.replacement.split("_")
        assert m.replacement not in IN_PROGRESS_SNIPPET.decode() and len(old) == len(new)
        assert sum(a != b for a, b in zip(old, new)) == 1


def test_mutations_are_deterministic_and_seeded():
    a = find_mutations(SNIPPET, "src/lib.rs", seed=1)
    b = find_mutations(SNIPPET, "src/lib.rs", seed=1)
    c = find_mutations(SNIPPET, "src/lib.rs", seed=2)
    assert a == b
    typos = lambda ms: [m.replacement for m in ms if m.kind.startswith("misspell")]
    assert typos(a) != typos(c)
    assert [Mutation.from_json(m.to_json()) for m in a] == a


def test_apply_refuses_a_changed_source():
    m = next(m for m in find_mutations(SNIPPET, "src/lib.rs") if m.kind == "drop_clone")
    with pytest.raises(ValueError):
        m.apply(SNIPPET.replace(b".clone()", b".to_owned()"))


def test_test_code_and_macro_arguments_are_left_alone():
    source = b"""fn f(v: Vec<u8>) -> usize { println!("{}", v.clone().len()); v.len() }
#[cfg(test)]
mod tests { fn g(v: Vec<u8>) -> Vec<u8> { v.clone() } }
"""
    found = find_mutations(source, "src/lib.rs")
    assert not [m for m in found if m.kind == "drop_clone"]
    assert all(m.line == 1 for m in found)


def shadow_of(crate: str, tmp_path: Path) -> tuple[Path, ShadowWorkspace]:
    """A copy of a Debian crate and a shadow of it (mutations are checked there, as overlays)."""
    root = copy_debian_crate(crate, tmp_path / crate)
    config = RustaConfig()
    config.memory.uri = str(tmp_path / "memory")
    return root, ShadowWorkspace.for_workspace(root, config)


@pytest.mark.slow
def test_mutations_produce_their_intended_codes_under_cargo(tmp_path: Path):
    crate, shadow = shadow_of("humantime-2.1.0", tmp_path)
    oracle = CargoOracle(["check", "--lib"])
    shadow.sync()
    assert oracle.check(shadow.mirror, shadow.target).errors == []

    corpus = mutation_corpus(crate, seed=0, per_kind=1, kinds=[k for k in MUTATION_KINDS if k not in IN_PROGRESS_KINDS])
    assert len({m.kind for m in corpus}) >= 12  # humantime has no `.clone()` outside tests
    hits = {}
    for m in corpus:
        mutated = m.apply((crate / m.path).read_bytes()).decode()
        shadow.sync(overlays={m.path: mutated})
        codes = {d.code for d in oracle.check(shadow.mirror, shadow.target).errors}
        hits[m.kind] = bool(codes & set(m.expected_codes))
    shadow.sync()  # the mirror is back to the user's text
    assert oracle.check(shadow.mirror, shadow.target).errors == []
    missed = [k for k, hit in hits.items() if not hit]
    assert len(missed) <= 2, missed
    for rel in {m.path for m in corpus}:  # the user's files were never written
        assert (crate / rel).read_bytes() == (REGISTRY / "humantime-2.1.0" / rel).read_bytes()


@pytest.mark.slow
def test_code_in_progress_kinds_produce_their_codes_under_cargo(tmp_path: Path):
    crate, shadow = shadow_of("either-1.6.1", tmp_path)
    oracle = CargoOracle(["check", "--all-targets"])
    # (src/lib.rs: its other files build only with the serde feature.)
    corpus = mutation_corpus(crate, seed=0, per_kind=1, kinds=IN_PROGRESS_KINDS, files=[crate / "src" / "lib.rs"])
    assert {m.kind for m in corpus} == {"empty_body", "orphan_import", "unwritten_fn"}
    for m in corpus:
        shadow.sync(overlays={m.path: m.apply((crate / m.path).read_bytes()).decode()})
        codes = {d.code for d in oracle.check(shadow.mirror, shadow.target).errors}
        assert codes & set(m.expected_codes), (m.kind, codes)
