"""The feature contract: one module per feature, each a `Feature` subclass with lifecycle hooks.

The server calls each hook inside an exception barrier: a feature that raises is logged and the
others keep serving. Handlers are registered in `register()` with `self.server.feature(...)`;
they stay thin: get the document, call the analysis (in an executor when heavy), convert, return
(`None` when empty).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..app import RustaServer
    from ..documents import Document


class Feature:
    name = "feature"

    def __init__(self, server: RustaServer):
        self.server = server

    def register(self) -> None:
        """Add request and notification handlers. Called once, before the server starts."""

    async def on_initialized(self) -> None:
        """The client is ready and the config is read: start background work here."""

    async def on_config_changed(self) -> None:
        """`server.config` was replaced by workspace/didChangeConfiguration."""

    async def on_document_opened(self, doc: Document) -> None: ...

    async def on_document_changed(self, doc: Document) -> None: ...

    async def on_document_saved(self, doc: Document) -> None: ...

    async def on_document_closed(self, doc: Document) -> None: ...

    async def on_shutdown(self) -> None:
        """Stop background work; the process exits soon after."""
