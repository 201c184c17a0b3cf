"""The language server. The only package that imports pygls or lsprotocol."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from pathlib import Path


def serve(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087, socket_path: str | None = None) -> None:
    """Serve one client over stdio (default), TCP or a Unix socket, then end the process."""
    from . import heap

    heap.limit_heap()  # before the imports below start any thread
    from . import transport
    from .app import RustaServer
    from .features import all_features

    if tcp:
        transport.check_tcp_address(host, port)
    if socket_path is not None:
        transport.check_socket_path(Path(socket_path))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pygls logs every message it sends at INFO, payload included: far too much for a huge document.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    server = RustaServer(all_features())
    if socket_path is not None:
        connect = functools.partial(transport.serve_unix, path=Path(socket_path))
    elif tcp:
        connect = functools.partial(transport.serve_tcp, host=host, port=port)
    else:
        connect = transport.serve_stdio
    code = asyncio.run(server.serve(connect))
    logging.shutdown()
    # Work still running in our executor (a model loading for the vector pass, say) or a thread
    # stuck in a read has no one left to answer. Python would join those threads before exiting,
    # and an editor that stops the server would wait for them, for seconds under load: end the
    # process now, with the code LSP asks for.
    os._exit(code)
