"""The anchor verifier: no anchor that fails against the current files, no claim.

An anchor holds when its file exists (an open editor buffer counts as the file), its range lies
inside the file, and the text in that range still contains the anchor's subject. The memory may
lag behind the disk; this check is what keeps a stale row from becoming a stated fact.

Text is compared as words: the subject's words must appear, in order and next to each other,
among the range's words. Markdown punctuation (backticks, emphasis, links), comment markers
(`///`, `//!`, `*`), a `#[doc = "..."]`'s quotes and escapes, and whitespace are not words, so a
doc comment that reads "If the `Value` is a Null" still holds its claim "If the Value ...".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .claims import Anchor, Claim, words


class SourceReader:
    """Current text of workspace files: open buffers first, then the disk. Caches per instance,
    so make one per explanation (or per document version)."""

    def __init__(self, root: Path, buffers: Callable[[str], str | None] | None = None):
        self.root = Path(root)
        self._resolved_root = self.root.resolve()  # once: resolving walks every folder of the path
        self.buffers = buffers or (lambda rel: None)
        self._lines: dict[str, list[str] | None] = {}

    def lines(self, rel: str) -> list[str] | None:
        if rel not in self._lines:
            self._lines[rel] = self._read(rel)
        return self._lines[rel]

    def line(self, rel: str, line: int) -> str:
        """One line (1-based) of the current text, "" when absent."""
        lines = self.lines(rel)
        return lines[line - 1] if lines is not None and 1 <= line <= len(lines) else ""

    def _read(self, rel: str) -> list[str] | None:
        text = self.buffers(rel)
        if text is None:
            path = self.root / rel
            try:
                if not path.resolve().is_relative_to(self._resolved_root):
                    return None  # anchors never point outside the workspace
                text = path.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                return None
        return text.split("\n")


def anchor_holds(anchor: Anchor, reader: SourceReader) -> bool:
    lines = reader.lines(anchor.path)
    if lines is None:
        return False
    if not 1 <= anchor.start_line <= anchor.end_line <= len(lines):
        return False
    if not anchor.needle:
        return True
    wanted = words(anchor.needle)
    window = words("\n".join(lines[anchor.start_line - 1 : anchor.end_line]))
    if not wanted:
        return anchor.needle.strip() in "\n".join(lines[anchor.start_line - 1 : anchor.end_line])
    first = wanted[0]
    return any(window[at : at + len(wanted)] == wanted for at, word in enumerate(window) if word == first)


def verify(claims: Iterable[Claim], reader: SourceReader) -> tuple[list[Claim], list[Claim]]:
    """(kept, dropped): a claim is kept only when every one of its anchors holds."""
    kept: list[Claim] = []
    dropped: list[Claim] = []
    for claim in claims:
        ok = bool(claim.anchors) and all(anchor_holds(a, reader) for a in claim.anchors)
        (kept if ok else dropped).append(claim)
    return kept, dropped
