"""`rusta explain [--json] [--memory DIR] FILE:LINE:COL`: the hover, in a terminal or as JSON."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..analysis.workspace import discover_workspace, find_workspace_root
from ..config import RustaConfig, memory_uri
from ..errors import UsageError
from ..memory.ingest import Ingestor
from ..memory.store import Memory
from .catalog import Catalog
from .engine import Explainer, Layout
from .render import terminal, to_json

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
    config: RustaConfig = getattr(args, "config", None) or RustaConfig()
    root = find_workspace_root(path)
    rel = path.relative_to(root).as_posix()
    generator = None
    if config.model.generator:
        from .prose import Prose

        generator = Prose.load(config.model.generator, config.device)
    with Memory.open_for_cli(memory_uri(config, root), root) as memory:
        for message in memory.messages:
            print(f"rusta: {message}", file=sys.stderr)
        if memory.is_empty() and not memory.read_only:
            print("rusta explain: memory is empty, indexing the workspace first", file=sys.stderr)
            Ingestor(memory, root).run(embed=False)
        layout = Layout.of(discover_workspace(root))
        explainer = Explainer(Catalog(memory), root, layout, generator=generator)
        explanation = explainer.explain_at(rel, path.read_bytes(), line, col, prose=generator is not None)
    if getattr(args, "json", False):
        print(json.dumps(to_json(explanation), ensure_ascii=False))
    else:
        sys.stdout.write(terminal(explanation))
    return 0
