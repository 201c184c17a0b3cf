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


def git(root: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
                          cwd=root, check=True, capture_output=True, text=True).stdout


def commit(root: Path) -> Path:
    """Make `root` a git repository whose HEAD holds its files as they are."""
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "builds")
    return root


def committed_then_broken(root: Path, working: dict[str, str]) -> Path:
    """`root` (a broken crate) as a user's git checkout of it: the working text of some files
    (relative path -> text) is what HEAD holds, and the broken text came after, uncommitted."""
    broken = {rel: (root / rel).read_text() for rel in working}
    for rel, text in working.items():
        (root / rel).write_text(text)
    commit(root)
    for rel, text in broken.items():
        (root / rel).write_text(text)
    return root


LOST_USE = "use crate::span::Span;"


def lost_use_checkout(dest: Path) -> Path:
    """examples/broken-cascade as a user has it: a fresh git checkout of the crate that built,
    whose `use` was lost since the commit (Rusta never watched it build)."""
    root = copy_example("broken-cascade", dest)
    working = (root / "src/lib.rs").read_text().replace("pub mod span;\n", f"pub mod span;\n\n{LOST_USE}\n")
    return committed_then_broken(root, {"src/lib.rs": working})


# examples/broken-types as its author had it before the four slips: each slip undone.
TYPES_UNDONE = (("shout(name)", "shout(&name)"), ("u64 = amount;", "u64 = amount.into();"),
                ("owner: owner,", "owner: owner.to_string(),"), ("let sum", "let mut sum"))


def types_checkout(dest: Path) -> Path:
    """examples/broken-types as a user has it: a git checkout of the crate that built, with four
    type and ownership slips made since the commit."""
    root = copy_example("broken-types", dest)
    working = (root / "src/lib.rs").read_text()
    for slip, undone in TYPES_UNDONE:
        working = working.replace(slip, undone)
    return committed_then_broken(root, {"src/lib.rs": working})


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


def as_rust_analyzer_reports(root: Path, check_args: list[str] | None = None) -> list[dict]:
    """The errors of `cargo check` in `root` as rust-analyzer's flycheck publishes them and an
    editor client hands them on (`rusta/companion`'s `diagnostics`): one LSP diagnostic per
    primary span, source `rustc`, the span's label after rustc's message (rust-analyzer 2022-05
    on examples/broken-types says "mismatched types\\nexpected `&str`, found `String`"). Runs
    rustc itself, in a target directory of its own: not the engine's check."""
    import json
    import subprocess

    from pygls.uris import from_fs_path

    run = subprocess.run(["cargo", *(check_args or ["check", "--workspace", "--all-targets"]),
                          "--message-format=json", "--quiet"], cwd=root, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"})
    out, seen = [], set()
    for line in run.stdout.splitlines():
        message = json.loads(line).get("message") if line.startswith("{") else None
        if not message or message.get("level") != "error":
            continue
        for span in (s for s in message["spans"] if s["is_primary"]):
            text = message["message"] + (f"\n{span['label']}" if span.get("label") else "")
            start = {"line": span["line_start"] - 1, "character": span["column_start"] - 1}
            end = {"line": span["line_end"] - 1, "character": span["column_end"] - 1}
            diagnostic = {"uri": from_fs_path(str(root / span["file_name"])), "severity": 1, "source": "rustc",
                          "code": (message.get("code") or {}).get("code"), "message": text,
                          "range": {"start": start, "end": end}}
            key = json.dumps(diagnostic, sort_keys=True)  # the library and its test harness report twice
            if key not in seen:
                seen.add(key)
                out.append(diagnostic)
    return out
