"""`rusta fix [--json] [--memory DIR] [--apply] PATH`: verified patches for the workspace's errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from ..config import RustaConfig, memory_uri
from .engine import CLI_SLOT, FixReport, PatchEngine, apply_report
from .oracle import Cancelled


def _fail(message: str) -> int:
    print(f"rusta fix: {message}", file=sys.stderr)
    return 2


def _open_memory(uri: str, root: Path):
    """The workspace memory for imports and exemplars; fixing works without one. Read-only
    while a server holds its writer lock: one writer per memory."""
    try:
        from ..memory.store import Memory

        memory = Memory.open_for_cli(uri, root)
        if memory.read_only:
            print("rusta fix: a server owns this memory: reading it only, this run learns no exemplars",
                  file=sys.stderr)
        return memory
    except Exception as err:  # noqa: BLE001 — an unreadable memory only costs two generators
        print(f"rusta fix: memory unavailable ({err}); fixing without it", file=sys.stderr)
        return None


def fix_command(args) -> int:
    root = Path(args.path)
    if not root.is_dir() or not (root / "Cargo.toml").is_file():
        return _fail(f"{args.path}: not a crate or workspace root (no Cargo.toml)")
    if shutil.which("cargo") is None:
        return _fail("cargo not found on PATH")
    config = getattr(args, "config", None) or RustaConfig()  # cli.py fills it from the flags
    memory = _open_memory(memory_uri(config, root), root)
    try:
        beside_server = memory is not None and memory.read_only
        # Beside a server: shadows of its own (the server's hold its unsaved buffers), and no
        # learning (a read-only memory takes no exemplars; the server's last-run state stays).
        engine = PatchEngine(root, config, memory, slot=CLI_SLOT if beside_server else 0)
        report = engine.fix(learn=not beside_server)
        if report.cargo_error:
            return _fail(f"cargo failed: {report.cargo_error}")
        written = apply_report(engine.root, report) if args.apply else {}
        if written:
            engine.note_applied(written)
    except Cancelled:
        return _fail("interrupted")
    finally:
        if memory is not None:
            memory.close()
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
            lines.append(f"  fix (verified, {fix.best.confidence:.0%}, {fix.best.source}): {fix.best.title}")
        else:
            lines.append(f"  abstained: {fix.reason}")
    offered = sum(f.best is not None for f in report.fixes)
    lines.append(
        f"{len(report.fixes)} error(s), {offered} with a verified fix at confidence >= "
        f"{report.threshold:.0%}; {report.cargo_runs} cargo run(s) in {report.seconds:.1f}s"
        + (f"; applied to {len(written)} file(s)" if written else "")
    )
    return "\n".join(lines)
