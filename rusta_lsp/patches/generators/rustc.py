"""(a) rustc's own suggestions, every applicability, parts of one suggestion combined; their kind
is read from the edit (rustc does not say what a suggestion does to the author's code)."""

from __future__ import annotations

from ..candidate import Candidate, Edit, describe
from ..intent import kind_of
from ..diagnostics import Diagnostic
from . import GenContext


def generate(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    out = []
    seen = set()
    for sug in diag.suggestions():
        if not sug.parts or any(not ctx.is_local(p.path) for p in sug.parts):
            continue
        edits = tuple(Edit(p.path, p.byte_start, p.byte_end, p.new_text) for p in sug.parts)
        if frozenset(edits) in seen:
            continue
        seen.add(frozenset(edits))
        title = describe(edits, ctx.contents)
        out.append(Candidate(diag, title, edits, "rustc", sug.applicability, kind=kind_of(edits, ctx),
                             extra={"help": sug.message}))
    return out
