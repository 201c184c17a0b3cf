"""Verification: a candidate is verified when cargo, run in the shadow with the candidate applied,
no longer reports the target error and reports no error that was not there before.

The best untried candidate of every diagnostic goes into one batch (one cargo run); with several
shadow slots (each its own mirror and target directory), the next-best ones go into a second
batch checked at the same time. When a batch brings new errors that all sit on some candidates'
own edits, those candidates are the culprits and one more run checks the rest; otherwise the
hopeful candidates are split in halves and re-checked (bisection: a culprit among n costs about
2·log2(n) runs instead of n). Rounds repeat for the alternatives until each diagnostic has a
verified candidate (then only the next-best one is probed, to expose ambiguity), runs out, or
the time budget is spent.

Borrow checking runs on a function only once it type-checks, so fixing a function's last type
error may reveal a borrow error rustc could not report before. A candidate that does is not
verified (an alternative may fix both: a lost `.clone()` gives a type error and, behind it, a
move). But the patches `--apply` writes were each verified while the others' errors were still
there: checked together, the borrow errors they reveal (in a function where a type error vanished,
nowhere near an edit) are counted as unmasked, not blamed.
"""

from __future__ import annotations

import queue
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..analysis.parser import parse_tree, reparse
from ..cancel import CancelToken
from .candidate import Candidate, Edit, apply_edits, by_path, has_placeholder, map_offset, overlapping, patched
from .diagnostics import CargoResult, Diagnostic
from .oracle import CargoOracle
from .shadow import ShadowWorkspace

OUT_OF_TIME = "not checked: time budget spent"
# Errors of the borrow checker (moves, borrows, lifetimes of locals, assignments to immutables).
BORROWCK_CODES = frozenset({
    "E0373", "E0381", "E0382", "E0384", "E0499", "E0502", "E0503", "E0505", "E0506", "E0507", "E0508",
    "E0509", "E0515", "E0521", "E0594", "E0596", "E0597", "E0626", "E0712", "E0713", "E0716",
})


@dataclass
class ErrorDelta:
    gone: set  # keys (of the errors before) that vanished
    new: list[Diagnostic]  # errors after that were not there before
    errors_after: int
    unmasked: int = 0  # errors rustc could not report before: their target did not build, or
    # (borrow errors) their function did not type-check
    cargo_error: str | None = None  # cargo failed without a compiler message: nothing was checked
    warnings: list[Diagnostic] = field(default_factory=list)  # warnings after that were not there before


def error_key(diag: Diagnostic, edits: list[Edit] | None = None) -> tuple:
    """(code, message, path, start), the start mapped through `edits` when given."""
    p = diag.primary
    start = p.byte_start if p else -1
    if p and edits:
        start = map_offset(start, [e for e in edits if e.path == p.path])
    return (diag.code, diag.message, p.path if p else None, start)


def compare(before: list[Diagnostic], after: CargoResult, edits: list[Edit], built: set[str] | None = None,
            contents: dict[str, bytes] | None = None, warnings: list[Diagnostic] = ()) -> ErrorDelta:
    """What the edits changed. Errors of targets that were not built before (`built`: the targets
    the run before compiled) are not the edit's doing as far as anyone can tell: a test or bench
    target only compiles once the library does. Nor are borrow errors the edits revealed (see
    `revealed`; `contents`: the texts before the edits). They are counted apart, not blamed."""
    mapped = {error_key(d, edits): error_key(d) for d in before}
    after_keys = {error_key(d) for d in after.errors}
    gone = {orig for moved, orig in mapped.items() if moved not in after_keys}
    new = [d for d in after.errors if error_key(d) not in mapped]
    unmasked = [d for d in new if built is not None and d.target and d.target not in built]
    if contents is not None:
        vanished = [d for d in before if error_key(d) in gone]
        unmasked += revealed([d for d in new if d not in unmasked], vanished, edits, contents)
    new = [d for d in new if d not in unmasked]
    cargo_error = None
    if after.success is False and not after.errors and after.stderr:
        # cargo failed without a compiler message (a broken manifest): nothing is verified.
        gone = set()
        cargo_error = (after.stderr.strip().splitlines() or ["cargo failed"])[-1]
    warned = {error_key(w, edits) for w in warnings}
    fresh = [d for d in after.diagnostics if d.level == "warning" and d.primary and error_key(d) not in warned]
    return ErrorDelta(gone, new, len(after.errors), len(unmasked), cargo_error, fresh)


def revealed(new: list[Diagnostic], vanished: list[Diagnostic], edits: list[Edit],
             contents: dict[str, bytes]) -> list[Diagnostic]:
    """The new borrow errors that sit in a function where a type error (or any error but a borrow
    error) vanished, none of their spans on an edit: rustc borrow-checks a function only once it
    type-checks, so they were there before. (A function that reported a borrow error was checked.)"""
    vanished = [v for v in vanished if v.code not in BORROWCK_CODES]
    out = []
    for diag in new:
        p = diag.primary
        if diag.code not in BORROWCK_CODES or p is None or p.path not in contents:
            continue
        mine = [e for e in edits if e.path == p.path]
        body = function_body(apply_edits(contents[p.path], mine), p.byte_start)
        if body is None or any(_touches(s, mine) for s in diag.spans if s.path == p.path):
            continue
        if any(v.primary.path == p.path and body[0] <= map_offset(v.primary.byte_start, mine) < body[1]
               for v in vanished):
            out.append(diag)
    return out


def function_body(data: bytes, offset: int) -> tuple[int, int] | None:
    """The byte range of the body of the innermost function whose body holds `offset`."""
    node = parse_tree(data).root_node.descendant_for_byte_range(offset, offset)
    while node is not None:
        body = node.child_by_field_name("body") if node.type == "function_item" else None
        if body is not None and body.start_byte <= offset < body.end_byte:
            return body.start_byte, body.end_byte
        node = node.parent
    return None


def _touches(span, edits: list[Edit]) -> bool:
    """Whether a span of the edited text meets the text one of `edits` (of its file) wrote."""
    for e in edits:
        start = map_offset(e.start, [x for x in edits if x != e])
        if span.byte_start <= start + len(e.new_text.encode("utf-8")) and start <= span.byte_end:
            return True
    return False


def merge(candidates: list[Candidate]) -> list[Edit]:
    """All edits of a batch; identical edits, and the same `use` line inserted twice, count once."""
    edits: list[Edit] = []
    inserted = set()
    for cand in candidates:
        for e in cand.edits:
            line = e.new_text.strip()
            if e.start == e.end and line.startswith("use "):
                if (e.path, line) in inserted:
                    continue
                inserted.add((e.path, line))
            if e not in edits:
                edits.append(e)
    return edits


class Verifier:
    def __init__(self, shadows: list[ShadowWorkspace], oracle: CargoOracle,
                 budget_s: float = 30.0, max_verified: int = 2, max_tries: int = 6):
        self.shadows = shadows
        self.oracle = oracle
        self.budget_s = budget_s
        self.max_verified = max_verified  # per diagnostic: a second verified one exposes ambiguity
        self.max_tries = max_tries  # per diagnostic
        self._built: set[str] | None = None
        self._warnings: list[Diagnostic] = []  # the warnings of the run before the candidates
        self._tried: set[int] = set()  # ids of this run's candidates sent to cargo
        # Shadows that take checks: the first, and the others once warm (a cold one would build
        # every dependency first, which in a large workspace takes minutes).
        self.ready: list[ShadowWorkspace] = []
        self._free: queue.Queue[ShadowWorkspace] = queue.Queue()
        for i, shadow in enumerate(shadows):
            if i == 0 or shadow.warm:
                self.add_ready(shadow)

    def add_ready(self, shadow: ShadowWorkspace) -> None:
        self.ready.append(shadow)
        self._free.put(shadow)

    def verify(self, queues: dict[tuple, list[Candidate]], before: list[Diagnostic], cancel: CancelToken | None = None,
               built: set[str] | None = None, warnings: list[Diagnostic] = ()) -> None:
        """Mark candidates verified or not, in place. `queues` maps a diagnostic key (error_key)
        to its candidates, best first; `built` names the targets the run before compiled;
        `warnings` are its warnings: a candidate on whose own text rustc warns anew (`drop(&x)`
        "does nothing", an unneeded `mut`, an unused import) is not verified."""
        self._built = built
        self._warnings = list(warnings)
        deadline = time.monotonic() + self.budget_s
        trees: dict = {}  # path -> its syntax tree before any candidate
        for cands in queues.values():
            for c in cands:
                c.errors_before = len(before)
                if has_placeholder(c):
                    c.reason = "inserts a placeholder"
                elif self._breaks_syntax(c, trees):
                    c.reason = "does not parse"  # tree-sitter says so; no cargo run needed
        pending = {k: [c for c in cs if not c.reason][: self.max_tries] for k, cs in queues.items()}
        self._tried = set()
        while batches := self._next_batches(pending, queues):
            self._parallel([lambda b=b: self._check(b, before, cancel, deadline) for b in batches])
        for cands in queues.values():
            for c in cands:
                if not c.verified and not c.reason:
                    c.reason = OUT_OF_TIME

    def _breaks_syntax(self, cand: Candidate, trees: dict) -> bool:
        """The patched file no longer parses, though it did before. `trees`: path -> the file's
        tree before, parsed once per run; each candidate re-parses incrementally from a copy."""
        shadow = self.shadows[0]
        for path, edits in by_path(cand.edits).items():
            if path not in trees:
                trees[path] = parse_tree(shadow.read(path))
            before = trees[path]
            if not before.root_node.has_error and _reparsed(before, shadow.read(path), edits).root_node.has_error:
                return True
        return False

    def _next_batches(self, pending: dict, queues: dict) -> list[list[Candidate]]:
        """One batch per shadow slot, checked at the same time: the first holds the next untried
        candidate of every diagnostic that still needs one, the others the ones after (they save
        a round when the first fails, and probe ambiguity when it is verified)."""
        shared = Counter(c.edit_key for cs in queues.values() for c in cs if c.verified)
        for key, cands in pending.items():
            tried = [c for c in queues[key] if id(c) in self._tried]
            first = next((i for i, c in enumerate(tried) if c.verified), None)
            if first is None:
                continue
            if any(shared[c.edit_key] > 1 for c in tried if c.verified):
                cands.clear()  # one edit fixed several errors at once (a missing `use`): no doubt left
            elif len(tried) > first + 1 or sum(c.verified for c in tried) >= self.max_verified:
                # Ambiguity is probed with the next-best alternative only: searching deeper for a
                # second fix costs more cargo runs than it tells.
                cands.clear()
            else:
                del cands[1:]
        batches = []
        for _ in list(self.ready):
            batch: list[Candidate] = []
            for cands in pending.values():
                if cands and not any(overlapping(cands[0].edits, b.edits) for b in batch):
                    batch.append(cands.pop(0))
                    self._tried.add(id(batch[-1]))
            if batch:
                batches.append(batch)
        return batches

    def _parallel(self, jobs: list) -> None:
        """Run cargo jobs at once, as many as there are shadow slots (each job takes a free one)."""
        if len(jobs) <= 1:
            for job in jobs:
                job()
            return
        with ThreadPoolExecutor(len(jobs)) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()  # re-raises Cancelled

    def _run(self, edits: list[Edit], before: list[Diagnostic], cancel, revealing: bool = False) -> ErrorDelta:
        """`revealing`: borrow errors the edits revealed are unmasked, not new (see above)."""
        shadow = self._free.get()
        try:
            with shadow.applied(edits):
                result = self.oracle.check(shadow.mirror, shadow.target, cancel)
        finally:
            self._free.put(shadow)
        return compare(before, result, edits, self._built, shadow.contents if revealing else None, self._warnings)

    def deltas(self, edit_sets: list[list[Edit]], before: list[Diagnostic], cancel: CancelToken | None = None,
               built: set[str] | None = None, revealing: bool = False) -> list[ErrorDelta]:
        """What each edit set, applied on its own, changes (as many checked at once as there are
        ready shadows)."""
        self._built = built
        results: list[ErrorDelta | None] = [None] * len(edit_sets)

        def run(i: int) -> None:
            results[i] = self._run(edit_sets[i], before, cancel, revealing)

        self._parallel([lambda i=i: run(i) for i in range(len(edit_sets))])
        return results

    def together(self, cands: list[Candidate], before: list[Diagnostic], cancel: CancelToken | None = None,
                 built: set[str] | None = None) -> tuple[list[Candidate], list[tuple[Candidate, str]], ErrorDelta | None]:
        """Candidates verified one by one, checked all at once (what `rusta fix --apply` writes).
        Those whose error remains, or on whose edits a new error lands, are left out and the rest
        checked again, until cargo accepts the set. Returns the accepted candidates, the ones left
        out with the reason, and the accepted run's delta (None when none was left)."""
        kept, left = list(cands), []
        while kept:
            edits = merge(kept)
            [delta] = self.deltas([edits], before, cancel, built, revealing=True)
            texts = patched(self.shadows[0].contents, edits)
            out = []
            for cand in kept:
                landed = [d for d in delta.new if _lands_on(d, cand.edits, edits, texts)]
                if error_key(cand.diagnostic) not in delta.gone:
                    out.append((cand, "with the other patches in, its error remains"))
                elif landed:
                    out.append((cand, "with the other patches in, it " + _brings(landed[0])))
            if not out and delta.new:
                weakest = min(kept, key=lambda c: c.confidence)
                out.append((weakest, f"cargo rejects the patches together ({_brings(delta.new[0])}); "
                                     "the least confident one is left out"))
            if not out:
                return kept, left, delta
            left += out
            dropped = {id(c) for c, _ in out}
            kept = [c for c in kept if id(c) not in dropped]
        return [], left, None

    def _check(self, batch: list[Candidate], before: list[Diagnostic], cancel, deadline: float) -> None:
        if cancel is not None:
            cancel.check()
        if time.monotonic() > deadline:
            for cand in batch:
                cand.reason = OUT_OF_TIME
            return
        delta = self._run(merge(batch), before, cancel)
        hopeful = []
        # One unit alone in the run (one edit set): what vanished is its doing (the cascade pass
        # reads it instead of checking the unit on its own again).
        alone = len({frozenset(merge([c])) for c in batch}) == 1
        if delta.cargo_error:
            for cand in batch:
                cand.reason = f"not checked: cargo failed ({delta.cargo_error})"
            return
        for cand in batch:
            cand.errors_after = delta.errors_after
            cand.extra["unmasked"] = delta.unmasked
            if alone:
                cand.extra["gone"] = delta.gone
            if error_key(cand.diagnostic) not in delta.gone:
                cand.reason = "the error remains"
            else:
                hopeful.append(cand)
        # Candidates with the same edits (one `use` for several errors) stand or fall together.
        units: dict[frozenset, list[Candidate]] = {}
        for cand in hopeful:
            units.setdefault(frozenset(merge([cand])), []).append(cand)
        if not delta.new:
            edits = merge(batch)
            for key, unit in units.items():
                # Alone, the errors the other units fixed in this batch would still be there.
                others = sum(len(u) for k, u in units.items() if k != key)
                warned = next((w for w in delta.warnings if _on_written(w, unit[0].edits, edits)), None)
                for cand in unit:
                    if warned is not None:
                        cand.reason = f"brings a warning on its own text: {warned.message}"
                        continue
                    cand.verified = True
                    cand.errors_after = delta.errors_after + others
        elif len(units) <= 1 and len(hopeful) == len(batch):
            for cand in hopeful:
                cand.reason = _brings(delta.new[0])
        else:
            groups = list(units.values())
            edits = merge(batch)
            texts = patched(self.shadows[0].contents, edits)
            blame = {id(g): [d for d in delta.new if _lands_on(d, g[0].edits, edits, texts)] for g in groups}
            if all(any(d in blame[id(g)] for g in groups) for d in delta.new):
                # Every new error sits on some candidate's own edit: those are the culprits, and
                # one run tells whether the rest are clean (no bisection).
                for g in groups:
                    for cand in g if blame[id(g)] else ():
                        cand.reason = _brings(blame[id(g)][0])
                rest = [c for g in groups if not blame[id(g)] for c in g]
                if rest:
                    self._check(rest, before, cancel, deadline)
                return
            halves = [sum(groups[: len(groups) // 2], []), sum(groups[len(groups) // 2 :], [])]
            self._parallel([lambda h=h: self._check(h, before, cancel, deadline) for h in halves if h])


def _brings(new: Diagnostic) -> str:
    return f"brings a new error: {new.code or ''} {new.message}".replace("  ", " ")


def _lands_on(diag: Diagnostic, edits: tuple[Edit, ...], batch: list[Edit], texts: dict[str, bytes]) -> bool:
    """Whether an error reported on the patched text (`texts`) starts on a line one of `edits`
    (as placed among all the batch's edits) wrote."""
    p = diag.primary
    for e in edits:
        if p is None or p.path != e.path or e.path not in texts:
            continue
        start = map_offset(e.start, [x for x in batch if x.path == e.path and x != e])
        first = _point(texts[e.path], start)[0] + 1  # 1-based, as rustc's
        if first <= p.line_start <= first + e.new_text.rstrip("\n").count("\n"):
            return True
    return False


def _on_written(diag: Diagnostic, edits: tuple[Edit, ...], batch: list[Edit]) -> bool:
    """Whether a diagnostic of the patched text has a span on text one of `edits` (as placed among
    all the batch's edits) wrote."""
    for e in edits:
        start = map_offset(e.start, [x for x in batch if x.path == e.path and x != e])
        end = start + len(e.new_text.encode("utf-8"))
        if any(s.path == e.path and s.byte_start < end and start < s.byte_end for s in diag.spans):
            return True
    return False


def _reparsed(tree, data: bytes, edits: list[Edit]):
    """The tree of `data` with `edits` applied, re-parsed incrementally from a copy of `tree`."""
    edited = tree.copy()
    for e in sorted(set(edits), key=lambda e: (e.start, e.end), reverse=True):  # as apply_edits
        new = e.new_text.encode("utf-8")
        after = data[: e.start] + new + data[e.end :]
        edited.edit(start_byte=e.start, old_end_byte=e.end, new_end_byte=e.start + len(new),
                    start_point=_point(data, e.start), old_end_point=_point(data, e.end),
                    new_end_point=_point(after, e.start + len(new)))
        data = after
    return reparse(data, edited)


def _point(data: bytes, offset: int) -> tuple[int, int]:
    return data.count(b"\n", 0, offset), offset - (data.rfind(b"\n", 0, offset) + 1)
