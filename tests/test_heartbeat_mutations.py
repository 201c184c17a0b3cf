"""The mutation engine: sites per kind, determinism, and real rustc codes on a real crate."""

from __future__ import annotations

from pathlib import Path

import pytest

from rusta_lsp.config import RustaConfig
from rusta_lsp.heartbeat.mutations import MUTATION_KINDS, Mutation, find_mutations, mutation_corpus
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


def test_every_kind_has_sites_with_their_original_text():
    found = find_mutations(SNIPPET, "src/lib.rs")
    assert {m.kind for m in found} == set(MUTATION_KINDS)
    for m in found:
        assert SNIPPET[m.start_byte : m.end_byte].decode() == m.original
        assert m.apply(SNIPPET) != SNIPPET
        assert m.expected_codes


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


@pytest.mark.slow
def test_mutations_produce_their_intended_codes_under_cargo(tmp_path: Path):
    crate = copy_debian_crate("humantime-2.1.0", tmp_path / "humantime")
    config = RustaConfig()
    config.memory.uri = str(tmp_path / "memory")
    shadow = ShadowWorkspace.for_workspace(crate, config)
    oracle = CargoOracle(["check", "--lib"])
    shadow.sync()
    assert oracle.check(shadow.mirror, shadow.target).errors == []

    corpus = mutation_corpus(crate, seed=0, per_kind=1)
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
