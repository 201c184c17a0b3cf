"""Patches judged by what other people meant: broken programs from the Rust documentation, each
checked against its author's own correction, with two floors a user has, in the same run.

    python bench/intent.py [--cases N] [--codes E0382,E0308] [--source book|error-index]
                           [--out bench/out/intent.json]

Corpus (bench/intent_corpus.py): Debian's `rust-doc` package (`apt-get install rust-doc`), its
error index (a `compile_fail` example per error code, then corrected examples) and the Rust Book
(listings marked `does_not_compile`, the corrected listing after them). A broken example is paired
with a corrected one only when their token sequences are the same program (similarity >= 0.75).
Each broken program is then compiled with the installed rustc: examples that no longer fail, that
need a crate not available offline or a nightly feature are dropped, with counts; a pair whose
corrected program does not compile here is unpaired. Cases:

- judged: paired, the corrected program compiles. "Local" when the author's correction changes at
  most 3 places and 16 tokens; "rewrite" otherwise. On a rewrite no local patch is expected:
  abstaining is the right answer there (an offer is still judged, and can be right).
- unpaired: no corrected form of this program exists. Nothing can say what the author meant, so
  offers here are listed, counted, and left out of every rate.

Each case is a one-crate workspace (src/main.rs, the example's edition; one cargo target folder
shared by all cases). The systems:

- Rusta: `PatchEngine.fix()` then `.test()` as `rusta fix` runs them, with the crate's memory
  indexed first (as the server has it), the shipped confidence prior, and bench shadow slots (no
  green state exists for a program that never compiled, so no test can reject a patch here). These
  programs never built and have no history: no case is a git repository or has a build record in
  its own target folder, so Rusta has never seen one build (patches/seen.py) and offers only at
  the target precision itself, as it would on such code in an editor. Its offer for a case is
  the best patch at the threshold for the target diagnostic: the first error with the documented
  code (the error index's section, the Book's printed `error[E....]`), else the first error.
- rustc's first suggestion for the same diagnostic, applied blindly (bench/fix.py's baseline).
- `cargo fix --broken-code --allow-no-vcs`: rustc's MachineApplicable suggestions for every
  diagnostic, applied and cargo-checked by cargo itself, kept even when the result still fails.
  Its offer is the whole file it wrote, when it changed anything.

The judge is not Rusta's code: it compiles with rustc directly and compares tokens. Programs are
compared as token sequences without comments, whitespace, trailing commas, with non-`pub` `use`
declarations sorted to the front (an import's position does not matter), and with the names a
program newly binds (a `let` variable or a `use`/`extern crate ... as` alias that the broken
program did not have) numbered in order (a fresh name may be anything). A patched program is

1. right, "the author's program": its tokens equal the corrected program's;
2. right, "part of the author's fix": it lies on a shortest token-edit path from the broken to the
   corrected program (insertions and deletions: every token it removes the author removed, every
   one it adds the author added, at that place), and rustc reports fewer errors than on the broken
   program and no error code the broken program did not have;
3. right, "same behaviour": it compiles, and the corrected program prints something or has tests;
   built and run (10 s, no input; twice for the corrected one, whose output must be repeatable),
   both print the same stdout with the same exit status, and their tests pass and fail alike;
4. otherwise wrong, with the class of edit (from the token diff) and whether it compiles.

Rates, per error code and overall, for each system: fix rate = judged cases with a right offer /
judged cases; precision = right offers / offers (with the one-sided 95% Wilson lower bound);
coverage = offers / judged cases; abstention on rewrites = rewrite cases without an offer /
rewrite cases. For Rusta and rustc's suggestion, "every offer" also judges the patches offered for
the other errors of a judged case.

The output (bench/out/intent.json) also holds every verified patch of each judged case's target
error, with its confidence features and the judge's verdict: bench/fit_prior.py --others fits the
confidence prior on the development half's.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import intent_corpus as corpus  # noqa: E402
from fix import baseline, cargo_fix, indexed_memory  # noqa: E402

from rusta_lsp.config import read_config  # noqa: E402
from rusta_lsp.patches import intent  # noqa: E402
from rusta_lsp.patches.candidate import Candidate, patched  # noqa: E402
from rusta_lsp.patches.confidence import wilson_lower  # noqa: E402
from rusta_lsp.patches.engine import PatchEngine  # noqa: E402

MAIN = "src/main.rs"
LOCAL_HUNKS, LOCAL_TOKENS = 3, 16
RUN_TIMEOUT_S = 10
JOBS = 2
SYSTEMS = ("rusta", "first_suggestion", "cargo_fix")
HALVES = ("held-out", "dev")
# Errors that say a program needs a crate of its own: a Book project's library or crates.io.
MISSING_CRATE = re.compile(
    r"(?:unlinked crate|can't find crate for|undeclared crate or module|unresolved import|"
    r"could not find `\w+` in the crate root|extern crate) `(\w+)"
)


# --- rustc, the judge's compiler -------------------------------------------------------------------


@dataclass
class Check:
    errors: list[tuple[str | None, str, int]]  # code, message, line

    @property
    def ok(self) -> bool:
        return not self.errors

    def codes(self) -> collections.Counter:
        return collections.Counter(code for code, _, _ in self.errors)


class Rustc:
    """rustc run directly on one program, results cached on disk by content: the same check
    `cargo check --all-targets` makes of a one-file binary crate (the test harness too when the
    program has tests), and builds and runs for the behaviour criterion."""

    def __init__(self, work: Path):
        self.work = work
        self.version = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
        self.cache_file = work / "rustc-cache.json"
        try:
            self.cache = json.loads(self.cache_file.read_text())
        except (OSError, ValueError):
            self.cache = {}

    def _key(self, *parts: str) -> str:
        return hashlib.sha256("\0".join((self.version, *parts)).encode()).hexdigest()

    def save(self) -> None:
        self.cache_file.write_text(json.dumps(self.cache))

    def check(self, code: str, edition: str) -> Check:
        key = self._key("check", edition, code)
        if key not in self.cache:
            errors = self._compile(code, edition, ["--crate-type", "bin", "--emit=metadata"])
            if has_tests(code):
                seen = {tuple(e) for e in errors}
                harness = self._compile(code, edition, ["--test", "--emit=metadata"])
                errors += [e for e in harness if tuple(e) not in seen]
            self.cache[key] = errors
        return Check([tuple(e) for e in self.cache[key]])

    def _compile(self, code: str, edition: str, args: list[str], out: Path | None = None) -> list:
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            src = Path(tmp) / "main.rs"
            src.write_text(code)
            proc = subprocess.run(
                ["rustc", "--edition", edition, "--crate-name", "case", "--error-format=json",
                 *args, "-o", str(out or Path(tmp) / "out"), str(src)],
                capture_output=True, text=True, stdin=subprocess.DEVNULL,
            )
        errors = []
        for line in proc.stderr.splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("level") == "error" and not msg["message"].startswith("aborting due to"):
                spans = [s for s in msg.get("spans", []) if s.get("is_primary")] or msg.get("spans", [])
                errors.append([(msg.get("code") or {}).get("code"), msg["message"],
                               spans[0]["line_start"] if spans else 0])
        if proc.returncode != 0 and not errors:
            errors.append([None, (proc.stderr.strip().splitlines() or ["rustc failed"])[-1], 0])
        return errors

    def behaviour(self, code: str, edition: str, repeat: int = 1) -> dict | None:
        """stdout and exit status of the program, and its tests' outcomes; None when it cannot be
        built, runs past the timeout, or (with `repeat`) gives different results between runs."""
        key = self._key("run", edition, str(repeat), code)
        if key not in self.cache:
            self.cache[key] = self._behaviour(code, edition, repeat)
        return self.cache[key]

    def _behaviour(self, code: str, edition: str, repeat: int) -> dict | None:
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            binary, tests = Path(tmp) / "main", Path(tmp) / "tests"
            if self._compile(code, edition, ["--crate-type", "bin", "-A", "warnings"], binary):
                return None
            if has_tests(code) and self._compile(code, edition, ["--test", "-A", "warnings"], tests):
                return None
            runs = []
            for _ in range(repeat):
                try:
                    main = subprocess.run([str(binary)], capture_output=True, text=True, cwd=tmp,
                                          stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S)
                    outcome = {"stdout": main.stdout, "status": main.returncode, "tests": {}}
                    if has_tests(code):
                        run = subprocess.run([str(tests), "--test-threads=1"], capture_output=True, text=True,
                                             cwd=tmp, stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S)
                        outcome["tests"] = dict(re.findall(r"(?m)^test (\S+) \.\.\. (\w+)", run.stdout))
                except (subprocess.TimeoutExpired, UnicodeDecodeError):
                    return None
                runs.append(outcome)
            return runs[0] if all(r == runs[0] for r in runs) else None


def has_tests(code: str) -> bool:
    return bool(re.search(r"#\[(?:test|cfg\(test\))\]", code))


# --- the judge -------------------------------------------------------------------------------------


@dataclass
class Verdict:
    right: bool
    why: str  # the criterion met, or what is wrong
    edit: str = ""  # the class of the edit, from the token diff
    compiles: bool | None = None
    diff: str = ""

    def to_json(self) -> dict:
        return {"right": self.right, "why": self.why, "edit": self.edit, "compiles": self.compiles, "diff": self.diff}


def edit_class(before: list[str], after: list[str]) -> str:
    """What a patch does, read from its token diff (independent of the generator's own label)."""
    ops = [op for op in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes() if op[0] != "equal"]
    removed = [t for _, i1, i2, _, _ in ops for t in before[i1:i2]]
    added = [t for _, _, _, j1, j2 in ops for t in after[j1:j2]]
    ident = re.compile(r"[A-Za-z_]\w*$")
    if not added:
        return "deletes code"
    if len(ops) == 1 and len(removed) == len(added) == 1 and ident.match(removed[0]) and ident.match(added[0]):
        return "renames"
    if not removed and set(added) <= {"&", "mut", "*", "ref", "move"}:
        return "adds &/mut/*/ref/move"
    if not removed and ("clone" in added or "to_owned" in added or "to_string" in added):
        return "adds a clone/copy"
    if "as" in added or "into" in added or "parse" in added:
        return "converts a type"
    if "use" in added:
        return "adds an import"
    if "fn" in added or "impl" in added:
        return "adds or changes an item"
    return "inserts code" if not removed else "replaces code"


def _short_diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return "\n".join(ln for ln in list(lines)[2:] if not ln.startswith("@@"))[:600]


class Judge:
    def __init__(self, rustc: Rustc):
        self.rustc = rustc

    def __call__(self, case: "Run", text: str) -> Verdict:
        b, f, p = case.tokens_broken, case.tokens_fixed, corpus.normal_tokens(text)
        diff = _short_diff(case.broken, text)
        if p == b:
            return Verdict(False, "changes nothing the judge sees", diff=diff)
        edit = edit_class(b, p)
        known = set(b)
        p = corpus.fresh_names_renamed(p, known)
        if p == f:
            return Verdict(True, "the author's program", edit, True, diff)
        check = self.rustc.check(text, case.edition)
        on_path = corpus.edit_distance(b, p) + corpus.edit_distance(p, f) == case.author_distance
        if on_path:
            before = self.rustc.check(case.broken, case.edition)
            after = check.codes()
            if len(check.errors) < len(before.errors) and not (after - before.codes()):
                return Verdict(True, "part of the author's fix", edit, check.ok, diff)
        if check.ok:
            expected = self.rustc.behaviour(case.fixed, case.edition, repeat=2)
            if expected and (expected["stdout"] or expected["tests"]):
                if self.rustc.behaviour(text, case.edition) == expected:
                    return Verdict(True, "same behaviour", edit, True, diff)
        why = "on the author's path, but errors remain or new ones appear" if on_path else "not the author's fix"
        return Verdict(False, why, edit, check.ok, diff)


# --- cases -----------------------------------------------------------------------------------------


@dataclass
class Run:
    """One case as the benchmark runs it."""

    case: corpus.Case
    slug: str
    kind: str  # "local", "rewrite", "unpaired"
    code: str | None  # the target error code (documented, else rustc's first)
    target_line: int = 0
    notes: list[str] = field(default_factory=list)
    tokens_broken: list[str] = field(default_factory=list)
    tokens_fixed: list[str] = field(default_factory=list)
    author_distance: int = 0
    author_hunks: int = 0
    result: dict = field(default_factory=dict)  # system -> {"offered", "right", verdict, ...}
    others: dict = field(default_factory=dict)  # system -> verdicts of offers for other errors
    patches: list = field(default_factory=list)  # Rusta's verified patches of the target, judged

    @property
    def broken(self) -> str:
        return self.case.broken

    @property
    def fixed(self) -> str | None:
        return self.case.fixed

    @property
    def edition(self) -> str:
        return self.case.edition


def half(name: str) -> str:
    """The case's half, fixed before any result was seen: "dev" when the first byte of the SHA-256
    of its name ("error-index:E0382#0") is even, else "held-out". Rules and weights are studied
    and tuned on the dev half only; the held-out half is the headline."""
    return "dev" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "held-out"


def slug(case: corpus.Case) -> str:
    source, rest = case.name.split(":", 1)
    return re.sub(r"[^a-z0-9]+", "_", f"{'ei' if source == 'error-index' else 'book'}_{rest}".lower())


def defined(name: str, code: str) -> bool:
    return bool(re.search(rf"\b(?:mod|enum|struct|trait|type|fn|const|static|union|let)\s+{name}\b", code))


def needs(check: Check, code: str) -> str | None:
    """Why a program cannot build on its own here: a crate not available offline, or the other
    files of its Book project."""
    for _, message, _ in check.errors:
        if message.startswith("file not found for module"):
            return "needs other files of its project"
        m = MISSING_CRATE.search(message)
        if m and m.group(1) not in ("std", "core", "alloc", "self", "super", "crate") and not defined(m.group(1), code):
            return f"needs a crate not available offline ({m.group(1)})"
    return None


def prepare(cases: list[corpus.Case], rustc: Rustc, dropped: collections.Counter) -> list[Run]:
    """Compile every broken and corrected program; keep what fails and what corrects it."""
    programs = {(c.broken, c.edition) for c in cases} | {(c.fixed, c.edition) for c in cases if c.fixed}
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        checks = dict(zip(programs, pool.map(lambda p: rustc.check(*p), programs)))
    rustc.save()
    runs = []
    for case in cases:
        broken = checks[(case.broken, case.edition)]
        if broken.ok:
            dropped["broken example compiles on this rustc (the error is gone)"] += 1
            continue
        fixed = checks[(case.fixed, case.edition)] if case.fixed else None
        need = needs(fixed, case.fixed) if fixed is not None and not fixed.ok else None
        if need is None and case.source == "book":  # the error index's own lessons name missing crates
            need = needs(broken, case.broken)
        if need:
            dropped[need] += 1
            continue
        notes = list(case.notes)
        if fixed is not None and not fixed.ok:
            notes.append(f"its corrected form {case.partner} does not compile here: {fixed.errors[0][1]}")
            case = corpus.Case(case.name, case.source, case.error_code, case.edition, case.broken, None,
                               case.similarity, None, case.notes)
        documented = case.error_code
        codes = [code for code, _, _ in broken.errors]
        target = next((e for e in broken.errors if e[0] == documented), broken.errors[0])
        if documented and documented not in codes:
            notes.append(f"documented for {documented}; this rustc reports {sorted(set(filter(None, codes)))}")
        run = Run(case, slug(case), "unpaired", target[0], target[2], notes)
        if case.fixed:
            run.tokens_broken = corpus.normal_tokens(case.broken)
            run.tokens_fixed = corpus.fresh_names_renamed(corpus.normal_tokens(case.fixed), set(run.tokens_broken))
            run.author_distance = corpus.edit_distance(run.tokens_broken, run.tokens_fixed)
            run.author_hunks = corpus.hunks(run.tokens_broken, run.tokens_fixed)
            local = run.author_hunks <= LOCAL_HUNKS and run.author_distance <= LOCAL_TOKENS
            run.kind = "local" if local else "rewrite"
        runs.append(run)
    return runs


def write_crate(folder: Path, run: Run) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "src").mkdir(parents=True)
    (folder / "Cargo.toml").write_text(
        f'[package]\nname = "{run.slug}"\nversion = "0.1.0"\nedition = "{run.edition}"\n\n[workspace]\n'
    )
    (folder / MAIN).write_text(run.broken)
    return folder


# --- the systems -----------------------------------------------------------------------------------


def run_rusta(run: Run, work: Path, judge: Judge) -> None:
    """The engine as `rusta fix` runs it; rustc's first suggestion for the same diagnostic."""
    root = write_crate(work / "cases" / run.slug, run)
    memory_dir = work / "memories" / run.slug
    shutil.rmtree(memory_dir, ignore_errors=True)
    config, problems = read_config({"memory": {"uri": str(memory_dir)}, "cargo": {"targetDir": str(work / "target")}})
    assert not problems, problems
    with indexed_memory(memory_dir, root) as memory:
        engine = PatchEngine(root, config, memory, role="bench")
        try:
            started = time.monotonic()
            report = engine.test(engine.fix())  # the related tests, as `rusta fix` runs them
            seconds = time.monotonic() - started
        finally:
            engine.close()
    shutil.rmtree(memory_dir, ignore_errors=True)  # a few hundred KB a case: not kept
    fixes = [f for f in report.fixes if f.path == MAIN]
    target = next((f for f in fixes if f.diagnostic.code == run.code and f.start.line == run.target_line),
                  next((f for f in fixes if f.diagnostic.code == run.code), fixes[0] if fixes else None))

    def judged(cand: Candidate | None) -> dict:
        if cand is None:
            return {"offered": False, "right": False}
        text = patched(report.contents, cand.edits)[MAIN].decode("utf-8", "replace")
        out = {"offered": True, "title": cand.title, "source": cand.source, "kind": cand.kind,
               "applicability": cand.applicability, "confidence": round(cand.confidence, 3)}
        if run.fixed:
            verdict = judge(run, text)
            out.update(right=verdict.right, verdict=verdict.to_json())
        else:
            out.update(right=False, diff=_short_diff(run.broken, text))
        return out

    rusta = judged(target.best if target else None)
    rusta.update(seconds=round(seconds, 2), cargo_runs=report.cargo_runs, errors=len(fixes),
                 reason=target.reason if target else "no error in the crate's check",
                 verified=len(target.patches) if target else 0)
    # Every verified patch of the target with its features, judged: bench/fit_prior.py --others
    # refits the prior on them (development half only). `equals`: the engine abstains whatever the
    # confidence, the best being one of several fixes rustc lists as equals.
    if target and target.patches and run.fixed:
        rusta["equals"] = intent.alternatives(target.patches[0], target.patches) is not None
        run.patches = [{**judged(c), "features": c.extra["features"], "rank": i}
                       for i, c in enumerate(target.patches)]
    first = baseline(target, report.contents) if target else {"offered": False}
    run.result["rusta"] = rusta
    run.result["first_suggestion"] = judged(first.get("candidate"))
    run.others["rusta"] = [judged(f.best) for f in fixes if f is not target and f.best]
    run.others["first_suggestion"] = [judged(b["candidate"]) for f in fixes if f is not target
                                      for b in [baseline(f, report.contents)] if b["offered"]]


def run_cargo_fix(run: Run, work: Path, slot: int) -> str | None:
    """The crate's main.rs after `cargo fix --broken-code`; None when cargo changed nothing."""
    root = write_crate(work / "cargo-fix" / run.slug, run)
    cargo_fix(root, work / f"target-cargo-fix-{slot}")
    text = (root / MAIN).read_text()
    return None if text == run.broken else text


# --- report ----------------------------------------------------------------------------------------


def rates(runs: list[Run], system: str) -> dict:
    judged = [r for r in runs if r.kind != "unpaired"]
    offered = [r for r in judged if r.result[system]["offered"]]
    right = [r for r in offered if r.result[system]["right"]]
    rewrites = [r for r in judged if r.kind == "rewrite"]
    out = {
        "cases": len(judged), "offered": len(offered), "right": len(right),
        "fix_rate": len(right) / max(1, len(judged)),
        "precision": len(right) / max(1, len(offered)),
        "precision_wilson95": wilson_lower(len(right), len(offered)),
        "coverage": len(offered) / max(1, len(judged)),
        "fix_rate_local": sum(r.kind == "local" for r in right) / max(1, sum(r.kind == "local" for r in judged)),
        "abstention_rewrite": sum(not r.result[system]["offered"] for r in rewrites) / max(1, len(rewrites)),
        "offers_unpaired": sum(r.result[system]["offered"] for r in runs if r.kind == "unpaired"),
    }
    if system in ("rusta", "first_suggestion"):
        every = [o for r in judged for o in [r.result[system], *r.others[system]] if o["offered"]]
        good = sum(o["right"] for o in every)
        out["every_offer"] = {"offered": len(every), "right": good, "precision": good / max(1, len(every)),
                              "precision_wilson95": wilson_lower(good, len(every))}
    return out


def cell(runs: list[Run], system: str) -> str:
    offered = sum(r.result[system]["offered"] for r in runs)
    right = sum(r.result[system]["right"] for r in runs)
    return f"{right}/{offered}"


def print_report(runs: list[Run], corpus_counts: dict, summary: dict) -> None:
    print("\n== corpus")
    for key, value in corpus_counts.items():
        print(f"  {key}: {value}")
    judged = [r for r in runs if r.kind != "unpaired"]
    print("\n== per error code (right/offered over judged cases; n = judged cases, local+rewrite)")
    print(f"  {'code':7}{'n':>4}{'local':>6}   {'rusta':>8}{'rustc 1st':>10}{'cargo fix':>10}")
    by_code = collections.defaultdict(list)
    for r in judged:
        by_code[r.code or "-"].append(r)
    for code in sorted(by_code):
        rs = by_code[code]
        print(f"  {code:7}{len(rs):4}{sum(r.kind == 'local' for r in rs):6}   "
              + "".join(f"{cell(rs, s):>{8 if s == 'rusta' else 10}}" for s in SYSTEMS))
    print("\n== misses of Rusta on judged cases")
    for r in judged:
        res = r.result["rusta"]
        if res["offered"] and not res["right"]:
            v = res["verdict"]
            print(f"  WRONG ({half(r.case.name)}) {r.case.name} [{r.code}] {res['title']} ({res['confidence']:.2f}, {res['source']}"
                  f"{', ' + res['applicability'] if res['applicability'] else ''}): "
                  f"{v['why']}; {v['edit']}; compiles={v['compiles']}")
    reasons = collections.Counter(
        re.sub(r"\d+(\.\d+)?", "N", r.result["rusta"]["reason"] or "")[:90]
        for r in judged if r.kind == "local" and not r.result["rusta"]["offered"]
    )
    print("  abstained on local cases, by reason:")
    for reason, n in reasons.most_common():
        print(f"    {n:3}  {reason}")
    wrong_others = [(r, o) for r in judged for o in r.others["rusta"] if not o["right"]]
    for r, o in wrong_others:
        print(f"  WRONG (another error, {half(r.case.name)}) {r.case.name} {o['title']}: {o['verdict']['why']}; {o['verdict']['edit']}")
    offered_unpaired = [r for r in runs if r.kind == "unpaired" and r.result["rusta"]["offered"]]
    print(f"\n== Rusta's offers on unpaired cases (no corrected form: not judged), {len(offered_unpaired)}")
    for r in offered_unpaired:
        print(f"  {r.case.name} [{r.code}] {r.result['rusta']['title']} ({r.result['rusta']['confidence']:.2f})")
    for name, part in summary.items():
        print_overall(name, part)


def print_overall(name: str, summary: dict) -> None:
    print(f"\n== overall, {name} (judged cases)")
    print(f"  {'':26}" + "".join(f"{s:>18}" for s in SYSTEMS))
    for key in ("cases", "offered", "right", "fix_rate", "fix_rate_local", "precision", "precision_wilson95",
                "coverage", "abstention_rewrite", "offers_unpaired"):
        vals = [summary[s][key] for s in SYSTEMS]
        print(f"  {key:26}" + "".join(f"{v:>18.3f}" if isinstance(v, float) else f"{v:>18}" for v in vals))
    for s in ("rusta", "first_suggestion"):
        e = summary[s]["every_offer"]
        print(f"  every offer, {s}: {e['right']}/{e['offered']} right, precision {e['precision']:.3f} "
              f"(Wilson 95% lower {e['precision_wilson95']:.3f})")
    fixed = {s: summary[s]["fix_rate"] for s in SYSTEMS}
    print(f"  Rusta over cargo fix: fix rate x{fixed['rusta'] / max(1e-9, fixed['cargo_fix']):.2f}, "
          f"over rustc's first suggestion: x{fixed['rusta'] / max(1e-9, fixed['first_suggestion']):.2f}")


def select(cases: list[corpus.Case], args) -> list[corpus.Case]:
    if args.source:
        cases = [c for c in cases if c.source == args.source]
    if args.half != "all":
        cases = [c for c in cases if half(c.name) == args.half]
    if args.codes:
        cases = [c for c in cases if c.error_code in set(args.codes.split(","))]
    if args.cases and args.cases < len(cases):
        step = len(cases) / args.cases  # spread over sources and codes, the same every run
        cases = [cases[int(i * step)] for i in range(args.cases)]
    return cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=0, help="a subset of this many cases, evenly spread")
    parser.add_argument("--codes", default="", help="only these documented error codes, comma-separated")
    parser.add_argument("--source", choices=["book", "error-index"])
    parser.add_argument("--half", choices=["all", *HALVES], default="all",
                        help="only one half of the corpus (split by a hash of the case name)")
    parser.add_argument("--docs", default=str(corpus.RUST_DOC))
    parser.add_argument("--work", default=str(ROOT / "bench" / "out" / "intent-work"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "intent.json"))
    args = parser.parse_args()
    if not (Path(args.docs) / "error-index.html").is_file():
        sys.exit(f"{args.docs}/error-index.html not found: apt-get install rust-doc")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    cases, dropped_text = corpus.load(Path(args.docs))
    examples = len(cases) + sum(dropped_text.values())
    cases = select(cases, args)
    rustc = Rustc(work)
    print(f"machine: {os.uname().machine}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{rustc.version.splitlines()[0]}; docs: {args.docs}", flush=True)
    dropped = collections.Counter(dropped_text if not (args.cases or args.codes or args.source or args.half != "all")
                                  else {})
    runs = prepare(cases, rustc, dropped)
    judge = Judge(rustc)
    kinds = collections.Counter(r.kind for r in runs)
    print(f"{len(runs)} cases: {kinds['local']} local, {kinds['rewrite']} rewrite, {kinds['unpaired']} unpaired "
          f"(from {len(cases)} broken examples selected)", flush=True)
    for i, run in enumerate(runs, 1):
        run_rusta(run, work, judge)
        res = run.result["rusta"]
        state = ("abstain" if not res["offered"] else "-" if run.kind == "unpaired"
                 else "right" if res["right"] else "WRONG")
        print(f"[{i:3}/{len(runs)}] {run.case.name:40} {half(run.case.name):8} {run.kind:8} {str(run.code):6} rusta={state:7} "
              f"{res['seconds']:.1f}s", flush=True)
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        fixed_texts = list(pool.map(lambda ir: run_cargo_fix(ir[1], work, ir[0] % JOBS), enumerate(runs)))
    for run, text in zip(runs, fixed_texts):
        result = {"offered": text is not None, "right": False}
        if text is not None and run.fixed:
            verdict = judge(run, text)
            result.update(right=verdict.right, verdict=verdict.to_json())
        run.result["cargo_fix"] = result
    rustc.save()
    halves = {"whole set": runs, **{f"{h} half": [r for r in runs if half(r.case.name) == h] for h in HALVES}}
    summary = {name: {s: rates(rs, s) for s in SYSTEMS} for name, rs in halves.items() if rs}
    by_code = collections.defaultdict(list)
    for run in runs:
        by_code[run.code or "-"].append(run)
    per_code = {code: {s: rates(rs, s) for s in SYSTEMS} for code, rs in sorted(by_code.items())}
    corpus_counts = {
        "broken examples in the documentation": examples,
        "selected": len(cases),
        "dropped": dict(dropped),
        "cases run": len(runs),
        "judged (paired, corrected program compiles)": kinds["local"] + kinds["rewrite"],
        "  local corrections": kinds["local"],
        "  rewrites (no local fix)": kinds["rewrite"],
        "unpaired (no corrected form of the same program)": kinds["unpaired"],
        "by source": dict(collections.Counter(f"{r.case.source}/{r.kind}" for r in runs)),
    }
    print_report(runs, corpus_counts, summary)
    print(f"\nwall {time.monotonic() - started:.0f}s; load average {os.getloadavg()[0]:.1f} at the end")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "corpus": corpus_counts, "summary": summary, "per_code": per_code, "rustc": rustc.version.splitlines()[0],
        "cases": [{"name": r.case.name, "half": half(r.case.name), "kind": r.kind, "code": r.code, "partner": r.case.partner,
                   "similarity": round(r.case.similarity, 3), "notes": r.notes, "author_hunks": r.author_hunks,
                   "author_tokens": r.author_distance, "result": r.result, "others": r.others,
                   "patches": r.patches} for r in runs],
    }, indent=1))


if __name__ == "__main__":
    main()
