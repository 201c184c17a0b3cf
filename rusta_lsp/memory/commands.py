"""`rusta index` and `rusta search`: the memory from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..config import RustaConfig, memory_uri
from .embedder import Embedder
from .ingest import Ingestor
from .store import Memory


class ProgressBar:
    """A one-line bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = self.stream.isatty()
        self._last = (-1, "")

    def __call__(self, percent: int, message: str) -> None:
        if not self.enabled or (percent, message) == self._last:
            return
        self._last = (percent, message)
        filled = self.width * percent // 100
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {percent:3d}% {message[:40]:<40}")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self._last[0] >= 0:
            self.stream.write("\n")


def _fail(command: str, message: str) -> int:
    print(f"rusta {command}: {message}", file=sys.stderr)
    return 2


def _setup(command: str, args) -> tuple[Path, RustaConfig] | int:
    root = Path(args.path)
    if not root.is_dir():
        return _fail(command, f"{args.path}: not a folder")
    config = getattr(args, "config", None) or RustaConfig()
    if getattr(args, "memory", None):
        config.memory.uri = args.memory
    return root.resolve(), config


def _open(root: Path, config: RustaConfig, embedder: Embedder | None) -> Memory:
    memory = Memory.open_for_cli(memory_uri(config, root), root, embedder=embedder)
    for message in memory.messages:
        print(f"rusta: {message}", file=sys.stderr)
    return memory


def index_command(args) -> int:
    setup = _setup("index", args)
    if isinstance(setup, int):
        return setup
    root, config = setup
    if Memory.writer_busy(memory_uri(config, root)):
        return _fail("index", "a running Rusta server keeps this memory current (its one writer); "
                              "stop it to index from the command line")
    embedder = None if getattr(args, "no_embed", False) else Embedder(config.model.embedding, config.device)
    bar = ProgressBar()
    with _open(root, config, embedder) as memory:
        result = Ingestor(memory, root, embedder=embedder).run(progress=bar, embed=embedder is not None)
    bar.done()
    if embedder is not None and embedder.error:
        print(f"rusta index: {embedder.error}", file=sys.stderr)
    out = {"files": result.files, "items": result.items, "embedded": result.embedded,
           "seconds": result.seconds, "changed": result.changed}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['files']} files, {out['items']} items, {out['embedded']} embedded, "
              f"{out['changed']} changed in {out['seconds']:.1f}s")
    return 0


def search_command(args) -> int:
    setup = _setup("search", args)
    if isinstance(setup, int):
        return setup
    root, config = setup
    if args.k < 1:
        return _fail("search", "-k must be at least 1")
    mode = getattr(args, "mode", "hybrid")
    embedder = Embedder(config.model.embedding, config.device) if mode != "fts" else None
    with _open(root, config, embedder) as memory:
        if memory.is_empty() and not memory.read_only:
            print("rusta search: memory is empty, indexing (full-text only) first", file=sys.stderr)
            Ingestor(memory, root).run(progress=ProgressBar(), embed=False)
        if not memory.has_vectors():
            memory.embedder = None  # no vectors to compare with: don't load the model
        hits = memory.search(args.query, k=args.k, mode=mode)
    if args.json:
        print(json.dumps([{"path": h.path, "line": h.line, "kind": h.kind, "score": round(h.score, 6),
                           "snippet": h.snippet} for h in hits], ensure_ascii=False))
    else:
        for hit in hits:
            print(f"{hit.path}:{hit.line}  {hit.snippet}")
    return 0
