"""Plain rows the memory stores and returns. Readers in other packages use these, never Arrow.

Lines and columns follow the CLI contract: 1-based, columns in Unicode scalar values;
paths are relative to the workspace root, `/`-separated.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemRecord:
    path: str  # file holding the item
    qualified: str  # crate::store::Ledger::apply
    name: str
    kind: str  # one of analysis.model.ITEM_KINDS
    signature: str
    doc: str
    start_line: int  # whole item incl. doc and attributes, inclusive
    end_line: int
    doc_start_line: int | None = None
    doc_end_line: int | None = None
    is_test: bool = False
    parent: str | None = None
    impl_type: str | None = None
    trait_name: str | None = None
    visibility: str = ""


@dataclass(frozen=True)
class RefRecord:
    path: str
    name: str
    kind: str  # call, method, field, type, path, macro, ident
    qualifier: str  # `Ledger` in `Ledger::new`, else ""
    line: int
    col: int
    end_line: int
    end_col: int  # exclusive
    enclosing: str  # qualified path of the item containing the ref
    in_test: bool = False


@dataclass(frozen=True)
class PassageRecord:
    """A stretch of prose (README, markdown docs) that explain can cite as "related"."""

    path: str
    start_line: int
    end_line: int
    text: str


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "item" | "passage"
    item: ItemRecord | None
    passage: PassageRecord | None
    score: float  # higher is better; fused RRF score in hybrid mode
    snippet: str

    @property
    def path(self) -> str:
        return self.item.path if self.item else self.passage.path  # type: ignore[union-attr]

    @property
    def line(self) -> int:
        return self.item.start_line if self.item else self.passage.start_line  # type: ignore[union-attr]
