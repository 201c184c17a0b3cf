"""Cooperative cancellation: one exception and one token for every layer.

Work that may be superseded (an ingest pass, a cargo check, a drill, a training run) takes a
`CancelToken` and calls `check()` between steps; cargo runs are killed when their token is set.
Whoever starts the work owns the token: the client's cancel on a `$/progress`, a newer edit, the
shutdown. A token can be linked to others, so one check covers them all. `Cancelled` is never a
failure: `$/progress` ends "cancelled" and nothing is logged as an error.
"""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """The work stopped because its token was cancelled (a newer edit, the client, the shutdown)."""


class CancelToken:
    """Cancelled by its own `cancel()` or once any token it is linked to is. Thread-safe."""

    def __init__(self, *linked: CancelToken) -> None:
        self._event = threading.Event()
        self._linked = linked

    def cancel(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set() or any(token.is_set() for token in self._linked)

    def check(self) -> None:
        """Raise `Cancelled` when the token is set: the cooperative stop between steps."""
        if self.is_set():
            raise Cancelled()

    def linked(self) -> CancelToken:
        """A new token cancelled with this one, and on its own by whoever holds it."""
        return CancelToken(self)
