"""`rusta demo`: a guided tour of what Rusta does, on an example crate.

Works on copies in a temporary folder, so the example (and the user's files) are never written.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .analysis.symbols import SymbolTable
from .analysis.workspace import analyze_workspace
from .errors import UsageError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ledger"


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)))


def _outline(analysis, limit: int = 14) -> None:
    shown = [i for i in analysis.items if i.kind not in ("use",)]
    for item in shown[:limit]:
        depth = item.path.count("::") - analysis.module_path.count("::") - 1
        print(f"  {'  ' * depth}{item.kind:7} {item.name:18} line {item.span.start.line}")
    if len(shown) > limit:
        print(f"  ... {len(shown) - limit} more")


def demo_command(args, rusta: Callable[[list[str]], int]) -> int:
    """The tour; `rusta(argv)` runs a command as the CLI does."""

    def _run(argv: list[str]) -> None:
        print(f"$ rusta {' '.join(argv)}")
        code = rusta(argv)
        if code != 0:
            print(f"  (exit code {code})")

    source = Path(args.path) if args.path else EXAMPLE
    if not (source / "Cargo.toml").is_file():
        raise UsageError(f"{source}: not a crate (no Cargo.toml)")
    with tempfile.TemporaryDirectory(prefix="rusta-demo-") as tmp:
        crate = Path(tmp) / source.name
        shutil.copytree(source, crate, ignore=shutil.ignore_patterns("target", ".git"))
        memory = args.config.memory.uri or str(Path(tmp) / "memory")

        _heading(f"Analysis of {source.name} (tree-sitter, no compiler needed)")
        ws, analyses = analyze_workspace(crate)
        items = sum(len(a.items) for a in analyses)
        for c in ws.crates:
            print(f"  crate {c.name}: targets {', '.join(f'{t.kind} {t.name}' for t in c.targets)}")
        print(f"  {len(ws.files)} files, {items} items")
        store = next((a for a in analyses if a.path.endswith("store.rs")), analyses[0] if analyses else None)
        if store is not None:
            print(f"  outline of {store.path} ({store.module_path}):")
            _outline(store)

        _heading("Workspace symbols, fuzzy: 'apply'")
        table = SymbolTable()
        for a in analyses:
            table.update(a)
        for hit in table.search("apply", limit=5):
            print(f"  {hit.item.path:40} {hit.path}:{hit.item.name_span.start.line}")

        _heading("Memory: index the workspace (LanceDB + local embeddings)")
        _run(["index", "--memory", memory, str(crate)])

        _heading("Explain with citations: `apply` in tests/ledger.rs")
        target = _position_of(crate / "tests" / "ledger.rs", ".apply(")
        if target:
            _run(["explain", "--memory", memory, f"{crate / 'tests' / 'ledger.rs'}:{target[0]}:{target[1] + 1}"])

        # On code never seen building Rusta offers only near-certain patches; a passing check of
        # the crate as the user wrote it is what a real workspace has before its next slip.
        _heading("Verified fixes: first the crate as it is (a passing check: Rusta has seen it build)")
        _run(["fix", "--memory", memory, str(crate)])

        _heading("Verified fixes: the crate with `use std::collections::HashMap;` removed")
        store_rs = crate / "src" / "store.rs"
        store_rs.write_text(store_rs.read_text().replace("use std::collections::HashMap;\n", ""))
        _run(["fix", "--memory", memory, str(crate)])
    print("\nNext: `rusta serve` runs all of this inside VS Code or Neovim (see README.md).")
    return 0


def _position_of(path: Path, needle: str) -> tuple[int, int] | None:
    """1-based line and column of the first `needle`."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        col = line.find(needle)
        if col >= 0:
            return n, col + 1
    return None
