"""The 1M-line monorepo of bench/monorepo.py: Debian's packaged crate sources (the newest version
of each crate the Makefile's bench set-up installs), copied as members of one Cargo workspace under
bench/out/monorepo until it holds at least MIN_LINES lines of Rust."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from memory_corpus import OUT, rust_lines

from parse import REGISTRY

MIN_LINES = 1_000_000
# Generated bindings and data tables: lines of Rust, but not code anyone writes or hovers.
GENERATED = {"winapi", "web-sys", "js-sys", "linux-raw-sys", "libc", "encoding_rs", "unicode-normalization",
             "windows-sys", "unicode-bidi", "unicode-width", "unicode-ident"}
_VERSIONED = re.compile(r"^(?P<name>.+)-(?P<version>\d+(?:\.\d+)*(?:[-+].*)?)$")


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.+-]", version))


def newest_crates() -> list[Path]:
    """One folder per crate name in the registry, its newest version; generated code left out."""
    best: dict[str, tuple[tuple, Path]] = {}
    for folder in sorted(REGISTRY.iterdir()):
        match = _VERSIONED.match(folder.name)
        if not match or not (folder / "Cargo.toml").is_file() or match["name"] in GENERATED:
            continue
        key = _version_key(match["version"])
        if match["name"] not in best or key > best[match["name"]][0]:
            best[match["name"]] = (key, folder)
    return [folder for _, folder in sorted(best.values(), key=lambda kv: kv[1].name)]


def monorepo_workspace(min_lines: int = MIN_LINES) -> Path:
    """bench/out/monorepo: crates copied in name order until `min_lines` lines (made once)."""
    root = OUT / "monorepo"
    if (root / "Cargo.toml").is_file():
        return root
    staging = OUT / "monorepo.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    members, total = [], 0
    for crate in newest_crates():
        if total >= min_lines:
            break
        shutil.copytree(crate, staging / crate.name, ignore=shutil.ignore_patterns("target", ".cargo-checksum.json"))
        members.append(crate.name)
        total += rust_lines(staging / crate.name)
    if total < min_lines:
        sys.exit(f"the registry holds {total:,} lines of Rust, fewer than {min_lines:,}: run `make bench-crates`")
    (staging / "Cargo.toml").write_text(
        "[workspace]\nresolver = \"2\"\nmembers = [\n" + "".join(f'    "{m}",\n' for m in members) + "]\n")
    staging.rename(root)
    return root
