"""(b) `use` of an item the memory index knows, for unresolved names, types and traits.

E0425/E0412/E0433/E0432 name the missing item; E0599 names a method whose trait is not in
scope, so the trait that declares the method is imported. An item is offered by its own path
and by the re-exports the workspace's files import it by (its module may be private).
"""

from __future__ import annotations

import re
from collections import Counter

from ...analysis.parser import analyze_source
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
    paths = []
    for rec in _lookup(ctx, "lookup_name", name):
        if rec.is_test or rec.kind in ("use", "impl"):
            continue
        if diag.code == "E0599":
            # A trait method: import the trait that declares it.
            if rec.kind == "method" and rec.parent and _is_trait(rec.parent, ctx):
                paths.extend(import_paths(rec.parent, ctx))
            continue
        if rec.kind in KINDS.get(diag.code, TYPE_KINDS | VALUE_KINDS):
            paths.extend(import_paths(rec.qualified, ctx))
    out = []
    text = ctx.text(span.path)
    for qualified in list(dict.fromkeys(paths))[:MAX_PER_DIAGNOSTIC]:
        edit = use_edit(span.path, text, qualified)
        out.append(Candidate(diag, f"add `use {qualified};`", (edit,), "imports", kind="add_import"))
    return out


def import_paths(qualified: str, ctx: GenContext) -> list[str]:
    """`qualified`; and when a private module hides it (`crate::visit::traversal::Walker`), also
    the paths the workspace's own `use`s import it by from an enclosing module
    (`crate::visit::Walker`), most imported first."""
    if not _behind_private_module(qualified, ctx):
        return [qualified]
    module, _, name = qualified.rpartition("::")
    counts = Counter({qualified: 0})
    for use in _lookup(ctx, "lookup_name", name, "use"):
        if use.is_test:
            continue
        # The stored signature is the whole `use` tree: parse it where it stands to resolve it.
        for item in analyze_source(use.signature + ";", use.path, use.qualified.rpartition("::")[0]).items:
            via = (item.use_target or "").rpartition("::")[0]
            if item.name == name and via and (module == via or module.startswith(via + "::")):
                counts[item.use_target] += 1
    return sorted(counts, key=lambda path: -counts[path])  # stable: the item's own path wins ties


def _behind_private_module(qualified: str, ctx: GenContext) -> bool:
    """Whether a private module below the crate root's children lies on the path: such a module
    is hidden outside its parent (the root's own children are visible everywhere in the crate)."""
    parts = qualified.split("::")
    for end in range(3, len(parts)):
        mods = [r for r in _lookup(ctx, "lookup_path", "::".join(parts[:end])) if r.kind == "mod"]
        if mods and not any(r.visibility for r in mods):
            return True
    return False


def _lookup(ctx: GenContext, method: str, *args) -> list:
    """`ctx.memory.<method>(*args)`, asked once per run: several errors name the same item."""
    key = (method, *args)
    if key not in ctx.lookups:
        try:
            ctx.lookups[key] = getattr(ctx.memory, method)(*args)
        except Exception:  # noqa: BLE001 — a memory that cannot answer only means fewer candidates
            ctx.lookups[key] = []
    return ctx.lookups[key]


def _is_trait(parent: str, ctx: GenContext) -> bool:
    records = _lookup(ctx, "lookup_name", parent.rsplit("::", 1)[-1])
    return any(r.kind == "trait" and r.qualified == parent for r in records)
