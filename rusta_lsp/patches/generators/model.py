"""(e) Optional: a causal language model (`model.generator`) proposes a rewrite of the flagged line.

Prompted with the diagnostic, the lines around it and retrieved exemplars; samples N completions.
Whatever it says is only a candidate: verification in the shadow rejects what does not compile.
"""

from __future__ import annotations

import threading

from ...models import CAUSAL, load_model, pad_token_id
from ..candidate import Candidate, Edit, describe
from ..intent import kind_of
from ..diagnostics import Diagnostic
from . import GenContext

SAMPLES = 4
MAX_NEW_TOKENS = 48
_lock = threading.Lock()
_loaded: dict[str, tuple] = {}


def load(name: str, device: str):
    """The tokenizer and model for `name` (a local folder or a cached hub id), loaded once."""
    with _lock:
        if name not in _loaded:
            tokenizer, model, _ = load_model(name, CAUSAL, device)
            _loaded[name] = (tokenizer, model)
        return _loaded[name]


def prompt(diag: Diagnostic, ctx: GenContext, line: str, before: str, after: str) -> str:
    shots = [
        f"// error[{r.get('code')}]\n// before: {r.get('before', '')}\n// after: {r.get('prefix', '')}"
        f"{r.get('before', '') if r.get('kind') == 'wrap' else r.get('after', '')}{r.get('suffix', '')}\n"
        for r in (ctx.exemplars or []) if r.get("code") == diag.code
    ][:3]
    return (
        "".join(shots)
        + f"// error[{diag.code or ''}]: {diag.message}\n{before}{line}\n{after}"
        + "// the line above, fixed:\n"
    )


def generate(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    name = ctx.config.model.generator
    span = diag.primary
    if not name or span is None or not ctx.is_local(span.path):
        return []
    import torch

    text = ctx.text(span.path)
    start = text.rfind(b"\n", 0, span.byte_start) + 1
    end = text.find(b"\n", span.byte_start)
    end = len(text) if end < 0 else end
    before = text[max(0, start - 400) : start].decode("utf-8", "replace")
    after = text[end + 1 : end + 200].decode("utf-8", "replace")
    line = text[start:end].decode("utf-8", "replace")
    tokenizer, model = load(name, ctx.config.device)
    inputs = tokenizer(prompt(diag, ctx, line, before, after), return_tensors="pt").to(model.device)
    with torch.no_grad():
        outputs = model.generate(
            **inputs, do_sample=True, num_return_sequences=SAMPLES, max_new_tokens=MAX_NEW_TOKENS,
            pad_token_id=pad_token_id(tokenizer),
        )
    out = []
    for seq in outputs:
        completion = tokenizer.decode(seq[inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        new_line = completion.split("\n", 1)[0].rstrip()
        if not new_line.strip() or new_line == line:
            continue
        edits = (Edit(span.path, start, end, new_line),)
        if any(c.edits == edits for c in out):
            continue
        out.append(Candidate(diag, describe(edits, ctx.contents), edits, "model", kind=kind_of(edits, ctx)))
    return out
