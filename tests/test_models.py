"""One model loader for the embedder, the patch generator and the prose model: local files only
(nothing is downloaded at run time), and padding that takes id 0 for the valid id it is."""

from __future__ import annotations

import socket

import pytest
from model_support import tiny_causal_lm, tiny_encoder

from rusta_lsp.explain.prose import Prose
from rusta_lsp.memory.embedder import Embedder
from rusta_lsp.models import CAUSAL, ENCODER, load_model, pad_token_id
from rusta_lsp.patches.generators import model as generator

pytestmark = pytest.mark.slow
CORPUS = ["fn main() { let x: u64 = y.into(); }", "Ledger::new creates an empty ledger."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"encoder": tiny_encoder(folder / "encoder"),
            "causal": tiny_causal_lm(folder / "causal", CORPUS),
            "padded": tiny_causal_lm(folder / "padded", CORPUS, pad=True)}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_every_model_loads_from_local_files_only(models, monkeypatch, no_network):
    import transformers

    calls = []
    for auto in (transformers.AutoTokenizer, transformers.AutoModel, transformers.AutoModelForCausalLM):
        real = auto.from_pretrained.__func__

        def spy(cls, name, *args, _real=real, **kwargs):
            calls.append((cls.__name__, str(name), kwargs.get("local_files_only")))
            return _real(cls, name, *args, **kwargs)

        monkeypatch.setattr(auto, "from_pretrained", classmethod(spy))
    embedder = Embedder(str(models["encoder"]))
    assert embedder.available, embedder.error
    monkeypatch.setattr(generator, "_loaded", {})
    tokenizer, model = generator.load(str(models["causal"]), "cpu")
    prose = Prose.load(str(models["padded"]), "cpu")
    assert prose.generate("Ledger::new", max_new_tokens=4) is not None
    assert {(cls, path) for cls, path, _ in calls} == {
        ("AutoTokenizer", str(models["encoder"])), ("AutoModel", str(models["encoder"])),
        ("AutoTokenizer", str(models["causal"])), ("AutoModelForCausalLM", str(models["causal"])),
        ("AutoTokenizer", str(models["padded"])), ("AutoModelForCausalLM", str(models["padded"])),
    }
    assert all(local is True for _, _, local in calls), calls


def test_a_model_that_is_not_here_is_an_error_not_a_download(tmp_path, no_network):
    with pytest.raises(OSError):
        load_model("rusta-tests/not-in-the-cache", CAUSAL)
    with pytest.raises(FileNotFoundError, match="no model folder"):
        load_model(str(tmp_path / "missing"), ENCODER)


def test_padding_id_zero_is_kept(models):
    from transformers import AutoTokenizer

    padded = AutoTokenizer.from_pretrained(models["padded"])
    assert (padded.pad_token_id, padded.eos_token_id) == (0, 1)
    assert pad_token_id(padded) == 0  # `pad or eos` would have padded with the end-of-sequence token
    unpadded = AutoTokenizer.from_pretrained(models["causal"])
    assert unpadded.pad_token_id is None
    assert pad_token_id(unpadded) == unpadded.eos_token_id
