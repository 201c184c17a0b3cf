"""The command-line commands. Each takes the parsed arguments (`args.config` holds the settings
from `--memory`, `--device` and `--set`), builds the one `WorkspaceSession` for its PATH with the
helpers below and calls the layer that owns the work. Bad input raises `UsageError`: the CLI
prints it as one line and exits 2.

    memory.py     `rusta index`, `rusta search`
    explain.py    `rusta explain`
    fix.py        `rusta fix`
    heartbeat.py  `rusta drill`, `rusta report`
    shadow.py     `rusta clean`
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..config import refuse_inside_workspace
from ..errors import UsageError
from ..memory.ingest import Ingestor
from ..memory.store import Memory
from ..session import WorkspaceSession


def say(command: str, message: str) -> None:
    """One line on stderr about what the command does differently (never its result)."""
    print(f"rusta {command}: {message}", file=sys.stderr)


def folder_root(path: str) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"{path}: not a folder")
    return root.resolve()


def crate_root(path: str) -> Path:
    root = Path(path)
    if not root.is_dir() or not (root / "Cargo.toml").is_file():
        raise UsageError(f"{path}: not a crate or workspace root (no Cargo.toml)")
    return root.resolve()


def require_cargo(config) -> None:
    if not config.cargo.enable:
        raise UsageError("cargo.enable is false: no cargo runs here (it would run the crate's build "
                         "scripts and procedural macros); --set cargo.enable=true for a folder you trust")
    if shutil.which("cargo") is None:
        raise UsageError("cargo not found on PATH")


def session_for(args, root: Path) -> WorkspaceSession:
    """The session for `root`; settings that would make Rusta write into the workspace, and a
    memory location that cannot be a folder, are refused here."""
    problems = refuse_inside_workspace(args.config, root)
    if problems:
        raise UsageError(problems[0].replace("using the default", "choose a folder outside it"))
    session = WorkspaceSession(root, args.config)
    uri = session.memory_uri
    if "://" not in uri:
        if Path(uri).exists() and not Path(uri).is_dir():
            raise UsageError(f"memory {uri}: not a folder")
        try:
            Path(uri).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"memory {uri}: {err.strerror or err}") from None
    return session


def open_memory(session: WorkspaceSession, command: str, *, embed: bool = True, mode: str = "cli") -> Memory:
    """The session's memory (see `WorkspaceSession.open_memory` for `mode`), its messages said."""
    try:
        memory = session.open_memory(embed=embed, mode=mode)
    except (OSError, ValueError) as err:  # a location LanceDB cannot use: an unknown scheme, a read-only disk
        reason = (err.strerror if isinstance(err, OSError) else None) or str(err).splitlines()[0]
        raise UsageError(f"memory {session.memory_uri}: {reason}") from None
    if mode == "writer" and memory.read_only:
        memory.close()
        raise UsageError("another Rusta process writes this memory; try again when it is done")
    for message in memory.messages:
        say(command, message)
    return memory


def index_if_empty(memory: Memory, session: WorkspaceSession, command: str, progress=None) -> None:
    """A command that reads the memory fills an empty one first (full text only: quick), unless
    it only reads it (beside a server, which indexes on its own)."""
    if memory.is_empty() and not memory.read_only:
        say(command, "memory is empty, indexing the workspace (full text only) first")
        Ingestor(memory, session.root).run(progress=progress, embed=False)


def refuse_beside_server(session: WorkspaceSession, why: str) -> None:
    """Commands that index or drill refuse, saying `why`, while a server is the memory's one writer."""
    if session.writer_busy():
        raise UsageError(why)
