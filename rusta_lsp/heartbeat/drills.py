"""Drills: break the user's code in the shadow, let the patch engine fix it, label the outcome.

Failure is the curriculum. Each drill class (a mutation kind) gets a gap-tension weight: a low
fix rate, poor calibration, or little practice raise it. A class mastered K rounds in a row
is retired and only revisited rarely; a retired class that fails again comes back.

One mutation in five (by id) is held out: drills never practise on it, so `bench/learning.py`
can measure what the drills taught on mutations they never saw.

Code in progress is drilled too (mutations.IN_PROGRESS_KINDS): there, as for the removals nobody
can undo (`Mutation.no_fix`), abstaining is the right answer, and a drill answered so counts as
right; every verified patch of such a drill is labelled wrong for the calibrator.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..cancel import CancelToken
from ..config import RustaConfig
from ..patches.candidate import Candidate, DiagnosticFix, apply_edits, has_placeholder
from ..patches.confidence import OUTCOME_EVENT
from ..patches.engine import FixReport, PatchEngine
from ..patches.shadow import state_dir
from .loop import JobContext
from .mutations import MUTATION_KINDS, Mutation, mutation_corpus

OUTCOMES = ("restored", "compiled", "placeholder", "wrong", "abstained")
TABLE = "drills"
MASTERY_ROUNDS = 3  # K: rounds in a row a class must be mastered before it retires
RETIRED_WEIGHT = 0.05  # how often a retired class is still revisited, relative to tension 1
WINDOW = 20  # recent drills per class that count toward its statistics
STATE_FILE = "drill_state.json"


def is_holdout(mutation_id: str) -> bool:
    """One in five mutations never drilled: the benchmark's unseen set."""
    return int(mutation_id[:8], 16) % 5 == 0


# --- labelling -----------------------------------------------------------------------------------


def _squash(data: bytes) -> bytes:
    return re.sub(rb"\s+", b"", data)


def patch_restores(candidate: Candidate, mutated: bytes, original: bytes, path: str) -> bool:
    """The patch gives back the user's text (whitespace aside)."""
    edits = [e for e in candidate.edits if e.path == path]
    if not edits or len(edits) != len(candidate.edits):
        return False
    return _squash(apply_edits(mutated, edits)) == _squash(original)


def label(fix: DiagnosticFix | None, mutated: bytes, original: bytes, path: str) -> str:
    """One of OUTCOMES for the engine's answer to the mutation's diagnostic."""
    if fix is None or fix.abstained or not fix.patches:
        return "abstained"
    best = fix.patches[0]
    if patch_restores(best, mutated, original, path):
        return "restored"
    if has_placeholder(best):
        return "placeholder"
    if best.verified and best.errors_after == 0:
        return "compiled"
    return "wrong"


def answered_right(row: dict) -> bool:
    """The drill's answer was right: the user's text restored, or no patch where none is right."""
    return row["outcome"] == "restored" or (bool(row.get("no_fix")) and row["outcome"] == "abstained")


def target_fix(report: FixReport, mutation: Mutation) -> DiagnosticFix | None:
    """The diagnostic the mutation was aimed at: an intended code in the mutated file first."""
    local = [f for f in report.fixes if f.path == mutation.path]
    for pool in (
        [f for f in local if f.diagnostic.code in mutation.expected_codes],
        [f for f in report.fixes if f.diagnostic.code in mutation.expected_codes],
        local,
        report.fixes,
    ):
        if pool:
            return min(pool, key=lambda f: abs(f.start.line - mutation.line))
    return None


def labelled_patches(fix: DiagnosticFix, mutated: bytes, original: bytes, path: str) -> list[dict]:
    """Every verified patch of the diagnostic with the features its confidence came from and
    whether it was right."""
    rows = []
    for cand in fix.patches:
        if not cand.extra.get("features"):
            continue
        rows.append({
            "features": [float(v) for v in cand.extra["features"]],
            "confidence": float(cand.confidence),
            "correct": patch_restores(cand, mutated, original, path),
            "source": cand.source,
            "kind": cand.kind,
            "title": cand.title,
        })
    return rows


def attempt(engine: PatchEngine, root: Path, mutation: Mutation, round_: int = 0, cancel=None) -> dict | None:
    """Let the engine fix one mutation (as an overlay in its shadow) and label the answer.

    Stores nothing: the drills store their rows; the benchmark evaluates held-out mutations with it.
    None when the file no longer holds the original text or the mutation broke nothing.
    """
    try:
        original = (root / mutation.path).read_bytes()
        mutated = mutation.apply(original)
    except (OSError, ValueError):
        return None
    started = time.monotonic()
    report = engine.fix(overlays={mutation.path: mutated.decode("utf-8", "replace")}, cancel=cancel)
    fix = target_fix(report, mutation)
    if fix is None:
        return None
    patches = labelled_patches(fix, mutated, original, mutation.path)
    best = patches[0] if patches else None
    return {
        "id": f"{mutation.id}:{round_}",
        "mutation_id": mutation.id,
        "kind": mutation.kind,
        "path": mutation.path,
        "line": mutation.line,
        # The site's line as the user wrote it: principles anchored here retire when it changes.
        "snippet": original.splitlines()[mutation.line - 1].decode("utf-8", "replace").strip(),
        "code": fix.diagnostic.code or "",
        "codes": sorted({f.diagnostic.code or "" for f in report.fixes}),
        "on_target": fix.diagnostic.code in mutation.expected_codes,
        "outcome": label(fix, mutated, original, mutation.path),
        "abstained": fix.abstained,
        "no_fix": mutation.no_fix,
        # Never-rules that held candidates back: their kinds, and the reason when it decided.
        "held_back": sorted({c.kind for c in fix.withheld}),
        "held_back_reason": fix.held_back,
        # Whether the best patch was right, offered or not: what its confidence should predict.
        "correct": bool(best and best["correct"]),
        "source": best["source"] if best else "",
        "confidence": best["confidence"] if best else None,
        "threshold": report.threshold,
        "patches": patches,
        "round": round_,
        "ts": time.time(),
        "seconds": round(time.monotonic() - started, 3),
    }


# --- scheduling by gap tension -------------------------------------------------------------------


@dataclass
class ClassStats:
    kind: str
    drills: int = 0
    restored: int = 0  # answered right: restored, or abstained where no fix is right
    calibration_gap: float = 0.0  # mean |confidence - right| of best patches offered
    retired: bool = False
    streak: int = 0

    @property
    def fix_rate(self) -> float:
        return self.restored / self.drills if self.drills else 0.0

    @property
    def tension(self) -> float:
        """How much this class needs practice: failures, miscalibration, and novelty."""
        if self.retired:
            return RETIRED_WEIGHT
        return (1.0 - self.fix_rate) + self.calibration_gap + 1.0 / math.sqrt(1 + self.drills)


@dataclass
class DrillState:
    round: int = 0
    streak: dict[str, int] = field(default_factory=dict)  # kind -> rounds mastered in a row
    retired: dict[str, int] = field(default_factory=dict)  # kind -> round it retired in
    seen: list[str] = field(default_factory=list)  # mutation ids drilled, oldest first

    @classmethod
    def load(cls, path: Path) -> "DrillState":
        try:
            data = json.loads(path.read_text())
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.seen = self.seen[-5000:]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__))
        tmp.replace(path)


def class_stats(rows: list[dict], state: DrillState) -> dict[str, ClassStats]:
    """Per-kind statistics over each kind's most recent WINDOW drills."""
    by_kind: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: r.get("ts", 0)):
        if row.get("outcome") in OUTCOMES:
            by_kind.setdefault(row["kind"], []).append(row)
    stats = {}
    for kind in MUTATION_KINDS:
        recent = by_kind.get(kind, [])[-WINDOW:]
        gaps = [abs(r["confidence"] - float(r["correct"])) for r in recent if r.get("confidence") is not None]
        stats[kind] = ClassStats(
            kind,
            drills=len(recent),
            restored=sum(answered_right(r) for r in recent),
            calibration_gap=sum(gaps) / len(gaps) if gaps else 0.0,
            retired=kind in state.retired,
            streak=state.streak.get(kind, 0),
        )
    return stats


def pick_kind(stats: dict[str, ClassStats], available: set[str], rng: random.Random) -> str | None:
    kinds = [k for k in MUTATION_KINDS if k in available]
    if not kinds:
        return None
    return rng.choices(kinds, weights=[stats[k].tension for k in kinds])[0]


def close_round(state: DrillState, round_rows: list[dict]) -> dict[str, str]:
    """Update mastery streaks from one round's drills; returns kind -> "retired"/"returned"."""
    changes = {}
    by_kind: dict[str, list[dict]] = {}
    for row in round_rows:
        if row["outcome"] in OUTCOMES:
            by_kind.setdefault(row["kind"], []).append(row)
    for kind, rows in by_kind.items():
        # Mastered: every drill restored, and the model was sure of it (calibrated and confident);
        # or, where no fix is right, every drill abstained.
        mastered = all(answered_right(r) and (r.get("no_fix") or (r.get("confidence") or 0) >= 0.8) for r in rows)
        state.streak[kind] = state.streak.get(kind, 0) + 1 if mastered else 0
        if mastered and state.streak[kind] >= MASTERY_ROUNDS and kind not in state.retired:
            state.retired[kind] = state.round
            changes[kind] = "retired"
        elif not mastered and kind in state.retired:
            del state.retired[kind]
            changes[kind] = "returned"
    return changes


# --- running a round -----------------------------------------------------------------------------


def drill_engine(root: Path, config: RustaConfig, memory=None, role: str = "drill", slots=None,
                 calibrators=None) -> PatchEngine:
    """A patch engine of the drills' own, never in the server's shadow slots; one slot only:
    practice stays in the background. `slots` and `calibrators` are the session's."""
    return PatchEngine(root, config, memory, role=role, slots=slots, calibrators=calibrators, workers=1)


class Driller:
    """Runs drill rounds for one workspace; the heartbeat's `drill` job and `rusta drill` use it."""

    def __init__(self, root: Path, config: RustaConfig, memory=None, engine: PatchEngine | None = None,
                 seed: int = 0):
        self.root = Path(root).resolve()
        self.config = config
        self.memory = memory
        self.engine = engine or drill_engine(self.root, config, memory)
        self.state_path = state_dir(self.root, config) / STATE_FILE
        self.state = DrillState.load(self.state_path)
        self.seed = seed
        self._corpus: list[Mutation] | None = None

    def corpus(self, cancel: CancelToken | None = None) -> list[Mutation]:
        if self._corpus is None:
            corpus = mutation_corpus(self.root, seed=self.seed, cancel=cancel)
            self._corpus = [m for m in corpus if not is_holdout(m.id)]
        return self._corpus

    def history(self) -> list[dict]:
        if self.memory is None:
            return []
        try:
            return self.memory.rows(TABLE)
        except Exception:  # noqa: BLE001 — a fresh memory has no drills yet
            return []

    def next_mutation(self, stats: dict[str, ClassStats], rng: random.Random) -> Mutation | None:
        seen = set(self.state.seen)
        fresh = [m for m in self.corpus() if m.id not in seen]
        # When every site was drilled, replay old ones (the "dream" layer): still informative.
        pool = fresh or self.corpus()
        kind = pick_kind(stats, {m.kind for m in pool}, rng)
        choices = [m for m in pool if m.kind == kind]
        return rng.choice(choices) if choices else None

    def run_round(self, ctx: JobContext, max_drills: int | None = None) -> dict:
        """Drill until the budget is spent (or `max_drills`); store every outcome; return a summary."""
        # Drills need a clean baseline: with errors already there, outcomes would mix both.
        baseline = self.engine.fix(cancel=ctx.cancel)
        if baseline.fixes or baseline.cargo_error:
            reason = baseline.cargo_error or f"the workspace has {len(baseline.fixes)} error(s) of its own"
            return {**summarize([], self.state, {}), "skipped": f"no drills: {reason}"}
        self.corpus(ctx.cancel)  # parsing a big workspace takes seconds: stop between files on an edit
        self.state.round += 1
        rng = random.Random(f"{self.seed}:{self.state.round}")
        rows = self.history()
        stats = class_stats(rows, self.state)
        done: list[dict] = []
        try:
            while not ctx.over_budget() and (max_drills is None or len(done) < max_drills):
                ctx.cancel.check()
                mutation = self.next_mutation(stats, rng)
                if mutation is None:
                    break
                ctx.progress(f"drill {len(done) + 1}: {mutation.kind} in {mutation.path}", None)
                row = self.drill(mutation, ctx)
                self.state.seen.append(mutation.id)
                if row is None:
                    continue
                done.append(row)
                stats = class_stats(rows + done, self.state)
        finally:
            changes = close_round(self.state, done)
            self.state.save(self.state_path)
            self.engine.shadows[0].sync()  # the drill mirror back to the user's text
            self.engine.last = None  # its report was about a mutation: the next baseline must run
        return summarize(done, self.state, changes)

    def drill(self, mutation: Mutation, ctx: JobContext) -> dict | None:
        """One drill, stored and logged; None when the mutation no longer applies or broke nothing."""
        row = attempt(self.engine, self.root, mutation, self.state.round, ctx.cancel)
        ctx.cancel.check()
        if row is None:
            self._log("drill_skipped", {"mutation": mutation.id, "kind": mutation.kind}, mutation)
            return None
        if self.memory is not None:
            self.memory.put_rows(TABLE, [row], "id", wait=False)
        self._log("drill", {k: row[k] for k in ("kind", "code", "outcome", "confidence", "round", "on_target")}, mutation)
        if row["patches"]:  # the (code, generator) history the confidence features read
            self._log(OUTCOME_EVENT, {"code": row["code"], "source": row["source"], "correct": row["correct"],
                                      "drill": True}, mutation)
        return row

    def _log(self, kind: str, payload: dict, mutation: Mutation) -> None:
        if self.memory is not None:
            self.memory.log_event(kind, payload, mutation.path, mutation.line)


def summarize(rows: list[dict], state: DrillState, changes: dict[str, str]) -> dict:
    outcomes = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOMES}
    return {
        "round": state.round,
        "drills": len(rows),
        "outcomes": outcomes,
        "fix_rate": round(outcomes["restored"] / len(rows), 4) if rows else None,
        "by_kind": {
            kind: {"drills": sum(r["kind"] == kind for r in rows),
                   "restored": sum(r["kind"] == kind and r["outcome"] == "restored" for r in rows),
                   "answered_right": sum(r["kind"] == kind and answered_right(r) for r in rows)}
            for kind in sorted({r["kind"] for r in rows})
        },
        "retired": sorted(state.retired),
        "changes": changes,
        "seconds": round(sum(r["seconds"] for r in rows), 2),
    }
