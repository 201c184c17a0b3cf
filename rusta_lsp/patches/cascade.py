"""Roots first: the errors that follow from another error.

An error that vanishes once another error's verified patch alone is applied in the shadow follows
from that error. It gets no patch of its own (a lost `use` brings type errors whose own patches are
wrong once the `use` is back) and its hint names the root. A unit (one verified edit set, the best
patch of one or more errors) is checked on its own in rustc's order of report, which is the order
it compiles in: names, then types, then borrows. Verification often ran it alone already; then
that run tells. Otherwise it costs a cargo run, so a unit is checked only when some error could
follow from it:

- an error new in this run (one that was there before the root appeared does not follow from it);
- of the root's phase or a later one: a type error causes no name error, a borrow error nothing;
  a name error follows only from a name error about the same name (`Entry` lost at the top of a
  file, `Entry` then unresolved in its test module behind `use super::*`);
- inside the function bodies the unit edits, when it edits nothing else: type inference is local
  to a function.
"""

from __future__ import annotations

import re

from .candidate import DiagnosticFix, Edit
from .diagnostics import Diagnostic
from .verify import BORROWCK_CODES, Verifier, error_key, function_body

# Errors of name resolution (imports, paths, unknown names), reported before any type error.
RESOLVE_CODES = frozenset({
    "E0403", "E0404", "E0405", "E0407", "E0408", "E0411", "E0412", "E0415", "E0416", "E0422", "E0423",
    "E0424", "E0425", "E0426", "E0428", "E0429", "E0430", "E0431", "E0432", "E0433", "E0434", "E0435",
    "E0437", "E0438", "E0531", "E0532", "E0574", "E0603", "E0659",
})
# Units checked on their own per run at most (one cargo run each, as many at once as shadows).
MAX_ROOT_CHECKS = 8
_NAME = re.compile(r"`([^`]+)`")


def phase(diag: Diagnostic) -> int:
    """0: name resolution, 1: types (and the rest), 2: borrow checking."""
    return 0 if diag.code in RESOLVE_CODES else 2 if diag.code in BORROWCK_CODES else 1


def follow_ons(fixes: list[DiagnosticFix], fresh: set[int], verifier: Verifier, errors: list[Diagnostic],
               contents: dict[str, bytes], cancel=None, built: set[str] | None = None) -> list[DiagnosticFix]:
    """Mark the errors that follow from another (`follows`, no patches, abstained with the reason)
    and return them. `fresh`: ids of the fixes new in this run (verified now, not cached)."""
    keyed = {error_key(f.diagnostic): f for f in fixes}
    units: dict[frozenset, list[DiagnosticFix]] = {}  # a verified edit set -> the errors it is best for
    for fix in fixes:  # in rustc's order
        if fix.patches and fix.follows is None:
            units.setdefault(fix.patches[0].edit_key, []).append(fix)
    open_ = [f for f in fixes if id(f) in fresh and f.follows is None]
    roots: set[int] = set()  # errors whose patch explained another: they follow from nothing
    followers: list[DiagnosticFix] = []
    pending = list(units.values())
    checks = 0
    while pending and checks < MAX_ROOT_CHECKS:
        wave = []
        while pending and len(wave) < len(verifier.ready) and checks + len(wave) < MAX_ROOT_CHECKS:
            owners = [f for f in pending.pop(0) if f.follows is None]
            if owners and any(id(f) not in roots and f.follows is None for f in _suspects(owners, open_, contents)):
                wave.append(owners)
        # Verification's own run of a unit alone this run already says what vanished with it.
        known = [u[0].patches[0].extra.get("gone") if id(u[0]) in fresh else None for u in wave]
        todo = [i for i, gone in enumerate(known) if gone is None]
        deltas = verifier.deltas([list(wave[i][0].patches[0].edits) for i in todo], errors, cancel, built)
        checks += len(todo)
        for i, delta in zip(todo, deltas):
            known[i] = delta.gone
        for owners, gone in zip(wave, known):
            if any(f.follows is not None for f in owners):
                continue  # marked by a unit before it in this wave: a follow-on's patch explains nothing
            root = owners[0]
            suspects = _suspects(owners, open_, contents)
            for key in gone:
                fix = keyed.get(key)
                if fix is None or fix not in suspects or fix.follows is not None or id(fix) in roots:
                    continue
                fix.follows, fix.patches, fix.abstained = root, [], True
                fix.reason = f"follows from the error at {root.path}:{root.start.line}"
                followers.append(fix)
                roots.update(id(f) for f in owners)
    return followers


def _suspects(owners: list[DiagnosticFix], open_: list[DiagnosticFix],
              contents: dict[str, bytes]) -> list[DiagnosticFix]:
    """The errors of `open_` that could follow from the unit that is the best patch of `owners`."""
    first = min(phase(f.diagnostic) for f in owners)
    if first == 2:
        return []
    names = {n for f in owners for n in _NAME.findall(f.diagnostic.message)}
    bodies = _bodies(owners[0].patches[0].edits, contents)
    out = []
    for fix in open_:
        diag, span = fix.diagnostic, fix.diagnostic.primary
        later = phase(diag)
        if fix in owners or later < first or (later == 0 and not names & set(_NAME.findall(diag.message))):
            continue
        if bodies is None or any(s <= span.byte_start < e for s, e in bodies.get(span.path, ())):
            out.append(fix)
    return out


def _bodies(edits: tuple[Edit, ...], contents: dict[str, bytes]) -> dict[str, list[tuple[int, int]]] | None:
    """The function bodies the edits lie in, per file; None when one lies outside every body."""
    out: dict[str, list[tuple[int, int]]] = {}
    for e in edits:
        body = function_body(contents.get(e.path, b""), e.start)
        if body is None or e.end > body[1]:
            return None
        out.setdefault(e.path, []).append(body)
    return out
