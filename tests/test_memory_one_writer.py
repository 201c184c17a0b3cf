"""One writer for real: a server that finds the memory's writer lock held never writes beside the
holder; it reads, says so, and takes the lock once it is free."""

from __future__ import annotations

import pytest

from memory_support import server_holding, write_ledger_crate
from rpc_support import RawClient, progress_ended
from rusta_lsp.memory.store import Memory


@pytest.mark.slow
def test_a_server_beside_another_writer_reads_then_takes_over(tmp_path):
    """A server started while `rusta index` writes the memory opens it read-only, says so, and
    becomes its one writer once the other process is done (no second writer, ever)."""
    root = write_ledger_crate(tmp_path / "ledger")
    client = RawClient.spawn(tmp_path / "server.log")
    try:
        with server_holding(tmp_path / "memory", root):  # stands in for `rusta index`
            client.initialize(root, {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False}})
            said = client.wait_for(lambda m: m.get("method") == "window/showMessage")["params"]["message"]
            assert "another Rusta process is writing this memory" in said
            feedback = client.call("workspace/executeCommand", {"command": "rusta.feedback", "arguments": [
                {"code": "E0425", "source": "rustc", "title": "x", "path": "src/lib.rs", "line": 1, "accepted": False}]})
            assert feedback["result"] == {"recorded": False}  # not an error: recorded once it writes
            with Memory.open(str(tmp_path / "memory"), root, read_only=True) as memory:
                assert memory.is_empty()  # the server did not write beside it
        taken = client.wait_for(lambda m: "the other process is done" in str(m.get("params")), timeout=60)
        assert taken["params"]["type"] == 3  # Info
        assert progress_ended(client, "Rusta: memory") == "done"
        with Memory.open(str(tmp_path / "memory"), root, read_only=True) as memory:
            assert memory.lookup_name("apply")
        assert "error" not in client.call("shutdown")
        client.notify("exit")
        assert client.wait_exit(60) == 0
    finally:
        client.close()
