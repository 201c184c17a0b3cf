"""The LSP base protocol under pygls: frames in, frames out, one client per server process.

pygls' own reader trusts the stream: it allocates whatever `Content-Length` says and, after a
frame shorter than its header claimed, reads every later message one frame off (alive, but deaf).
This reader keeps a byte buffer instead: a header must fit in `MAX_HEADER_BYTES`, a body in
`MAX_CONTENT_LENGTH` (a bigger one ends the connection with a message: the stream cannot be
trusted past it), and a body that does not parse is searched for the next header, so the
stream recovers as far as it allows. Each body goes to `RustaProtocol.receive`, which applies
the LSP lifecycle rules.

Transports: stdio (the default), TCP and a Unix socket. Both sockets serve one client: the
listener closes as soon as one is attached (a second connection is refused), and the server ends
with that client's connection, as it does with stdio.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import stat
import sys
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from ..errors import UsageError

log = logging.getLogger(__name__)

MAX_CONTENT_LENGTH = 64 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024
CHUNK = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)", re.IGNORECASE)


class FrameTooLarge(Exception):
    pass


class Session(Protocol):
    """What a transport needs of the protocol above it (`app.RustaProtocol`, which imports us)."""

    exit_code: int | None  # set by `exit`: the connection ends

    def set_writer(self, writer: Any) -> None: ...

    def receive(self, body: bytes) -> bool: ...

    def tell_client(self, message: str) -> None: ...


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class FrameReader:
    """Frames from a stream of chunks (`read` returns b"" at the end of the stream)."""

    def __init__(self, read: Callable[[], Awaitable[bytes]]):
        self._read = read
        self._buffer = bytearray()

    async def _fill(self) -> bool:
        chunk = await self._read()
        self._buffer += chunk
        return bool(chunk)

    async def next_body(self) -> bytes | None:
        """The next frame's body; None at the end of the stream. Raises FrameTooLarge."""
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    log.warning("dropped %d bytes that hold no LSP header", len(self._buffer) - 3)
                    del self._buffer[:-3]  # what is left may start the next header's blank line
                if not await self._fill():
                    return None
                continue
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            found = _CONTENT_LENGTH.findall(head)  # the last one: junk before a header is skipped
            if not found:
                log.warning("dropped a header without Content-Length: %r", head[:80])
                continue
            if len(found[-1]) > 12 or int(found[-1]) > MAX_CONTENT_LENGTH:
                raise FrameTooLarge(found[-1].decode())
            length = int(found[-1])
            while len(self._buffer) < length:
                if not await self._fill():
                    return None
            body = bytes(self._buffer[:length])
            del self._buffer[:length]
            return body

    def resync(self, body: bytes) -> bool:
        """`body` did not parse. If a header starts inside it (its frame was shorter than the
        header said, so this body swallowed the start of the next frame), read on from there."""
        found = _CONTENT_LENGTH.search(body, 1)
        if found is None:
            return False
        self._buffer[:0] = body[found.start():]
        return True


class ReplyWriter:
    """pygls' writer interface over a transport. pygls puts a Python traceback into the error
    reply of a handler that raised; it goes to the log here, never to the client."""

    def __init__(self, write: Callable[[bytes], Any], close: Callable[[], Any] = lambda: None):
        self._write = write
        self._close = close

    def write(self, data: bytes) -> None:
        if b'"traceback"' in data:
            data = _without_traceback(data)
        self._write(data)

    def close(self) -> None:
        self._close()


def _without_traceback(data: bytes) -> bytes:
    head, sep, body = data.partition(b"\r\n\r\n")
    try:
        message = json.loads(body)
        details = message["error"]["data"]
        trace = details.pop("traceback")
    except (ValueError, KeyError, TypeError, AttributeError):
        return data  # not an error reply carrying one: a word in some text
    log.error("the error reply to %r carried this traceback:\n%s", message.get("id"), "".join(trace))
    if not details:
        del message["error"]["data"]
    return frame(json.dumps(message).encode())


async def converse(protocol: Session, read: Callable[[], Awaitable[bytes]], writer: ReplyWriter) -> None:
    """Serve one connection until `exit`, the end of the stream, or a frame over the cap."""
    protocol.set_writer(writer)
    frames = FrameReader(read)
    while protocol.exit_code is None:
        try:
            body = await frames.next_body()
        except FrameTooLarge as err:
            message = (f"a message of {err} bytes is over the {MAX_CONTENT_LENGTH >> 20} MiB limit; "
                       "the connection cannot continue past it")
            log.error(message)
            protocol.tell_client(message)
            return
        if body is None:
            log.info("the client closed the connection")
            return
        if not protocol.receive(body):
            frames.resync(body)


# --- stdio ---------------------------------------------------------------------------------


async def serve_stdio(protocol: Session) -> None:
    stdout = sys.stdout.buffer

    def write(data: bytes) -> None:
        stdout.write(data)
        stdout.flush()

    await converse(protocol, _thread_reader(sys.stdin.buffer.fileno()), ReplyWriter(write, stdout.close))


def _thread_reader(fd: int) -> Callable[[], Awaitable[bytes]]:
    """Chunks of `fd`, read by a daemon thread (a blocked read never keeps the process alive),
    at most a few chunks ahead of the event loop."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except OSError:
                chunk = b""
            try:
                asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop).result()
            except RuntimeError:  # the loop is gone: the server is exiting
                return
            if not chunk:
                return

    threading.Thread(target=pump, name="rusta-stdin", daemon=True).start()
    return chunks.get


# --- sockets: one client per process -----------------------------------------------------


async def serve_tcp(protocol: Session, host: str, port: int) -> None:
    await _serve_one(protocol, lambda on_client: asyncio.start_server(on_client, host, port),
                     f"{host}:{port}")


def check_tcp_address(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port}: not a TCP port (1-65535)")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UsageError(f"--host {host}: not an address ({err})") from None


async def serve_unix(protocol: Session, path: Path) -> None:
    """A Unix socket only its owner may connect to: mode 0600 from its creation on (the path
    was checked by `check_socket_path`)."""

    async def start(on_client: Callable) -> asyncio.AbstractServer:
        old = os.umask(0o177)  # the socket file is created by bind(), with this mask
        try:
            return await asyncio.start_unix_server(on_client, str(path))
        finally:
            os.umask(old)

    try:
        await _serve_one(protocol, start, str(path))
    finally:
        if path.is_socket():
            path.unlink(missing_ok=True)


def check_socket_path(path: Path) -> None:
    """Refuse a path that is not free for a socket; remove a socket a dead server left."""
    if not path.parent.is_dir():
        raise UsageError(f"--socket {path}: no folder {path.parent}")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"--socket {path}: exists and is not a socket")
    with socket.socket(socket.AF_UNIX) as probe:
        if probe.connect_ex(str(path)) == 0:
            raise UsageError(f"--socket {path}: another server listens there")
    path.unlink()  # left by a server that died


async def _serve_one(protocol: Session, start: Callable[[Callable], Awaitable[asyncio.AbstractServer]],
                     where: str) -> None:
    attached = asyncio.Event()
    finished = asyncio.Event()
    listener: asyncio.AbstractServer | None = None

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if attached.is_set():  # connected before the listener closed
            log.warning("refused a second client on %s: one client per server", where)
            writer.close()
            return
        attached.set()
        listener.close()  # a second client is refused from now on
        log.info("client connected on %s", where)

        async def read() -> bytes:
            try:
                return await reader.read(CHUNK)
            except ConnectionError:  # reset by the client: the end of its stream
                return b""

        try:
            await converse(protocol, read, ReplyWriter(writer.write, writer.close))
        finally:
            writer.close()
            finished.set()

    try:
        listener = await start(on_client)
    except OSError as err:
        raise UsageError(f"cannot listen on {where}: {err.strerror or err}") from None
    log.info("listening on %s (one client)", where)
    await finished.wait()
