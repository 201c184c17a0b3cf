"""Verification's syntax pre-check: incremental re-parses agree with parsing the patched text."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rusta_lsp.analysis.parser import parse_tree
from rusta_lsp.patches.candidate import Edit, apply_edits
from rusta_lsp.patches.verify import _reparsed

SOURCE = (Path(__file__).resolve().parent.parent / "examples/ledger/src/store.rs").read_bytes()
TREE = parse_tree(SOURCE)
TOKENS = ["&", "mut ", "?", ".clone()", "(", ")", "{", "}", ";", "\n", "é", "x", " as u64", "\"", "'a"]


@st.composite
def edits(draw):
    """Up to three non-overlapping edits of the file: deletions, insertions, replacements."""
    cuts = sorted(draw(st.lists(st.integers(0, len(SOURCE)), min_size=2, max_size=6, unique=True)))
    out = []
    for start, end in zip(cuts[::2], cuts[1::2]):
        end = min(end, start + draw(st.integers(0, 12)))
        text = "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=3)))
        out.append(Edit("src/store.rs", start, end, text))
    return out


@settings(max_examples=150, deadline=None)
@given(edits())
def test_incremental_reparse_matches_a_full_parse(patch):
    if any(SOURCE[e.start:e.end].decode("utf-8", "ignore").encode() != SOURCE[e.start:e.end] for e in patch):
        return  # a cut inside a multi-byte character: no edit of ours does that
    patched = apply_edits(SOURCE, patch)
    assert str(_reparsed(TREE, SOURCE, patch).root_node) == str(parse_tree(patched).root_node)
