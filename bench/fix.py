"""Verified patches against two floors, same run: rustc's first suggestion applied blindly, and
`cargo fix --broken-code` (what a user has: rustc's MachineApplicable suggestions, cargo-checked).

    python bench/fix.py [--cases 600] [--per-kind 4] [--seed 0] [--crates ...] [--kinds ...]
                        [--without-never-rules] [--out bench/out/fix.json]

Corpus: seeded mutations (rusta_lsp.heartbeat.mutations, shared with the drills) of real crates
(Debian librust sources: humantime, either, termcolor, fixedbitset, scopeguard) and the repo's
examples/ledger, the code-in-progress kinds included (an emptied body, a producer left at
`todo!()` that a test asserts on, a call to a function not written yet, a variable whose `let`
is not written yet, an import whose users were deleted, a near-miss name of another meaning):
for those, as for the removals nobody can undo, abstaining is the right answer (no-fix cases).
Each case breaks one site; the engine sees the mutated file as an unsaved buffer,
with the crate's memory indexed beforehand (as the server has it) and its default shadow slots.

Right = the patch gives back the original text (whitespace aside), or, for an import, imports the
item the original `use` line imported for that name (a removed `use a::{b, c}` is fixed one name
per diagnostic). For Rusta (best patch at the threshold) and the floors (rustc's first suggestion
of the target diagnostic, cargo fix) it reports:
fix rate (right / fixable cases), precision (right / offered) with its one-sided 95% Wilson
lower bound, coverage (offered / cases), and on the no-fix kinds abstention and placeholders
offered; per mutation kind and per edit kind (`Candidate.kind`). What the never-rules
(rusta_lsp/patches/intent.py) cost: per kind, the cases where a candidate they held back would
have given the original text back (the fix rate lost), and the offers of the forbidden classes on
the in-progress kinds (goal 0).
Time to a verified fix is compared with one bare incremental `cargo check` of the mutated crate,
measured right after on the same shadow (the floor). A 2-fold cross-fitted calibrator shows what
training on drills would do to precision and fix rate.

The second oracle: each crate's test suite runs once on the pristine crate (the last green state,
as the heartbeat records it); after each check the related tests of the verified patches run
(`PatchEngine.test`). Their time is added after the hint (the check's answer is published first),
reported over the same floor, with the compile-only figures beside the tested ones.

`cargo fix --broken-code --allow-no-vcs` runs on a copy of the crate with the mutated file written
to disk (its own target folder). It also applies its fixes for the crate's warnings, so it is
judged beside what it makes of the unmutated crate: right when the mutated file comes out as the
original, line for line (whitespace aside), but for lines those warning fixes change; offered
when it changed the file beyond those warning fixes.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from debian_crates import REGISTRY, copy_debian_crate  # noqa: E402

from rusta_lsp.config import read_config  # noqa: E402
from rusta_lsp.memory.ingest import Ingestor  # noqa: E402
from rusta_lsp.memory.store import Memory  # noqa: E402
from rusta_lsp.heartbeat.drills import patch_restores, target_fix  # noqa: E402
from rusta_lsp.heartbeat.mutations import IN_PROGRESS_KINDS, MUTATION_KINDS, mutation_corpus  # noqa: E402
from rusta_lsp.patches.candidate import Candidate, Edit, has_placeholder  # noqa: E402
from rusta_lsp.heartbeat.training import TrainConfig, train_calibrator  # noqa: E402
from rusta_lsp.patches import intent  # noqa: E402
from rusta_lsp.patches.candidate import EDIT_KINDS  # noqa: E402
from rusta_lsp.patches.confidence import Calibrator, wilson_lower  # noqa: E402
from rusta_lsp.patches.engine import PatchEngine  # noqa: E402
from rusta_lsp.patches.generators import rustc  # noqa: E402
from rusta_lsp.patches.generators import GenContext  # noqa: E402
from rusta_lsp.patches.shadow import ShadowSlots  # noqa: E402
from rusta_lsp.patches.testing import GreenRecorder  # noqa: E402

CRATES = ["humantime-2.1.0", "either-1.6.1", "termcolor-1.1.2", "fixedbitset-0.4.2", "scopeguard-1.1.0"]
# What the never-rules forbid on code in progress: filling a body, editing a test's expectation,
# deleting the author's words, renaming to a near-miss of another meaning.
FORBIDDEN_KINDS = {"write_body", "edit_test", "delete_code", "rename_similar"}


def workspaces(work: Path, names: list[str]) -> list[Path]:
    out = []
    for name in [n for n in names if n != "ledger"]:
        dest = work / name
        if not dest.exists():
            if not (REGISTRY / name).is_dir():
                print(f"skipping {name}: not installed (apt-get install librust-{name.rsplit('-', 1)[0]}-dev)")
                continue
            copy_debian_crate(name, dest)
        out.append(dest)
    ledger = work / "ledger"
    if "ledger" not in names:
        return out
    if not ledger.exists():
        import shutil

        shutil.copytree(ROOT / "examples" / "ledger", ledger, ignore=shutil.ignore_patterns("target"))
    out.append(ledger)
    return out


USE = re.compile(r"(?:^|\n)\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")


def use_paths(tree: str, prefix: str = "") -> set[str]:
    """Paths a use tree imports: `a::{b, c::{self, d as e}}` -> {a::b, a::c, a::c::d}."""
    tree = re.sub(r"\s+", " ", tree).strip().lstrip(":")
    if tree.startswith("{") and tree.endswith("}"):
        parts, depth, start = [], 0, 1
        for i, ch in enumerate(tree[1:-1], 1):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                parts.append(tree[start:i])
                start = i + 1
        parts.append(tree[start:-1])
        return set().union(*(use_paths(p, prefix) for p in parts if p.strip()))
    if "::{" in tree:
        head, rest = tree.split("::{", 1)
        return use_paths("{" + rest, prefix + head.strip() + "::")
    path = (prefix + tree.split(" as ")[0].strip()).replace(" ", "")
    return {path[: -len("::self")] if path.endswith("::self") else path}


def right(candidate: Candidate | None, mutated: bytes, original: bytes, path: str) -> bool:
    """The patch gives back the original text, or it imports what the original imported for the
    name in question (a removed `use a::{b, c}` line is fixed one name at a time)."""
    if candidate is None:
        return False
    if patch_restores(candidate, mutated, original, path):
        return True
    added = [m.group(1) for e in candidate.edits for m in USE.finditer("\n" + e.new_text)]
    if not added or len(added) != len(candidate.edits):
        return False
    imported = set().union(*(use_paths(m.group(1)) for m in USE.finditer(original.decode("utf-8", "replace"))))
    return all(use_paths(a) <= imported for a in added)


@contextlib.contextmanager
def indexed_memory(work: Path, root: Path):
    """The crate's memory (symbols and passages, no embeddings: imports need names only)."""
    memory = Memory.open(str(work / f"memory-{root.name}"), root)
    try:
        Ingestor(memory, root).run(embed=False)
        yield memory
    finally:
        memory.close()


def baseline(fix, contents) -> dict:
    """rustc's first suggestion for the target diagnostic, applied without checking."""
    sugs = rustc.generate(fix.diagnostic, GenContext(contents)) if fix else []
    if not sugs:
        return {"offered": False, "right": False, "placeholder": False}
    first = sugs[0]
    return {"offered": True, "placeholder": has_placeholder(first), "candidate": first}


def cargo_fix(root: Path, target: Path) -> None:
    """`cargo fix --broken-code` in `root`: MachineApplicable suggestions of every diagnostic,
    applied and checked by cargo, kept even when the crate still fails to build."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_TERM_COLOR="never")
    subprocess.run(["cargo", "fix", "--broken-code", "--allow-no-vcs", "--allow-dirty", "-q"], cwd=root, env=env,
                   capture_output=True, stdin=subprocess.DEVNULL)


def _sources(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.rs") if "target" not in p.parts}


class CargoFixFloor:
    """`cargo fix --broken-code` on a copy of one crate, with a mutated file written in."""

    def __init__(self, work: Path, root: Path):
        self.copy = work / "cargo-fix" / root.name
        self.target = work / "cargo-fix-target"
        shutil.rmtree(self.copy, ignore_errors=True)
        shutil.copytree(root, self.copy, ignore=shutil.ignore_patterns("target"), copy_function=shutil.copy)
        self.pristine = _sources(self.copy)
        cargo_fix(self.copy, self.target)
        self.clean = _sources(self.copy)  # the unmutated crate with cargo fix's fixes of its warnings
        self._restore()

    def _restore(self) -> None:
        for rel, data in _sources(self.copy).items():
            if self.pristine.get(rel) != data:
                (self.copy / rel).write_bytes(self.pristine[rel])

    def run(self, path: str, mutated: bytes) -> dict:
        (self.copy / path).write_bytes(mutated)
        try:
            cargo_fix(self.copy, self.target)
            result = (self.copy / path).read_bytes()
        finally:
            self._restore()
        warning_fixes = _changes(self.pristine[path], self.clean[path])
        # Right: the original text back, give or take the fixes of the crate's own warnings (cargo
        # skips those when the crate does not type-check, so either way).
        right = not (_changes(self.pristine[path], result) - warning_fixes)
        return {"offered": right or bool(_changes(mutated, result) - warning_fixes), "right": right}


def _changes(before: bytes, after: bytes) -> Counter:
    """The lines a change removes and adds, whitespace aside."""
    diff = difflib.unified_diff([re.sub(r"\s+", "", ln) for ln in before.decode("utf-8", "replace").splitlines()],
                                [re.sub(r"\s+", "", ln) for ln in after.decode("utf-8", "replace").splitlines()],
                                lineterm="", n=0)
    return Counter(line for line in list(diff)[2:] if line[:1] in "+-" and line[1:])


def verdict(answer: dict, no_fix: bool, silent: str = "-") -> str:
    """An answer in one word; on a no-fix case any offer is wrong (giving the text back too)."""
    return silent if not answer["offered"] else "right" if answer["right"] and not no_fix else "wrong"


def floor_seconds(engine: PatchEngine, path: str) -> float:
    """One bare incremental `cargo check` of the mutated crate: rewrite the file, check once."""
    shadow = engine.shadows[0]
    with shadow.applied([Edit(path, 0, 0, "")]):
        started = time.monotonic()
        engine.oracle.check(shadow.mirror, shadow.target)
        return time.monotonic() - started


def run_case(engine: PatchEngine, root: Path, mutation, cargo_fixed: CargoFixFloor) -> dict | None:
    original = (root / mutation.path).read_bytes()
    try:
        mutated = mutation.apply(original)
    except ValueError:
        return None
    started = time.monotonic()
    runs = engine.oracle.runs
    report = engine.fix(overlays={mutation.path: mutated.decode("utf-8", "replace")})
    seconds = time.monotonic() - started
    cargo_runs = engine.oracle.runs - runs
    fix = target_fix(report, mutation)
    if fix is None:
        return None  # the mutation broke nothing
    floor = floor_seconds(engine, mutation.path)
    compiled = fix.best  # the answer published after the check; the tests' verdict updates it
    started = time.monotonic()
    engine.test(report)
    test_seconds = time.monotonic() - started
    best = fix.best
    base = baseline(fix, report.contents)
    cand: Candidate | None = base.pop("candidate", None)
    base["right"] = right(cand, mutated, original, mutation.path)
    return {
        "crate": root.name, "kind": mutation.kind, "code": fix.diagnostic.code or "", "line": mutation.line,
        "no_fix": mutation.no_fix,
        "offered": best is not None,
        "edit_kind": best.kind if best else "",
        "best_kind": fix.patches[0].kind if fix.patches else "",
        "right": right(best, mutated, original, mutation.path),
        "placeholder": any(has_placeholder(p) for p in fix.patches),
        "confidence": best.confidence if best else (fix.patches[0].confidence if fix.patches else None),
        "source": best.source if best else "",
        "reason": fix.reason,
        "seconds": seconds, "floor": floor, "cargo_runs": cargo_runs, "test_seconds": test_seconds,
        "compiled_offered": compiled is not None, "compiled_right": right(compiled, mutated, original, mutation.path),
        "tests": vars(best.tests) if best is not None and best.tests is not None else None,
        "rejected_by_tests": [right(c, mutated, original, mutation.path) for c in fix.checked
                              if c.reason.startswith("breaks test")],
        "held_back": [{"kind": c.kind, "restores": right(c, mutated, original, mutation.path), "title": c.title}
                      for c in fix.withheld],
        "held_back_reason": fix.held_back,
        "verified_any": bool(fix.patches),
        "patches": [
            {"features": p.extra["features"], "right": right(p, mutated, original, mutation.path),
             "confidence": p.confidence, "rank": i, "source": p.source, "kind": p.kind, "title": p.title}
            for i, p in enumerate(fix.patches)
        ],
        "baseline": base,
        "cargo_fix": cargo_fixed.run(mutation.path, mutated),
    }


def green_state(root: Path, config, memory) -> dict:
    """The crate's whole suite on its pristine text, recorded as the heartbeat would."""
    recorder = GreenRecorder(root, config, ShadowSlots(root, config))
    try:
        started = time.monotonic()
        summary = recorder.record(memory, budget_s=600)
        return {**summary, "wall_s": round(time.monotonic() - started, 2)}
    finally:
        recorder.close()


def tests_summary(cases: list[dict], green: dict) -> dict:
    """The second oracle's cost (seconds after the hint, over the floor) and what it changed."""
    added = sorted(c["test_seconds"] for c in cases)
    offered = [c for c in cases if c["offered"]]
    return {
        "green_state": green,
        "median_added_s": statistics.median(added) if added else 0.0,
        "p90_added_s": added[int(0.9 * (len(added) - 1))] if added else 0.0,
        "median_added_over_floor": statistics.median([c["test_seconds"] / max(c["floor"], 1e-3) for c in cases])
        if cases else 0.0,
        "offered": len(offered),
        "offered_with_tests_run": sum(bool(c["tests"] and c["tests"]["ran"]) for c in offered),
        "offered_with_failing_tests": sum(bool(c["tests"] and c["tests"]["failed"]) for c in offered),
        "rejected_right": sum(r for c in cases for r in c["rejected_by_tests"]),
        "rejected_wrong": sum(not r for c in cases for r in c["rejected_by_tests"]),
        "compile_only": rates(cases, lambda c: c["compiled_offered"], lambda c: c["compiled_right"]),
    }


def rates(cases: list[dict], offered_key, right_key) -> dict:
    """Fix rate and coverage over the fixable cases; precision over every offer, the no-fix
    cases' included (an offer there is wrong), with its Wilson lower bound."""
    fixable = [c for c in cases if not c["no_fix"]]
    offered = [c for c in cases if offered_key(c)]
    right = [c for c in offered if right_key(c) and not c["no_fix"]]
    nofix = [c for c in cases if c["no_fix"]]
    return {
        "cases": len(cases), "fixable": len(fixable), "offered": len(offered), "right": len(right),
        "fix_rate": len(right) / max(1, len(fixable)),
        "precision": len(right) / max(1, len(offered)),
        "precision_wilson95": wilson_lower(len(right), len(offered)),
        "coverage": sum(offered_key(c) for c in fixable) / max(1, len(fixable)),
        "abstention_no_fix": sum(not offered_key(c) for c in nofix) / max(1, len(nofix)),
    }


def per_mutation_kind(cases: list[dict]) -> dict[str, dict]:
    """Rusta and the baseline per mutation kind; `lost_to_never_rules`: cases Rusta did not get
    right although a candidate a never-rule held back gave the original text back."""
    out = {}
    for kind in MUTATION_KINDS:
        mine = [c for c in cases if c["kind"] == kind]
        if mine:
            out[kind] = {
                "rusta": rates(mine, lambda c: c["offered"], lambda c: c["right"]),
                "baseline": rates(mine, lambda c: c["baseline"]["offered"], lambda c: c["baseline"]["right"]),
                "lost_to_never_rules": sum(not c["no_fix"] and not c["right"]
                                           and any(h["restores"] for h in c["held_back"]) for c in mine),
                "held_back": sum(bool(c["held_back"]) for c in mine),
            }
    return out


def per_edit_kind(cases: list[dict]) -> dict[str, dict]:
    """Per edit kind of the offered patch: offers, right ones, precision and its Wilson bound; and
    the cases where a never-rule held a candidate of the kind back (`restoring`: it would have
    given the original text back where that was the right answer)."""
    out = {}
    for kind in EDIT_KINDS:
        offered = [c for c in cases if c["offered"] and c["edit_kind"] == kind]
        right = sum(c["right"] and not c["no_fix"] for c in offered)
        held = [(h, c["no_fix"]) for c in cases for h in c["held_back"] if h["kind"] == kind]
        if offered or held:
            out[kind] = {"offered": len(offered), "right": right, "precision": right / max(1, len(offered)),
                         "precision_wilson95": wilson_lower(right, len(offered)), "held_back": len(held),
                         "held_back_restoring": sum(h["restores"] and not no_fix for h, no_fix in held)}
    return out


def reliability(cases: list[dict], edges=(0.5, 0.8, 0.9, 0.95, 1.0001)) -> list[dict]:
    """Calibration of the stated confidence: the best verified patch of each fixable case, binned
    by confidence, with its mean confidence next to the share that was right."""
    best = [(c["patches"][0]["confidence"], c["patches"][0]["right"]) for c in cases if c["patches"] and not c["no_fix"]]
    out = []
    for low, high in zip(edges, edges[1:]):
        inside = [(p, r) for p, r in best if low <= p < high]
        if inside:
            out.append({"bin": f"[{low:.2f}, {min(high, 1):.2f})", "patches": len(inside),
                        "mean_confidence": round(statistics.mean(p for p, _ in inside), 3),
                        "right": round(sum(r for _, r in inside) / len(inside), 3)})
    return out


def cross_fitted(cases: list[dict], target: float) -> dict:
    """2-fold: train the calibrator as the heartbeat does on one half's verified patches (its own
    held-out split sets the threshold), answer the other half with it."""
    folds = [cases[0::2], cases[1::2]]
    offered = right = fixable = 0
    for i in (0, 1):
        train = [p for c in folds[1 - i] for p in c["patches"]]
        x = torch.tensor([p["features"] for p in train], dtype=torch.float64)
        y = torch.tensor([float(p["right"]) for p in train], dtype=torch.float64)
        cal = Calibrator()
        cal.net, result = train_calibrator(x, y, Calibrator.prior().net, TrainConfig(target_precision=target))
        threshold = result.threshold
        for c in folds[i]:
            fixable += not c["no_fix"]
            if not c["patches"]:
                continue
            probs = cal.predict_many([p["features"] for p in c["patches"]])
            j = max(range(len(probs)), key=probs.__getitem__)
            if probs[j] >= threshold:
                offered += 1
                right += c["patches"][j]["right"] and not c["no_fix"]
    return {"fix_rate": right / max(1, fixable), "precision": right / max(1, offered),
            "precision_wilson95": wilson_lower(right, offered), "coverage": offered / max(1, fixable)}


def mutation_order(roots, seed: int, per_kind: int | None, kinds=MUTATION_KINDS) -> list:
    """(root, mutation) of every crate, round-robin over kinds and crates, so any prefix of a run
    spreads over both."""
    groups = defaultdict(list)  # (kind, crate) -> mutations, in the corpus' seeded order
    for root in roots:
        for m in mutation_corpus(root, seed=seed, per_kind=per_kind, kinds=kinds):
            groups[(m.kind, root.name)].append((root, m))
    return [x for _, x in sorted(
        ((j, kind, crate), x) for (kind, crate), items in groups.items() for j, x in enumerate(items))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crates", nargs="+", default=[*CRATES, "ledger"])
    parser.add_argument("--kinds", nargs="+", default=list(MUTATION_KINDS), choices=MUTATION_KINDS)
    parser.add_argument("--without-never-rules", action="store_true",
                        help="ablation: offer what the never-rules would hold back, as before them")
    parser.add_argument("--work", default=str(ROOT / "bench" / "out" / "fix-work"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "fix.json"))
    args = parser.parse_args()
    if args.without_never_rules:
        intent.held_back = lambda candidate, ctx: None
    work = Path(args.work)
    config, _ = read_config({"memory": {"uri": str(work / "memory")}})
    order = mutation_order(workspaces(work, args.crates), args.seed, args.per_kind, args.kinds)
    engines, green, floors = {}, {}, {}
    memories = contextlib.ExitStack()  # each crate's memory, indexed as the server would have it
    cases = []
    started = time.monotonic()
    for root, mutation in order:
        if len(cases) >= args.cases:
            break
        if root not in engines:
            engines[root] = PatchEngine(root, config, memories.enter_context(indexed_memory(work, root)))
            green[root.name] = green_state(root, config, engines[root].memory)
            floors[root] = CargoFixFloor(work, root)
        case = run_case(engines[root], root, mutation, floors[root])
        if case:
            cases.append(case)
            print(f"[{len(cases):3}] {case['crate']:18} {case['kind']:17} {case['code']:6} "
                  f"rusta={verdict(case, case['no_fix'], 'abstain'):7} "
                  f"base={verdict(case['baseline'], case['no_fix']):5} "
                  f"cargo-fix={verdict(case['cargo_fix'], case['no_fix']):5} "
                  f"{case['seconds']:.2f}s/{case['floor']:.2f}s +{case['test_seconds']:.2f}s tests", flush=True)
    for engine in engines.values():
        engine.shadows[0].sync()
    memories.close()
    target = config.abstain.target_precision
    ratios = [c["seconds"] / max(c["floor"], 1e-3) for c in cases if c["verified_any"]]
    summary = {
        "cases": len(cases), "no_fix_cases": sum(c["no_fix"] for c in cases),
        "codes": dict(Counter(c["code"] for c in cases)), "kinds": dict(Counter(c["kind"] for c in cases)),
        "target_precision": target,
        "threshold": next(iter(engines.values())).calibrators.current().threshold(target) if engines else target,
        "rusta": rates(cases, lambda c: c["offered"], lambda c: c["right"]),
        "baseline_first_suggestion": rates(cases, lambda c: c["baseline"]["offered"], lambda c: c["baseline"]["right"]),
        "baseline_cargo_fix": rates(cases, lambda c: c["cargo_fix"]["offered"], lambda c: c["cargo_fix"]["right"]),
        "rusta_cross_fitted": cross_fitted(cases, target),
        "per_mutation_kind": per_mutation_kind(cases),
        "per_edit_kind": per_edit_kind(cases),
        "forbidden_offered_in_progress": sum(c["offered"] and c["edit_kind"] in FORBIDDEN_KINDS
                                             for c in cases if c["kind"] in IN_PROGRESS_KINDS),
        "reliability": reliability(cases),
        "placeholders_offered": {"rusta": sum(c["placeholder"] and c["offered"] for c in cases),
                                 "baseline": sum(c["baseline"]["placeholder"] for c in cases)},
        "time": {
            "median_fix_s": statistics.median([c["seconds"] for c in cases]),
            "median_floor_s": statistics.median([c["floor"] for c in cases]),
            "median_ratio_verified": statistics.median(ratios) if ratios else None,
            "p90_ratio_verified": sorted(ratios)[int(0.9 * (len(ratios) - 1))] if ratios else None,
            "mean_cargo_runs": statistics.mean([c["cargo_runs"] for c in cases]),
        },
        "tests": tests_summary(cases, green),
        "wall_s": time.monotonic() - started,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "cases": cases}, indent=1))
    print(json.dumps(summary, indent=1))
    systems = {"rusta": summary["rusta"], "rustc 1st": summary["baseline_first_suggestion"],
               "cargo fix": summary["baseline_cargo_fix"]}
    print(f"\n{'':22}" + "".join(f"{name:>11}" for name in systems))
    for key in ("fix_rate", "precision", "precision_wilson95", "coverage", "abstention_no_fix"):
        print(f"{key:22}" + "".join(f"{r[key]:11.3f}" for r in systems.values()))
    print("\nright / fixable (no-fix kinds: offered / cases) per kind; Rusta's precision (Wilson lower bound)"
          " and the fixable cases a never-rule cost")
    print(f"  {'':22}" + "".join(f"{name:>11}" for name in systems) + f"{'precision':>17}{'lost':>6}")
    for kind in sorted(summary["kinds"], key=MUTATION_KINDS.index):
        rows = [c for c in cases if c["kind"] == kind]
        nofix = all(c["no_fix"] for c in rows)
        answers = [rows, [c["baseline"] | {"no_fix": c["no_fix"]} for c in rows],
                   [c["cargo_fix"] | {"no_fix": c["no_fix"]} for c in rows]]
        cells = [(sum(a["offered"] for a in system), sum(a["right"] and not a["no_fix"] for a in system))
                 for system in answers]
        fixable = sum(not c["no_fix"] for c in rows)
        mine = summary["per_mutation_kind"][kind]
        print(f"  {kind:22}" + "".join(f"{(f'{o}/{len(rows)}' if nofix else f'{r}/{fixable}'):>11}" for o, r in cells)
              + f"{mine['rusta']['precision']:9.3f} ({mine['rusta']['precision_wilson95']:.3f})"
              + f"{mine['lost_to_never_rules']:6}")
    print(f"\n{'edit kind':18}{'offered':>8}{'right':>7}{'precision':>10}{'(Wilson)':>9}{'held back':>10}"
          f"{'(restoring)':>12}")
    for kind, k in summary["per_edit_kind"].items():
        print(f"{kind:18}{k['offered']:8}{k['right']:7}{k['precision']:10.3f}{k['precision_wilson95']:9.3f}"
              f"{k['held_back']:10}{k['held_back_restoring']:12}")
    print("\nforbidden-class patches offered on in-progress kinds: "
          f"{summary['forbidden_offered_in_progress']} (goal 0)")
    t = summary["tests"]
    print(f"related tests after the check: median +{t['median_added_s']:.2f}s "
          f"({t['median_added_over_floor']:.2f}x the floor), p90 +{t['p90_added_s']:.2f}s; ran on "
          f"{t['offered_with_tests_run']}/{t['offered']} offered patches; rejected {t['rejected_right']} right "
          f"and {t['rejected_wrong']} wrong patches; compile-only precision {t['compile_only']['precision']:.3f}")


if __name__ == "__main__":
    main()
