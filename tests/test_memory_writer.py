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


LANCE_GAVE_UP = ("lance error: Too many concurrent writers. Attempted 6 times, but failed on retry_timeout "
                 "of 30.000 seconds., lance-13.0.0/src/io/commit.rs:128:5")


class Contended:
    """A real LanceDB table whose first `losses` merges lose to other writers, as LanceDB says it."""

    def __init__(self, table, losses: int):
        self.table, self.losses = table, losses

    def merge_insert(self, on):
        if self.losses:
            self.losses -= 1
            raise RuntimeError(LANCE_GAVE_UP)
        return self.table.merge_insert(on)

    def __getattr__(self, name):
        return getattr(self.table, name)


@pytest.mark.parametrize("shared", [True, False])
def test_a_shared_tables_commit_that_lance_gave_up_on_is_tried_again(tmp_path, monkeypatch, shared):
    import lancedb
    import pyarrow as pa

    from rusta_lsp.memory import writer as writer_module

    monkeypatch.setattr(writer_module, "SHARED_RETRY_PAUSE_S", 0.01)
    table = lancedb.connect(tmp_path).create_table("drills", schema=pa.schema([("key", pa.string()), ("n", pa.int64())]))
    contended = Contended(table, losses=2)
    writer = Writer(lambda name: contended, set(), set(), shared=shared)
    try:
        done = writer.submit("upsert", "drills", [{"key": "dev1|m1", "n": 1}], key="key")
        if shared:  # the team's rows: tried until they land, once each
            assert done.result(timeout=30) == 1
            assert table.to_arrow().to_pylist() == [{"key": "dev1|m1", "n": 1}]
            assert writer.conflict_retries == 2
        else:  # the local memory has one writer: a conflict there is a bug, said at once
            with pytest.raises(RuntimeError, match="Too many concurrent writers"):
                done.result(timeout=30)
    finally:
        writer.close()
