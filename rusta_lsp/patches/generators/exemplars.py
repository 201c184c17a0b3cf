"""(d) The repository's own fixes: a diagnostic that vanished after the user's edit becomes a
before/after exemplar, generalised into a template by error code:

- "wrap": the flagged expression kept, text added around it (`x` → `&x`, `v` → `v.clone()`);
- "replace": the flagged text replaced by the same new text (`Rc` → `Arc`), reused only where the
  same text is flagged again.
"""

from __future__ import annotations

import hashlib

from ..candidate import Candidate, Edit, describe
from ..intent import kind_of
from ..diagnostics import Diagnostic
from . import GenContext

TABLE = "exemplars"
MAX_CONTEXT = 80  # bytes around the flagged span a user's change may reach to count as its fix
MAX_PER_DIAGNOSTIC = 3


def template(before: bytes, after: bytes, start: int, end: int) -> dict | None:
    """Generalise one change of a file around the span [start, end) of `before`, or None."""
    if before == after:
        return None
    head = 0
    limit = min(len(before), len(after))
    while head < limit and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < limit - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    old_lo, old_hi = head, len(before) - tail
    if old_lo < start - MAX_CONTEXT or old_hi > end + MAX_CONTEXT:
        return None  # the change happened elsewhere: not this diagnostic's fix
    lo, hi = min(old_lo, start), max(old_hi, end)
    old = before[lo:hi]
    new = after[lo : hi + len(after) - len(before)]
    flagged = before[start:end]
    i = new.find(flagged) if flagged else -1
    if old == flagged and i >= 0:
        return {"kind": "wrap", "prefix": new[:i].decode("utf-8", "replace"),
                "suffix": new[i + len(flagged):].decode("utf-8", "replace")}
    if old == flagged:
        return {"kind": "replace", "before": old.decode("utf-8", "replace"),
                "after": new.decode("utf-8", "replace")}
    return None


def exemplar_row(diag: Diagnostic, before: bytes, after: bytes) -> dict | None:
    span = diag.primary
    if span is None:
        return None
    tpl = template(before, after, span.byte_start, span.byte_end)
    if tpl is None:
        return None
    row = {
        "code": diag.code or "", "message": diag.message, "path": span.path,
        "kind": tpl["kind"], "prefix": tpl.get("prefix", ""), "suffix": tpl.get("suffix", ""),
        "before": tpl.get("before", before[span.byte_start:span.byte_end].decode("utf-8", "replace")),
        "after": tpl.get("after", ""),
    }
    ident = "|".join(str(row[k]) for k in ("code", "kind", "prefix", "suffix", "before", "after"))
    row["id"] = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return row


def load(memory) -> list[dict]:
    """The repository's exemplars, and the teammates' when there is a team memory."""
    if memory is None:
        return []
    try:
        return list(memory.learned(TABLE))
    except Exception:  # noqa: BLE001 — no table yet, or a memory without exemplars
        return []


def generate(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    span = diag.primary
    if span is None or not ctx.is_local(span.path) or not diag.code:
        return []
    if ctx.exemplars is None:
        ctx.exemplars = load(ctx.memory)
    flagged = ctx.span_text(span)
    counts: dict[str, int] = {}
    for row in ctx.exemplars:
        if row.get("code") != diag.code or row.get("retired"):
            continue  # another error's, or one reflection found no longer holds for the code
        if row.get("kind") == "wrap":
            new = f"{row.get('prefix', '')}{flagged}{row.get('suffix', '')}"
        elif row.get("kind") == "replace" and row.get("before") == flagged:
            new = row.get("after", "")
        else:
            continue
        if new != flagged:
            counts[new] = counts.get(new, 0) + 1
    out = []
    for new, seen in sorted(counts.items(), key=lambda kv: -kv[1])[:MAX_PER_DIAGNOSTIC]:
        edits = (Edit(span.path, span.byte_start, span.byte_end, new),)
        out.append(Candidate(diag, describe(edits, ctx.contents), edits, "exemplars", kind=kind_of(edits, ctx),
                             extra={"exemplars": seen}))
    return out
