"""Follow the disk: watchfiles on the crates' source folders and manifests, debounced.

Never the whole workspace: target/ can hold hundreds of thousands of files (inotify limits,
wasted wakeups). Paths with an open editor buffer are skipped: the buffer wins until closed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from watchfiles import watch

from ..analysis.workspace import is_watched
from .ingest import Ingestor

log = logging.getLogger(__name__)

DEBOUNCE_MS = 250
# How often watchfiles' loop wakes to look for events: each wake takes the GIL. Every 50 ms it
# was all Rusta spent at rest (2 ms CPU a second on the 213k-line corpus, two loops); 0.4 ms now.
STEP_MS = 200


class Watcher:
    def __init__(self, ingestor: Ingestor, on_update: Callable[[list[str], int], None] | None = None,
                 embed: bool = True):
        self.ingestor = ingestor
        self.on_update = on_update or (lambda paths, changed: None)
        self.embed = embed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once the OS watches are in place

    def targets(self) -> tuple[list[Path], list[Path]]:
        """(folders watched recursively: each crate's src/tests/examples/benches,
        folders watched shallowly: the crate roots, for manifests and READMEs)."""
        root = self.ingestor.root
        deep = {root / d for d in self.ingestor.watch_dirs if d != "." and (root / d).is_dir()}
        shallow = {root / r if r else root for r in self.ingestor.crate_roots}
        return sorted(deep), sorted(p for p in shallow if p.is_dir())

    def _rel(self, path: str) -> str | None:
        try:
            return Path(path).resolve().relative_to(self.ingestor.root).as_posix()
        except ValueError:
            return None

    def _relevant(self, change, path: str) -> bool:
        rel = self._rel(path)
        if rel is None:
            return False
        if rel.endswith((".md", "Cargo.toml")):
            return rel.rpartition("/")[0] in self.ingestor.crate_roots
        return rel.endswith(".rs") and is_watched(rel) and self._in_watch_dirs(rel)

    def _in_watch_dirs(self, rel: str) -> bool:
        return any(rel.startswith(d.rstrip("/") + "/") for d in self.ingestor.watch_dirs if d != ".")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rusta-memory-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        """Watch until stopped; start over when the set of crates (so of folders) changes."""
        while not self._stop.is_set():
            generation = _Either(self._stop, threading.Event())
            deep, shallow = self.targets()
            loops = [threading.Thread(target=self._loop, args=(paths, recursive, generation), daemon=True)
                     for paths, recursive in ((deep, True), (shallow, False)) if paths]
            for loop in loops:
                loop.start()
            self.ready.set()
            for loop in loops:
                loop.join()
            if not loops:
                self._stop.wait(1.0)

    def _loop(self, paths: list[Path], recursive: bool, generation: "_Either") -> None:
        for changes in watch(*paths, watch_filter=self._relevant, debounce=DEBOUNCE_MS, step=STEP_MS,
                             stop_event=generation, rust_timeout=500, yield_on_timeout=True,
                             recursive=recursive, ignore_permission_denied=True):
            if changes and self._handle(changes):
                generation.restart.set()

    def _handle(self, changes) -> bool:
        rels = sorted({self._rel(p) for _, p in changes} - {None} - set(self.ingestor.buffers))
        if not rels:
            return False
        before = set(self.ingestor.watch_dirs)
        try:
            changed = self.ingestor.update_paths(rels, embed=self.embed)
        except Exception:
            log.exception("memory: updating %s failed", ", ".join(rels))
            return False
        self.on_update(rels, changed)
        return set(self.ingestor.watch_dirs) != before


class _Either:
    """Stops a watch loop when the watcher stops or its generation ends."""

    def __init__(self, stop: threading.Event, restart: threading.Event):
        self.stop, self.restart = stop, restart

    def is_set(self) -> bool:
        return self.stop.is_set() or self.restart.is_set()
