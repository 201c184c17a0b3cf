"""An in-process table of the workspace's items for fuzzy symbol search (workspace/symbol)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from .model import FileAnalysis, Item


@dataclass(frozen=True)
class SymbolHit:
    path: str  # file, relative to the workspace root
    item: Item
    score: int  # lower is better


def _rank(query: str, name: str) -> int | None:
    """rust-analyzer-like matching: exact < prefix < substring < subsequence; None = no match.
    Lower-case queries match case-insensitively; a query with capitals must match them."""
    target = name if any(c.isupper() for c in query) else name.lower()
    if target == query:
        return 0
    if target.startswith(query):
        return 1
    if query in target:
        return 2
    it = iter(target)
    if all(ch in it for ch in query):
        return 3
    return None


class SymbolTable:
    """Thread-safe: updated from executor threads, read by request handlers."""

    def __init__(self) -> None:
        self._files: dict[str, list[Item]] = {}
        self._lock = threading.Lock()

    def update(self, analysis: FileAnalysis) -> None:
        # Without their references and docs: on a large workspace those are most of an item's size.
        items = [replace(i, refs=[], doc="") for i in analysis.items if i.kind not in ("use", "impl")]
        with self._lock:
            self._files[analysis.path] = items

    def remove(self, path: str) -> None:
        with self._lock:
            self._files.pop(path, None)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(items) for items in self._files.values())

    def search(self, query: str, limit: int = 128) -> list[SymbolHit]:
        """Best matches first; an empty query lists nothing (clients send it on every keystroke)."""
        query = query.strip()
        if not query:
            return []
        # `Ledger::new` searches `new` among items whose path holds `Ledger`.
        *qualifier, name_query = query.split("::")
        with self._lock:
            files = list(self._files.items())
        hits = []
        for path, items in files:
            for item in items:
                score = _rank(name_query, item.name)
                if score is None:
                    continue
                if qualifier and not all(q in item.path.split("::") for q in qualifier if q):
                    continue
                hits.append(SymbolHit(path, item, score))
        # Shorter names and non-test items first among equal ranks.
        hits.sort(key=lambda h: (h.score, h.item.is_test, len(h.item.name), h.item.path))
        return hits[:limit]
