"""`rusta drill --json --budget SECONDS [--memory DIR] PATH` and `rusta report [--json] [--html OUT] PATH`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..config import RustaConfig, memory_uri
from ..errors import UsageError
from ..patches.shadow import state_dir
from .drills import Driller
from .jobs import calibrate
from .loop import context_for_cli
from .report import build_report, render_html


def _workspace(path: str) -> Path:
    root = Path(path)
    if not root.is_dir() or not (root / "Cargo.toml").is_file():
        raise UsageError(f"{path}: not a crate or workspace root (no Cargo.toml)")
    return root.resolve()


def _memory(config: RustaConfig, root: Path, read_only: bool = False):
    from ..memory.store import Memory

    return Memory.open(memory_uri(config, root), root, read_only=read_only)


def drill_command(args) -> int:
    """One drill session: drill until the budget (wall seconds) is spent, then retrain."""
    root = _workspace(args.path)
    if not args.budget > 0:
        raise UsageError("--budget must be a positive number of seconds")
    if shutil.which("cargo") is None:
        raise UsageError("cargo not found on PATH")
    config = getattr(args, "config", None) or RustaConfig()
    from ..memory.store import Memory

    if Memory.writer_busy(memory_uri(config, root)):
        # Its heartbeat drills in the same shadow and records to the same memory: one of each.
        raise UsageError("a running Rusta server owns this workspace's memory and drills in its heartbeat; "
                         "stop the server to drill from the command line")
    memory = _memory(config, root)
    try:
        summary = Driller(root, config, memory).run_round(context_for_cli(args.budget))
        memory.flush()
        summary["training"] = calibrate(root, config, memory) if summary["drills"] else None
    finally:
        memory.close()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_drill_text(summary))
    return 0


def _drill_text(summary: dict) -> str:
    if summary.get("skipped"):
        return summary["skipped"]
    lines = [f"round {summary['round']}: {summary['drills']} drills, fix rate {summary['fix_rate']}",
             "  " + ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items())]
    for kind, counts in summary["by_kind"].items():
        lines.append(f"  {kind}: {counts['restored']}/{counts['drills']} restored")
    training = summary.get("training") or {}
    if training.get("trained"):
        lines.append(f"training on {training['device']}: held-out Brier {training['before']['brier']:.3f} -> "
                     f"{training['after']['brier']:.3f}, model {'replaced' if training['swapped'] else 'kept'}, "
                     f"threshold {training['threshold']:.2f}")
    elif training:
        lines.append(f"no training: {training.get('reason')}")
    if summary["retired"]:
        lines.append("retired classes: " + ", ".join(summary["retired"]))
    return "\n".join(lines)


def report_command(args) -> int:
    root = _workspace(args.path)
    config = getattr(args, "config", None) or RustaConfig()
    memory = _memory(config, root, read_only=True)
    try:
        report = build_report(memory, root, state_dir(root, config))
    finally:
        memory.close()
    if args.html:
        out = Path(args.html)
        if out.is_dir():
            raise UsageError(f"--html {args.html}: is a folder; give a file name")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_html(report), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
    elif not args.html:
        print(_report_text(report))
    return 0


def _report_text(report: dict) -> str:
    lines = [f"{report['drills']} drills, fix rate {report['fix_rate']}, ECE {report['ece']}"]
    for code, s in report["codes"].items():
        lines.append(f"  {code}: {s['drills']} drills, fix rate {s['fix_rate']}, calibration gap {s['calibration_gap']}")
    if report["weak_spots"]:
        lines.append("weak spots: " + ", ".join(w["code"] for w in report["weak_spots"]))
    if report["retired_classes"]:
        lines.append("retired: " + ", ".join(r["kind"] for r in report["retired_classes"]))
    lines += [f"principle: {p['text']}" for p in report["principles"]]
    return "\n".join(lines)
