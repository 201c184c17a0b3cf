"""Several Cargo workspaces in one editor window: one `Root` (a `WorkspaceSession` and its own set
of features) per workspace, and the `Router` that hands each request to the root its document
belongs to.

pygls takes one handler per LSP method, registered before `initialize` returns (the capabilities
are computed from them). Each feature set registers its handlers as if it were alone; the router
registers one dispatcher per method with pygls the first time, and keeps every root's handler
behind it:

- a request about a document (hover, code actions, `rusta/explain`, a code action to resolve)
  goes to the root whose folder holds the document: the longest root that contains its path, so
  a nested workspace or an excluded member (a root of its own) wins over the one around it;
- a command goes to the root its first argument names (`uri`), else to the first root;
- a method registered with `every_root` (workspace symbols, what the client says of
  rust-analyzer) goes to every root, and lists in the answers are joined.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .documents import uri_to_path

if TYPE_CHECKING:
    from ..session import WorkspaceSession

log = logging.getLogger(__name__)


@dataclass
class Root:
    """One Cargo workspace of the window (or the whole window when it names no folder)."""

    session: WorkspaceSession | None
    folder: Path | None  # the editor folder it was found in
    features: list = field(default_factory=list)  # its `Feature`s (server/app.py), in start order
    started: bool = False

    @property
    def path(self) -> Path | None:
        return self.session.root if self.session is not None else None


@dataclass
class _Route:
    command: bool
    every_root: bool
    is_async: bool
    handlers: dict[Path | None, Callable[..., Any]] = field(default_factory=dict)


class Router:
    def __init__(self, register: Callable[[str, Any, bool, Callable[..., Any]], None]):
        self._register = register  # (method, options, command, dispatcher) -> pygls registration
        self.roots: dict[Path | None, Root] = {}  # in the order the client named them
        self._routes: dict[str, _Route] = {}

    # --- roots ---------------------------------------------------------------------------

    def root_of(self, path: Path | None) -> Root | None:
        """The root holding `path` (the longest that contains it), else the first root."""
        if path is not None:
            path = path.resolve()
            holding = [r for key, r in self.roots.items() if key is not None and (key == path or key in path.parents)]
            if holding:
                return max(holding, key=lambda r: len(r.path.parts))
        return next(iter(self.roots.values()), None)

    def root_of_uri(self, uri: str | None) -> Root | None:
        return self.root_of(uri_to_path(uri) if isinstance(uri, str) else None)

    def add(self, root: Root) -> None:
        self.roots[root.path] = root

    def remove(self, root: Root) -> None:
        self.roots.pop(root.path, None)
        for route in self._routes.values():
            route.handlers.pop(root.path, None)

    @property
    def features(self) -> list:
        return [feature for root in self.roots.values() for feature in root.features]

    # --- handlers ------------------------------------------------------------------------

    def route(self, root: Path | None, method: str, handler: Callable[..., Any], options: Any = None, *,
              command: bool = False, every_root: bool = False) -> None:
        """Put the `handler` of a feature of the workspace at `root` (already wrapped for pygls'
        arguments) behind `method`."""
        route = self._routes.get(method)
        if route is None:
            route = self._routes[method] = _Route(command, every_root, inspect.iscoroutinefunction(handler))
            self._register(method, options, command, self._dispatcher(route))
        route.handlers[root] = handler

    def _targets(self, route: _Route, args: tuple) -> list[Callable[..., Any]]:
        if route.every_root:
            return list(route.handlers.values())
        root = self.root_of_uri(_uri_in(list(args) if route.command else args[0] if args else None))
        handler = route.handlers.get(root.path) if root is not None else None
        if handler is None and route.handlers:
            handler = next(iter(route.handlers.values()))
        return [handler] if handler is not None else []

    def _dispatcher(self, route: _Route) -> Callable[..., Any]:
        if route.is_async:
            async def dispatch(*args):
                return _joined([await handler(*args) for handler in self._targets(route, args)], route.every_root)
        else:
            def dispatch(*args):
                return _joined([handler(*args) for handler in self._targets(route, args)], route.every_root)
        return dispatch


def _joined(answers: list[Any], every_root: bool) -> Any:
    if not every_root:
        return answers[0] if answers else None
    lists = [a for a in answers if isinstance(a, list)]
    return [item for answer in lists for item in answer] or None


def _field(value: Any, *names: str) -> Any:
    for name in names:
        if value is None:
            return None
        value = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
    return value


def _uri_in(params: Any) -> str | None:
    """The document a request is about: its text document, a code action's data, or a command's
    first argument that is a URI or has a `uri` (the editors send the active file's URI)."""
    if isinstance(params, list):
        uris = (a if isinstance(a, str) and "://" in a else _field(a, "uri") for a in params)
        return next((u for u in uris if isinstance(u, str)), None)
    for path in (("text_document", "uri"), ("textDocument", "uri"), ("data", "uri")):
        uri = _field(params, *path)
        if isinstance(uri, str):
            return uri
    return None
