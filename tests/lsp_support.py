"""Shared helpers for end-to-end tests that drive `rusta serve` with pytest-lsp."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import BinaryIO

from lsprotocol import types
from pygls.uris import from_fs_path

SERVER_COMMAND = [sys.executable, "-m", "rusta_lsp.cli", "serve"]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class PublishLog(dict):
    """`client.diagnostics` that also keeps every publishDiagnostics in arrival order."""

    def __init__(self):
        super().__init__()
        self.history: list[tuple[str, list[types.Diagnostic]]] = []

    def __setitem__(self, uri, diagnostics):
        self.history.append((uri, list(diagnostics)))
        super().__setitem__(uri, diagnostics)


def client_capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        text_document=types.TextDocumentClientCapabilities(
            document_symbol=types.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
        ),
        workspace=types.WorkspaceClientCapabilities(workspace_folders=True, configuration=True),
    )


def init_params(root: Path, options: dict | None = None) -> types.InitializeParams:
    uri = from_fs_path(str(root))
    return types.InitializeParams(
        capabilities=client_capabilities(), root_uri=uri,
        workspace_folders=[types.WorkspaceFolder(uri=uri, name=root.name)],
        initialization_options=options or {},
    )


async def wait_for_progress(client, title_prefix: str = "", timeout: float = 120.0) -> None:
    """Wait until every `$/progress` whose title starts with `title_prefix` has ended."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pending = []
        started = False
        for token, values in client.progress_reports.items():
            if not values or not isinstance(values[0], types.WorkDoneProgressBegin):
                continue
            if not values[0].title.startswith(title_prefix):
                continue
            started = True
            if not isinstance(values[-1], types.WorkDoneProgressEnd):
                pending.append(token)
        if started and not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"progress {title_prefix!r} did not end: {pending or 'never started'}")
        await asyncio.sleep(0.05)


def plain(value):
    """pygls hands untyped params and results over as namedtuples: turn them back into JSON-like dicts."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def wait_until(predicate, timeout: float = 120.0) -> None:
    """Poll `predicate` until it holds; TimeoutError after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


def insert_text(client, uri: str, line: int, text: str, version: int = 2) -> None:
    """Insert `text` at the start of `line` of an open document with an incremental didChange."""
    at = types.Position(line=line, character=0)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)]))


def open_document(client, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = from_fs_path(str(path))
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="rust", version=version, text=path.read_text() if text is None else text)))
    return uri


def save_document(client, path: Path, text: str, version: int) -> str:
    """What an editor does on a save: the text on disk, then didChange and didSave."""
    uri = from_fs_path(str(path))
    path.write_text(text)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    return uri


async def send_raw_request(client, method: str, params, timeout: float = 30.0):
    """Send a request exactly as given (no typing on the client side), await the answer.

    Raises the JsonRpcException the server answered with."""
    import uuid
    from concurrent.futures import Future

    msg_id = str(uuid.uuid4())
    future: Future = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(asyncio.wrap_future(future), timeout)


def frame(payload: dict | bytes) -> bytes:
    """One JSON-RPC message (or a body as given, malformed ones too) with its LSP header, for tests
    that talk to the server by hand."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream: BinaryIO) -> dict:
    """The next message from a buffered binary stream (a pipe, or a socket's makefile("rb"))."""
    length = None
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    assert length is not None, "the stream ended before a message"
    return json.loads(stream.read(length))
