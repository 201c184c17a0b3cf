"""Analysis values <-> LSP types. The server's only place for position arithmetic.

LSP counts characters in the negotiated position encoding (UTF-16 unless the client offered
UTF-8 or UTF-32 first); the analysis counts bytes and rustc columns. `LineIndex` does the math.
"""

from __future__ import annotations

from lsprotocol import types

from ..analysis.model import Item, Pos, Span
from ..analysis.positions import LineIndex

UTF16 = types.PositionEncodingKind.Utf16


def position(index: LineIndex, offset: int, encoding: str = UTF16) -> types.Position:
    if encoding == types.PositionEncodingKind.Utf8:
        line0 = index.line_of_byte(offset)
        return types.Position(line=line0, character=max(0, offset - index.line_starts[line0]))
    if encoding == types.PositionEncodingKind.Utf32:
        pos = index.pos(offset)
        return types.Position(line=pos.line - 1, character=pos.col - 1)
    line0, char16 = index.utf16(offset)
    return types.Position(line=line0, character=char16)


def offset(index: LineIndex, pos: types.Position, encoding: str = UTF16) -> int:
    """Byte offset of an LSP position, clamped into the document."""
    if encoding == types.PositionEncodingKind.Utf8:
        if pos.line >= index.line_count:
            return len(index.data)
        line_end = index.line_starts[pos.line + 1] - 1 if pos.line + 1 < index.line_count else len(index.data)
        return min(index.line_starts[pos.line] + pos.character, line_end)
    if encoding == types.PositionEncodingKind.Utf32:
        if pos.line >= index.line_count:
            return len(index.data)
        return index.offset(Pos(pos.line + 1, pos.character + 1))
    return index.offset_from_utf16(pos.line, pos.character)


def range_(index: LineIndex, span: Span, encoding: str = UTF16) -> types.Range:
    return types.Range(start=position(index, span.start_byte, encoding),
                       end=position(index, span.end_byte, encoding))


_SYMBOL_KINDS = {
    "fn": types.SymbolKind.Function,
    "method": types.SymbolKind.Method,
    "struct": types.SymbolKind.Struct,
    "union": types.SymbolKind.Struct,
    "enum": types.SymbolKind.Enum,
    "variant": types.SymbolKind.EnumMember,
    "field": types.SymbolKind.Field,
    "trait": types.SymbolKind.Interface,
    "impl": types.SymbolKind.Object,
    "mod": types.SymbolKind.Module,
    "const": types.SymbolKind.Constant,
    "static": types.SymbolKind.Variable,
    "type": types.SymbolKind.TypeParameter,
    "macro": types.SymbolKind.Function,
}


def symbol_kind(kind: str) -> types.SymbolKind:
    return _SYMBOL_KINDS.get(kind, types.SymbolKind.Object)


def document_symbols(items: list[Item], index: LineIndex, encoding: str = UTF16) -> list[types.DocumentSymbol]:
    """A hierarchy of symbols: items nest under the item whose span holds them (uses left out)."""
    roots: list[types.DocumentSymbol] = []
    stack: list[tuple[Item, types.DocumentSymbol]] = []
    # Template items from macro expansions repeat a span; show each template once.
    seen: set[tuple[int, int, str]] = set()
    for item in sorted(items, key=lambda i: (i.span.start_byte, -i.span.end_byte)):
        if item.kind == "use" or (item.span.start_byte, item.span.end_byte, item.name) in seen:
            continue
        seen.add((item.span.start_byte, item.span.end_byte, item.name))
        symbol = types.DocumentSymbol(
            name=item.name, kind=symbol_kind(item.kind), detail=item.signature[:120],
            range=range_(index, item.span, encoding),
            selection_range=range_(index, item.name_span, encoding), children=[],
        )
        while stack and stack[-1][0].span.end_byte <= item.span.start_byte:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(symbol)
        stack.append((item, symbol))
    return roots
