"""The second oracle: the workspace's own tests ("cargo test is the loss function").

- `TestRunner.run` builds the test harnesses in a shadow (`cargo test --no-run`), lists each
  one's tests and runs the wanted ones, reading libtest's plain output (its JSON output needs
  `-Z unstable-options`, which a stable toolchain refuses). At its deadline a run stops: the
  tests it did not reach are "not run", never passed. Cancelling kills cargo or the test binary.
- The last green state: each test's outcome the last time the workspace compiled and the
  heartbeat ran the suite, with the digest of the sources it ran on, in the memory's `tests`
  table (`record_green`, `green_outcomes`); a devlog event per run.
- `related_tests`: the tests that reach a candidate's changed items, through their callers
  (by name, bounded), as the memory's references know them.
- `TestChecker`: after candidates compiled, run their related tests, fill `Candidate.tests`, and
  reject a candidate that makes a test fail that passed at the last green state.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..cancel import CancelToken
from ..config import RustaConfig
from .candidate import Candidate, TestEvidence, overlapping
from .oracle import CargoOracle
from .shadow import ShadowSlots, ShadowWorkspace
from .verify import merge

TABLE = "tests"
RUN_EVENT = "test_run"  # devlog: one per green-state run, with its summary
TestKey = tuple[str, str]  # (target's root file relative to the workspace, libtest name)
# libtest's pretty output: `test store::tests::apply ... ok`, `test x - should panic ... FAILED`.
_RESULT = re.compile(r"^test (\S+)(?: - should panic)? \.\.\. (ok|FAILED|ignored)\b", re.M)
_LISTED = re.compile(r"^(\S+): test$", re.M)
_OUTCOME = {"ok": "passed", "FAILED": "failed", "ignored": "ignored"}
# Items whose change reaches tests through their name (a module or an impl block has no callers).
_REACHABLE_KINDS = {"fn", "method", "struct", "enum", "variant", "field", "const", "static", "type", "union", "trait"}


def parse_libtest(stdout: str) -> dict[str, str]:
    """Test name -> "passed" | "failed" | "ignored", from a harness's pretty output."""
    return {m.group(1): _OUTCOME[m.group(2)] for m in _RESULT.finditer(stdout)}


def parse_list(stdout: str) -> list[str]:
    """The test names of `<harness> --list --format terse` (benchmarks left out)."""
    return _LISTED.findall(stdout)


def state_digest(contents: dict[str, bytes]) -> str:
    """One digest of the sources and manifests cargo sees: which state a test outcome belongs to."""
    digest = hashlib.sha256()
    for path in sorted(contents):
        digest.update(path.encode() + b"\0" + hashlib.sha256(contents[path]).digest())
    return digest.hexdigest()


@dataclass
class SuiteRun:
    """What one build-and-run of the tests found."""

    listed: set[TestKey] = field(default_factory=set)  # every test the harnesses hold
    wanted: set[TestKey] = field(default_factory=set)  # those asked for
    outcomes: dict[TestKey, str] = field(default_factory=dict)  # "passed" | "failed" | "ignored"
    error: str | None = None  # why the tests could not run (they do not compile, time ran out)
    timed_out: bool = False  # the build ran out of time (it resumes where it stopped next time)
    build_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def not_run(self) -> set[TestKey]:
        return self.wanted - self.outcomes.keys()

    def count(self, outcome: str) -> int:
        return sum(o == outcome for o in self.outcomes.values())


class TestRunner:
    def __init__(self, oracle: CargoOracle):
        self.oracle = oracle

    def run(self, shadow: ShadowWorkspace, want: Callable[[TestKey], bool] | None = None,
            cancel: CancelToken | None = None, deadline: float | None = None, edits=()) -> SuiteRun:
        """Build the harnesses in `shadow` (with `edits` applied) and run the tests `want` picks
        (all when None) until `deadline` (`time.monotonic()`). Raises Cancelled on cancel."""
        run = SuiteRun()
        started = time.monotonic()
        with shadow.applied(list(edits)):
            built, late = self.oracle.build_tests(shadow.mirror, shadow.target, cancel, deadline)
            run.build_seconds = time.monotonic() - started
            if late:
                run.error, run.timed_out = "ran out of time building the tests", True
            elif built.success is False or (not built.test_binaries and built.errors):
                first = built.errors[0].message if built.errors else (built.stderr.strip().splitlines() or ["?"])[-1]
                run.error = f"the tests do not compile: {first}"
            else:
                for binary in built.test_binaries:
                    self._run_binary(shadow, binary, run, want, cancel, deadline)
        run.seconds = time.monotonic() - started
        return run

    def _run_binary(self, shadow: ShadowWorkspace, binary, run: SuiteRun, want, cancel, deadline) -> None:
        target = _relative(binary.src_path, shadow.mirror)
        package = Path(binary.manifest_path).parent if binary.manifest_path else shadow.mirror
        # What `cargo test` sets for a harness at run time (the rest is compiled in).
        libraries = [str(Path(binary.executable).parent), *filter(None, [os.environ.get("LD_LIBRARY_PATH")])]
        env = {"CARGO_MANIFEST_DIR": str(package), "RUST_BACKTRACE": "0", "LD_LIBRARY_PATH": os.pathsep.join(libraries)}
        exe = Path(binary.executable)
        listing = self.oracle.run_binary(exe, ["--list", "--format", "terse"], package, env, cancel, deadline)
        names = parse_list(listing.stdout)
        run.listed.update((target, n) for n in names)
        chosen = [n for n in names if want is None or want((target, n))]
        run.wanted.update((target, n) for n in chosen)
        if not chosen or (deadline is not None and time.monotonic() > deadline):
            return
        args = ["--color", "never", "--format", "pretty"]
        if len(chosen) < len(names):
            args += ["--exact", *chosen]
        done = self.oracle.run_binary(exe, args, package, env, cancel, deadline)
        asked = set(chosen)
        for name, outcome in parse_libtest(done.stdout).items():
            if name in asked:
                run.outcomes[(target, name)] = outcome


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


# --- the last green state, in the memory ---------------------------------------------------------

def _row_key(key: TestKey) -> str:
    return f"{key[0]}::{key[1]}"


def green_rows(memory) -> dict[TestKey, dict]:
    """Each test's latest record: {"target", "name", "outcome", "state"}."""
    try:
        return {(r["target"], r["name"]): r for r in memory.rows(TABLE)}
    except Exception:  # noqa: BLE001 — no record yet (a memory from before the table existed)
        return {}


def green_outcomes(memory) -> dict[TestKey, str]:
    return {key: row["outcome"] for key, row in green_rows(memory).items()}


def record_green(memory, run: SuiteRun, state: str, recorded: dict[TestKey, dict] | None = None) -> dict:
    """Store what a run of the suite on a compiling state found, per test; once every listed test
    has an outcome for this state (over one or several runs), tests no longer listed are
    forgotten. Returns the run's summary (also logged to the devlog)."""
    rows = [{"id": _row_key(k), "target": k[0], "name": k[1], "outcome": o, "state": state}
            for k, o in sorted(run.outcomes.items())]
    if rows:
        memory.put_rows(TABLE, rows, "id")
    recorded = recorded or {}
    complete = all(k in run.outcomes or recorded.get(k, {}).get("state") == state for k in run.listed)
    if complete:
        memory.prune_rows(TABLE, {_row_key(k) for k in run.listed})
    summary = {"state": state, "complete": complete, "tests": len(run.listed), "ran": len(run.outcomes),
               "passed": run.count("passed"), "failed": run.count("failed"), "ignored": run.count("ignored"),
               "not_run": len(run.not_run), "build_seconds": round(run.build_seconds, 2),
               "seconds": round(run.seconds, 2)}
    memory.log_event(RUN_EVENT, summary).result()  # the next run reads it to skip this state
    return summary


def last_complete_state(memory) -> str | None:
    """The state the suite last ran through completely (None before any)."""
    try:
        runs = memory.events(RUN_EVENT)
    except Exception:  # noqa: BLE001 — no devlog yet
        return None
    return next((e["payload"]["state"] for e in reversed(runs) if e["payload"].get("complete")), None)


class GreenRecorder:
    """Runs the whole suite in a shadow slot of its own (role "tests": never the user's target
    directory, never another engine's) on the workspace as saved, and records the last green
    state. The heartbeat's `test` job calls `record` between edits; `close()` gives the slot back."""

    def __init__(self, root: Path, config: RustaConfig, slots: ShadowSlots):
        self.lease = slots.claim("tests", 1)
        self.shadow = ShadowWorkspace.for_workspace(root, config, slot=self.lease.first)
        self.runner = TestRunner(CargoOracle(config.cargo.check_args, enabled=config.cargo.enable))
        self._broken: tuple[str, str] | None = None  # (state, why): its tests did not compile

    def record(self, memory, cancel: CancelToken | None = None, budget_s: float = 120.0) -> dict:
        """Run the tests not yet recorded for the current state (all of them after a change), until
        `budget_s` wall seconds; a suite too long for one budget completes over several calls."""
        self.shadow.sync()
        state = state_digest(self.shadow.contents)
        if last_complete_state(memory) == state:
            return {"skipped": "the tests already ran on this state", "state": state[:12]}
        if self._broken is not None and self._broken[0] == state:
            return {"skipped": f"not a green state: {self._broken[1]}", "state": state[:12]}
        recorded = green_rows(memory)
        run = self.runner.run(self.shadow, lambda key: recorded.get(key, {}).get("state") != state, cancel,
                              time.monotonic() + budget_s)
        if run.error is not None:
            if not run.timed_out:
                self._broken = (state, run.error)  # until the next change: the same build fails alike
            return {"skipped": f"not a green state: {run.error}", "state": state[:12],
                    "build_seconds": round(run.build_seconds, 2)}
        return {**record_green(memory, run, state, recorded), "state": state[:12]}

    def close(self) -> None:
        self.lease.release()


# --- tests related to a candidate ----------------------------------------------------------------

def libtest_name(qualified: str) -> str:
    """The name libtest gives a test item: its path inside its crate (`crate::` dropped)."""
    return qualified.split("::", 1)[1] if qualified.startswith("crate::") else qualified


def related_tests(memory, cand: Candidate, contents: dict[str, bytes]) -> set[str]:
    """libtest names of the tests that reach what the candidate changes: the innermost items
    around its edits and its diagnostic, tests among them, and the tests that mention them or
    their callers (transitively, bounded; see `Memory.tests_reaching`)."""
    lines: dict[str, set[int]] = {}
    for e in cand.edits:
        lines.setdefault(e.path, set()).add(contents.get(e.path, b"").count(b"\n", 0, e.start) + 1)
    span = cand.diagnostic.primary
    if span is not None:
        lines.setdefault(span.path, set()).add(span.line_start)
    changed = []
    for path, wanted in lines.items():
        items = [i for i in memory.items_in_file(path) if i.kind in _REACHABLE_KINDS]
        for line in wanted:
            around = [i for i in items if i.start_line <= line <= i.end_line]
            if around:
                changed.append(min(around, key=lambda i: i.end_line - i.start_line))
    tests = {i.qualified for i in changed if i.is_test and i.kind in ("fn", "method")}
    names = {i.name for i in changed}
    if names:
        tests |= {t.qualified for t in memory.tests_reaching(names)}
    return {libtest_name(q) for q in tests}


# --- the check of candidates that compiled ---------------------------------------------------------

@dataclass
class TestCheck:
    """What a `TestChecker.check` cost and did, for logs and benchmarks."""

    runs: int = 0
    seconds: float = 0.0
    rejected: int = 0


@dataclass
class _Trial:
    members: list[Candidate]  # applied together: one patch per diagnostic, so the tests compile
    judged: list[Candidate]  # whose evidence this run gives
    fallback: SuiteRun | None = None  # the run to judge on when this retry cannot build


class TestChecker:
    def __init__(self, runner: TestRunner, memory):
        self.runner = runner
        self.memory = memory

    def check(self, fixes: list[list[Candidate]], contents: dict[str, bytes], shadow: ShadowWorkspace,
              cancel: CancelToken | None = None, budget_s: float = 60.0, buildable: bool = True) -> TestCheck:
        """`fixes`: per diagnostic, its verified candidates, best first. Fills the `tests` of those
        that have none; one that makes a test fail that passed at the last green state loses
        `verified` and says which test. Not `buildable` (an error has no verified patch): no test
        can run, and the candidates stay without evidence, to be tested once the report is whole.

        The tests only compile once every error is gone, so each run applies one patch per
        diagnostic: the best ones together first (one build judges them all), then each
        alternative in its diagnostic's place. A failed test that reaches several of the judged
        patches is run again without the other suspects, when the crate builds without them."""
        started = time.monotonic()
        deadline = started + budget_s
        stats = TestCheck()
        green = green_outcomes(self.memory)
        related: dict[int, set[str]] = {}
        for cands in fixes:
            for cand in cands:
                if cand.tests is None:
                    related[id(cand)] = related_tests(self.memory, cand, contents)
                    if not related[id(cand)]:
                        cand.tests = TestEvidence()  # nothing reaches it: no test to run
        trials = _trials(fixes, lambda c: c.tests is None and id(c) in related) if buildable else []
        while trials:
            trial = trials.pop(0)
            if time.monotonic() >= deadline:
                for cand in trial.judged:
                    cand.tests = _not_run(len(related[id(cand)]))
                continue
            names = set().union(*(related[id(c)] for c in trial.judged))
            run = self.runner.run(shadow, lambda key: key[1] in names, cancel, deadline, edits=merge(trial.members))
            stats.runs += 1
            retries = []
            for cand in trial.judged:
                failed = {k[1] for k, o in run.outcomes.items() if o == "failed" and k[1] in related[id(cand)]}
                suspects = [o for o in trial.judged if o is not cand and related[id(o)] & failed]
                if suspects and trial.fallback is None:
                    innocent = [m for m in trial.members if all(m is not o for o in suspects)]
                    retries.append(_Trial(innocent, [cand], run))
                    continue
                verdict = run if run.error is None or trial.fallback is None else trial.fallback
                if self._judge(cand, related[id(cand)], verdict, green):
                    stats.rejected += 1
            trials[:0] = retries
        stats.seconds = time.monotonic() - started
        return stats

    @staticmethod
    def _judge(cand: Candidate, names: set[str], run: SuiteRun, green: dict[TestKey, str]) -> bool:
        """Fill the candidate's evidence from `run`; True when it is rejected."""
        if run.error is not None:
            cand.tests = _not_run(len(names))
            return False
        keys = {k for k in run.wanted if k[1] in names}
        outcomes = [run.outcomes.get(k) for k in keys]
        passed, failed, not_run = outcomes.count("passed"), outcomes.count("failed"), outcomes.count(None)
        cand.tests = TestEvidence(related=passed + failed + not_run, passed=passed, failed=failed,
                                  not_run=not_run, ran=passed + failed > 0)
        broken = sorted(k for k in keys if run.outcomes.get(k) == "failed" and green.get(k) == "passed")
        if not broken:
            return False
        cand.verified = False
        more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
        cand.reason = f"breaks test `{broken[0][1]}` in {broken[0][0]}{more}, which passed at the last green state"
        return True


def _not_run(related: int) -> TestEvidence:
    return TestEvidence(related=related, not_run=related)


def _trials(fixes: list[list[Candidate]], wanted: Callable[[Candidate], bool]) -> list[_Trial]:
    """The best patches of all diagnostics together (those whose edits do not overlap), judging
    the wanted ones; then one trial per wanted alternative, in its diagnostic's place."""
    best: dict[int, Candidate] = {}
    for i, cands in enumerate(fixes):
        if cands and not any(overlapping(cands[0].edits, b.edits) for b in best.values()):
            best[i] = cands[0]
    trials = [_Trial(list(best.values()), [c for c in best.values() if wanted(c)])]
    for i, cands in enumerate(fixes):
        for cand in cands:
            if wanted(cand) and all(cand is not j for j in trials[0].judged):
                others = [b for j, b in best.items() if j != i and not overlapping(cand.edits, b.edits)]
                trials.append(_Trial([cand, *others], [cand]))
    return [t for t in trials if t.judged]


def checked_phrase(cand: Candidate) -> str:
    """What was checked, for titles and the CLI: "compiles, 7 related tests pass"."""
    t = cand.tests
    if t is None or (t.related and not t.ran):
        return "compiles, tests not run"
    if not t.related:
        return "compiles, no related tests"
    if t.passed == t.related:
        return f"compiles, {t.passed} related test{'s pass' if t.passed > 1 else ' passes'}"
    parts = [f"compiles, {t.passed} of {t.related} related tests pass"]
    if t.failed:
        parts.append(f"{t.failed} fail{'s' if t.failed == 1 else ''}")
    if t.not_run:
        parts.append(f"{t.not_run} not run")
    return ", ".join(parts)
