"""Imports flow one way (DESIGN.md): cli -> server -> heartbeat -> explain, patches -> memory -> analysis, config.
Only rusta_lsp/server imports pygls or lsprotocol."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rusta_lsp"
# What each layer may import from the package (besides itself and the shared leaf modules).
ALLOWED = {
    "analysis": set(),
    "memory": {"analysis"},
    "patches": {"memory", "analysis"},
    "explain": {"memory", "analysis"},
    "heartbeat": {"explain", "patches", "memory", "analysis"},
    "server": {"heartbeat", "explain", "patches", "memory", "analysis"},
}
LEAVES = {"config", "errors", "device", "__init__", "__version__"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[: len(parts) - node.level])
                module = ".".join(["rusta_lsp", *base, *(node.module.split(".") if node.module else [])])
                found.add(module)
                if not node.module:
                    found.update(f"{module}.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
    return found


def test_layers_only_import_downwards():
    problems = []
    for path in PACKAGE.rglob("*.py"):
        layer = path.relative_to(PACKAGE).parts[0]
        if layer not in ALLOWED:
            continue
        for module in imports_of(path):
            if not module.startswith("rusta_lsp."):
                continue
            target = module.split(".")[1]
            if target in (layer, *LEAVES) or target in ALLOWED[layer]:
                continue
            problems.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert problems == []


def test_only_server_knows_lsp():
    offenders = [
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "server"
        and any(m.split(".")[0] in ("pygls", "lsprotocol") for m in imports_of(path))
    ]
    assert offenders == []
