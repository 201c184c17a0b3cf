"""The feature contract: one module per feature, each a `Feature` subclass with lifecycle hooks.

Features are constructed at `initialize` with the server and the workspace session (None when the
client named no folder): everything they share — settings, the memory, the calibrator, the
shadow slots — comes from the session, never from another feature. The server calls each hook inside an exception barrier: a feature that raises is logged and the
others keep serving. Handlers are registered in `register()` with `self.server.feature(...)`;
they stay thin: get the document, call the analysis (in an executor when heavy), convert, return
(`None` when empty).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, Callable

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ...session import WorkspaceSession
    from ..app import RustaServer
    from ..documents import Document


class Feature:
    name = "feature"

    def __init__(self, server: RustaServer, session: WorkspaceSession | None):
        self.server = server
        self.session = session

    def register(self) -> None:
        """Add request and notification handlers (with `self.handle`). Called once, before start."""

    def handle(self, method: str, handler: Callable[..., Any], options: Any = None) -> None:
        """Register a bound method for an LSP method or a command (`workspace/executeCommand`
        names go through `handle_command`). Errors are logged under the feature's name; pygls then
        answers the request with an error and the server keeps serving."""
        self.server.feature(method, options)(self._barrier(handler, method))

    def handle_command(self, command: str, handler: Callable[..., Any]) -> None:
        """Register a `workspace/executeCommand` command. The handler gets the command's arguments
        as one list, however many the client sent (VS Code and Neovim may send none)."""
        self.server.command(command)(self._barrier(handler, command, command=True))

    def _barrier(self, handler: Callable[..., Any], what: str, command: bool = False) -> Callable[..., Any]:
        feature = self.name

        def failed() -> None:
            log.exception("feature %s failed on %s", feature, what)

        # pygls hands commands their arguments spread out, and requests their params.
        def params_of(args: tuple) -> Any:
            return list(args) if command else args[0]

        if inspect.iscoroutinefunction(handler):
            async def wrapped(*args):
                try:
                    return await handler(params_of(args))
                except Exception:
                    failed()
                    raise
        else:
            def wrapped(*args):
                try:
                    return handler(params_of(args))
                except Exception:
                    failed()
                    raise
        wrapped.__name__ = f"{feature}_{handler.__name__}"
        return wrapped

    async def on_initialized(self) -> None:
        """The client is ready and the config is read: start background work here."""

    async def on_config_changed(self, changed: set[str]) -> None:
        """workspace/didChangeConfiguration replaced `session.config`; `changed` holds the dotted
        keys that differ (`cargo.check_args`): rebuild what depends on them, close what it replaces."""

    async def on_document_opened(self, doc: Document) -> None: ...

    async def on_document_changed(self, doc: Document) -> None: ...

    async def on_document_saved(self, doc: Document) -> None: ...

    async def on_document_closed(self, doc: Document) -> None: ...

    async def on_shutdown(self) -> None:
        """Stop background work; the process exits soon after."""
