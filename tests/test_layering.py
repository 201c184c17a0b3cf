"""Imports flow one way (ARCHITECTURE.md): cli -> commands, server -> session -> heartbeat ->
explain, patches -> memory -> analysis, with config, errors, cancel and device as shared leaves.
Top-level modules are layers of their own. Only rusta_lsp/server imports pygls or lsprotocol."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rusta_lsp"
BELOW_SESSION = {"heartbeat", "explain", "patches", "memory", "analysis"}
# What each layer may import from the package (besides itself and the shared leaf modules).
ALLOWED = {
    "analysis": set(),
    "memory": {"analysis"},
    "patches": {"memory", "analysis"},
    "explain": {"memory", "analysis"},
    "heartbeat": {"explain", "patches", "memory", "analysis"},
    "session": {"patches", "memory", "analysis"},
    "server": {"session", *BELOW_SESSION},
    "commands": {"session", *BELOW_SESSION},
    "doctor": {"patches", "memory", "analysis"},  # patches: the shadow's size
    "demo": {"analysis"},
    "cli": {"server", "commands", "doctor", "demo"},
    "__main__": {"cli"},
}
LEAVES = {"config", "errors", "cancel", "device", "__init__", "__version__"}


def layer_of(path: Path) -> str:
    """The first part of the path inside the package, a top-level module by its name."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


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
        layer = layer_of(path)
        if layer in LEAVES:
            continue
        assert layer in ALLOWED, f"{path.relative_to(PACKAGE)}: a layer the test does not know; add it to ALLOWED"
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
