"""The workspace memory in the server: opened once (`server.memory`, the only writer), brought up
to date in the background with `$/progress` (cancellable, within a CPU budget), kept current by
the watcher and by open editor buffers, which win over the disk until closed. Vectors fill in
behind, in the user's pauses ("Rusta: memory vectors"), pre-empted by any edit."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from ...config import memory_uri
from ...memory.embedder import Embedder
from ...memory.ingest import Cancelled, CancelToken, Ingestor
from ...memory.store import Memory
from ...memory.watcher import Watcher
from ..documents import Document
from .base import Feature

log = logging.getLogger(__name__)

CPU_BUDGET = 0.5  # the background ingest takes at most half a core's wall time per worker
EMBED_IDLE_S = 8.0  # seconds without edits before the vector stage runs
BUFFER_DEBOUNCE_S = 0.3  # typing: index the buffer once the burst of changes pauses


class MemoryFeature(Feature):
    name = "memory"

    def __init__(self, server):
        super().__init__(server)
        self.memory: Memory | None = None
        self.ingestor: Ingestor | None = None
        self.watcher: Watcher | None = None
        self.ready = asyncio.Event()  # the first full ingest finished (or was cancelled)
        self._shutdown = threading.Event()
        self._edited = threading.Event()  # pre-empts the vector stage
        self._last_edit = time.monotonic()
        self._pending: dict[str, str] = {}  # rel path -> latest buffer text not yet indexed
        self._flush: asyncio.Task | None = None

    async def on_initialized(self) -> None:
        if self.server.root is not None:
            self.server.spawn(self._start(), "memory: open and ingest")

    async def _start(self) -> None:
        root, config = self.server.root, self.server.config
        embedder = Embedder(config.model.embedding, config.device)
        self.memory = await self.server.run_blocking(
            lambda: Memory.open(memory_uri(config, root), root, embedder=embedder))
        self.server.memory = self.memory
        for message in self.memory.messages:
            self.server.show_message(message)
        self.ingestor = Ingestor(self.memory, root, embedder=embedder, cpu_budget=CPU_BUDGET)
        for doc in list(self.server.documents.values()):  # opened before the memory was ready
            self.ingestor.buffers[doc.rel] = doc.data
        try:
            async with self.server.progress("Rusta: memory") as progress:
                cancel = CancelToken(progress.cancel, self._shutdown)
                result = await self.server.run_blocking(
                    lambda: self.ingestor.run(progress=progress.report, cancel=cancel, embed=False))
            log.info("memory: %d files, %d items, %d changed in %.1fs%s", result.files, result.items,
                     result.changed, result.seconds, " (cancelled)" if result.cancelled else "")
        finally:
            self.ready.set()
        if self._shutdown.is_set():
            return
        # Even after a cancel: what changes from now on is followed.
        self.watcher = Watcher(self.ingestor)
        self.watcher.start()
        if not result.cancelled:
            await self._fill_vectors(embedder)

    async def _fill_vectors(self, embedder: Embedder) -> None:
        """Vectors only sharpen search: compute them while the user pauses, stop at any edit
        (what was embedded stays), and go on at the next pause."""
        while not self._shutdown.is_set():
            idle = time.monotonic() - self._last_edit
            if idle < EMBED_IDLE_S:
                await asyncio.sleep(EMBED_IDLE_S - idle)
                continue
            self._edited.clear()
            async with self.server.progress("Rusta: memory vectors") as progress:
                cancel = CancelToken(progress.cancel, self._shutdown, self._edited)
                done = await self.server.run_blocking(self._embed, progress, cancel)
            if embedder.error:
                self.server.show_message(embedder.error)
            if done is not None or progress.cancel.is_set():
                return  # all embedded, or the user said stop

    def _embed(self, progress, cancel: CancelToken) -> int | None:
        try:
            return self.ingestor.embed_pending(progress.report, cancel)
        except Cancelled:
            return None

    # --- buffers -------------------------------------------------------------------------

    async def on_document_opened(self, doc: Document) -> None:
        self._queue(doc)

    async def on_document_changed(self, doc: Document) -> None:
        self._last_edit = time.monotonic()
        self._edited.set()
        self._queue(doc)

    async def on_document_saved(self, doc: Document) -> None:
        # The buffer is what was saved: index it now and fill its new vectors.
        if self.ingestor is not None and doc.path is not None:
            self._pending.pop(doc.rel, None)
            self.ingestor.buffers[doc.rel] = doc.data
            await self.server.run_blocking(lambda: self.ingestor.update_paths([doc.rel], embed=True))

    async def on_document_closed(self, doc: Document) -> None:
        self._pending.pop(doc.rel, None)
        if self.ingestor is not None:
            await self.server.run_blocking(self.ingestor.close_buffer, doc.rel)

    def _queue(self, doc: Document) -> None:
        if doc.path is None or not doc.rel.endswith((".rs", ".md")):
            return
        self._pending[doc.rel] = doc.text
        if self._flush is None or self._flush.done():
            self._flush = self.server.spawn(self._flush_buffers(), "memory: index buffers")

    async def _flush_buffers(self) -> None:
        await asyncio.sleep(BUFFER_DEBOUNCE_S)
        while self._pending and self.ingestor is not None:
            rel, text = self._pending.popitem()
            await self.server.run_blocking(self.ingestor.update_buffer, rel, text)

    # --- shutdown ------------------------------------------------------------------------

    async def on_shutdown(self) -> None:
        self._shutdown.set()
        if self.watcher is not None:
            await self.server.run_blocking(self.watcher.stop)
        if self.memory is not None:
            await self.server.run_blocking(self.memory.close)
