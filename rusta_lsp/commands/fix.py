"""`rusta fix [--json] [--memory DIR] [--apply] PATH`: verified patches for the workspace's errors.

With `--apply`, the patches written were verified together (see `PatchEngine.apply`); the JSON
gains `"applied": [{path, edits}]` and `"skipped": [{path, reason}]` (files not written, patches
left out). Exit code 3 when a file the patches touch was not written (it changed since the check,
leads out of the workspace through a symlink, or could not be written).
"""

from __future__ import annotations

import json
import math

from ..cancel import Cancelled
from ..errors import UsageError
from ..patches.apply import Applied
from ..patches.engine import FixReport, PatchEngine
from ..patches.testing import checked_phrase
from . import crate_root, require_cargo, say, session_for

NOT_WRITTEN = 3  # exit code: some verified patches were not written (see "skipped")


def fix_command(args) -> int:
    session = session_for(args, crate_root(args.path))
    if not (args.test_budget >= 0 and math.isfinite(args.test_budget)):
        raise UsageError("--test-budget must be a number of seconds, 0 or more")
    require_cargo(session.config)
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
    applied = None
    try:
        report = engine.fix(learn=not beside_server)
        if report.cargo_error:
            raise UsageError(f"cargo failed: {report.cargo_error}")
        if args.test_budget > 0:
            report = engine.test(report, budget_s=args.test_budget)
        if args.apply:
            applied = engine.apply(report)
    except Cancelled:
        raise UsageError("interrupted") from None
    finally:
        engine.close()
        session.close()
    if args.json:
        data = report.to_json()
        if applied is not None:
            data.update(applied.to_json(report.edit_json))
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(summary(report, applied))
    return NOT_WRITTEN if applied is not None and applied.skipped else 0


def summary(report: FixReport, applied: Applied | None) -> str:
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
    )
    if applied is not None:
        lines += applied_lines(applied)
    return "\n".join(lines)


def applied_lines(applied: Applied) -> list[str]:
    """What `--apply` wrote and what it did not, in words."""
    lines = [f"wrote {path} ({len(edits)} edit(s))" for path, edits in applied.edits.items()]
    lines += [f"not written: {path}: {why}" for path, why in applied.skipped]
    lines += [f"left out: {cand.title}, for the error at {path}:{line}: {why}"
              for path, line, cand, why in applied.left_out]
    said = f"{len(applied.patches)} patch(es) applied to {len(applied.written)} file(s)"
    if applied.left_out:
        said += f", {len(applied.left_out)} left out"
    if applied.errors_after is not None and applied.patches:
        said += f"; with them cargo reports {applied.errors_after} error(s)"
        if applied.unmasked:
            said += f", {applied.unmasked} of them hidden before by the errors fixed (run `rusta fix` again)"
    return lines + [said]
