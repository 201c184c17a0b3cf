"""The patch engine: shadow sync → cargo → generators → verification → confidence → cache.

`PatchEngine(root, config, memory).fix(overlays, cancel)` is what the CLI, the server and the
heartbeat's drills call. It never writes the user's files; `PatchEngine.apply` does, for `--apply`,
once the patches it writes were verified together. Roots first: an error that follows from
another (see cascade.py) gets no patch of its own.

Beside rust-analyzer the server may hand over the errors its flycheck found in the same text
(`known`): the engine then skips its own first check and verifies candidates at once, once it has
seen the two agree (one save where rust-analyzer's errors and its own check's were the same: the
same flycheck command, features and message format; see `companion_agrees`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..analysis.positions import LineIndex
from ..cancel import CancelToken, Cancelled
from ..config import RustaConfig
from .apply import Applied, unwritable, write_patches
from .candidate import Candidate, DiagnosticFix, Edit, TestEvidence, overlapping, patched
from .cascade import follow_ons
from .confidence import (
    OUTCOME_EVENT, Calibrator, CalibratorStore, ConfidenceContext, features, history_from_rows,
)
from .diagnostics import Diagnostic, DiagSpan
from .flycheck import KnownErrors
from . import intent
from .generators import GenContext, exemplars, imports, model, rules, rustc
from .oracle import CargoDisabled, CargoOracle
from .shadow import ShadowSlots, ShadowWorkspace, state_dir
from .seen import SeenBuilding
from .testing import TestChecker, TestRunner
from .verify import Verifier, error_key

GENERATORS = (rustc, imports, exemplars, rules, model)
log = logging.getLogger(__name__)
# Diagnostics answered per run, in rustc's order: one slip (a lost `use`) can bring a hundred
# errors, and checking alternatives for each would take minutes; the next run takes the rest.
MAX_CHECKED = 24
# Candidates are checked in this many shadows at once: one `cargo check` keeps about one core busy.
DEFAULT_WORKERS = 2 if (os.cpu_count() or 1) >= 2 else 1
# Wall seconds the related tests of one report's verified candidates may take (build and run).
TEST_BUDGET_S = 60.0


@dataclass
class FixReport:
    fixes: list[DiagnosticFix]
    contents: dict[str, bytes]  # the text every byte offset refers to
    threshold: float
    seconds: float = 0.0
    cargo_runs: int = 0
    cargo_error: str | None = None  # cargo failed without compiler messages (bad manifest, ...)
    test_seconds: float | None = None  # the related tests' run after the check (None: not yet)
    # Targets the check compiled (None: unknown, the errors came from the companion's check).
    built: set[str] | None = field(default_factory=set)
    errors_from: str = "cargo"  # whose check found the errors: "cargo" (the engine's) or "companion"

    def edit_json(self, edit: Edit) -> dict:
        index = LineIndex(self.contents.get(edit.path, b""))
        start, end = index.pos(edit.start), index.pos(edit.end)
        return {"path": edit.path, "start_line": start.line, "start_col": start.col,
                "end_line": end.line, "end_col": end.col, "new_text": edit.new_text}

    def to_json(self) -> dict:
        """The `rusta fix --json` contract (docs/contracts.md)."""
        return {"diagnostics": [
            {
                "code": f.diagnostic.code, "message": f.diagnostic.message, "path": f.path,
                "start_line": f.start.line, "start_col": f.start.col,
                "abstained": f.abstained, "reason": f.reason,
                "patches": [
                    {"title": c.title, "confidence": round(c.confidence, 4), "verified": c.verified,
                     "source": c.source, "kind": c.kind, "edits": [self.edit_json(e) for e in c.edits],
                     "tests": asdict(c.tests or TestEvidence())}
                    for c in f.patches
                ],
            }
            for f in self.fixes
        ]}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PatchEngine:
    def __init__(self, root: Path, config: RustaConfig | None = None, memory=None, *, role: str = "main",
                 slots: ShadowSlots | None = None, calibrators: CalibratorStore | None = None,
                 workers: int = DEFAULT_WORKERS, budget_s: float = 30.0, generators=GENERATORS):
        """`role` picks the shadow slots it prefers ("main" for the user's text, "drill", "bench");
        `slots` and `calibrators` are the workspace session's, shared with every other engine."""
        self.root = Path(root).resolve()
        self.config = config or RustaConfig()
        if not self.config.cargo.enable:
            raise CargoDisabled()
        self.memory = memory
        self.generators = generators
        self.lease = (slots or ShadowSlots(self.root, self.config)).claim(role, workers)
        # Another slot's engine keeps its own last-run notes: what it checks is not the user's text
        # as the server's engine last saw it (a drill's mutation, a CLI run beside the server).
        first = self.lease.first
        self.state = state_dir(self.root, self.config) / (f"slot-{first}" if first else "")
        self.shadows = [ShadowWorkspace.for_workspace(self.root, self.config, slot=s) for s in self.lease.slots]
        self.oracle = CargoOracle(self.config.cargo.check_args, enabled=self.config.cargo.enable)
        self.verifier = Verifier(self.shadows, self.oracle, budget_s=budget_s)
        self.tests = TestChecker(TestRunner(self.oracle), memory) if memory is not None else None
        self.calibrators = calibrators or CalibratorStore(state_dir(self.root, self.config))
        self.seen = SeenBuilding(self.root, state_dir(self.root, self.config))
        self.last: FixReport | None = None
        self._cache: dict[tuple, tuple[dict[str, str], DiagnosticFix]] = {}
        self._lock = threading.Lock()  # one fix at a time: the shadow is a single tree
        self._warming: dict[ShadowWorkspace, threading.Thread] = {}  # first checks running in the background
        self._closing = CancelToken()  # stops them when the engine gives its slots back
        # Whether the companion's errors were the engine's own the last time both were known for
        # one text (None: never compared). Only then do they stand in for the first check.
        self.companion_agrees: bool | None = None

    # --- the pipeline --------------------------------------------------------------------------

    def fix(self, overlays: dict[str, str] | None = None, cancel=None, learn: bool = False,
            known: KnownErrors | None = None) -> FixReport:
        """Check the workspace (with `overlays`: relative path -> unsaved text) and answer every
        error. `learn`: this text is the user's (the server, the CLI), so errors that vanished
        since the last learning run become exemplars; drills and benchmarks leave it off.
        `known`: the errors rust-analyzer's check found in this text, which replace the first
        check once the two were seen to agree."""
        with self._lock:
            started = time.monotonic()
            runs = self.oracle.runs
            previous = dict(self.shadows[0].contents)
            changed = [s.sync(overlays) for s in self.shadows][0]
            if not changed and self.last is not None:
                return self.last
            # The mirror now holds the new text: until a report for it exists, nothing is current.
            self.last = None
            shadow = self.shadows[0]
            contents = dict(shadow.contents)
            reported = known.diagnostics(contents) if known is not None else None
            cargo_error, built, errors_from = None, None, "cargo"
            if reported is not None and self.companion_agrees:
                # Which targets built is unknown: an error a patch lets a dependent target show is
                # blamed on the patch (a fix lost at worst, never a wrong one).
                errors, warnings, errors_from = reported, known.warnings(), "companion"
            else:
                baseline = self.oracle.check(shadow.mirror, shadow.target, cancel)
                errors = [d for d in baseline.errors if d.primary and d.primary.path in contents]
                warnings = [d for d in baseline.diagnostics if d.level == "warning" and d.primary]
                built = baseline.built
                if (learn or not overlays) and baseline.success and not baseline.errors:
                    self.seen.record_check()  # the user's own text (not a drill's mutation) builds
                if baseline.success is False and not baseline.errors:
                    cargo_error = (baseline.stderr.strip().splitlines() or ["cargo failed"])[-1]
                if reported is not None:
                    self.companion_agrees = _same_errors(errors, reported)
                    log.info("patches: the companion's errors %s the engine's own (%d, %d)",
                             "match" if self.companion_agrees else "differ from", len(reported), len(errors))
            self._warm_up()
            signatures = []
            if learn:
                self._learn(errors, contents)
                signatures = self._log_signature_changes(changed, previous, contents)
            calibrator, evidence = self.calibrators.current(), self._evidence()
            threshold = calibrator.threshold(self.config.abstain.target_precision, evidence.seen_building)
            fixes = self._fixes(errors, contents, cancel, built, calibrator, evidence, threshold,
                                signatures, warnings)
            report = FixReport(fixes, contents, threshold, cargo_error=cargo_error, built=built,
                               errors_from=errors_from)
            report.seconds = time.monotonic() - started
            report.cargo_runs = self.oracle.runs - runs
            self.last = report
            if learn:
                self._save_state(errors, contents)
            return report

    def _warm_up(self) -> None:
        """Build the other shadows' dependencies in the background; the verifier takes each one
        once its first check has completed. A check cargo could not run (no compiler message:
        the mirror went away, cargo cached a failed probe of rustc in that target) leaves the
        shadow cold: a shadow marked warm on such a run would fail every check it is given, and
        its candidates would read as not fixing their error."""
        for shadow in self.shadows[1:]:
            if shadow in self.verifier.ready or shadow in self._warming:
                continue

            def warm(shadow=shadow) -> None:
                try:
                    result = CargoOracle(self.config.cargo.check_args, enabled=self.config.cargo.enable).check(
                        shadow.mirror, shadow.target, self._closing)
                except Cancelled:
                    return
                except Exception:  # noqa: BLE001 — a shadow that cannot warm up just stays unused
                    log.exception("patches: warming shadow %s failed", shadow.mirror)
                    return
                if result.success is False and not result.errors:
                    log.warning("patches: shadow %s stays cold, cargo failed: %s", shadow.mirror,
                                (result.stderr.strip().splitlines() or ["no output"])[-1])
                    return
                shadow.mark_warm()
                self.verifier.add_ready(shadow)

            thread = threading.Thread(target=warm, name="rusta-shadow-warm-up", daemon=True)
            self._warming[shadow] = thread
            thread.start()

    def close(self) -> None:
        """Give the shadow slots back (another engine may take them), once a running fix ended and
        the background warm-ups stopped: a cargo run left in a slot would build into the next
        holder's target, or into a mirror its owner deletes."""
        self._closing.cancel()
        for thread in self._warming.values():
            thread.join()
        with self._lock:
            self.lease.release()

    def apply(self, report: FixReport, cancel=None) -> Applied:
        """`rusta fix --apply`: write the best patch of every error that cleared the threshold, as
        one combination cargo accepted in the shadow (patches are left out until it does), into
        the files that still hold the text checked. `report` is this engine's last one."""
        with self._lock:
            if report is not self.last:
                raise ValueError("apply() takes the engine's last report: its text is in the shadow")
            applied = Applied()
            offered: list[tuple[DiagnosticFix, Candidate]] = []
            for fix in report.fixes:
                best = fix.best
                if best is None:
                    continue
                clash = next((f for f, c in offered if overlapping(best.edits, c.edits)), None)
                if clash is None:
                    offered.append((fix, best))
                else:
                    applied.left_out.append((fix.path, fix.start.line, best,
                                             f"it overlaps the patch for the error at {clash.path}:{clash.start.line}"))
            # A file that may not be written takes its patches out before the combined check.
            paths = sorted({e.path for _, c in offered for e in c.edits})
            applied.skipped = [(p, why) for p in paths if (why := unwritable(self.root, p, report.contents[p]))]
            bad = dict(applied.skipped)
            fix_of, cands = {}, []
            for fix, cand in offered:
                blocked = next((e.path for e in cand.edits if e.path in bad), None)
                if blocked is None:
                    fix_of[id(cand)] = fix
                    cands.append(cand)
                else:
                    applied.left_out.append((fix.path, fix.start.line, cand, f"its file {blocked} is not written"))
            kept, left, outcome = self.verifier.together(cands, [f.diagnostic for f in report.fixes], cancel,
                                                          report.built)
            for cand, why in left:
                fix = fix_of[id(cand)]
                applied.left_out.append((fix.path, fix.start.line, cand, why))
            if outcome is not None:
                applied.errors_after, applied.unmasked = outcome.errors_after, outcome.unmasked
            write_patches(self.root, report.contents, kept, applied)
        if applied.written:
            self.note_applied(applied.written)
        return applied

    def _fixes(self, errors: list[Diagnostic], contents: dict[str, bytes], cancel, built: set[str] | None,
               calibrator: Calibrator, evidence: ConfidenceContext, threshold: float,
               signatures: list[dict] = (), warnings: list[Diagnostic] = ()) -> list[DiagnosticFix]:
        ctx = GenContext(contents, self.config, self.memory, errors, signature_changes=list(signatures))
        fixes, queues = [], {}
        previous, self._cache = self._cache, {}  # only the current diagnostics stay cached
        present = {error_key(d) for d in errors}
        for diag in errors:
            fix = self._cached(previous, diag, contents, present)
            if fix is None:
                fix = self._new_fix(diag, contents)
                if len(queues) < MAX_CHECKED:
                    queues[error_key(diag)] = self._candidates(diag, ctx, calibrator)
                    fix.tried = len(queues[error_key(diag)])
                else:
                    fix.reason = f"not checked: more than {MAX_CHECKED} errors at once; the first ones are answered first"
            fixes.append(fix)
        # An edit several errors propose (a `use`, a declaration's type) is the likelier root cause:
        # it is tried first, in the prior's order otherwise.
        proposers = Counter(c.edit_key for cands in queues.values() for c in cands)
        for cands in queues.values():
            cands.sort(key=lambda c: -proposers[c.edit_key])
        if queues:
            self.verifier.verify(queues, errors, cancel, built, warnings)
        for fix in fixes:
            cands = queues.get(error_key(fix.diagnostic))
            if cands is None:
                continue
            fix.checked = cands
            self._score(fix, evidence, calibrator, threshold)
            self._store(fix, contents)
        cached = {id(entry[1]) for entry in previous.values()}
        fresh = {id(f) for f in fixes if id(f) not in cached}
        for fix in follow_ons(fixes, fresh, self.verifier, errors, contents, cancel, built):
            self._store(fix, contents)  # with its root's files
        return fixes

    def _score(self, fix: DiagnosticFix, evidence: ConfidenceContext, calibrator: Calibrator, threshold: float) -> None:
        """Confidence for every checked candidate, the verified ones best first, and whether to abstain."""
        cands = fix.checked
        verified = [c for c in cands if c.verified]
        for rank, cand in enumerate(cands):
            cand.verified_siblings = len(verified) - 1 if cand.verified else len(verified)
            cand.extra["features"] = features(cand, replace(evidence, rank=rank))
            cand.confidence = calibrator.predict(cand.extra["features"])
        fix.patches = sorted(verified, key=lambda c: -c.confidence)
        fix.withheld = [c for c in cands if "held_back" in c.extra]
        # Where the code was never seen building, the bar a patch missed may be that rule's alone.
        usual = threshold if evidence.seen_building else calibrator.threshold(self.config.abstain.target_precision)
        fix.abstained, fix.reason = self._abstain(fix, cands, threshold, usual)

    def test(self, report: FixReport, cancel=None, budget_s: float = TEST_BUDGET_S) -> FixReport:
        """The second oracle, after the check: run the tests related to each verified candidate
        (`budget_s` wall seconds for all), fill `Candidate.tests`, drop candidates that break a
        test that passed at the last green state, and rescore. Only the latest report is tested
        (the shadow holds its text); candidates with evidence (cached fixes) are not run again."""
        with self._lock:
            if report is not self.last or self.tests is None:
                return report
            pending = [f for f in report.fixes if any(c.tests is None for c in f.patches)]
            if pending:
                started = time.monotonic()
                # An error without a verified patch keeps every test harness from compiling.
                check = self.tests.check([f.patches for f in report.fixes if f.patches], report.contents,
                                         self.shadows[0], cancel, budget_s,
                                         buildable=all(f.patches or f.follows for f in report.fixes))
                calibrator = self.calibrators.current()
                evidence = self._evidence()
                threshold = calibrator.threshold(self.config.abstain.target_precision, evidence.seen_building)
                for fix in pending:
                    self._score(fix, evidence, calibrator, threshold)
                report.test_seconds = time.monotonic() - started
                log.info("patches: related tests of %d error(s): %d run(s), %d patch(es) rejected, %.1fs",
                         len(pending), check.runs, check.rejected, check.seconds)
            elif report.test_seconds is None:
                report.test_seconds = 0.0
            return report

    def _candidates(self, diag: Diagnostic, ctx: GenContext, calibrator: Calibrator) -> list[Candidate]:
        """Every generator's proposals, duplicates dropped, in the order the prior would rank them
        if they verified (so the batch round tries the likeliest first). Those a never-rule holds
        back keep its reason and are never verified."""
        seen, out = set(), []
        for gen in self.generators:
            for cand in gen.generate(diag, ctx):
                # Two edits that produce the same text (`&` inserted, `s` replaced by `&s`) are one.
                result = tuple(sorted((p, _digest(t)) for p, t in patched(ctx.contents, cand.edits).items()))
                if result not in seen:
                    seen.add(result)
                    out.append(cand)
                    if reason := intent.held_back(cand, ctx):
                        cand.reason = cand.extra["held_back"] = reason
        hopeful = ConfidenceContext(rank=1)

        def prior(c: Candidate) -> float:
            c.verified = True
            score = calibrator.predict(features(c, hopeful))
            c.verified = False
            return score

        return sorted(out, key=prior, reverse=True)

    @staticmethod
    def _abstain(fix: DiagnosticFix, cands: list[Candidate], threshold: float,
                 usual: float) -> tuple[bool, str | None]:
        """Whether to abstain and why. `usual`: the threshold on code seen building (`threshold`
        is higher where the workspace was never seen building)."""
        fix.held_back = None
        if not cands:
            return True, "no candidate fix (none of the generators had a proposal)"
        held = next((c.extra["held_back"] for c in cands if "held_back" in c.extra), None)
        best = fix.patches[0] if fix.patches else None
        if held and (best is None or best.confidence < threshold):
            fix.held_back = held  # the author's intent, not the calibrator, decided
            return True, held
        if not fix.patches:
            reasons = sorted({c.reason for c in cands if c.reason})
            if any(c.tests is not None and c.tests.failed for c in cands):
                return True, (f"{len(cands)} candidate(s), none both compiles and keeps the tests passing: "
                              + "; ".join(reasons))
            return True, f"{len(cands)} candidate(s), none verified by cargo: " + "; ".join(reasons)
        if usual <= best.confidence < threshold:
            # Not the calibrator's doubt alone: shown as a hint, in words.
            fix.held_back = (f"this code has never built here; Rusta only offers near-certain fixes "
                             f"({threshold:.0%} or more) until it has seen it build "
                             f"(best: {best.title}, {best.confidence:.0%})")
            return True, fix.held_back
        if best.confidence < threshold:
            return True, f"best verified patch has confidence {best.confidence:.2f}, below {threshold:.2f}"
        if choice := intent.alternatives(best, fix.patches):
            fix.held_back = choice  # rustc lists equals: the author, not the calibrator, picks
            return True, choice
        return False, None

    def _new_fix(self, diag: Diagnostic, contents: dict[str, bytes]) -> DiagnosticFix:
        p = diag.primary
        index = LineIndex(contents[p.path])
        return DiagnosticFix(diag, p.path, index.pos(p.byte_start), index.pos(p.byte_end))

    # --- cache: per diagnostic, valid while the files it and its patches touch are unchanged ------

    def _cache_key(self, diag: Diagnostic, contents: dict[str, bytes]) -> tuple:
        p = diag.primary
        return (*error_key(diag), p.byte_end, _digest(contents[p.path]))

    def _cached(self, cache: dict, diag: Diagnostic, contents: dict[str, bytes], present: set) -> DiagnosticFix | None:
        """The answer of an earlier run, while it holds: its files unchanged and, for a follow-on,
        its root still among the errors (`present`: their keys)."""
        entry = cache.get(self._cache_key(diag, contents))
        if entry is None:
            return None
        hashes, fix = entry
        if any(_digest(contents.get(path, b"")) != h for path, h in hashes.items()):
            return None
        if fix.follows is not None and error_key(fix.follows.diagnostic) not in present:
            return None
        self._cache[self._cache_key(diag, contents)] = entry
        return fix

    def _store(self, fix: DiagnosticFix, contents: dict[str, bytes]) -> None:
        # A follow-on's answer holds while its root's does: the root's files count too.
        answers = [fix] if fix.follows is None else [fix, fix.follows]
        paths = {f.path for f in answers} | {e.path for f in answers for c in f.patches for e in c.edits}
        hashes = {p: _digest(contents.get(p, b"")) for p in paths}
        self._cache[self._cache_key(fix.diagnostic, contents)] = (hashes, fix)

    # --- memory: (code, generator) history and the user's own fixes as exemplars ---------------

    def _evidence(self) -> ConfidenceContext:
        """What is known beyond the candidates: the memory's (code, generator) history of right
        and wrong patches, and whether the workspace was ever seen building (seen.py)."""
        history = {}
        if self.memory is not None:
            try:
                history = history_from_rows(e["payload"] for e in self.memory.events(OUTCOME_EVENT))
            except Exception:  # noqa: BLE001 — no history yet
                history = {}
        return ConfidenceContext(history, seen_building=self.seen.how(self.memory) is not None)

    def _log_signature_changes(self, changed: list[str], previous: dict[str, bytes],
                               contents: dict[str, bytes]) -> list[dict]:
        """Functions the user's edit took parameters from: evidence that removing an argument at
        their calls is what the author means. Logged to the devlog for the runs to come."""
        found = [c for path in changed if path.endswith(".rs") and path in previous and path in contents
                 for c in intent.signature_changes(previous[path], contents[path])]
        if found and self.memory is not None and not getattr(self.memory, "read_only", False):
            for change in found:
                try:
                    self.memory.log_event(intent.SIGNATURE_EVENT, change)
                except Exception:  # noqa: BLE001 — evidence for later runs only; this run has it
                    log.debug("patches: could not log a signature change", exc_info=True)
        return found

    def _state_file(self) -> Path:
        return self.state / "patches-last-run.json"

    def _save_state(self, errors: list[Diagnostic], contents: dict[str, bytes]) -> None:
        paths = {d.primary.path for d in errors}
        state = {
            "errors": [{"code": d.code, "message": d.message, "path": d.primary.path,
                        "start": d.primary.byte_start, "end": d.primary.byte_end} for d in errors],
            "files": {p: contents[p].decode("utf-8", "replace") for p in paths},
        }
        self.state.mkdir(parents=True, exist_ok=True)
        self._state_file().write_text(json.dumps(state))

    def _learn(self, errors: list[Diagnostic], contents: dict[str, bytes]) -> None:
        """Errors of the previous run that the user's own edit made vanish become exemplars."""
        if self.memory is None:
            return
        try:
            state = json.loads(self._state_file().read_text())
        except (OSError, ValueError):
            return
        # An error is the same one when code, message, file and flagged text agree (lines move).
        now = {(d.code, d.message, d.primary.path, contents[d.primary.path][d.primary.byte_start : d.primary.byte_end])
               for d in errors}
        rows = []
        for old in state.get("errors", []):
            before = state["files"].get(old["path"], "").encode()
            after = contents.get(old["path"])
            same = (old["code"], old["message"], old["path"], before[old["start"] : old["end"]])
            if after is None or same in now or before == after:
                continue
            if _digest(after) in self._applied_digests():
                continue  # our own patch, not the user's
            diag = _stub(old)
            row = exemplars.exemplar_row(diag, before, after)
            if row:
                rows.append(row)
        if rows:
            try:
                self.memory.put_rows(exemplars.TABLE, rows, "id")
            except Exception:  # noqa: BLE001 — learning is best effort; fixing goes on
                pass

    def _applied_digests(self) -> list[str]:
        try:
            return list(json.loads((self.state / "patches-applied.json").read_text()))
        except (OSError, ValueError):
            return []

    def note_applied(self, texts: dict[str, bytes]) -> None:
        """Remember file texts our patches produced, so they are not learned as the user's fixes
        (the latest few hundred: older texts are long gone from the editor anyway)."""
        digests = self._applied_digests() + [_digest(t) for t in texts.values()]
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "patches-applied.json").write_text(json.dumps(digests[-500:]))


def _same_errors(ours: list[Diagnostic], theirs: list[Diagnostic]) -> bool:
    """The same errors, as verification tells errors apart (code, message, file, start)."""
    return Counter(map(error_key, ours)) == Counter(map(error_key, theirs))


def _stub(row: dict) -> Diagnostic:
    span = DiagSpan(row["path"], row["start"], row["end"], 0, 0, 0, 0, True)
    return Diagnostic("error", row["message"], row["code"], (span,))
