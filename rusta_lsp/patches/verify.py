"""Verification: a candidate is verified when cargo, run in the shadow with the candidate applied,
no longer reports the target error and reports no error that was not there before.

The best untried candidate of every diagnostic goes into one batch (one cargo run). When the batch
brings a new error, the candidates whose target vanished are re-checked one by one (spread over
the shadow slots), since any of them may be the culprit. Rounds repeat for the alternatives until
each diagnostic has enough verified candidates, runs out, or the time budget is spent.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .candidate import Candidate, Edit, has_placeholder, map_offset, overlapping
from .diagnostics import CargoResult, Diagnostic
from .oracle import CargoOracle, Cancelled, is_cancelled
from .shadow import ShadowWorkspace


@dataclass
class Outcome:
    gone: set  # keys (of the errors before) that vanished
    new: list[Diagnostic]  # errors after that were not there before
    errors_after: int


def error_key(diag: Diagnostic, edits: list[Edit] | None = None) -> tuple:
    """(code, message, path, start), the start mapped through `edits` when given."""
    p = diag.primary
    start = p.byte_start if p else -1
    if p and edits:
        start = map_offset(start, [e for e in edits if e.path == p.path])
    return (diag.code, diag.message, p.path if p else None, start)


def compare(before: list[Diagnostic], after: CargoResult, edits: list[Edit]) -> Outcome:
    mapped = {error_key(d, edits): error_key(d) for d in before}
    after_keys = {error_key(d) for d in after.errors}
    gone = {orig for moved, orig in mapped.items() if moved not in after_keys}
    new = [d for d in after.errors if error_key(d) not in mapped]
    if after.success is False and not after.errors and after.stderr:
        # cargo failed without a compiler message (a broken manifest): nothing is verified.
        gone = set()
    return Outcome(gone, new, len(after.errors))


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
                 budget_s: float = 60.0, max_verified: int = 2, max_tries: int = 6):
        self.shadows = shadows
        self.oracle = oracle
        self.budget_s = budget_s
        self.max_verified = max_verified  # per diagnostic: a second verified one exposes ambiguity
        self.max_tries = max_tries  # per diagnostic

    def _run(self, shadow: ShadowWorkspace, edits: list[Edit], before: list[Diagnostic], cancel) -> Outcome:
        with shadow.applied(edits):
            result = self.oracle.check(shadow.mirror, shadow.target, cancel)
        return compare(before, result, edits)

    def verify(self, queues: dict[tuple, list[Candidate]], before: list[Diagnostic], cancel=None) -> None:
        """Mark candidates verified or not, in place. `queues` maps a diagnostic key (error_key)
        to its candidates, best first."""
        deadline = time.monotonic() + self.budget_s
        for cands in queues.values():
            for c in cands:
                c.errors_before = len(before)
                if has_placeholder(c):
                    c.reason = "inserts a placeholder"
        pending = {k: [c for c in cs if not c.reason][: self.max_tries] for k, cs in queues.items()}
        while True:
            if is_cancelled(cancel):
                raise Cancelled()
            batch = self._next_batch(pending, queues)
            if not batch:
                break
            if time.monotonic() > deadline:
                for cs in pending.values():
                    for c in cs:
                        c.reason = c.reason or "not checked: time budget spent"
                break
            outcome = self._run(self.shadows[0], merge(batch), before, cancel)
            suspects = []
            for cand in batch:
                target = error_key(cand.diagnostic)
                if target not in outcome.gone:
                    cand.reason = "the error remains"
                    cand.errors_after = outcome.errors_after
                elif outcome.new:
                    suspects.append(cand)
                else:
                    cand.verified = True
                    cand.errors_after = outcome.errors_after
            if suspects and len(batch) == 1:
                self._judge_alone(suspects[0], outcome)
            elif suspects:
                self._one_by_one(suspects, before, cancel)

    def _next_batch(self, pending: dict, queues: dict) -> list[Candidate]:
        batch: list[Candidate] = []
        for key, cands in pending.items():
            verified = sum(c.verified for c in queues[key])
            if verified >= self.max_verified:
                cands.clear()
            while cands:
                cand = cands[0]
                if any(overlapping(cand.edits, b.edits) for b in batch):
                    break  # next round
                batch.append(cands.pop(0))
                break
        return batch

    def _judge_alone(self, cand: Candidate, outcome: Outcome) -> None:
        cand.errors_after = outcome.errors_after
        if outcome.new:
            first = outcome.new[0]
            cand.reason = f"brings a new error: {first.code or ''} {first.message}".replace("  ", " ")
        else:
            cand.verified = True

    def _one_by_one(self, cands: list[Candidate], before: list[Diagnostic], cancel) -> None:
        slots = self.shadows
        chunks = [cands[i :: len(slots)] for i in range(len(slots))]

        def work(slot: int) -> None:
            for cand in chunks[slot]:
                outcome = self._run(slots[slot], merge([cand]), before, cancel)
                if error_key(cand.diagnostic) not in outcome.gone:
                    cand.reason = "the error remains"
                    cand.errors_after = outcome.errors_after
                else:
                    self._judge_alone(cand, outcome)

        if len(slots) == 1:
            work(0)
            return
        with ThreadPoolExecutor(len(slots)) as pool:
            list(pool.map(work, range(len(slots))))
