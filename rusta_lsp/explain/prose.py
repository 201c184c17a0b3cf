"""Optional generated prose: a causal language model summarises the anchored claims.

The model only rephrases evidence. Each generated sentence is kept when it can be tied to
claims: it cites them (`[2]`) or most of its words come from at most two claims; it then carries
those claims' anchors. Everything else, including anything a small or random model invents, is dropped.
"""

from __future__ import annotations

import re
import threading

from ..models import CAUSAL, load_model, pad_token_id
from .claims import Claim, Explanation

MAX_NEW_TOKENS = 64
MIN_OVERLAP = 0.6  # share of a sentence's content words that must come from its claims
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CITATION = re.compile(r"\s*\[(\d+)\]")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_STOP = {
    "the", "and", "for", "with", "this", "that", "are", "was", "its", "from", "into", "which",
    "when", "has", "have", "can", "not", "but", "also", "used", "there", "their", "then", "than",
}  # fmt: skip


def content_words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def prompt(explanation: Explanation) -> str:
    lines = [f"Evidence about `{explanation.symbol}`:"]
    lines += [f"[{n}] {claim.text}" for n, claim in enumerate(explanation.claims, 1)]
    lines.append("Summary in two sentences, citing the evidence numbers like [1]:")
    return "\n".join(lines) + "\n"


def tie_sentences(text: str, claims: list[Claim]) -> list[Claim]:
    """Generated sentences that can be tied to claims, each with those claims' anchors."""
    kept: list[Claim] = []
    seen: set[str] = set()
    vocab = [content_words(c.text) for c in claims]
    for raw in _SENTENCE.split(text.strip()):
        numbers = [int(n) for n in _CITATION.findall(raw)]
        if any(not 0 < n <= len(claims) for n in numbers):
            continue  # cites evidence that does not exist
        cited = sorted({n - 1 for n in numbers})
        sentence = re.sub(r"\s+", " ", _CITATION.sub("", raw)).strip()
        words = content_words(sentence)
        if len(words) < 2 or sentence in seen:
            continue
        if not cited:  # uncited: tie it to the claims it borrows words from, most first
            cited = _cover(words, vocab)
        support = set().union(*(vocab[i] for i in cited)) if cited else set()
        if not cited or len(words & support) / len(words) < MIN_OVERLAP:
            continue
        seen.add(sentence)
        anchors = [a for i in cited for a in claims[i].anchors]
        kept.append(Claim(sentence, list(dict.fromkeys(anchors))))
    return kept


def _cover(words: set[str], vocab: list[set[str]], most: int = 2) -> list[int]:
    """Greedily pick the claims that cover most of the sentence's words."""
    left, picked = set(words), []
    for _ in range(most):
        best = max(range(len(vocab)), key=lambda i: len(left & vocab[i]), default=None)
        if best is None or not left & vocab[best]:
            break
        picked.append(best)
        left -= vocab[best]
    return sorted(picked)


class Prose:
    """A transformers causal LM (local path or Hugging Face id) on cuda, mps or cpu."""

    def __init__(self, model, tokenizer, device: str):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self._lock = threading.Lock()  # one generation at a time per model

    @classmethod
    def load(cls, name_or_path: str, device_setting: str = "auto") -> "Prose":
        tokenizer, model, device = load_model(name_or_path, CAUSAL, device_setting)
        tokenizer.truncation_side = "left"  # keep the instruction at the end of the prompt
        return cls(model, tokenizer, device)

    def generate(self, text: str, max_new_tokens: int = MAX_NEW_TOKENS) -> str:
        import torch

        limit = getattr(self.model.config, "n_positions", None) or getattr(
            self.model.config, "max_position_embeddings", 1024)
        inputs = self.tokenizer(text, return_tensors="pt", truncation=True,
                                max_length=max(8, limit - max_new_tokens)).to(self.device)
        with self._lock, torch.no_grad():
            output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=pad_token_id(self.tokenizer))
        new_tokens = output[0, inputs["input_ids"].shape[1]:]
        return self.tokenizer.decode(new_tokens, skip_special_tokens=True)

    def summarize(self, explanation: Explanation) -> list[Claim]:
        return tie_sentences(self.generate(prompt(explanation)), explanation.claims)
