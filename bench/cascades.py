"""Follow-on patches and `rusta fix --apply`, with the roots-first pass off and on, same run.

    python bench/cascades.py [--cases 220] [--per-kind 4] [--out bench/out/cascades.json]
    python bench/cascades.py --summarize bench/out/cascades.json   (the figures of a saved run)

Corpus: bench/fix.py's seeded mutations (Debian crates and examples/ledger), each breaking one
site; every error a mutation brings is answered, not only the one aimed at. Two engines per crate
answer each case: one with the roots-first pass off (what Rusta did before, the floor) and one
with it on. Oracles that are not Rusta's own code:
- a follow-on patch is an offered patch for an error in `src/` other than the mutation's target
  that is not right (bench/fix.py's `right`: it gives back the original text or imports what the
  original imported) and is not the target's own patch (one `use` for several errors);
- what `--apply` writes: every best patch as they are (before) or the combination checked together
  (`Verifier.together`, now). It is judged by the text (is the original restored?) and by cargo
  (more errors in the mutated file than the unmutated file has: the crate was left broken).
A case whose mutation brought no error in its own file is skipped, and errors outside `src/` do
not count: the Debian copies' tests and benches lack their dev-dependencies, and their errors come
and go with cargo's build order.
Cost: cargo runs and seconds per case of the two modes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import fix as fixbench  # noqa: E402

from rusta_lsp.config import read_config  # noqa: E402
from rusta_lsp.heartbeat.drills import target_fix  # noqa: E402
from rusta_lsp.patches import cascade  # noqa: E402
from rusta_lsp.patches.engine import PatchEngine  # noqa: E402
from rusta_lsp.patches.verify import merge  # noqa: E402


def answer(engine: PatchEngine, mutation, mutated: bytes, original: bytes, roots_first: bool) -> dict | None:
    checks = cascade.MAX_ROOT_CHECKS
    cascade.MAX_ROOT_CHECKS = checks if roots_first else 0
    try:
        started, runs = time.monotonic(), engine.oracle.runs
        report = engine.fix(overlays={mutation.path: mutated.decode("utf-8", "replace")})
        seconds, runs = time.monotonic() - started, engine.oracle.runs - runs
    finally:
        cascade.MAX_ROOT_CHECKS = checks
    target = target_fix(report, mutation)
    if target is None or target.path != mutation.path:
        return None
    bests = [f.best for f in report.fixes if f.best is not None]
    follow_ons = [f for f in report.fixes if f is not target and f.best is not None
                  and not fixbench.right(f.best, mutated, original, mutation.path)
                  and (target.best is None or f.best.edit_key != target.best.edit_key)]
    written = bests
    if roots_first and bests:
        written, _, _ = engine.verifier.together(bests, [f.diagnostic for f in report.fixes], None, report.built)
    return {
        "errors": len(report.fixes), "seconds": seconds, "cargo_runs": runs,
        "marked_follow_ons": sum(f.follows is not None for f in report.fixes),
        "target_offered": target.best is not None,
        "target_right": fixbench.right(target.best, mutated, original, mutation.path),
        "follow_on_patches": [f"{f.path}:{f.start.line} {f.best.title}" for f in follow_ons],
        "apply": written_check(engine, mutation, mutated, original, written) if bests else None,
    }


def written_check(engine: PatchEngine, mutation, mutated: bytes, original: bytes, cands) -> dict:
    """The text and cargo's errors in the mutated file once `cands` are written (in the shadow)."""
    shadow = engine.shadows[0]
    with shadow.applied(merge(cands)) as texts:
        result = engine.oracle.check(shadow.mirror, shadow.target)
    errors = sum(d.primary.path == mutation.path for d in result.errors)
    text = texts.get(mutation.path, mutated)
    return {"patches": len(cands), "errors": errors, "restores": text.split() == original.split()}


def floor_errors(engine: PatchEngine) -> Counter:
    """Errors per file of the unmutated crate (Debian copies lack dev-dependencies)."""
    shadow = engine.shadows[0]
    shadow.sync()
    return Counter(d.primary.path for d in engine.oracle.check(shadow.mirror, shadow.target).errors)


def summary(cases: list[dict], mode: str) -> dict:
    answered = [c[mode] for c in cases]
    follow_ons = [[p for p in a["follow_on_patches"] if p.startswith("src/")] for a in answered]
    fixable = [c[mode] for c in cases if not c["no_fix"]]
    offered = [a for a in fixable if a["target_offered"]]
    applied = [(c[mode]["apply"], c["floor_errors"]) for c in cases if c[mode]["apply"]]
    return {
        "follow_on_patches": sum(map(len, follow_ons)),
        "cases_with_follow_on_patches": sum(map(bool, follow_ons)),
        "errors_marked_follow_on": sum(a["marked_follow_ons"] for a in answered),
        "target_fix_rate": sum(a["target_right"] for a in fixable) / max(1, len(fixable)),
        "target_precision": sum(a["target_right"] for a in offered) / max(1, len(offered)),
        "apply_cases": len(applied),
        "apply_left_broken": sum(a["errors"] > floor for a, floor in applied),
        "apply_not_restoring": sum(not a["restores"] for a, _ in applied),
        "mean_cargo_runs": statistics.mean(a["cargo_runs"] for a in answered),
        "median_seconds": statistics.median(a["seconds"] for a in answered),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=220)
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=str(ROOT / "bench" / "out" / "cascades-work"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "cascades.json"))
    parser.add_argument("--summarize", metavar="JSON", help="print the figures of a saved run")
    args = parser.parse_args()
    if args.summarize:
        report(json.loads(Path(args.summarize).read_text())["cases"])
        return
    work = Path(args.work)
    config, _ = read_config({"memory": {"uri": str(work / "memory")}})
    order = fixbench.mutation_order(fixbench.workspaces(work), args.seed, args.per_kind)
    engines: dict[Path, tuple[PatchEngine, PatchEngine, Counter]] = {}
    memories = contextlib.ExitStack()
    cases = []
    started = time.monotonic()
    for root, mutation in order:
        if len(cases) >= args.cases:
            break
        if root not in engines:
            memory = memories.enter_context(fixbench.indexed_memory(work, root))
            before, now = (PatchEngine(root, config, memory, role="bench") for _ in range(2))
            engines[root] = (before, now, floor_errors(now))
        before, now, floor = engines[root]
        original = (root / mutation.path).read_bytes()
        try:
            mutated = mutation.apply(original)
        except ValueError:
            continue
        off = answer(before, mutation, mutated, original, roots_first=False)
        on = answer(now, mutation, mutated, original, roots_first=True)
        if off is None or on is None:
            continue
        cases.append({"crate": root.name, "kind": mutation.kind, "line": mutation.line,
                      "no_fix": fixbench.no_fix(mutation), "floor_errors": floor[mutation.path], "off": off, "on": on})
        print(f"[{len(cases):3}] {root.name:18} {mutation.kind:17} errors={on['errors']:3} "
              f"follow-on patches {len(off['follow_on_patches'])} -> {len(on['follow_on_patches'])}, "
              f"marked {on['marked_follow_ons']}, runs {off['cargo_runs']} -> {on['cargo_runs']}", flush=True)
    for before, now, _ in engines.values():
        before.close()
        now.close()
    memories.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"wall_s": time.monotonic() - started, "cases": cases}, indent=1))
    report(cases)


def report(cases: list[dict]) -> None:
    result = {"off": summary(cases, "off"), "on": summary(cases, "on")}
    print(f"\n{len(cases)} cases{'':18}{'off (before)':>14}{'on':>10}")
    for key in result["on"]:
        off, on = result["off"][key], result["on"][key]
        print(f"{key:32}{off:14.3f}{on:10.3f}" if isinstance(on, float) else f"{key:32}{off:14}{on:10}")
    ratio = [c["on"]["seconds"] / max(c["off"]["seconds"], 1e-3) for c in cases]
    print(f"seconds per case, on / off: median {statistics.median(ratio):.2f}, "
          f"p90 {sorted(ratio)[int(0.9 * (len(ratio) - 1))]:.2f}")


if __name__ == "__main__":
    main()
