"""The single writer: nothing submitted around close() can leave its caller waiting forever."""

import pytest

from rusta_lsp.memory.writer import Writer


def test_writes_after_close_fail_instead_of_hanging():
    writer = Writer(lambda name: None, set(), set())
    assert writer.submit("call", "", lambda: 41 + 1).result(timeout=10) == 42
    writer.close()
    late = writer.submit("call", "", lambda: 1)
    with pytest.raises(RuntimeError, match="closed"):
        late.result(timeout=5)
    writer.close()  # closing twice is harmless
