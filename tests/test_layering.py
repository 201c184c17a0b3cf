"""Imports flow one way (ARCHITECTURE.md): cli -> commands, server -> session -> heartbeat ->
explain, patches -> memory -> analysis, with config, errors, cancel, device and models as shared leaves.
Top-level modules are layers of their own. Only rusta_lsp/server imports pygls or lsprotocol.
No import cycles, inside a layer either, counting every import: one inside a function or under
TYPE_CHECKING still says that each module needs the other."""

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
LEAVES = {"config", "errors", "cancel", "device", "locks", "models", "safe_read", "__init__", "__version__"}


def layer_of(path: Path) -> str:
    """The first part of the path inside the package, a top-level module by its name."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def imports_of(path: Path, package: Path = PACKAGE) -> set[str]:
    """Every module a file imports, by its full name; `from pkg import name` counts as pkg and
    pkg.name (a submodule or not: either way it belongs to pkg's layer)."""
    found = set()
    for module, name in _imports(path, package):
        found.add(module)
        if name is not None:
            found.add(f"{module}.{name}")
    return found


def _imports(path: Path, package: Path):
    """(module, imported name or None) for every import in the file, relative ones resolved."""
    parts = path.relative_to(package).with_suffix("").parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = parts[: len(parts) - node.level]
                module = ".".join(["rusta_lsp", *base, *([module] if module else [])])
            yield from ((module, alias.name) for alias in node.names)


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(["rusta_lsp", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports. `from pkg import sub`
    imports the submodule sub, not pkg's own code (Python runs pkg/__init__ first, whoever imports)."""
    modules = {module_name(path, package): path for path in package.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        graph[module] = set()
        for imported, name in _imports(path, package):
            target = f"{imported}.{name}" if f"{imported}.{name}" in modules else imported
            if target in modules and target != module:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or around a loop (Tarjan's strongly
    connected components with more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
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


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_cycles_through_lazy_and_type_checking_imports_are_found(tmp_path):
    package = tmp_path / "rusta_lsp"
    (package / "memory").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "memory" / "__init__.py").write_text("")
    (package / "memory" / "store.py").write_text("def search():\n    from .retrieval import run\n")
    (package / "memory" / "retrieval.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .store import Memory\n")
    (package / "memory" / "rows.py").write_text("from . import retrieval\n")
    graph = import_graph(package)
    assert graph["rusta_lsp.memory.rows"] == {"rusta_lsp.memory.retrieval"}  # not the package itself
    assert cycles(graph) == [["rusta_lsp.memory.retrieval", "rusta_lsp.memory.store"]]
