"""`rusta index` and `rusta search`: the memory from the command line."""

from __future__ import annotations

import json
import sys

from ..errors import UsageError
from ..memory.ingest import Ingestor
from ..memory.retrieval import search
from . import folder_root, index_if_empty, open_memory, refuse_beside_server, say, session_for


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


def index_command(args) -> int:
    session = session_for(args, folder_root(args.path))
    refuse_beside_server(session, "a running Rusta server keeps this memory current (its one writer); "
                                  "stop it to index from the command line")
    embed = not args.no_embed
    bar = ProgressBar()
    with open_memory(session, "index", embed=embed) as memory:
        result = Ingestor(memory, session.root).run(progress=bar, embed=embed)
    bar.done()
    if embed and session.embedder.error:
        say("index", session.embedder.error)
    out = {"files": result.files, "items": result.items, "embedded": result.embedded,
           "seconds": result.seconds, "changed": result.changed}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['files']} files, {out['items']} items, {out['embedded']} embedded, "
              f"{out['changed']} changed in {out['seconds']:.1f}s")
    return 0


def search_command(args) -> int:
    session = session_for(args, folder_root(args.path))
    if args.k < 1:
        raise UsageError("-k must be at least 1")
    with open_memory(session, "search", embed=args.mode != "fts") as memory:
        index_if_empty(memory, session, "search", ProgressBar())
        if not memory.has_vectors():
            memory.embedder = None  # no vectors to compare with: don't load the model
        hits = search(memory, args.query, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps([{"path": h.path, "line": h.line, "kind": h.kind, "score": round(h.score, 6),
                           "snippet": h.snippet} for h in hits], ensure_ascii=False))
    else:
        for hit in hits:
            print(f"{hit.path}:{hit.line}  {hit.snippet}")
    return 0
