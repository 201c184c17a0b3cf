"""textDocument/documentSymbol and workspace/symbol from the analysis."""

from __future__ import annotations

import logging

from lsprotocol import types

from ...analysis.symbols import SymbolTable
from ...analysis.workspace import DiskSource, analyze_crates
from ...memory.ingest import count_sources
from .. import convert
from ..documents import Document, path_to_uri
from ..app import Feature

log = logging.getLogger(__name__)


class SymbolsFeature(Feature):
    name = "symbols"

    def __init__(self, server, session):
        super().__init__(server, session)
        self.table = SymbolTable()

    def register(self) -> None:
        self.handle(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, self.document_symbol)
        self.handle(types.WORKSPACE_SYMBOL, self.workspace_symbol, every_root=True)

    async def on_initialized(self) -> None:
        if self.session is not None:
            self.server.spawn(self._index_workspace(), "symbols: index workspace")

    async def _index_workspace(self) -> None:
        root = self.session.root
        async with self.progress("Rusta: symbols") as progress:
            def work() -> int:
                expected = count_sources(root)
                done = 0
                _, crates = analyze_crates(root, DiskSource(root))
                for analyses in crates:  # crate by crate: only the items stay
                    for analysis in analyses:
                        progress.cancel.check()
                        # Open buffers are newer than the disk: keep theirs.
                        if not any(d.rel == analysis.path for d in self.documents()):
                            self.table.update(analysis)
                        done += 1
                        if done % 50 == 0:
                            progress.report(min(99, 100 * done // expected), f"{done} files")
                return done

            count = await self.server.run_behind(work)
            log.info("symbols: %d files, %d items", count, len(self.table))

    async def _refresh(self, doc: Document) -> None:
        analysis = await self.server.run_blocking(doc.analysis)
        self.table.update(analysis)

    async def on_document_opened(self, doc: Document) -> None:
        await self._refresh(doc)

    async def on_document_changed(self, doc: Document) -> None:
        await self._refresh(doc)

    async def document_symbol(self, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
        doc = await self.server.document(params.text_document.uri)
        analysis = await self.server.run_blocking(doc.analysis)
        symbols = convert.document_symbols(analysis.items, doc.index, self.server.workspace.position_encoding)
        return symbols or None

    async def workspace_symbol(self, params: types.WorkspaceSymbolParams) -> list[types.WorkspaceSymbol] | None:
        hits = await self.server.run_blocking(self.table.search, params.query)
        root = self.session.root if self.session is not None else None
        result = []
        for hit in hits:
            uri = path_to_uri(root / hit.path if root else hit.path)
            span = hit.item.name_span
            # Positions as rustc counts them; clients resolve the exact range when they open it.
            start = types.Position(line=span.start.line - 1, character=span.start.col - 1)
            end = types.Position(line=span.end.line - 1, character=span.end.col - 1)
            result.append(types.WorkspaceSymbol(
                name=hit.item.name, kind=convert.symbol_kind(hit.item.kind),
                container_name=hit.item.parent,
                location=types.Location(uri=uri, range=types.Range(start=start, end=end)),
            ))
        return result or None
