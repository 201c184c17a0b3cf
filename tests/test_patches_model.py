"""The optional language-model generator, with a tiny randomly initialised GPT-2 made here:
its output is garbage, and verification must reject every bit of it (the abstention path)."""

from __future__ import annotations

import pytest
from model_support import tiny_causal_lm
from patches_support import config_for, copy_example

from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.generators import model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    corpus = ["fn main() { let x: u64 = y.into(); shout(&name); }", "error[E0308]: mismatched types"]
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-gpt2"), corpus, pad=True)


def test_random_model_output_is_never_verified(tmp_path, tiny_gpt2):
    root = copy_example("broken-types", tmp_path / "ws")
    config = config_for(tmp_path / "memory", model={"generator": str(tiny_gpt2)})
    engine = PatchEngine(root, config, generators=(model,))
    report = engine.fix()
    assert report.fixes
    tried = sum(f.tried for f in report.fixes)
    assert tried > 0  # the model did propose lines
    for fix in report.fixes:
        assert fix.abstained and fix.patches == []
        if fix.tried:  # cargo refused them, or a never-rule held them back before cargo ran
            assert "none verified by cargo" in fix.reason or fix.held_back in fix.reason
