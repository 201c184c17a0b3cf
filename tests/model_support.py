"""Tiny randomly initialised transformers models, saved like hub models, for the loading and
generation paths: nothing is downloaded, and their output is noise."""

from __future__ import annotations

from pathlib import Path


def tiny_encoder(folder: Path, hidden: int = 32) -> Path:
    """A randomly initialised BERT with its own word-piece vocabulary (the embedder's kind)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "fn", "ledger", "apply", "add", "new",
             "struct", "deposit", "balance", "crate", "store", "pub", "u64", "the", "a", ":", "(", ")"]
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n")
    BertTokenizer(vocab_file=str(vocab)).save_pretrained(folder)
    config = BertConfig(vocab_size=len(words), hidden_size=hidden, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    return folder


def tiny_causal_lm(folder: Path, corpus: list[str], *, pad: bool = False, layers: int = 1) -> Path:
    """A randomly initialised GPT-2 with a byte-level BPE trained on `corpus` (the generators'
    kind). With `pad`, the tokenizer has a padding token and it is id 0 (end of sequence is 1)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<pad>", "<eos>"] if pad else ["<eos>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(corpus * 20, trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<eos>", pad_token="<pad>" if pad else None)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=32, n_layer=layers, n_head=2,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder
