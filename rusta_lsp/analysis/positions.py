"""Conversions between byte offsets, rustc positions and LSP positions. The only place that does it.

- byte offset: index into the UTF-8 encoded source;
- rustc position: 1-based line, 1-based column counted in Unicode scalar values (`Pos`);
- LSP position: 0-based line, 0-based character counted in UTF-16 code units.

Out-of-range inputs are clamped to the nearest valid position instead of raising: editors send
positions past the end of a line or file, and the answer is "the end", not a crash.
"""

from __future__ import annotations

import bisect

from .model import Pos, Span


class LineIndex:
    def __init__(self, source: bytes | str):
        self.data = source.encode("utf-8") if isinstance(source, str) else source
        # Byte offset where each line starts; "\n" ends a line ("\r\n" keeps "\r" in the line).
        starts = [0]
        find = self.data.find
        i = find(b"\n")
        while i != -1:
            starts.append(i + 1)
            i = find(b"\n", i + 1)
        self.line_starts = starts
        # Most files are ASCII: then a column is a byte distance and nothing needs decoding.
        self.ascii = self.data.isascii()

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def _line_bytes(self, line0: int) -> bytes:
        start = self.line_starts[line0]
        end = self.line_starts[line0 + 1] - 1 if line0 + 1 < len(self.line_starts) else len(self.data)
        return self.data[start:end]

    def _line_text(self, line0: int) -> str:
        return self._line_bytes(line0).decode("utf-8", errors="replace")

    def _clamp_line(self, line0: int) -> int:
        return min(max(line0, 0), len(self.line_starts) - 1)

    # --- byte offsets --------------------------------------------------------------------

    def line_of_byte(self, offset: int) -> int:
        """0-based line holding the byte offset."""
        offset = min(max(offset, 0), len(self.data))
        return bisect.bisect_right(self.line_starts, offset) - 1

    def pos(self, offset: int) -> Pos:
        """rustc position (1-based line and column in scalar values) of a byte offset."""
        offset = min(max(offset, 0), len(self.data))
        line0 = self.line_of_byte(offset)
        return self.pos_in_line(line0, offset - self.line_starts[line0])

    def pos_in_line(self, line0: int, byte_col: int) -> Pos:
        """rustc position from a 0-based line and a byte column (tree-sitter's points)."""
        if self.ascii:
            return Pos(line0 + 1, byte_col + 1)
        start = self.line_starts[line0]
        prefix = self.data[start : start + byte_col]
        return Pos(line0 + 1, len(prefix.decode("utf-8", errors="replace")) + 1)

    def span(self, start_byte: int, end_byte: int) -> Span:
        return Span(start_byte, end_byte, self.pos(start_byte), self.pos(end_byte))

    def node_span(self, node, last=None) -> Span:
        """Span of a tree-sitter node (or from `node` to the end of `last`), using the points the
        nodes already carry (no search)."""
        last = last or node
        (srow, scol), (erow, ecol) = node.start_point, last.end_point
        return Span(node.start_byte, last.end_byte, self.pos_in_line(srow, scol), self.pos_in_line(erow, ecol))

    def offset(self, pos: Pos) -> int:
        """Byte offset of a rustc position; clamped into the file and the line."""
        line0 = self._clamp_line(pos.line - 1)
        text = self._line_text(line0)
        col0 = min(max(pos.col - 1, 0), len(text))
        return self.line_starts[line0] + len(text[:col0].encode("utf-8"))

    # --- LSP (UTF-16) --------------------------------------------------------------------

    def offset_from_utf16(self, line0: int, char16: int) -> int:
        """Byte offset of an LSP position; past the end of a line means its end, past the file its end."""
        if line0 >= len(self.line_starts):
            return len(self.data)
        line0 = self._clamp_line(line0)
        text = self._line_text(line0)
        units = 0
        consumed = 0
        for ch in text:
            width = 2 if ord(ch) > 0xFFFF else 1
            if units + width > char16:
                break
            units += width
            consumed += 1
        return self.line_starts[line0] + len(text[:consumed].encode("utf-8"))

    def utf16(self, offset: int) -> tuple[int, int]:
        """LSP (line, character) of a byte offset."""
        offset = min(max(offset, 0), len(self.data))
        line0 = self.line_of_byte(offset)
        prefix = self.data[self.line_starts[line0] : offset].decode("utf-8", errors="replace")
        return line0, sum(2 if ord(ch) > 0xFFFF else 1 for ch in prefix)

    def utf16_from_pos(self, pos: Pos) -> tuple[int, int]:
        return self.utf16(self.offset(pos))

    def pos_from_utf16(self, line0: int, char16: int) -> Pos:
        return self.pos(self.offset_from_utf16(line0, char16))
