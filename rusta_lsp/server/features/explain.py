"""textDocument/hover (Markdown with clickable anchors) and the custom request `rusta/explain`.

Both run the explain pipeline in the server's executor; the event loop only converts positions
and results. Explanations are cached per document version inside the Explainer; any edit, save
or close clears them, since an anchor in another file may have moved.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from ...explain.catalog import Catalog, NoMemory
from ...explain.engine import Explainer, Layout
from ...explain.render import HOVER_CLAIMS, file_uri_link, markdown, to_json
from .. import convert, heap
from ..documents import Document
from ..app import Feature

log = logging.getLogger(__name__)

EXPLAIN = "rusta/explain"


class ExplainFeature(Feature):
    name = "explain"

    def __init__(self, server, session):
        super().__init__(server, session)
        self.explainer: Explainer | None = None
        self._layout_of = None  # the session's workspace model the explainer's layout came from
        self._prose_loaded = False

    def register(self) -> None:
        self.handle(types.TEXT_DOCUMENT_HOVER, self.hover)
        self.handle(EXPLAIN, self.explain)

    # --- lifecycle -----------------------------------------------------------------------

    async def on_initialized(self) -> None:
        if self.session is not None:  # in the background: the other features start meanwhile
            self.server.spawn(self._start(), "explain: load the catalog")

    async def _start(self) -> None:
        # Hovers answer from the analysis at once; the memory's catalog joins once it is loaded
        # (a large memory takes seconds to open and read; one that cannot be opened never joins).
        self._layout_of = self.session.workspace_model
        self.explainer = Explainer(NoMemory(), self.session.root, Layout.of(self._layout_of), buffers=self._buffer)
        memory = await self.memory()
        if memory is not None:
            self.explainer.catalog = await self.server.run_behind(self._load_catalog, memory)
            self.explainer.invalidate()

    def _load_catalog(self, memory) -> Catalog:
        catalog = Catalog(memory, auto_load=True, after_load=heap.give_back, behind=self.server.submit_behind)
        catalog.load()  # behind: hovers then answer from the snapshot
        return catalog

    def _buffer(self, rel: str) -> str | None:
        for doc in self.documents():
            if doc.rel == rel:
                return doc.text
        return None

    async def on_config_changed(self, changed: set[str]) -> None:
        if {"model.generator", "device"} & changed:
            self._prose_loaded = False
            if self.explainer is not None:
                self.explainer.generator = None
                self.explainer.invalidate()

    async def on_document_opened(self, doc: Document) -> None:
        # Parse and blame now, off the loop, so the first hover in the file does not pay for it.
        explainer = self.explainer
        if explainer is not None:
            self.server.spawn(self.server.run_blocking(explainer.prepare, doc.rel, doc.data, doc.version,
                                                       doc.analysis), "explain: prepare opened document")

    async def on_document_changed(self, doc: Document) -> None:
        self._invalidate()

    async def on_document_saved(self, doc: Document) -> None:
        self._invalidate()

    async def on_document_closed(self, doc: Document) -> None:
        self._invalidate()

    def _invalidate(self) -> None:
        if self.explainer is not None:
            self.explainer.invalidate()

    # --- handlers ------------------------------------------------------------------------

    def _offset(self, doc: Document, position: types.Position) -> int:
        return convert.offset(doc.index, position, self.server.workspace.position_encoding)

    def _current_layout(self, explainer: Explainer) -> None:
        """The session's workspace model is replaced once the first ingest knows the module tree."""
        model = self.session.workspace_model
        if self._layout_of is not model:
            self._layout_of = model
            explainer.layout = Layout.of(model)
            explainer.invalidate()

    async def hover(self, params: types.HoverParams) -> types.Hover | None:
        explainer = self.explainer
        if explainer is None:
            return None
        self._current_layout(explainer)
        doc = await self.server.document(params.text_document.uri)
        offset = self._offset(doc, params.position)
        explanation = await self.server.run_blocking(
            lambda: explainer.explain(doc.rel, doc.data, offset, version=doc.version, analysis=doc.analysis)
        )
        if explanation.span is None:
            return None  # whitespace, comments, literals: nothing to say
        encoding = self.server.workspace.position_encoding
        start, end = explanation.span
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                         value=markdown(explanation, file_uri_link(self.session.root),
                                                        limit=HOVER_CLAIMS)),
            range=types.Range(start=convert.position(doc.index, start, encoding),
                              end=convert.position(doc.index, end, encoding)),
        )

    async def explain(self, params: Any) -> dict:
        """{textDocument: {uri}, position: {line, character}} -> the `rusta explain --json` contract."""
        uri, position = _explain_params(params)
        explainer = self.explainer
        if explainer is None:
            raise JsonRpcInvalidParams("rusta/explain needs a workspace folder")
        self._current_layout(explainer)
        doc = await self.server.document(uri)
        offset = self._offset(doc, position)
        prose = await self.server.run_blocking(self._load_prose, explainer)
        explanation = await self.server.run_blocking(
            lambda: explainer.explain(doc.rel, doc.data, offset, version=doc.version, prose=prose,
                                      analysis=doc.analysis)
        )
        return to_json(explanation)

    def _load_prose(self, explainer: Explainer) -> bool:
        """Load `model.generator` once, on the first explain request that could use it."""
        setting = self.session.config.model.generator
        if not setting:
            return False
        if not self._prose_loaded:
            from ...explain.prose import Prose

            self._prose_loaded = True
            try:
                explainer.generator = Prose.load(setting, self.session.config.device)
            except Exception as err:  # a missing model must not break explanations
                log.warning("explain: cannot load model.generator %r: %s", setting, err)
                self.server.show_message(f"cannot load model.generator {setting!r}: {err}")
        return explainer.generator is not None


def _explain_params(params: Any) -> tuple[str, types.Position]:
    try:
        uri = params.textDocument.uri
        line, character = params.position.line, params.position.character
    except AttributeError:
        raise JsonRpcInvalidParams("expected {textDocument: {uri}, position: {line, character}}") from None
    if not isinstance(uri, str) or not all(isinstance(v, int) and v >= 0 for v in (line, character)):
        raise JsonRpcInvalidParams("expected a string uri and non-negative integer line and character")
    return uri, types.Position(line=line, character=character)
