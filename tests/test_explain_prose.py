"""Generated prose: the real transformers loading and generation path with a tiny random GPT-2,
and the rule that a generated sentence survives only when it can be tied to an anchor."""

import json

import pytest

from explain_support import position, write_shop
from model_support import tiny_causal_lm
from rusta_lsp.cli import main
from rusta_lsp.explain.claims import Anchor, Claim, Explanation
from rusta_lsp.explain.prose import Prose, prompt, tie_sentences

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-gpt2"),
                          ["Ledger::new is a method of Ledger. Creates an empty ledger. Used by ring_up."], layers=2)


def claims():
    definition = Anchor("src/store.rs", 10, 13, "definition", "new")
    doc = Anchor("src/store.rs", 10, 10, "doc", "Creates")
    reference = Anchor("src/lib.rs", 19, 19, "reference", "new")
    return [
        Claim("`store::Ledger::new` is a method of `Ledger`, declared as `pub fn new() -> Self`.", [definition]),
        Claim("Docs: Creates an empty ledger.", [doc]),
        Claim("Used by `ring_up`.", [reference]),
    ]


def test_sentences_keep_only_what_evidence_supports():
    text = ("Ledger::new creates an empty ledger [2]. Ledger::new is used by ring_up. "
            "It also launches rockets into orbit. It is a method of Ledger [9].")
    kept = tie_sentences(text, claims())
    assert [c.text for c in kept] == ["Ledger::new creates an empty ledger.", "Ledger::new is used by ring_up."]
    assert kept[0].anchors == claims()[1].anchors  # the cited claim's anchor
    # Uncited: tied to the claims it borrows from (the definition and the caller).
    assert kept[1].anchors == claims()[0].anchors + claims()[2].anchors
    # Citing an existing claim does not launder a sentence the claim does not support.
    assert tie_sentences("Ledger::new deletes every database [1].", claims()) == []


def test_prompt_numbers_the_evidence():
    text = prompt(Explanation("crate::store::Ledger::new", False, None, claims()))
    assert "[1] `store::Ledger::new` is a method" in text and "[3] Used by `ring_up`." in text


def test_tiny_random_model_loads_generates_and_is_filtered(tiny_model):
    prose = Prose.load(str(tiny_model), "auto")
    assert prose.device in ("cpu", "cuda", "mps")
    explanation = Explanation("crate::store::Ledger::new", False, None, claims())
    generated = prose.generate(prompt(explanation), max_new_tokens=24)
    assert isinstance(generated, str) and generated  # the real generate() path ran
    for sentence in prose.summarize(explanation):
        assert sentence.anchors and all(a in [x for c in claims() for x in c.anchors] for a in sentence.anchors)


def test_cli_runs_the_generator_setting(tiny_model, tmp_path, capsys):
    root = write_shop(tmp_path / "shop")
    line, col = position(root, "src/lib.rs", "Ledger::new", 8)
    code = main(["explain", "--json", "--memory", str(tmp_path / "m"), "--set",
                 f"model.generator={tiny_model}", f"{root / 'src/lib.rs'}:{line}:{col}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert not payload["abstained"]
    assert all(claim["anchors"] for claim in payload["claims"])  # generated or not, every claim is anchored
