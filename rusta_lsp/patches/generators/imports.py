"""(b) `use` of an item the memory index knows, for unresolved names, types and traits.

E0425/E0412/E0433/E0432 name the missing item; E0599 names a method whose trait is not in
scope, so the trait that declares the method is imported.
"""

from __future__ import annotations

import re

from ..candidate import Candidate, Edit
from ..diagnostics import Diagnostic
from . import GenContext

CODES = {"E0425", "E0412", "E0433", "E0432", "E0599", "E0422", "E0423", "E0405", "E0531"}
TYPE_KINDS = {"struct", "enum", "trait", "type", "union"}
VALUE_KINDS = {"fn", "const", "static", "struct", "variant"}
KINDS = {
    "E0412": TYPE_KINDS, "E0405": {"trait"}, "E0422": {"struct", "variant", "type"},
    "E0425": VALUE_KINDS, "E0423": VALUE_KINDS, "E0531": {"struct", "variant", "const"},
    "E0433": TYPE_KINDS | {"mod"}, "E0432": TYPE_KINDS | VALUE_KINDS | {"mod", "macro"},
}
MAX_PER_DIAGNOSTIC = 3
USE_LINE = re.compile(rb"^(pub(\([^)]*\))?\s+)?use\s[^;]*;[ \t]*\r?\n", re.M)
HEADER_LINE = re.compile(rb"(//!.*|#!\[.*\]\s*|\s*)\r?\n")


def use_insertion_point(text: bytes) -> int:
    """Byte offset where a new `use` line goes: after the file's first block of `use` lines,
    else after its inner doc comments and attributes."""
    uses = list(USE_LINE.finditer(text))
    if uses:
        end = uses[0].end()
        for m in uses[1:]:
            if m.start() != end:
                break
            end = m.end()
        return end
    at = 0
    while (m := HEADER_LINE.match(text, at)) and m.end() > at:
        at = m.end()
    return at


def use_edit(path: str, text: bytes, qualified: str) -> Edit:
    at = use_insertion_point(text)
    return Edit(path, at, at, f"use {qualified};\n")


def missing_name(diag: Diagnostic) -> str | None:
    if diag.code == "E0599":
        m = re.search(r"no method named `(\w+)`", diag.message)
    else:
        m = re.search(r"`(?:[\w:]*::)?(\w+)`", diag.message)
    return m.group(1) if m else None


def generate(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    span = diag.primary
    if ctx.memory is None or diag.code not in CODES or span is None or not ctx.is_local(span.path):
        return []
    name = missing_name(diag)
    if not name:
        return []
    try:
        records = ctx.memory.lookup_name(name)
    except Exception:  # noqa: BLE001 — a memory that cannot answer only means no candidates
        return []
    paths = []
    for rec in records:
        if rec.is_test or rec.kind in ("use", "impl"):
            continue
        if diag.code == "E0599":
            # A trait method: import the trait that declares it.
            if rec.kind == "method" and rec.parent and _is_trait(rec.parent, ctx):
                paths.append(rec.parent)
            continue
        if rec.kind in KINDS.get(diag.code, TYPE_KINDS | VALUE_KINDS):
            paths.append(rec.qualified)
    out = []
    text = ctx.text(span.path)
    for qualified in list(dict.fromkeys(paths))[:MAX_PER_DIAGNOSTIC]:
        edit = use_edit(span.path, text, qualified)
        out.append(Candidate(diag, f"add `use {qualified};`", (edit,), "imports"))
    return out


def _is_trait(parent: str, ctx: GenContext) -> bool:
    try:
        records = ctx.memory.lookup_name(parent.rsplit("::", 1)[-1])
        return any(r.kind == "trait" and r.qualified == parent for r in records)
    except Exception:  # noqa: BLE001
        return False

