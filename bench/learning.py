"""What the heartbeat learns: held-out calibration and fix rate before and after drill rounds,
and hover latency while a drill runs versus at rest, through a real LSP client.

    python bench/learning.py [--crates humantime-2.1.0 fixedbitset-0.4.2] [--rounds 4]
                             [--round-budget 40] [--per-kind 4] [--hovers 60] [--out bench/out/learning.json]

Held-out set: mutations whose id falls in the drills' held-out fifth (`drills.is_holdout`), which
the drills never practise on, sampled per kind with a fixed seed. "Before" is the patch engine
with the prior confidence model and an empty memory: the floor, measured in the same run. "After"
is the engine with the calibrator the drill rounds trained and the memory they filled. Each
figure is given on the whole held-out set and on its two halves (the repeat).

Right = the best verified patch gives back the original text (whitespace aside); fix rate =
offered and right / held-out cases; precision = right / offered; coverage = offered / cases;
ceiling = cases whose best verified patch is right, offered or not (what a perfect threshold gets).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from debian_crates import copy_debian_crate  # noqa: E402

from rusta_lsp.config import read_config  # noqa: E402
from rusta_lsp.heartbeat.drills import Driller, attempt, drill_engine, is_holdout  # noqa: E402
from rusta_lsp.heartbeat.jobs import calibrate  # noqa: E402
from rusta_lsp.heartbeat.loop import context_for_cli  # noqa: E402
from rusta_lsp.heartbeat.mutations import mutation_corpus  # noqa: E402
from rusta_lsp.memory.store import Memory  # noqa: E402

BINS = 10


# --- held-out evaluation -------------------------------------------------------------------------


def holdout(root: Path, per_kind: int, seed: int) -> list:
    by_kind: dict[str, list] = {}
    for m in mutation_corpus(root, seed=seed):
        if is_holdout(m.id):
            by_kind.setdefault(m.kind, []).append(m)
    rng = random.Random(seed)
    picked = []
    for kind in sorted(by_kind):
        rng.shuffle(by_kind[kind])
        picked += by_kind[kind][:per_kind]
    return picked


def evaluate(root: Path, config, memory, mutations: list) -> list[dict]:
    engine = drill_engine(root, config, memory, role="bench")  # a shadow beside the drills' own
    rows = []
    for m in mutations:
        row = attempt(engine, root, m)
        if row is not None:
            rows.append(row)
    engine.shadows[0].sync()
    return rows


def metrics(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["confidence"] is not None]
    brier = statistics.fmean((r["confidence"] - r["correct"]) ** 2 for r in scored) if scored else None
    ece = 0.0
    for b in range(BINS):
        cell = [r for r in scored if min(int(r["confidence"] * BINS), BINS - 1) == b]
        if cell:
            ece += len(cell) / len(scored) * abs(statistics.fmean(r["correct"] for r in cell)
                                                 - statistics.fmean(r["confidence"] for r in cell))
    offered = [r for r in rows if not r["abstained"] and r["patches"]]
    right = sum(r["outcome"] == "restored" for r in rows)
    return {
        "cases": len(rows),
        "scored": len(scored),
        "brier": round(brier, 4) if brier is not None else None,
        "ece": round(ece, 4) if scored else None,
        "threshold": round(statistics.fmean(r["threshold"] for r in rows), 4) if rows else None,
        "precision": round(sum(r["correct"] for r in offered) / len(offered), 4) if offered else None,
        "coverage": round(len(offered) / len(rows), 4) if rows else None,
        "fix_rate": round(right / len(rows), 4) if rows else None,
        # The most any threshold could reach: cases whose best verified patch is right at all.
        "ceiling": round(sum(r["correct"] for r in rows) / len(rows), 4) if rows else None,
    }


def with_halves(rows: list[dict]) -> dict:
    return {"all": metrics(rows), "half_a": metrics(rows[0::2]), "half_b": metrics(rows[1::2])}


def learning(crates: list[str], work: Path, rounds: int, round_budget: float, per_kind: int, seed: int) -> dict:
    before_rows, after_rows, curve, training = [], [], [], []
    for name in crates:
        root = copy_debian_crate(name, work / name)
        config, _ = read_config({"memory.uri": str(work / f"memory-{name}"), "device": "auto",
                                 "cargo.checkArgs": ["check", "--lib"]})
        cases = holdout(root, per_kind, seed)
        print(f"{name}: {len(cases)} held-out mutations", file=sys.stderr)
        started = time.monotonic()
        before_rows += evaluate(root, config, None, cases)
        print(f"  before: {time.monotonic() - started:.0f}s", file=sys.stderr)
        memory = Memory.open(config.memory.uri, root)
        try:
            driller = Driller(root, config, memory, seed=seed)
            for _ in range(rounds):
                summary = driller.run_round(context_for_cli(round_budget))
                memory.flush()
                trained = calibrate(driller.engine.calibrators, config, memory)
                curve.append({"crate": name, "round": summary["round"], "drills": summary["drills"],
                              "fix_rate": summary["fix_rate"]})
                training.append({"crate": name, **{k: trained.get(k) for k in
                                 ("examples", "swapped", "before", "after", "threshold", "coverage", "device")}})
                if summary.get("skipped"):
                    print(f"  {summary['skipped']}", file=sys.stderr)
                print(f"  round {summary['round']}: {summary['drills']} drills, fix rate {summary['fix_rate']}, "
                      f"trained on {trained.get('examples')} ({'swapped' if trained.get('swapped') else 'kept'})",
                      file=sys.stderr)
        finally:
            memory.close()
        reader = Memory.open(config.memory.uri, root, read_only=True)  # history and exemplars, no writes
        try:
            after_rows += evaluate(root, config, reader, cases)
        finally:
            reader.close()
    return {"before": with_halves(before_rows), "after": with_halves(after_rows),
            "drill_curve": curve, "training": training}


# --- hover latency through a real client ---------------------------------------------------------


def hover_positions(root: Path) -> list[tuple[Path, int, int]]:
    """Identifier references (LSP 0-based line, UTF-16 column) across the crate's sources."""
    from rusta_lsp.analysis.parser import analyze_source

    out = []
    for path in sorted((root / "src").rglob("*.rs")):
        source = path.read_bytes()
        if not source.isascii():
            continue  # columns below assume one UTF-16 unit per byte
        analysis = analyze_source(source, path.relative_to(root).as_posix())
        for item in analysis.items:
            for ref in item.refs:
                out.append((path, ref.span.start.line - 1, ref.span.start.col - 1))
    random.Random(0).shuffle(out)
    return out


async def hover_latency(root: Path, memory_dir: Path, hovers: int) -> dict:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient
    from pygls.uris import from_fs_path

    subprocess.run([sys.executable, "-m", "rusta_lsp.cli", "index", "--memory", str(memory_dir), str(root)],
                   check=True, capture_output=True)
    client = LanguageClient("rusta-bench", "1")
    statuses: list[dict] = []

    progress: dict[str, list] = {}

    @client.feature("rusta/heartbeat")
    def on_status(params):
        statuses.append(params._asdict() if hasattr(params, "_asdict") else params)

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def on_create(params):
        progress[params.token] = []

    @client.feature(types.PROGRESS)
    def on_progress(params):
        progress.setdefault(params.token, []).append(params.value)

    await client.start_io(sys.executable, "-m", "rusta_lsp.cli", "serve")
    folder = from_fs_path(str(root))
    # The heartbeat never starts on its own here (huge idleSeconds): drills run only on drillNow.
    options = {"memory": {"uri": str(memory_dir)}, "cargo": {"checkArgs": ["check", "--lib"]},
               "heartbeat": {"idleSeconds": 1e9, "cpuSecondsPerHour": 3600}}
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
        root_uri=folder,
        workspace_folders=[types.WorkspaceFolder(uri=folder, name=root.name)], initialization_options=options))
    client.initialized(types.InitializedParams())
    for path in sorted((root / "src").rglob("*.rs")):
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=from_fs_path(str(path)), language_id="rust", version=1, text=path.read_text())))

    def drilling() -> bool:
        return bool(statuses) and statuses[-1].get("job") == "drill"

    async def hover(path: Path, line: int, col: int) -> float:
        started = time.perf_counter()
        await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=from_fs_path(str(path))),
            position=types.Position(line=line, character=col)))
        return (time.perf_counter() - started) * 1000

    def memory_ready() -> bool:  # the server's first ingest has ended: hovers see the whole memory
        return any(values and values[0].get("title") == "Rusta: memory" and values[-1].get("kind") == "end"
                   for values in progress.values())

    deadline = time.monotonic() + 300
    while not memory_ready() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    positions = hover_positions(root)
    for p in positions[:10]:  # warm up: models, tables and code paths, not measured
        await hover(*p)
    rest_set, drill_set = positions[10::2][:hovers], positions[11::2][:hovers]
    at_rest = [await hover(*p) for p in rest_set]
    during: list[float] = []
    pending = list(drill_set)
    deadline = time.monotonic() + 300
    while pending and time.monotonic() < deadline:
        if not drilling():
            await client.workspace_execute_command_async(types.ExecuteCommandParams(
                command="rusta.drillNow", arguments=[folder]))
            started = time.monotonic()
            while not drilling() and time.monotonic() < min(deadline, started + 10):
                await asyncio.sleep(0.05)
            continue
        ms = await hover(*pending[0])
        if drilling():  # count it only if the drill was still running when the answer came
            during.append(ms)
            pending.pop(0)
        await asyncio.sleep(0.02)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()

    def p95(values: list[float]) -> float | None:
        return round(statistics.quantiles(values, n=20)[-1], 1) if len(values) >= 20 else None

    return {"hovers_at_rest": len(at_rest), "hovers_during_drill": len(during),
            "p50_rest_ms": round(statistics.median(at_rest), 1) if at_rest else None,
            "p95_rest_ms": p95(at_rest),
            "p50_drill_ms": round(statistics.median(during), 1) if during else None,
            "p95_drill_ms": p95(during)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crates", nargs="+", default=["humantime-2.1.0", "fixedbitset-0.4.2"])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--round-budget", type=float, default=40.0, help="wall seconds per drill round")
    parser.add_argument("--per-kind", type=int, default=4, help="held-out mutations per kind and crate")
    parser.add_argument("--hovers", type=int, default=60, help="hovers at rest and during a drill")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-hover", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "learning.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rusta-learning-"))
    try:
        result = {"config": vars(args)}
        result["learning"] = learning(args.crates, work, args.rounds, args.round_budget, args.per_kind, args.seed)
        if not args.skip_hover:
            hover_root = copy_debian_crate(args.crates[0], work / "hover")
            result["hover"] = asyncio.run(hover_latency(hover_root, work / "memory-hover", args.hovers))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(render(result))
    return 0


def render(result: dict) -> str:
    learned = result["learning"]
    lines = ["held-out mutations (never drilled), before = prior model (floor), after = trained:"]
    for split in ("all", "half_a", "half_b"):
        b, a = learned["before"][split], learned["after"][split]
        lines.append(
            f"  {split:6} n={a['cases']:3}  ECE {b['ece']} -> {a['ece']}  Brier {b['brier']} -> {a['brier']}  "
            f"precision {b['precision']} -> {a['precision']}  coverage {b['coverage']} -> {a['coverage']}  "
            f"fix rate {b['fix_rate']} -> {a['fix_rate']} of a ceiling {b['ceiling']} -> {a['ceiling']}  "
            f"(threshold {b['threshold']} -> {a['threshold']})")
    a, b = learned["after"]["all"], learned["before"]["all"]
    if a["ece"] is not None:
        lines.append(f"  goal ECE <= 0.05 after training: {'met' if a['ece'] <= 0.05 else 'NOT met'} ({a['ece']})")
    if a["fix_rate"] is not None and b["fix_rate"] is not None:
        lift = a["fix_rate"] - b["fix_rate"]
        lines.append(f"  fix-rate lift from drills: {lift:+.3f}" + ("" if lift > 0 else "  (no lift: the drills did not help)"))
    hover = result.get("hover")
    if hover:
        lines.append(f"hover: p95 at rest {hover['p95_rest_ms']} ms (floor), during a drill {hover['p95_drill_ms']} ms "
                     f"(p50 {hover['p50_rest_ms']} / {hover['p50_drill_ms']} ms; n={hover['hovers_at_rest']}/"
                     f"{hover['hovers_during_drill']})")
        if hover["p95_rest_ms"] is not None and hover["p95_drill_ms"] is not None:
            delta = hover["p95_drill_ms"] - hover["p95_rest_ms"]
            lines.append(f"  p95 difference {delta:+.1f} ms: {'within' if delta <= 20 else 'NOT within'} 20 ms")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
