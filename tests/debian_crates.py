"""Copies of Debian-packaged crates that build offline on their own (for tests and benchmarks)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

REGISTRY = Path("/usr/share/cargo/registry")
OFFLINE_CONFIG = f"""[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "{REGISTRY}"
[net]
offline = true
"""


def copy_debian_crate(name: str, dest: Path) -> Path:
    """Copy `name` (e.g. "humantime-2.1.0") to `dest`, ready for an offline `cargo check`.

    Debian does not ship every dev-dependency, so the `[dev-dependencies]` tables go, and the
    checksum file goes because the copy is no longer the vendored original.
    """
    shutil.copytree(REGISTRY / name, dest, copy_function=shutil.copy)  # fresh times: see copy_example
    (dest / ".cargo-checksum.json").unlink(missing_ok=True)
    manifest = dest / "Cargo.toml"
    text = manifest.read_text()
    text = re.sub(r"(?m)^\[(?:target\.[^\]]*\.)?dev-dependencies[^\]]*\]\n(?:(?!\[).*\n?)*", "", text)
    manifest.write_text(text)
    (dest / ".cargo").mkdir(exist_ok=True)
    (dest / ".cargo" / "config.toml").write_text(OFFLINE_CONFIG)
    return dest
