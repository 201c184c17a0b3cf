"""The server's features. Each module holds one `Feature`; `all_features` lists them in start order."""

from __future__ import annotations

from .base import Feature


def all_features() -> list[type[Feature]]:
    from .explain import ExplainFeature
    from .heartbeat import HeartbeatFeature
    from .symbols import SymbolsFeature

    return [SymbolsFeature, ExplainFeature, HeartbeatFeature]
