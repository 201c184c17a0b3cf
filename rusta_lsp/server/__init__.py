"""The language server. The only package that imports pygls or lsprotocol."""

from __future__ import annotations

import logging
import os


def serve(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    from .app import RustaServer
    from .features import all_features

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pygls logs every message it sends at INFO, payload included: far too much for a huge document.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    server = RustaServer(all_features())
    if tcp:
        server.start_tcp(host, port)
    else:
        server.start_io()
    code = server.end()
    logging.shutdown()
    # Work still running in our executor (a model loading for the vector pass, say) has no one
    # left to answer. Python would join those threads before exiting, and an editor that stops
    # the server would wait for them, for seconds under load: end the process now.
    os._exit(code)
