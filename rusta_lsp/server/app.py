"""The Rusta language server: pygls plumbing, lifecycle dispatch to features, background tasks.

At `initialize` the server builds a `WorkspaceSession` for each folder the client names and
constructs a set of features with each (pygls computes the capabilities after that handler, so
the features register their handlers there, behind the router of server/roots.py). At
`initialized` it finds the Cargo workspaces in each folder the way cargo does (a nested workspace
or an excluded member is one of its own), opens each one's memory in the background and
discovers its crates, then starts its features. `workspace/didChangeWorkspaceFolders` adds and
removes workspaces the same way while the server runs. Document events go to the features of the
document's workspace only.

Heavy work never runs on the event loop: features call `await server.run_blocking(fn, ...)` for
what the user waits on (a hover, a document's analysis) and `await server.run_behind(fn, ...)` for
background work (ingest, embedding, the fixes' checks), each on an executor of its own, the
background one at a lower CPU priority: a hover never queues behind, nor shares a core evenly
with, a vector backfill (stdin is read by a thread of its own, `transport.py`, so no amount of
work stops the server from reading `$/cancelRequest`). Messages arrive through
`RustaProtocol.receive`, which applies the lifecycle rules before pygls dispatches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from .. import __version__
from ..cancel import Cancelled, CancelToken
from ..analysis.workspace import cargo_roots
from ..config import RustaConfig, read_config, refuse_inside_workspace, root_memory_uri
from ..errors import MemoryUnavailable
from ..heartbeat.loop import HeartbeatGroup, lower_priority
from ..memory.store import Memory
from ..safe_read import Unreadable, read_file
from ..session import FIXED_KEYS, WorkspaceSession
from . import heap
from .documents import Document, relative_to, uri_to_path
from .roots import Root, Router
from .transport import frame

log = logging.getLogger(__name__)
T = TypeVar("T")
TEARDOWN_S = 30.0  # closing the session when the client left without `shutdown`


class RustaProtocol(LanguageServerProtocol):
    """pygls' protocol behind Rusta's own reader (`transport.py`), with LSP 3.17's lifecycle:
    requests before `initialize` get ServerNotInitialized (-32002) and notifications are dropped;
    a second `initialize`, and any request after `shutdown`, get InvalidRequest; `exit` ends the
    connection with exit code 0 after `shutdown`, 1 without. Whatever cannot be served is
    answered (requests) or logged (notifications), never dropped in silence."""

    def __init__(self, server, converter):
        super().__init__(server, converter)
        self.initialize_seen = False
        self.shutdown_seen = False
        self.exit_code: int | None = None  # set by `exit`: the connection ends

    def receive(self, body: bytes) -> bool:
        """Handle one frame's body. False when it is not JSON (the reader may resynchronise)."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as err:
            log.warning("a message of %d bytes is not JSON: %s", len(body), str(err)[:200])
            self.send_error(None, types.ErrorCodes.ParseError, "Parse error: the message is not JSON")
            return False
        if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
            self.send_error(_message_id(data), types.ErrorCodes.InvalidRequest, "not a JSON-RPC 2.0 message")
            return True
        method = data.get("method")
        if method == types.EXIT:
            self.exit_code = 0 if self.shutdown_seen else 1
            log.info("exit%s", "" if self.shutdown_seen else " without shutdown")
            return True
        request = "id" in data and isinstance(method, str)
        refusal = self._lifecycle(method, request)
        if refusal is not None:
            if request:
                self.send_error(_message_id(data), *refusal)
            else:
                log.info("dropped the notification %s: %s", method, refusal[1])
            return True
        try:
            message = self.structure_message(data)
        except JsonRpcException as err:  # params that do not fit the method's type (pygls logs why)
            if request:
                code = (types.ErrorCodes.InvalidParams if isinstance(err, JsonRpcInvalidParams)
                        else types.ErrorCodes.InvalidRequest)
                self.send_error(_message_id(data), code, f"invalid params for {method}")
            return True
        self.handle_message(message)
        return True

    def _lifecycle(self, method: Any, request: bool) -> tuple[int, str] | None:
        """Why this message is refused now (code, message), or None to serve it."""
        if method is None:  # a response to one of our requests
            return None
        if not self.initialize_seen:
            if method == types.INITIALIZE and request:
                self.initialize_seen = True
                return None
            return (types.ErrorCodes.ServerNotInitialized, "the server is not initialized yet")
        if method == types.INITIALIZE:
            return (types.ErrorCodes.InvalidRequest, "the server is already initialized")
        if self.shutdown_seen:
            return (types.ErrorCodes.InvalidRequest, "the server is shutting down")
        if method == types.SHUTDOWN and request:
            self.shutdown_seen = True
        return None

    def send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        """Answer a request with an error, straight to the transport."""
        if self.writer is None:
            return
        reply = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": int(code), "message": message}}
        self.writer.write(frame(json.dumps(reply).encode()))

    def tell_client(self, message: str) -> None:
        """A window/showMessage error, straight to the transport (the connection is ending)."""
        if self.writer is None:
            return
        note = {"jsonrpc": "2.0", "method": types.WINDOW_SHOW_MESSAGE,
                "params": {"type": int(types.MessageType.Error), "message": f"Rusta: {message}"}}
        self.writer.write(frame(json.dumps(note).encode()))


EMBED_THREADS = 1  # the vector backfill on one core: the others stay free for requests
BACKGROUND_NICE = 10  # how much lower the background threads' CPU priority is (as `nice -n 10`)


def request_failed(message: str) -> JsonRpcException:
    """LSP's RequestFailed: a well-formed request the server could not serve, with the reason."""
    return JsonRpcException(message, code=types.LSPErrorCodes.RequestFailed)


def _message_id(data: Any) -> int | str | None:
    msg_id = data.get("id") if isinstance(data, dict) else None
    return msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) else None


class ProgressReporter:
    """Reports one job's `$/progress`; `cancel` is set when the client cancels the job (or when
    anything the job's token was linked to is: a newer edit, the shutdown)."""

    def __init__(self, server: RustaServer, token: str | None, cancel: CancelToken):
        self.server = server
        self.token = token
        self.cancel = cancel
        self.percentage = 0

    def report(self, percentage: int | None = None, message: str | None = None) -> None:
        """Thread-safe: may be called from executor threads."""
        if percentage is not None:
            self.percentage = max(0, min(100, int(percentage)))
        if self.token is None:
            return
        value = types.WorkDoneProgressReport(percentage=self.percentage, message=message,
                                             cancellable=True)
        self.server.call_soon(self.server.work_done_progress.report, self.token, value)


class Feature:
    """The feature contract: one module per feature in `features/`, each a `Feature` subclass
    with lifecycle hooks; `features.all_features` lists them, and the server dispatches to them.

    Features are constructed with the server and one workspace session (None when the client
    named no folder): a window with several Cargo workspaces has one set of features per
    workspace (server/roots.py), each seeing only its own session and documents. Everything they
    share (settings, the memory, the calibrator, the shadow slots) comes from the session, never
    from another feature. The server calls each hook inside an exception barrier: a feature that
    raises is logged and the others keep serving. Handlers are registered in `register()` with
    `self.handle(...)`; the server's router sends each request to the set of the workspace its
    document belongs to. Handlers stay thin: get the document, call the analysis (in an executor
    when heavy), convert, return (`None` when empty).
    """

    name = "feature"

    def __init__(self, server: RustaServer, session: WorkspaceSession | None):
        self.server = server
        self.session = session
        # Set at shutdown, and when the workspace leaves the window (its session closes).
        self.stopping = CancelToken(server.stopping, session.closing) if session is not None else server.stopping

    def register(self) -> None:
        """Add request and notification handlers (with `self.handle`). Called once, before start."""

    def handle(self, method: str, handler: Callable[..., Any], options: Any = None, *,
               every_root: bool = False) -> None:
        """Register a bound method for an LSP method or a command (`workspace/executeCommand`
        names go through `handle_command`). Errors are logged under the feature's name; pygls then
        answers the request with an error and the server keeps serving. `every_root`: not about
        one document; every workspace's handler is called (their lists joined)."""
        self.server.router.route(self._root, method, self._barrier(handler, method), options,
                                 every_root=every_root)

    def handle_command(self, command: str, handler: Callable[..., Any]) -> None:
        """Register a `workspace/executeCommand` command. The handler gets the command's arguments
        as one list, however many the client sent (VS Code and Neovim may send none); it runs in
        the workspace of the `uri` its first argument names, else in the first workspace."""
        self.server.router.route(self._root, command, self._barrier(handler, command, command=True), command=True)

    @property
    def _root(self) -> Path | None:
        return self.session.root if self.session is not None else None

    async def memory(self) -> Memory | None:
        """The session's memory once it is open; None without a workspace or when it failed to
        open (the failure was shown to the user when it happened)."""
        return await self.server.memory(self.session)

    def progress(self, title: str, message: str | None = None,
                 cancel: CancelToken | None = None) -> contextlib.AbstractAsyncContextManager[ProgressReporter]:
        """`server.progress` for this workspace's work: cancelled too when the workspace stops."""
        return self.server.progress(title, message, CancelToken(self.stopping, cancel) if cancel else self.stopping)

    def documents(self) -> list[Document]:
        """The open documents of this feature's workspace."""
        return [doc for doc in list(self.server.documents.values()) if doc.root == self._root]

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


class RustaServer(LanguageServer):
    def __init__(self, features: list[type[Feature]]):
        super().__init__("rusta", __version__, protocol_cls=RustaProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.documents: dict[str, Document] = {}
        # Our own workers, sized for a laptop, not a build farm: requests the user waits on, and
        # background work (indexing, embedding, cargo) behind them at a lower CPU priority.
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rusta-work")
        self.background = ThreadPoolExecutor(max_workers=6, thread_name_prefix="rusta-background",
                                             initializer=lower_priority, initargs=(BACKGROUND_NICE,))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task] = set()
        self.stopping = CancelToken()  # cancelled at shutdown: every job's token is linked to it
        self._progress_ids = itertools.count(1)
        self._feature_classes = features
        # The window's Cargo workspaces, each with its session and features, and the handlers
        # behind each LSP method (server/roots.py).
        self.router = Router(self._register_route)
        self.heartbeats = HeartbeatGroup()  # every workspace's heartbeat: one CPU budget, one job at a time
        self.config: RustaConfig | None = None  # from initializationOptions, then the client's changes
        self._first_folder: Path | None = None  # the first folder `initialize` named
        self._setting_problems: list[str] = []
        self._register_lifecycle()

    @property
    def features(self) -> list[Feature]:
        return self.router.features

    @property
    def session(self) -> WorkspaceSession | None:
        """The first workspace's session (the one a window with a single folder has)."""
        first = next(iter(self.router.roots.values()), None)
        return first.session if first is not None else None

    def _register_route(self, method: str, options: Any, command: bool, dispatch: Callable[..., Any]) -> None:
        if command:
            self.command(method)(dispatch)
        else:
            self.feature(method, options)(dispatch)

    # --- plumbing the features use -------------------------------------------------------

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Work a request waits on (a hover, a document's analysis), off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def run_behind(self, fn: Callable[..., T], *args: Any) -> T:
        """Background work (ingest, embedding, checks): threads of their own, at a lower CPU
        priority, so it never holds up a request nor takes its core."""
        return await asyncio.get_running_loop().run_in_executor(self.background, fn, *args)

    def submit_behind(self, fn: Callable[[], Any]) -> None:
        """`fn` on the background executor from any thread, not awaited (it logs its own errors);
        nothing once the server has shut down."""
        try:
            self.background.submit(fn)
        except RuntimeError:  # shut down: the process ends anyway
            pass

    async def memory(self, session: WorkspaceSession | None) -> Memory | None:
        """A session's memory once it is open; None without a workspace or when it failed to
        open (the failure was shown to the user when it happened)."""
        if session is None:
            return None
        try:
            return await asyncio.wrap_future(session.memory)
        except Exception:  # noqa: BLE001 — features work on without a memory
            return None

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        """Start a tracked background task; its errors are logged, never lost."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self.tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on the event loop from any thread."""
        if self.loop is None or self.loop.is_closed():
            return
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:  # an executor thread: no loop runs here
            on_loop = False
        if on_loop:
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def notify(self, method: str, params: Any) -> None:
        """Send a notification from any thread."""
        self.call_soon(self.protocol.notify, method, params)

    @contextlib.asynccontextmanager
    async def progress(self, title: str, message: str | None = None,
                       cancel: CancelToken | None = None) -> AsyncIterator[ProgressReporter]:
        """`$/progress` begin/report/end around a job, when the client supports it. The reporter's
        token is cancelled by the client's cancel, the shutdown and `cancel` (a newer edit); a
        job that stops with `Cancelled` ends "cancelled", never "failed"."""
        token = None
        caps = self.client_capabilities.window
        if caps is not None and caps.work_done_progress:
            slug = re.sub(r"\W+", "-", title.lower()).strip("-")
            token = f"{slug}/{next(self._progress_ids)}"
            try:
                await self.work_done_progress.create_async(token)
            except Exception as err:  # the client refused: work on without a bar
                log.info("progress not created: %s", err)
                token = None
        linked = (self.stopping,) if cancel is None else (self.stopping, cancel)
        reporter = ProgressReporter(self, token, CancelToken(*linked))
        if token is not None:
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                title=title, message=message, percentage=0, cancellable=True))
            future = self.work_done_progress.tokens.get(token)
            if future is not None:
                future.add_done_callback(lambda f: f.cancelled() and reporter.cancel.cancel())
        ended = "done"
        try:
            yield reporter
        except Cancelled:
            ended = "cancelled"
        except Exception:
            ended = "failed"
            raise
        finally:
            if reporter.cancel.is_set() and ended == "done":
                ended = "cancelled"
            if token is not None:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=ended))
                self.work_done_progress.tokens.pop(token, None)
            self._give_back_memory()

    def _give_back_memory(self) -> None:
        """A job ended: what it freed goes back to the system (`heap.py`), behind."""
        self.submit_behind(heap.give_back)

    def show_message(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"Rusta: {message}"))

    async def document(self, uri: str) -> Document:
        """The open document, or the file on disk read into a Document (off the event loop, and
        only a regular file inside the workspace). Raises a JSON-RPC error the client sees."""
        doc = self.documents.get(uri)
        if doc is not None:
            return doc
        path = uri_to_path(uri)
        if path is None:
            raise request_failed(f"{uri} is not open and not a file: Rusta reads file: URIs only")
        holder = self.router.root_of(path)  # the workspace holding it (else the first: refused)
        if holder is None or holder.path is None:
            raise request_failed(f"{uri} is not open, and Rusta has no workspace folder to read it from")
        try:
            data = await self.run_blocking(read_file, path, holder.path)
        except Unreadable as err:
            raise request_failed(f"{uri} is not open, and Rusta does not read it: {err}") from None
        except OSError as err:
            raise request_failed(f"{uri} is not open and cannot be read: {err.strerror or err}") from None
        return self._make_document(uri, data.decode("utf-8", "replace"), None)

    def _make_document(self, uri: str, text: str, version: int | None) -> Document:
        path = uri_to_path(uri)
        root = self.router.root_of(path)
        session = root.session if root is not None else None
        rel = relative_to(session.root if session is not None else None, path, uri)
        files = session.workspace_model.files if session is not None else []
        source_file = next((f for f in files if f.path == rel), None)
        return Document(uri=uri, path=path, rel=rel, text=text, version=version,
                        module_path=source_file.module_path if source_file else "crate",
                        test_file=source_file is not None and source_file.target == "test",
                        root=session.root if session is not None else None)

    # --- lifecycle -----------------------------------------------------------------------

    def _guard(self, feature: Feature, hook: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            log.exception("feature %s failed in %s", feature.name, hook)
            return None

    async def _dispatch(self, hook: str, call: Callable[[Feature], Awaitable[None]],
                        features: list[Feature] | None = None) -> None:
        """`call` every feature's lifecycle `hook` (or these features'), in order; a feature that
        raises is logged."""
        for feature in self.features if features is None else features:
            await self._call_hook(hook, call, feature)

    async def _call_hook(self, hook: str, call: Callable[[Feature], Awaitable[None]], feature: Feature) -> None:
        try:
            await call(feature)
        except Exception:
            log.exception("feature %s failed in %s", feature.name, hook)

    async def _dispatch_document(self, hook: str, doc: Document,
                                 call: Callable[[Feature], Awaitable[None]]) -> None:
        """A document event reaches the features of the document's workspace only, side by side:
        a slow one (the memory embedding a saved file) never holds back another (the fix check
        that waits on rust-analyzer's flycheck of that very save)."""
        root = self.router.roots.get(doc.root) or self.router.root_of(doc.path)
        features = root.features if root is not None else []
        await asyncio.gather(*(self._call_hook(hook, call, feature) for feature in features))

    # --- workspaces ------------------------------------------------------------------------

    def _add_root(self, path: Path | None, folder: Path | None) -> Root:
        """A workspace, its session and its features, handlers registered (not started yet). With
        `memory.uri` set, the workspace at the client's first folder keeps it and each other one
        gets a folder inside it."""
        config = copy.deepcopy(self.config)
        if path is not None and config.memory.uri and path != self._first_folder:
            config.memory.uri = root_memory_uri(config.memory.uri, path)
        if path is not None:  # said when the workspace starts
            self._setting_problems += refuse_inside_workspace(config, path)
        session = WorkspaceSession(path, config, embed_threads=EMBED_THREADS) if path is not None else None
        root = Root(session, folder)
        root.features = [cls(self, root.session) for cls in self._feature_classes]
        self.router.add(root)
        for feature in root.features:
            self._guard(feature, "register", feature.register)
        return root

    async def _start_root(self, root: Root) -> None:
        """Open the workspace's memory (behind), find its crates, start its features."""
        root.started = True
        self._report_setting_problems(self._setting_problems)
        self._setting_problems = []
        if root.session is not None:
            self.spawn(self._open_memory(root.session), f"session {root.session.root.name}: open the memory")
            # Manifests and folders only: the first hover must not wait for a parse of the
            # whole workspace; the memory's first ingest brings the module tree.
            await self.run_blocking(root.session.discover, True)
        await self._dispatch("on_initialized", lambda f: f.on_initialized(), features=root.features)

    async def _stop_root(self, root: Root) -> None:
        """A workspace leaves the window: its work is cancelled, its features stop, its memory
        closes (the server serves the others on)."""
        self.router.remove(root)
        if root.session is not None:
            root.session.closing.cancel()
        if root.started:
            await self._dispatch("on_shutdown", lambda f: f.on_shutdown(), features=root.features)
        if root.session is not None:
            await self.run_behind(root.session.close)

    async def _add_folder(self, folder: Path, provisional: Root | None = None) -> None:
        """The Cargo workspaces in an editor folder, each added and started. `provisional`: the
        root `initialize` made for the folder before it could look inside (replaced when cargo
        sees other workspaces there)."""
        paths = await self.run_blocking(cargo_roots, folder)
        if provisional is not None and paths != [provisional.path]:
            self.router.remove(provisional)  # never started: nothing to stop
        for path in paths:
            root = self.router.roots.get(path) or self._add_root(path, folder)
            if not root.started:
                await self._start_root(root)

    async def _remove_folder(self, folder: Path) -> None:
        """The workspaces found in this folder stop (not those of another folder inside it)."""
        folder = folder.resolve()
        for root in [r for r in self.router.roots.values() if r.folder == folder]:
            await self._stop_root(root)

    def _report_setting_problems(self, problems: list[str]) -> None:
        for problem in problems:
            log.warning("setting %s", problem)
            self.show_message(f"setting {problem}")

    async def _open_memory(self, session: WorkspaceSession) -> None:
        """The session's memory, opened once, in the background; its healing messages shown."""
        try:
            # A command writing the memory as we start (`rusta index`): read-only until it is
            # done (the memory feature then takes the writer lock), never a second writer.
            memory = await self.run_behind(session.open_memory)
        except MemoryUnavailable as err:  # already one line: no traceback to add
            log.warning("the workspace memory could not be opened: %s", err)
            self.show_message(f"the workspace memory could not be opened ({err}); "
                              "working from the analysis alone")
            return
        except Exception as err:  # noqa: BLE001 — explanations and fixes work on without it
            log.exception("the workspace memory could not be opened")
            self.show_message(f"the workspace memory could not be opened ({err}); "
                              "working from the analysis alone")
            return
        for message in memory.messages:
            self.show_message(message)

    def _register_lifecycle(self) -> None:
        @self.feature(types.INITIALIZE)
        def initialize(params: types.InitializeParams) -> None:
            self.loop = asyncio.get_running_loop()
            folders = [uri_to_path(f.uri) for f in params.workspace_folders or []]
            folders = [f for f in folders if f is not None]
            if not folders and params.root_uri:
                folders = [uri_to_path(params.root_uri)]
            if not folders and params.root_path:
                folders = [Path(params.root_path)]
            self.config, self._setting_problems = read_config(params.initialization_options or {})
            # pygls computes the capabilities once this returns: one feature set per folder
            # registers now; `initialized` looks inside the folders for their Cargo workspaces.
            folders = [folder.resolve() for folder in folders]
            self._first_folder = folders[0] if folders else None
            for folder in folders or [None]:
                self._add_root(folder, folder)

        @self.feature(types.INITIALIZED)
        async def initialized(params: types.InitializedParams) -> None:
            self.loop = asyncio.get_running_loop()
            self._report_setting_problems(self._setting_problems)
            for root in list(self.router.roots.values()):
                if root.path is None:
                    await self._start_root(root)
                else:
                    await self._add_folder(root.path, provisional=root)

        @self.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
        async def did_change_workspace_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
            for folder in params.event.removed:
                path = uri_to_path(folder.uri)
                if path is not None:
                    await self._remove_folder(path)
            for folder in params.event.added:
                path = uri_to_path(folder.uri)
                if path is not None and path.resolve() not in self.router.roots:
                    await self._add_folder(path.resolve())

        @self.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
        async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
            settings = params.settings
            if isinstance(settings, dict) and "rusta" in settings:
                settings = settings["rusta"]
            if not settings or self.session is None:
                return
            config, problems = read_config(settings)
            self._report_setting_problems(problems)
            self.config = config
            told: set[str] = set()
            for root in list(self.router.roots.values()):
                if root.session is None:
                    continue
                config = copy.deepcopy(self.config)
                self._report_setting_problems(refuse_inside_workspace(config, root.session.root))
                changed = root.session.reconfigure(config)
                for key in sorted(changed & set(FIXED_KEYS) - told):
                    self.show_message(f"setting {key} takes effect when the server restarts")
                    told.add(key)
                if changed:
                    await self._dispatch("on_config_changed", lambda f: f.on_config_changed(changed),
                                         features=root.features)

        @self.feature(types.TEXT_DOCUMENT_DID_OPEN)
        async def did_open(params: types.DidOpenTextDocumentParams) -> None:
            item = params.text_document
            doc = self.documents[item.uri] = self._make_document(item.uri, item.text, item.version)
            await self._dispatch_document("on_document_opened", doc, lambda f: f.on_document_opened(doc))

        @self.feature(types.TEXT_DOCUMENT_DID_CHANGE)
        async def did_change(params: types.DidChangeTextDocumentParams) -> None:
            uri = params.text_document.uri
            source = self.workspace.get_text_document(uri).source  # pygls applied the edits
            doc = self.documents[uri] = self._make_document(uri, source, params.text_document.version)
            await self._dispatch_document("on_document_changed", doc, lambda f: f.on_document_changed(doc))

        @self.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
        async def did_save(params: types.DidSaveTextDocumentParams) -> None:
            doc = await self.document(params.text_document.uri)
            await self._dispatch_document("on_document_saved", doc, lambda f: f.on_document_saved(doc))

        @self.feature(types.TEXT_DOCUMENT_DID_CLOSE)
        async def did_close(params: types.DidCloseTextDocumentParams) -> None:
            doc = self.documents.pop(params.text_document.uri, None)
            if doc is not None:
                await self._dispatch_document("on_document_closed", doc, lambda f: f.on_document_closed(doc))

        @self.feature(types.SHUTDOWN)
        async def shutdown(params: Any) -> None:
            await self._teardown()

    async def _teardown(self) -> None:
        """Stop every job, close the session (the memory commits what it holds). Once: at
        `shutdown`, or when the connection ends without one."""
        if self.stopping.is_set():
            return
        self.stopping.cancel()
        await self._dispatch("on_shutdown", lambda f: f.on_shutdown())
        for root in list(self.router.roots.values()):
            if root.session is not None:
                await self.run_behind(root.session.close)
        for task in list(self.tasks):
            task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.background.shutdown(wait=False, cancel_futures=True)

    async def serve(self, transport: Callable[[RustaProtocol], Awaitable[None]]) -> int:
        """Serve one client over `transport` until `exit` or the end of its stream; the exit
        code LSP asks for: 0 after `shutdown`, else 1."""
        protocol: RustaProtocol = self.protocol
        try:
            await transport(protocol)
        finally:
            if not self.stopping.is_set():
                try:
                    await asyncio.wait_for(self._teardown(), TEARDOWN_S)
                except Exception:  # noqa: BLE001 — exiting anyway; the memory survives a crash
                    log.exception("the teardown without shutdown failed")
        return protocol.exit_code if protocol.exit_code is not None else (0 if protocol.shutdown_seen else 1)

