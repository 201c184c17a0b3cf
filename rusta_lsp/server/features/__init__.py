"""The server's features. Each module holds one `Feature` (the contract is in server/app.py);
`all_features` lists them in start order."""

from __future__ import annotations

from ..app import Feature
from .explain import ExplainFeature
from .fixes import FixesFeature
from .heartbeat import HeartbeatFeature
from .memory import MemoryFeature
from .symbols import SymbolsFeature


def all_features() -> list[type[Feature]]:
    return [MemoryFeature, SymbolsFeature, ExplainFeature, FixesFeature, HeartbeatFeature]
