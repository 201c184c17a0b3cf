"""Byte offsets <-> rustc positions <-> LSP UTF-16 positions, on non-ASCII text."""

from hypothesis import given, strategies as st

from rusta_lsp.analysis.model import Pos
from rusta_lsp.analysis.positions import LineIndex

# "é" is 2 bytes/1 scalar/1 UTF-16 unit; "→" 3/1/1; "𝄞" 4 bytes/1 scalar/2 UTF-16 units.
TEXT = 'let s = "é→𝄞";\nfn größe() {}\n\r\nend'


def test_rustc_columns_count_scalars():
    index = LineIndex(TEXT)
    quote_end = TEXT.encode().index(b'";')
    assert index.pos(quote_end) == Pos(1, 13)  # l-e-t-space-s-space-=-space-"-é-→-𝄞 = 12 chars
    fn_name = TEXT.encode().index("größe".encode())
    assert index.pos(fn_name) == Pos(2, 4)
    assert index.offset(Pos(2, 4)) == fn_name


def test_lsp_columns_count_utf16_units():
    index = LineIndex(TEXT)
    quote_end = TEXT.encode().index(b'";')
    assert index.utf16(quote_end) == (0, 13)  # the G clef takes two UTF-16 units
    assert index.offset_from_utf16(0, 13) == quote_end
    # A position inside a surrogate pair resolves to the character's start.
    clef = TEXT.encode().index("𝄞".encode())
    assert index.offset_from_utf16(0, 11) == clef


def test_out_of_range_positions_clamp():
    index = LineIndex(TEXT)
    assert index.offset_from_utf16(0, 999) == TEXT.encode().index(b"\n")
    assert index.offset_from_utf16(99, 0) == len(TEXT.encode())
    assert index.offset(Pos(99, 99)) == len(TEXT.encode())
    assert index.pos(10**6) == index.pos(len(TEXT.encode()))


def test_crlf_keeps_lines():
    index = LineIndex("a\r\nb")
    assert index.pos(3) == Pos(2, 1)
    assert index.line_count == 2


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), min_size=1, max_size=5))
def test_round_trips(lines):
    text = "\n".join(line.replace("\n", "").replace("\r", "") for line in lines)
    index = LineIndex(text)
    data = text.encode()
    for i, ch in enumerate(text):
        offset = len(text[:i].encode())
        pos = index.pos(offset)
        assert index.offset(pos) == offset
        line0, char16 = index.utf16(offset)
        assert index.offset_from_utf16(line0, char16) == offset
        assert index.pos_from_utf16(line0, char16) == pos
    assert index.pos(len(data)).line == text.count("\n") + 1
