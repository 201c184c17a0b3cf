"""The Rusta language server: pygls plumbing, lifecycle dispatch to features, background tasks.

At `initialize` the server builds the one `WorkspaceSession` for the client's root folder and
constructs every feature with it (pygls computes the capabilities after that handler, so the
features register their handlers there). At `initialized` it opens the session's memory in the
background and discovers the workspace's crates, then starts the features.

Heavy work never runs on the event loop: features call `await server.run_blocking(fn, ...)`,
which uses Rusta's own executor (stdin is read by a thread of its own, `transport.py`, so no
amount of work stops the server from reading `$/cancelRequest`). Messages arrive through
`RustaProtocol.receive`, which applies the lifecycle rules before pygls dispatches them.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from ..config import read_config, refuse_inside_workspace
from ..errors import MemoryUnavailable
from ..memory.store import Memory
from ..safe_read import Unreadable, read_file
from ..session import FIXED_KEYS, WorkspaceSession
from . import heap
from .documents import Document, relative_to, uri_to_path
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

    Features are constructed at `initialize` with the server and the workspace session (None
    when the client named no folder): everything they share (settings, the memory, the
    calibrator, the shadow slots) comes from the session, never from another feature. The server
    calls each hook inside an exception barrier: a feature that raises is logged and the others
    keep serving. Handlers are registered in `register()` with `self.handle(...)`; they stay
    thin: get the document, call the analysis (in an executor when heavy), convert, return
    (`None` when empty).
    """

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


class RustaServer(LanguageServer):
    def __init__(self, features: list[type[Feature]]):
        super().__init__("rusta", __version__, protocol_cls=RustaProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        # The client's workspace folder, built at `initialize`; None when the client names none.
        self.session: WorkspaceSession | None = None
        self.documents: dict[str, Document] = {}
        # Our own workers for parsing, indexing and cargo; sized for a laptop, not a build farm.
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rusta-work")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task] = set()
        self.stopping = CancelToken()  # cancelled at shutdown: every job's token is linked to it
        self._progress_ids = itertools.count(1)
        self._feature_classes = features
        self.features: list[Feature] = []  # constructed with the session at `initialize`
        self._setting_problems: list[str] = []
        self._register_lifecycle()

    @property
    def root(self) -> Path | None:
        return self.session.root if self.session is not None else None

    # --- plumbing the features use -------------------------------------------------------

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def memory(self) -> Memory | None:
        """The session's memory once it is open; None without a workspace or when it failed to
        open (the failure was shown to the user when it happened)."""
        if self.session is None:
            return None
        try:
            return await asyncio.wrap_future(self.session.memory)
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
        """A job ended: what it freed goes back to the system (`heap.py`), in our executor."""
        try:
            self.executor.submit(heap.give_back)
        except RuntimeError:  # shut down: the process ends anyway
            pass

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
        if self.root is None:
            raise request_failed(f"{uri} is not open, and Rusta has no workspace folder to read it from")
        try:
            data = await self.run_blocking(read_file, path, self.root)
        except Unreadable as err:
            raise request_failed(f"{uri} is not open, and Rusta does not read it: {err}") from None
        except OSError as err:
            raise request_failed(f"{uri} is not open and cannot be read: {err.strerror or err}") from None
        return self._make_document(uri, data.decode("utf-8", "replace"), None)

    def _make_document(self, uri: str, text: str, version: int | None) -> Document:
        path = uri_to_path(uri)
        rel = relative_to(self.root, path, uri)
        files = self.session.workspace_model.files if self.session is not None else []
        source_file = next((f for f in files if f.path == rel), None)
        return Document(uri=uri, path=path, rel=rel, text=text, version=version,
                        module_path=source_file.module_path if source_file else "crate",
                        test_file=source_file is not None and source_file.target == "test")

    # --- lifecycle -----------------------------------------------------------------------

    def _guard(self, feature: Feature, hook: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            log.exception("feature %s failed in %s", feature.name, hook)
            return None

    async def _dispatch(self, hook: str, call: Callable[[Feature], Awaitable[None]]) -> None:
        """`call` every feature's lifecycle `hook`, in order; a feature that raises is logged."""
        for feature in self.features:
            try:
                await call(feature)
            except Exception:
                log.exception("feature %s failed in %s", feature.name, hook)

    def _report_setting_problems(self, problems: list[str]) -> None:
        for problem in problems:
            log.warning("setting %s", problem)
            self.show_message(f"setting {problem}")

    async def _open_memory(self, session: WorkspaceSession) -> None:
        """The session's memory, opened once, in the background; its healing messages shown."""
        try:
            # A command writing the memory as we start (`rusta index`): read-only until it is
            # done (the memory feature then takes the writer lock), never a second writer.
            memory = await self.run_blocking(session.open_memory)
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
            folders = params.workspace_folders or []
            root = uri_to_path(folders[0].uri) if folders else None
            if root is None and params.root_uri:
                root = uri_to_path(params.root_uri)
            if root is None and params.root_path:
                root = Path(params.root_path)
            config, self._setting_problems = read_config(params.initialization_options or {})
            if root is not None:
                self._setting_problems += refuse_inside_workspace(config, root)
            self.session = WorkspaceSession(root, config) if root is not None else None
            # pygls computes the capabilities once this returns: the features register now.
            self.features = [cls(self, self.session) for cls in self._feature_classes]
            for feature in self.features:
                self._guard(feature, "register", feature.register)

        @self.feature(types.INITIALIZED)
        async def initialized(params: types.InitializedParams) -> None:
            self.loop = asyncio.get_running_loop()
            self._report_setting_problems(self._setting_problems)
            if self.session is not None:
                self.spawn(self._open_memory(self.session), "session: open the memory")
                # Manifests and folders only: the first hover must not wait for a parse of the
                # whole workspace; the memory's first ingest brings the module tree.
                await self.run_blocking(self.session.discover, True)
            await self._dispatch("on_initialized", lambda f: f.on_initialized())

        @self.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
        async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
            settings = params.settings
            if isinstance(settings, dict) and "rusta" in settings:
                settings = settings["rusta"]
            if not settings or self.session is None:
                return
            config, problems = read_config(settings)
            self._report_setting_problems(problems + refuse_inside_workspace(config, self.session.root))
            changed = self.session.reconfigure(config)
            for key in sorted(changed & set(FIXED_KEYS)):
                self.show_message(f"setting {key} takes effect when the server restarts")
            if changed:
                await self._dispatch("on_config_changed", lambda f: f.on_config_changed(changed))

        @self.feature(types.TEXT_DOCUMENT_DID_OPEN)
        async def did_open(params: types.DidOpenTextDocumentParams) -> None:
            item = params.text_document
            doc = self.documents[item.uri] = self._make_document(item.uri, item.text, item.version)
            await self._dispatch("on_document_opened", lambda f: f.on_document_opened(doc))

        @self.feature(types.TEXT_DOCUMENT_DID_CHANGE)
        async def did_change(params: types.DidChangeTextDocumentParams) -> None:
            uri = params.text_document.uri
            source = self.workspace.get_text_document(uri).source  # pygls applied the edits
            doc = self.documents[uri] = self._make_document(uri, source, params.text_document.version)
            await self._dispatch("on_document_changed", lambda f: f.on_document_changed(doc))

        @self.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
        async def did_save(params: types.DidSaveTextDocumentParams) -> None:
            doc = await self.document(params.text_document.uri)
            await self._dispatch("on_document_saved", lambda f: f.on_document_saved(doc))

        @self.feature(types.TEXT_DOCUMENT_DID_CLOSE)
        async def did_close(params: types.DidCloseTextDocumentParams) -> None:
            doc = self.documents.pop(params.text_document.uri, None)
            if doc is not None:
                await self._dispatch("on_document_closed", lambda f: f.on_document_closed(doc))

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
        if self.session is not None:
            await self.run_blocking(self.session.close)
        for task in list(self.tasks):
            task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

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

