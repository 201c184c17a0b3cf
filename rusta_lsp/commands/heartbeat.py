"""`rusta drill --json --budget SECONDS [--memory DIR] PATH` and `rusta report [--json] [--html OUT] PATH`."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import UsageError
from ..heartbeat.drills import Driller, drill_engine
from ..heartbeat.jobs import calibrate
from ..heartbeat.loop import context_for_cli
from ..heartbeat.report import build_report, render_html, side_by_side
from . import crate_root, open_memory, refuse_beside_server, require_cargo, session_for


def drill_command(args) -> int:
    """One drill session: drill until the budget (wall seconds) is spent, then retrain."""
    if not (args.budget > 0 and math.isfinite(args.budget)):  # inf would drill for ever
        raise UsageError("--budget must be a positive number of seconds")
    session = session_for(args, crate_root(args.path))
    require_cargo(session.config)
    # Its heartbeat drills in the same shadow and records to the same memory: one of each.
    refuse_beside_server(session, "a running Rusta server owns this workspace's memory and drills in its "
                                  "heartbeat; stop the server to drill from the command line")
    memory = open_memory(session, "drill", embed=False, mode="writer")
    engine = drill_engine(session.root, session.config, memory, slots=session.slots, calibrators=session.calibrators)
    try:
        summary = Driller(session.root, session.config, memory, engine=engine).run_round(context_for_cli(args.budget))
        memory.flush()
        summary["training"] = calibrate(session.calibrators, session.config, memory) if summary["drills"] else None
    finally:
        engine.close()
        session.close()
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
    session = session_for(args, crate_root(args.path))
    memory = open_memory(session, "report", embed=False, mode="read")
    try:
        report = build_report(memory, session.root, session.state_dir)
    finally:
        session.close()
    if args.html:
        out = Path(args.html)
        if out.is_dir():
            raise UsageError(f"--html {args.html}: is a folder; give a file name")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render_html(report), encoding="utf-8")
        except OSError as err:
            raise UsageError(f"--html {args.html}: {err.strerror or err}") from None
    if args.json:
        print(json.dumps(report, indent=2))
    elif not args.html:
        print(_report_text(report))
    return 0


def _report_text(report: dict) -> str:
    lines = [f"{report['drills']} drills, fix rate {report['fix_rate']}, ECE {report['ece']}"]
    for code, s in report["codes"].items():
        lines.append(f"  {code}: {s['drills']} drills, fix rate {s['fix_rate']}, calibration gap {s['calibration_gap']}")
    for kind, e in report["edit_kinds"].items():
        lines.append(f"  {kind}: {e['offered']} offered, {e['right']} right, fix rate {e['fix_rate']}, "
                     f"precision {e['precision']} (Wilson lower {e['precision_lower']}), held back {e['held_back']}")
    if report["weak_spots"]:
        lines.append("weak spots: " + ", ".join(w["code"] for w in report["weak_spots"]))
    if report["retired_classes"]:
        lines.append("retired: " + ", ".join(r["kind"] for r in report["retired_classes"]))
    lines += [f"principle: {p['text']}" for p in report["principles"]]
    team = report.get("team")
    if team is not None:
        lines.append(f"team memory {team['uri']}: {len(team['authors'])} authors, {team['drills']} drills, "
                     f"fix rate {team['fix_rate']}, {team['exemplars']} exemplars, {team['training_rows']} training rows")
        lines.append(f"  {'code':<8} {'local':>16} {'team':>16}")
        for code, local_n, local_rate, team_n, team_rate in side_by_side(report):
            lines.append(f"  {code:<8} {f'{local_n} drills {local_rate}':>16} {f'{team_n} drills {team_rate}':>16}")
        lines += [f"team principle ({p['author']}): {p['text']}" for p in team["principles"]]
    return "\n".join(lines)
