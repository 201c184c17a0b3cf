"""Cargo workspace discovery and the module tree.

The analysis reads files only through a `FileSource`, so callers decide what "the file" is:
`DiskSource` reads the disk (regular files inside the root only, through `safe_read`); the memory
layer overlays open editor buffers on it.
"""

from __future__ import annotations

import fnmatch
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, Protocol

from ..safe_read import read_or_skip, walk_files
from .model import Crate, FileAnalysis, SourceFile, Target, Workspace
from .parser import analyze_source

log = logging.getLogger(__name__)

# Directories that never hold sources worth analysing.
IGNORED_DIRS = {"target", ".git", "node_modules", ".venv", ".rusta"}


class FileSource(Protocol):
    def read_bytes(self, rel: str) -> bytes | None: ...
    def is_file(self, rel: str) -> bool: ...
    def walk_rs(self, rel_dir: str) -> Iterator[str]: ...


@dataclass
class DiskSource:
    root: Path

    def read_bytes(self, rel: str) -> bytes | None:
        return read_or_skip(self.root / rel, self.root)

    def is_file(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def walk_rs(self, rel_dir: str) -> Iterator[str]:
        for path in walk_files(self.root / rel_dir, lambda d: d.name not in IGNORED_DIRS, self.root):
            if path.name.endswith(".rs"):
                yield path.relative_to(self.root).as_posix()

    def glob_dirs(self, pattern: str) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.glob(pattern) if p.is_dir()
        )


def _join(*parts: str) -> str:
    joined = PurePosixPath(*[p for p in parts if p])
    # Normalise `a/../b` from #[path] attributes without touching the file system.
    out: list[str] = []
    for part in joined.parts:
        if part == "..":
            if out:
                out.pop()
        elif part != ".":
            out.append(part)
    return "/".join(out)


def _load_manifest(source: FileSource, rel: str, errors: list[str]) -> dict | None:
    data = source.read_bytes(rel)
    if data is None:
        return None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        errors.append(f"{rel}: cannot read manifest ({err})")
        return None


def _crate_targets(source: FileSource, crate_dir: str, manifest: dict, name: str) -> list[Target]:
    targets: list[Target] = []
    lib = manifest.get("lib") or {}
    lib_path = lib.get("path") or "src/lib.rs"
    if source.is_file(_join(crate_dir, lib_path)):
        targets.append(Target("lib", lib.get("name", name).replace("-", "_"), _join(crate_dir, lib_path)))
    declared = {}
    for kind, key, folder in (("bin", "bin", "src/bin"), ("test", "test", "tests"),
                              ("example", "example", "examples"), ("bench", "bench", "benches")):
        for entry in manifest.get(key) or []:
            path = entry.get("path") or f"{folder}/{entry.get('name', '')}.rs"
            declared[_join(crate_dir, path)] = Target(kind, entry.get("name", ""), _join(crate_dir, path))
    if source.is_file(_join(crate_dir, "src/main.rs")):
        declared.setdefault(_join(crate_dir, "src/main.rs"), Target("bin", name, _join(crate_dir, "src/main.rs")))
    # Auto-discovered targets: one file per target, or a folder with main.rs.
    for kind, folder in (("bin", "src/bin"), ("test", "tests"), ("example", "examples"), ("bench", "benches")):
        base = _join(crate_dir, folder)
        for rel in source.walk_rs(base):
            tail = rel[len(base) + 1 :]
            parts = tail.split("/")
            if len(parts) == 1:
                declared.setdefault(rel, Target(kind, parts[0][:-3], rel))
            elif len(parts) == 2 and parts[1] == "main.rs":
                declared.setdefault(rel, Target(kind, parts[0], rel))
    targets.extend(declared.values())
    return targets


def discover_workspace(root: Path, source: FileSource | None = None, *, follow_modules: bool = True) -> Workspace:
    """Crates, targets and source files (with module paths) under `root`. Never raises on bad input.

    `follow_modules=False` reads manifests and folders only, no source: module paths are then
    guessed from file paths (right for the usual layouts, not for `#[path]`), in milliseconds
    where following `mod` declarations parses every file (a minute on a million lines)."""
    return _discover(root, source, None, follow_modules)


def _discover(root: Path, source: FileSource | None, parsed: dict[str, FileAnalysis] | None,
              follow_modules: bool = True) -> Workspace:
    """`parsed` collects the analyses made while following `mod` declarations, for reuse."""
    ws, source = workspace_crates(root, source)
    seen: set[str] = set()
    for crate in ws.crates:
        crate_files(source, ws, crate, seen, parsed, follow_modules)
    if not ws.crates:
        loose_files(source, ws)
    return ws


def workspace_crates(root: Path, source: FileSource | None = None) -> tuple[Workspace, FileSource]:
    """The workspace's crates with their targets, from the manifests alone (no source is read):
    files come crate by crate from `crate_files`."""
    root = Path(root).resolve()
    source = source or DiskSource(root)
    ws = Workspace(root=str(root))
    top = _load_manifest(source, "Cargo.toml", ws.errors)
    crate_dirs: list[str] = []
    if top is not None:
        if "package" in top:
            crate_dirs.append("")
        config = top.get("workspace") or {}
        excluded = [str(ex) for ex in config.get("exclude") or []]
        for pattern in config.get("members") or []:
            matches = source.glob_dirs(pattern) if isinstance(source, DiskSource) else [pattern]
            # As cargo: an `exclude` path drops what a glob matched, never a member named literally.
            crate_dirs.extend(m for m in matches if m not in crate_dirs and not (
                any(_within(m, ex) for ex in excluded) and not _within(m, str(pattern))))
    else:
        ws.errors.append("no Cargo.toml at the workspace root; analysing loose .rs files")
    for crate_dir in crate_dirs:
        manifest_rel = _join(crate_dir, "Cargo.toml")
        manifest = _load_manifest(source, manifest_rel, ws.errors)
        if manifest is None or "package" not in manifest:
            continue
        name = str(manifest["package"].get("name", crate_dir or root.name))
        crate = Crate(name=name, root=crate_dir, manifest=manifest_rel)
        crate.targets = _crate_targets(source, crate_dir, manifest, name)
        ws.crates.append(crate)
        for folder in ("src", "tests", "examples", "benches"):
            ws.watch_dirs.append(_join(crate_dir, folder) or ".")
    ws.watch_dirs = [d for d in dict.fromkeys(ws.watch_dirs)]
    return ws, source


def crate_files(source: FileSource, ws: Workspace, crate: Crate, seen: set[str],
                parsed: dict[str, FileAnalysis] | None, follow_modules: bool = True) -> None:
    """Add one crate's source files to `ws.files` (those not in `seen` already): the module tree
    from each target's root, then the files no `mod` reaches."""
    for target in crate.targets:
        if follow_modules:
            _walk_modules(source, target.root, crate.name, target.kind, ws, seen, parsed)
        elif target.root not in seen and source.is_file(target.root):
            seen.add(target.root)
            ws.files.append(SourceFile(target.root, crate.name, "crate", target.kind))
    # Files no `mod` reaches (cfg'd by macros, build scripts, leftovers) are still analysed.
    for folder in ("src", "tests", "examples", "benches"):
        for rel in source.walk_rs(_join(crate.root, folder)):
            if rel not in seen:
                seen.add(rel)
                kind = "lib" if folder == "src" else folder.rstrip("s").replace("benche", "bench")
                ws.files.append(SourceFile(rel, crate.name, _guess_module(rel, crate.root), kind))


def loose_files(source: FileSource, ws: Workspace) -> None:
    """No crate: every .rs file under the root, as one crate named after the folder."""
    name = Path(ws.root).name
    for rel in source.walk_rs(""):
        ws.files.append(SourceFile(rel, name, _guess_module(rel, ""), "lib"))


def _guess_module(rel: str, crate_dir: str) -> str:
    tail = rel[len(crate_dir) + 1 :] if crate_dir else rel
    parts = tail[:-3].split("/")
    if parts and parts[0] in ("src", "tests", "examples", "benches"):
        parts = parts[1:]
    if parts and parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(["crate"] + parts)


def _walk_modules(source: FileSource, root_file: str, crate: str, kind: str,
                  ws: Workspace, seen: set[str], parsed: dict[str, FileAnalysis] | None) -> None:
    """Follow `mod x;` declarations from a target root, honouring mod.rs layouts and #[path]."""
    pending = [(root_file, "crate", True)]
    while pending:
        rel, module_path, is_mod_root = pending.pop()
        if rel in seen:
            continue
        data = source.read_bytes(rel)
        if data is None:
            continue
        seen.add(rel)
        ws.files.append(SourceFile(rel, crate, module_path, kind))
        analysis = analyze_source(data, rel, module_path, test_file=kind == "test")
        if parsed is not None:
            parsed[rel] = analysis
        if analysis.skipped:
            continue
        file_dir = str(PurePosixPath(rel).parent)
        # Children of lib.rs, main.rs and mod.rs live beside them; children of foo.rs in foo/.
        own_dir = file_dir if is_mod_root else _join(file_dir, PurePosixPath(rel).stem)
        for decl in analysis.mod_decls:
            inline = decl.parent_module[len(module_path) :].strip(":").split("::")
            inline = [p for p in inline if p]
            child_module = f"{decl.parent_module}::{decl.name}"
            if decl.path_attr:
                base = file_dir if not inline else _join(own_dir, *inline)
                candidates = [(_join(base, decl.path_attr), decl.path_attr.endswith("mod.rs"))]
            else:
                base = _join(own_dir, *inline)
                candidates = [(_join(base, f"{decl.name}.rs"), False),
                              (_join(base, decl.name, "mod.rs"), True)]
            for candidate, child_is_root in candidates:
                if source.is_file(candidate):
                    pending.append((candidate, child_module, child_is_root))
                    break


def analyze_workspace(root: Path, source: FileSource | None = None) -> tuple[Workspace, list[FileAnalysis]]:
    """Discover and analyse every source file. Files that cannot be read are skipped and logged."""
    ws, crates = analyze_crates(root, source)
    return ws, [analysis for batch in crates for analysis in batch]


def analyze_crates(root: Path, source: FileSource | None = None) -> tuple[Workspace, Iterator[list[FileAnalysis]]]:
    """The workspace's crates (from the manifests), and an iterator over the analyses of each
    crate's files in turn: a large workspace is analysed without holding every analysis at once.
    `ws.files` grows as the iterator advances."""
    ws, source = workspace_crates(root, source)

    def batches() -> Iterator[list[FileAnalysis]]:
        seen: set[str] = set()
        for crate in ws.crates:
            parsed: dict[str, FileAnalysis] = {}
            first = len(ws.files)
            crate_files(source, ws, crate, seen, parsed)
            yield analyses_of(source, ws.files[first:], parsed)
        if not ws.crates:
            loose_files(source, ws)
            yield analyses_of(source, ws.files, {})

    return ws, batches()


def analyses_of(source: FileSource, files: list[SourceFile], parsed: dict[str, FileAnalysis]) -> list[FileAnalysis]:
    """The analyses of `files`: those made while following `mod` declarations, the rest now."""
    analyses = []
    for file in files:
        analysis = parsed.get(file.path)
        if analysis is None:
            data = source.read_bytes(file.path)
            if data is None:
                log.info("skipping %s: cannot read", file.path)
                continue
            analysis = analyze_source(data, file.path, file.module_path, test_file=file.target == "test")
        if analysis.skipped:
            log.info("skipping %s: %s", file.path, analysis.skipped)
        analyses.append(analysis)
    return analyses


def _manifest_at(folder: Path) -> dict | None:
    data = read_or_skip(folder / "Cargo.toml")
    try:
        return tomllib.loads(data.decode("utf-8")) if data is not None else None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _within(rel: str, base: str) -> bool:
    base = base.strip("/")
    return base in ("", ".") or rel == base or rel.startswith(base + "/")


def excluded_from(root: Path, manifest: dict, package_dir: Path) -> bool:
    """Cargo's rule (`WorkspaceRootConfig::is_excluded`): a package under a workspace root is left
    out when a path of `exclude` holds it and no `members` entry, taken literally (a glob is not
    expanded here), does."""
    config = manifest.get("workspace") or {}
    rel = package_dir.relative_to(root).as_posix()
    excluded = any(_within(rel, str(ex)) for ex in config.get("exclude") or [])
    return excluded and not any(_within(rel, str(m)) for m in config.get("members") or [])


def find_workspace_root(path: str | Path) -> Path:
    """The Cargo workspace a path belongs to, the way cargo finds it: the nearest package (a
    directory with a Cargo.toml), then its `package.workspace` if it names one, else the nearest
    enclosing `[workspace]` that does not exclude it, else the package itself; the path's
    directory when there is no manifest at all."""
    start = Path(path).resolve()
    here = start if start.is_dir() else start.parent
    package = next((d for d in [here, *here.parents] if (d / "Cargo.toml").is_file()), None)
    if package is None:
        return here
    manifest = _manifest_at(package) or {}
    if "workspace" in manifest:
        return package
    pointer = (manifest.get("package") or {}).get("workspace")
    if isinstance(pointer, str):
        return (package / pointer).resolve()
    for ancestor in package.parents:
        outer = _manifest_at(ancestor) if (ancestor / "Cargo.toml").is_file() else None
        if outer is not None and "workspace" in outer and not excluded_from(ancestor, outer, package):
            return ancestor
    return package


def cargo_roots(folder: Path) -> list[Path]:
    """The Cargo workspaces an editor folder holds, as cargo sees them: one per workspace root
    (members are part of theirs; an excluded member or a nested workspace is a root of its own).
    A package whose workspace lies above the folder (the folder is a member of a workspace the
    editor did not open) counts as the folder itself, as does a folder with no manifest."""
    folder = Path(folder).resolve()
    roots: list[Path] = []
    for manifest in walk_files(folder, lambda d: d.name not in IGNORED_DIRS and not d.name.startswith(".")):
        if manifest.name != "Cargo.toml":
            continue
        root = find_workspace_root(manifest.parent)
        if root != folder and folder not in root.parents:
            root = folder
        if root not in roots:
            roots.append(root)
    return roots or [folder]


def is_watched(rel: str) -> bool:
    """Whether a changed path matters to the analysis: Rust sources and manifests outside target/."""
    parts = rel.split("/")
    if any(p in IGNORED_DIRS for p in parts[:-1]):
        return False
    return rel.endswith(".rs") or fnmatch.fnmatch(parts[-1], "Cargo.toml")
