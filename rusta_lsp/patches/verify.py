"""Verification: a candidate is verified when cargo, run in the shadow with the candidate applied,
no longer reports the target error and reports no error that was not there before.

The best untried candidate of every diagnostic goes into one batch (one cargo run). When a batch
brings a new error, the candidates whose target vanished are split in halves and re-checked
(bisection: a culprit among n costs about 2·log2(n) runs instead of n), down to single
candidates. Rounds repeat for the alternatives until each diagnostic has enough verified
candidates, runs out, or the time budget is spent. With several shadow slots, halves run in
parallel, each slot with its own mirror and target directory.
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..analysis.parser import parse_tree
from .candidate import Candidate, Edit, has_placeholder, map_offset, overlapping, patched
from .diagnostics import CargoResult, Diagnostic
from .oracle import CargoOracle, Cancelled, is_cancelled
from .shadow import ShadowWorkspace

OUT_OF_TIME = "not checked: time budget spent"


@dataclass
class Outcome:
    gone: set  # keys (of the errors before) that vanished
    new: list[Diagnostic]  # errors after that were not there before
    errors_after: int
    unmasked: int = 0  # errors of targets that could not build before (their dependency failed)


def error_key(diag: Diagnostic, edits: list[Edit] | None = None) -> tuple:
    """(code, message, path, start), the start mapped through `edits` when given."""
    p = diag.primary
    start = p.byte_start if p else -1
    if p and edits:
        start = map_offset(start, [e for e in edits if e.path == p.path])
    return (diag.code, diag.message, p.path if p else None, start)


def compare(before: list[Diagnostic], after: CargoResult, edits: list[Edit], built: set[str] | None = None) -> Outcome:
    """What the edits changed. Errors of targets that were not built before (`built`: the targets
    the run before compiled) are not the edit's doing as far as anyone can tell: a test or bench
    target only compiles once the library does. They are counted apart, not blamed."""
    mapped = {error_key(d, edits): error_key(d) for d in before}
    after_keys = {error_key(d) for d in after.errors}
    gone = {orig for moved, orig in mapped.items() if moved not in after_keys}
    new = [d for d in after.errors if error_key(d) not in mapped]
    unmasked = [d for d in new if built is not None and d.target and d.target not in built]
    new = [d for d in new if d not in unmasked]
    if after.success is False and not after.errors and after.stderr:
        # cargo failed without a compiler message (a broken manifest): nothing is verified.
        gone = set()
    return Outcome(gone, new, len(after.errors), len(unmasked))


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
        self._free: queue.Queue[ShadowWorkspace] = queue.Queue()
        for shadow in shadows:
            self._free.put(shadow)

    def verify(self, queues: dict[tuple, list[Candidate]], before: list[Diagnostic], cancel=None,
               built: set[str] | None = None) -> None:
        """Mark candidates verified or not, in place. `queues` maps a diagnostic key (error_key)
        to its candidates, best first; `built` names the targets the run before compiled."""
        self._built = built
        deadline = time.monotonic() + self.budget_s
        for cands in queues.values():
            for c in cands:
                c.errors_before = len(before)
                if has_placeholder(c):
                    c.reason = "inserts a placeholder"
                elif self._breaks_syntax(c):
                    c.reason = "does not parse"  # tree-sitter says so; no cargo run needed
        pending = {k: [c for c in cs if not c.reason][: self.max_tries] for k, cs in queues.items()}
        while batch := self._next_batch(pending, queues):
            self._check(batch, before, cancel, deadline)
        for cands in queues.values():
            for c in cands:
                if not c.verified and not c.reason:
                    c.reason = OUT_OF_TIME

    def _breaks_syntax(self, cand: Candidate) -> bool:
        shadow = self.shadows[0]
        for path, data in patched(shadow.contents, cand.edits).items():
            if parse_tree(data).root_node.has_error and not parse_tree(shadow.read(path)).root_node.has_error:
                return True
        return False

    def _next_batch(self, pending: dict, queues: dict) -> list[Candidate]:
        """The next untried candidate of every diagnostic that still needs one, without overlaps."""
        batch: list[Candidate] = []
        for key, cands in pending.items():
            if sum(c.verified for c in queues[key]) >= self.max_verified:
                cands.clear()
            if cands and not any(overlapping(cands[0].edits, b.edits) for b in batch):
                batch.append(cands.pop(0))
        return batch

    def _run(self, edits: list[Edit], before: list[Diagnostic], cancel) -> Outcome:
        shadow = self._free.get()
        try:
            with shadow.applied(edits):
                result = self.oracle.check(shadow.mirror, shadow.target, cancel)
        finally:
            self._free.put(shadow)
        return compare(before, result, edits, self._built)

    def _check(self, batch: list[Candidate], before: list[Diagnostic], cancel, deadline: float) -> None:
        if is_cancelled(cancel):
            raise Cancelled()
        if time.monotonic() > deadline:
            for cand in batch:
                cand.reason = OUT_OF_TIME
            return
        outcome = self._run(merge(batch), before, cancel)
        hopeful = []
        for cand in batch:
            cand.errors_after = outcome.errors_after
            cand.extra["unmasked"] = outcome.unmasked
            if error_key(cand.diagnostic) not in outcome.gone:
                cand.reason = "the error remains"
            else:
                hopeful.append(cand)
        # Candidates with the same edits (one `use` for several errors) stand or fall together.
        units: dict[frozenset, list[Candidate]] = {}
        for cand in hopeful:
            units.setdefault(frozenset(merge([cand])), []).append(cand)
        if not outcome.new:
            for key, unit in units.items():
                # Alone, the errors the other units fixed in this batch would still be there.
                others = sum(len(u) for k, u in units.items() if k != key)
                for cand in unit:
                    cand.verified = True
                    cand.errors_after = outcome.errors_after + others
        elif len(units) <= 1 and len(hopeful) == len(batch):
            first = outcome.new[0]
            for cand in hopeful:
                cand.reason = f"brings a new error: {first.code or ''} {first.message}".replace("  ", " ")
        else:
            groups = list(units.values())
            halves = [sum(groups[: len(groups) // 2], []), sum(groups[len(groups) // 2 :], [])]
            halves = [h for h in halves if h]
            if len(self.shadows) > 1 and len(halves) == 2:
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(lambda h: self._check(h, before, cancel, deadline), halves))
            else:
                for half in halves:
                    self._check(half, before, cancel, deadline)
