"""`rusta explain [--json] [--memory DIR] FILE:LINE:COL`: the hover, in a terminal or as JSON."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..analysis.model import Pos
from ..analysis.workspace import find_workspace_root
from ..errors import UsageError
from ..explain.engine import explainer_for
from ..explain.render import terminal, to_json
from . import index_if_empty, open_memory, session_for

_TARGET = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+)$")


def parse_target(text: str) -> tuple[Path, int, int]:
    """FILE:LINE:COL with a 1-based line and column (Unicode scalars), checked against the file."""
    match = _TARGET.match(text)
    if match is None:
        raise UsageError(f"expected FILE:LINE:COL, got {text!r}")
    path = Path(match["file"])
    if not path.is_file():
        raise UsageError(f"{match['file']}: no such file")
    line, col = int(match["line"]), int(match["col"])
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise UsageError(f"{match['file']}: not UTF-8 text") from None
    if not 1 <= line <= len(lines):
        raise UsageError(f"line {line} is outside {match['file']} (1-{len(lines)})")
    width = len(lines[line - 1].rstrip("\r"))
    if not 1 <= col <= width + 1:
        raise UsageError(f"column {col} is outside line {line} (1-{width + 1})")
    return path.resolve(), line, col


def explain_command(args) -> int:
    path, line, col = parse_target(args.target)
    session = session_for(args, find_workspace_root(path))
    config = session.config
    rel = path.relative_to(session.root).as_posix()
    generator = None
    if config.model.generator:
        from ..explain.prose import Prose

        generator = Prose.load(config.model.generator, config.device)
    with open_memory(session, "explain", embed=False) as memory:
        index_if_empty(memory, session, "explain")
        # The server's path: the same catalog snapshot, the same entry, a byte offset.
        explainer = explainer_for(memory, session.root, session.discover(), generator=generator)
        data = path.read_bytes()
        offset = explainer.parse(rel, data).lines.offset(Pos(line, col))
        explanation = explainer.explain(rel, data, offset, prose=generator is not None)
    if args.json:
        print(json.dumps(to_json(explanation), ensure_ascii=False))
    else:
        sys.stdout.write(terminal(explanation))
    return 0
