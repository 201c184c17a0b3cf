"""The workspace memory in the server: the session's memory (the process's one writer), brought up
to date in the background with `$/progress` (cancellable, within a CPU budget), kept current by
the watcher and by open editor buffers, which win over the disk until closed. Vectors fill in
behind, in the user's pauses ("Rusta: memory vectors"), pre-empted by any edit."""

from __future__ import annotations

import asyncio
import logging
import time

from lsprotocol import types

from ...cancel import Cancelled, CancelToken
from ...errors import MemoryClosed
from ...memory.ingest import Ingestor
from ...memory.watcher import Watcher
from ..documents import Document
from ..app import Feature

log = logging.getLogger(__name__)

CPU_BUDGET = 0.5  # the background ingest takes at most half a core's wall time per worker
EMBED_IDLE_S = 8.0  # seconds without edits before the vector stage runs
BUFFER_DEBOUNCE_S = 0.3  # typing: index the buffer once the burst of changes pauses
WRITER_RETRY_S = 2.0  # while another process holds the memory's writer lock, try again this often


class MemoryFeature(Feature):
    name = "memory"

    def __init__(self, server, session):
        super().__init__(server, session)
        self.ingestor: Ingestor | None = None
        self.watcher: Watcher | None = None
        self.ready = asyncio.Event()  # the first full ingest finished (or was cancelled)
        self._edited = CancelToken()  # pre-empts the vector stage; a new one per pass
        self._last_edit = time.monotonic()
        self._pending: dict[str, str] = {}  # rel path -> latest buffer text not yet indexed
        self._flush: asyncio.Task | None = None

    async def on_initialized(self) -> None:
        if self.session is not None:
            self.server.spawn(self._start(), "memory: ingest")

    async def _start(self) -> None:
        memory = await self.memory()
        if memory is None:
            self.ready.set()
            return
        if memory.read_only and not await self._become_writer(memory):
            self.ready.set()
            return
        self.ingestor = Ingestor(memory, self.session.root, cpu_budget=CPU_BUDGET)
        for doc in self.documents():  # opened before the memory was ready
            self.ingestor.buffers[doc.rel] = doc.data
        try:
            async with self.progress("Rusta: memory") as progress:
                result = await self.server.run_behind(
                    lambda: self.ingestor.run(progress=progress.report, cancel=progress.cancel, embed=False))
            log.info("memory: %d files, %d items, %d changed in %.1fs%s", result.files, result.items,
                     result.changed, result.seconds, " (cancelled)" if result.cancelled else "")
            if self.ingestor.workspace is not None:  # the module tree the quick discovery guessed
                self.session.workspace_model = self.ingestor.workspace
        except MemoryClosed:
            if not self.stopping.is_set():
                raise
            return  # the workspace stopped during its first ingest
        finally:
            self.ready.set()
        if self.stopping.is_set():
            return
        # Even after a cancel: what changes from now on is followed.
        self.watcher = Watcher(self.ingestor)
        self.watcher.start()
        if not result.cancelled:
            await self._fill_vectors()

    async def _become_writer(self, memory) -> bool:
        """Another process writes the memory (its opening said so): read it meanwhile, and take
        the writer lock as soon as it is free. False when the server stops first."""
        while not self.server.stopping.is_set():
            await asyncio.sleep(WRITER_RETRY_S)
            if await self.server.run_behind(memory.take_writer):
                self.server.show_message("the other process is done: bringing the memory up to date",
                                         types.MessageType.Info)
                return True
        return False

    async def _fill_vectors(self) -> None:
        """Vectors only sharpen search: compute them while the user pauses, stop at any edit
        (what was embedded stays), and go on at the next pause."""
        while not self.stopping.is_set():
            idle = time.monotonic() - self._last_edit
            if idle < EMBED_IDLE_S:
                await asyncio.sleep(EMBED_IDLE_S - idle)
                continue
            self._edited = CancelToken()
            async with self.progress("Rusta: memory vectors", cancel=self._edited) as progress:
                done = await self.server.run_behind(self._embed, progress)
            if self.session.embedder.error:
                self.server.show_message(self.session.embedder.error)
            if done is not None or (progress.cancel.is_set() and not self._edited.is_set()):
                return  # all embedded, or the user said stop

    def _embed(self, progress) -> int | None:
        try:
            return self.ingestor.embed_pending(progress.report, progress.cancel)
        except Cancelled:
            return None

    # --- buffers -------------------------------------------------------------------------

    async def on_document_opened(self, doc: Document) -> None:
        # At once, not after the typing pause: the first hover in a file comes a fraction of a
        # second after it opens, and should not share the CPU with this.
        self._queue(doc, pause=0.0)

    async def on_document_changed(self, doc: Document) -> None:
        self._last_edit = time.monotonic()
        self._edited.cancel()
        self._queue(doc)

    async def on_document_saved(self, doc: Document) -> None:
        # The buffer is what was saved: index it now and fill its new vectors, in the background:
        # the features after this one learn of the save at once (the fixes' check times the save
        # against rust-analyzer's flycheck, which starts right away).
        if self.ingestor is not None and doc.path is not None:
            self._pending.pop(doc.rel, None)
            self.ingestor.buffers[doc.rel] = doc.data
            self.server.spawn(self._write(lambda: self.ingestor.update_paths([doc.rel], embed=True)),
                              "memory: index the saved file")

    async def on_document_closed(self, doc: Document) -> None:
        self._pending.pop(doc.rel, None)
        if self.ingestor is not None:
            await self.server.run_behind(self.ingestor.close_buffer, doc.rel)

    def _queue(self, doc: Document, pause: float = BUFFER_DEBOUNCE_S) -> None:
        if doc.path is None or not doc.rel.endswith((".rs", ".md")):
            return
        self._pending[doc.rel] = doc.text
        if self._flush is None or self._flush.done():
            self._flush = self.server.spawn(self._flush_buffers(pause), "memory: index buffers")

    async def _flush_buffers(self, pause: float) -> None:
        await asyncio.sleep(pause)
        while self._pending and self.ingestor is not None and not self.stopping.is_set():
            rel, text = self._pending.popitem()
            await self._write(lambda: self.ingestor.update_buffer(rel, text))

    async def _write(self, update) -> None:
        """An update of the memory; none once the workspace stops (its memory closes under it)."""
        try:
            await self.server.run_behind(update)
        except MemoryClosed:
            if not self.stopping.is_set():
                raise

    # --- shutdown ------------------------------------------------------------------------

    async def on_shutdown(self) -> None:
        if self.watcher is not None:
            await self.server.run_behind(self.watcher.stop)
