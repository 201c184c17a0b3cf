"""`rusta fix [--json] [--memory DIR] [--apply] PATH`: verified patches for the workspace's errors."""

from __future__ import annotations

import json
import math

from ..cancel import Cancelled
from ..errors import UsageError
from ..patches.engine import FixReport, PatchEngine, apply_report
from ..patches.testing import checked_phrase
from . import crate_root, require_cargo, say, session_for


def fix_command(args) -> int:
    session = session_for(args, crate_root(args.path))
    if not (args.test_budget >= 0 and math.isfinite(args.test_budget)):
        raise UsageError("--test-budget must be a number of seconds, 0 or more")
    require_cargo()
    try:
        memory = session.open_memory(embed=False, mode="cli")
    except Exception as err:  # noqa: BLE001 — an unreadable memory only costs two generators
        say("fix", f"memory unavailable ({err}); fixing without it")
        memory = None
    beside_server = memory is not None and memory.read_only
    if beside_server:
        say("fix", "a server owns this memory: reading it only, this run learns no exemplars")
    # Beside a server: shadows of its own (the server holds its slots, with its unsaved buffers)
    # and no learning (a read-only memory takes no exemplars; the server's last-run state stays).
    engine = PatchEngine(session.root, session.config, memory, slots=session.slots, calibrators=session.calibrators)
    try:
        report = engine.fix(learn=not beside_server)
        if report.cargo_error:
            raise UsageError(f"cargo failed: {report.cargo_error}")
        if args.test_budget > 0:
            report = engine.test(report, budget_s=args.test_budget)
        written = apply_report(engine.root, report) if args.apply else {}
        if written:
            engine.note_applied(written)
    except Cancelled:
        raise UsageError("interrupted") from None
    finally:
        engine.close()
        session.close()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(summary(report, written))
    return 0


def summary(report: FixReport, written: dict) -> str:
    lines = []
    for fix in report.fixes:
        code = f"[{fix.diagnostic.code}]" if fix.diagnostic.code else ""
        lines.append(f"{fix.path}:{fix.start.line}:{fix.start.col}: error{code}: {fix.diagnostic.message}")
        if fix.best is not None:
            best = fix.best
            lines.append(f"  fix ({checked_phrase(best)}, {best.confidence:.0%}, {best.source}): {best.title}")
        else:
            lines.append(f"  abstained: {fix.reason}")
    offered = sum(f.best is not None for f in report.fixes)
    lines.append(
        f"{len(report.fixes)} error(s), {offered} with a verified fix at confidence >= "
        f"{report.threshold:.0%}; {report.cargo_runs} cargo run(s) in {report.seconds:.1f}s"
        + (f", related tests in {report.test_seconds:.1f}s" if report.test_seconds else "")
        + (f"; applied to {len(written)} file(s)" if written else "")
    )
    return "\n".join(lines)
