"""The server's features. Each module holds one `Feature`; `all_features` lists them in start order."""

from __future__ import annotations

from .base import Feature


def all_features() -> list[type[Feature]]:
    from .explain import ExplainFeature
    from .fixes import FixesFeature
    from .heartbeat import HeartbeatFeature
    from .memory import MemoryFeature
    from .symbols import SymbolsFeature

    return [MemoryFeature, SymbolsFeature, ExplainFeature, FixesFeature, HeartbeatFeature]
