"""Helpers for the patch-engine tests: copies of the example crates and a shared cargo target."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rusta_lsp.config import RustaConfig, read_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# One target directory for every test run: dependencies and std metadata stay built between runs.
SHARED_TARGET = Path(os.environ.get("RUSTA_TEST_TARGET", Path(tempfile.gettempdir()) / "rusta-test-target"))


def copy_example(name: str, dest: Path) -> Path:
    # Fresh modification times (shutil.copy, not copy2): cargo fingerprints a workspace member
    # the same wherever it lies, so with the shared target a copy keeping the examples' old times
    # would pass for "fresh" against another test's build of a fixed copy, and go unchecked.
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("target"), copy_function=shutil.copy)
    return dest


def one_file_crate(root: Path, name: str, source: str, path: str = "src/lib.rs") -> Path:
    """A crate of one source file (edition 2021) at `root`."""
    (root / path).parent.mkdir(parents=True)
    (root / "Cargo.toml").write_text(f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / path).write_text(source)
    return root


def config_for(memory_dir: Path, **options) -> RustaConfig:
    config, problems = read_config(
        {"memory": {"uri": str(memory_dir)}, "cargo": {"targetDir": str(SHARED_TARGET)}, **options}
    )
    assert not problems, problems
    return config


def settings_flags(config: RustaConfig | None) -> list[str]:
    """The `rusta` flags that give a command the settings of `config_for`."""
    if config is None:
        return []
    return ["--memory", config.memory.uri, "--set", f"cargo.targetDir={config.cargo.target_dir}"]


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (but target/) with its bytes: to prove a workspace untouched."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "target" not in p.relative_to(root).parts
    }
