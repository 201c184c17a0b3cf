"""The embedder (packaged MiniLM, a tiny random BERT, broken models) and hybrid retrieval."""

from __future__ import annotations


import numpy as np
import pytest

from memory_support import write_ledger_crate
from model_support import tiny_encoder
from rusta_lsp.device import pick_device
from rusta_lsp.memory.embedder import Embedder
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.retrieval import search
from rusta_lsp.memory.store import Memory


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return Embedder()


@pytest.mark.slow
def test_packaged_minilm_embeds_offline_with_meaning(minilm, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = [
        "Returns an iterator over all non-overlapping matches of the regex in the text",
        "fn find_iter(&self, text: &str) -> Matches  // iterate over every match",
        "Opens a TCP connection to the remote host and port",
    ]
    vectors = minilm.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2
    assert minilm.max_length == 256 and minilm.device == pick_device("auto")


def test_batches_give_the_same_vectors_as_one_by_one(tmp_path):
    import torch

    # The server's embedder, on one CPU thread (the model's threads are the process's).
    cores = torch.get_num_threads()
    tiny = Embedder(str(tiny_encoder(tmp_path / "tiny")), batch_size=2, threads=1)
    texts = ["fn apply", "pub struct ledger store with a much longer text than the rest", "add", "new u64"]
    try:
        batched = tiny.embed(texts)
        assert torch.get_num_threads() == 1
        single = np.concatenate([tiny.embed([t]) for t in texts])
    finally:
        torch.set_num_threads(cores)
    assert np.allclose(batched, single, atol=1e-5)  # padding and the mask don't leak into the mean


def test_a_batch_of_long_texts_goes_through_in_parts_with_the_same_vectors(tmp_path, monkeypatch):
    tiny = Embedder(str(tiny_encoder(tmp_path / "tiny")), batch_size=8)
    texts = [("ledger apply deposit balance " * n).strip() for n in range(1, 9)]
    whole = tiny.embed(texts)
    passes = []
    model = tiny._model
    monkeypatch.setattr("rusta_lsp.memory.embedder.TOKENS_PER_PASS", 40)  # ~1 row of the longest texts
    monkeypatch.setattr(tiny, "_model", lambda **part: passes.append(len(part["input_ids"])) or model(**part))
    parted = tiny.embed(texts)
    assert len(passes) > 1 and max(passes) < len(texts)
    assert np.allclose(whole, parted, atol=1e-5)


def test_tiny_random_model_runs_the_real_loading_and_hybrid_path(tmp_path):
    model = tiny_encoder(tmp_path / "tiny", hidden=32)
    embedder = Embedder(str(model))
    assert embedder.available and embedder.dim == 32 and embedder.max_length == 64
    root = write_ledger_crate(tmp_path / "ledger")
    with Memory.open(str(tmp_path / "m"), root, embedder=embedder) as memory:
        result = Ingestor(memory, root).run()
        embeddable = [i for f in ("src/lib.rs", "src/store.rs") for i in memory.items_in_file(f) if i.kind != "use"]
        assert result.embedded == len(embeddable) > 5
        vector_hits = search(memory, "apply deposit", k=3, mode="vector")
        assert len(vector_hits) == 3 and all(h.score > 0 for h in vector_hits)
        hybrid = search(memory, "apply deposit", k=5)
        # A random model ranks at random, but the best full-text match survives the fusion.
        assert "apply" in [h.item.name for h in hybrid if h.item]
        # An edit re-embeds only what changed: unchanged items keep their vectors.
        before = memory.embedded_hashes()
        lib = root / "src/lib.rs"
        lib.write_text(lib.read_text() + "\n/// Doubles.\npub fn double(a: u64) -> u64 { a * 2 }\n")
        Ingestor(memory, root).update_paths(["src/lib.rs"])
        after = memory.embedded_hashes()
        assert before < after and len(after - before) == 1  # only `double` was embedded
        # A model with another width replaces the vectors instead of mixing them.
        wider = Embedder(str(tiny_encoder(tmp_path / "wider", hidden=48)))
        memory.embedder = wider
        assert Ingestor(memory, root, embedder=wider).embed_pending() >= len(embeddable)
        assert any("embedding model changed" in m for m in memory.messages)
        assert memory.vector_model() == str(tmp_path / "wider")
        assert search(memory, "apply deposit", k=3, mode="vector")


def test_missing_or_broken_model_is_a_message_and_full_text_keeps_working(tmp_path):
    missing = Embedder(str(tmp_path / "no-such-model"))
    assert not missing.available and "no model folder" in missing.error
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    (broken_dir / "config.json").write_text("{not json")
    broken = Embedder(str(broken_dir))
    assert not broken.available and "could not be loaded" in broken.error
    root = write_ledger_crate(tmp_path / "ledger")
    with Memory.open(str(tmp_path / "m"), root, embedder=broken) as memory:
        result = Ingestor(memory, root).run()
        assert result.embedded == 0 and result.items > 5
        assert search(memory, "deposit", k=3)[0].item.name == "apply"
        assert search(memory, "deposit", k=3, mode="vector") == []


def test_pick_device_honours_the_setting_and_falls_back_to_cpu():
    import torch

    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device("auto") == expected
    assert pick_device("cpu") == "cpu"
    assert pick_device("cuda") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("mps") == ("mps" if torch.backends.mps.is_available() else "cpu")


def test_a_new_model_replaces_the_vectors_only_once_it_has_embedded_everything(tmp_path, monkeypatch):
    """Changing `model.embedding`: the old model's vectors serve until the new one has embedded
    every text; an interrupted re-embedding keeps them, and goes on where it stopped."""
    import rusta_lsp.memory.ingest as ingest
    from rusta_lsp.cancel import Cancelled, CancelToken

    root = write_ledger_crate(tmp_path / "ledger")
    old = Embedder(str(tiny_encoder(tmp_path / "old", hidden=32)))
    new = Embedder(str(tiny_encoder(tmp_path / "new", hidden=48)))
    with Memory.open(str(tmp_path / "memory"), root, embedder=old) as memory:
        Ingestor(memory, root).run()
        total = len(memory.vector_matrix()[0])
        assert memory.has_vectors_of(old.name) and total > 8
    monkeypatch.setattr(ingest, "EMBED_BATCH", 4)
    with Memory.open(str(tmp_path / "memory"), root, embedder=new) as memory:
        stop = CancelToken()

        def after_two_batches(_, message: str) -> None:  # an edit, say
            if message.startswith("embedding 8/"):
                stop.cancel()

        with pytest.raises(Cancelled):
            Ingestor(memory, root).embed_pending(after_two_batches, stop)
        assert memory.vector_model() == old.name and memory.has_vectors_of(old.name)
        assert len(memory.vector_matrix()[0]) == total and memory.vector_matrix()[1].shape[1] == 32
    with Memory.open(str(tmp_path / "memory"), root, embedder=new) as memory:  # a restart goes on
        assert Ingestor(memory, root).embed_pending() == total - 8
        assert memory.vector_model() == new.name and memory.has_vectors_of(new.name)
        assert memory.vector_matrix()[1].shape == (total, 48)
        assert any("replaced the old ones" in m for m in memory.messages)
