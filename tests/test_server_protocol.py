"""The LSP base protocol and lifecycle (LSP 3.17), driven by a raw JSON-RPC client: malformed frames,
oversized frames and messages out of order each get an answer (or a log line and a clean exit),
never a crash, a hang or a deaf server."""

from __future__ import annotations

import json
import logging
import os

import pytest

from rpc_support import RawClient, cap_memory, frame, wait_peak

SERVER_NOT_INITIALIZED, INVALID_REQUEST, PARSE_ERROR = -32002, -32600, -32700


@pytest.mark.slow
def test_lifecycle_and_framing(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    client = RawClient.spawn(tmp_path / "server.log", env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    try:
        early = client.call("workspace/symbol", {"query": "x"})
        assert early["error"]["code"] == SERVER_NOT_INITIALIZED
        # A repository's settings may point the memory and cargo's output into the workspace:
        # refused with a message, the defaults used.
        client.initialize(root, {"memory": {"uri": str(root / ".rusta")}, "heartbeat": {"enabled": False},
                                 "cargo": {"targetDir": str(root / "target")}})
        for setting in ("memory.uri", "cargo.targetDir"):
            said = client.wait_for(lambda m: setting in str(m.get("params")))["params"]["message"]
            assert "is inside the workspace" in said
        again = client.call("initialize", {"processId": None, "capabilities": {}, "rootUri": "file:///etc"})
        assert again["error"]["code"] == INVALID_REQUEST  # and /etc is not ingested
        assert "/etc" not in client.log_text()

        # A frame shorter than its Content-Length swallows the start of the next one: the server
        # finds that frame's header inside and answers it.
        client.send_bytes(b'Content-Length: 100\r\n\r\n{"jsonrpc": "2.0", "id": 90')
        served = client.call("workspace/symbol", {"query": "x"}, timeout=30)
        assert "result" in served, served
        assert client.wait_for(lambda m: m.get("error", {}).get("code") == PARSE_ERROR)["id"] is None
        # Not JSON, not JSON-RPC, no Content-Length, invalid params: each answered or dropped.
        client.send_bytes(frame(b"\xff\xfe not json"))
        client.send_bytes(frame(json.dumps([1, 2]).encode()))
        client.send_bytes(b"X-Nonsense: 1\r\n\r\n")
        bad_params = client.call("textDocument/documentSymbol", {"textDocument": 42})
        assert bad_params["error"]["code"] == -32602
        assert "result" in client.call("workspace/symbol", {"query": "x"}, timeout=30)

        assert "error" not in client.call("shutdown")
        late = client.call("workspace/symbol", {"query": "x"}, timeout=30)
        assert late["error"]["code"] == INVALID_REQUEST
        client.notify("exit")
        assert client.wait_exit(60) == 0
    finally:
        client.close()
    assert sorted(p.name for p in root.iterdir()) == []  # nothing written into the workspace
    assert (tmp_path / "cache" / "rusta" / "memory").is_dir()


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["exit without shutdown", "a huge Content-Length"])
def test_the_connection_ends_with_exit_code_1(tmp_path, ending):
    client = RawClient.spawn(tmp_path / "server.log")
    over = cap_memory(client.proc)
    try:
        client.initialize(None)
        if ending == "exit without shutdown":
            client.notify("exit")
        else:  # refused without allocating: the stream cannot be trusted past it
            client.send_bytes(b"Content-Length: 1000000000000\r\n\r\n{}")
            told = client.wait_for(lambda m: m.get("method") == "window/showMessage", timeout=30)
            assert "over the 64 MiB limit" in told["params"]["message"]
        code, _ = wait_peak(client.proc, 60)
    finally:
        client.close()
    assert code == 1 and not over.is_set()
    assert "MemoryError" not in client.log_text()


def test_a_traceback_in_an_error_reply_goes_to_the_log(caplog):
    from rusta_lsp.server.transport import ReplyWriter

    sent: list[bytes] = []
    reply = {"jsonrpc": "2.0", "id": 7, "error": {"code": -32603, "message": "KeyError: 'x'",
                                                   "data": {"traceback": ['  File "app.py", line 3\n']}}}
    body = json.dumps(reply).encode()
    with caplog.at_level(logging.ERROR):
        ReplyWriter(sent.append).write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    head, _, out = sent[0].partition(b"\r\n\r\n")
    assert json.loads(out) == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32603, "message": "KeyError: 'x'"}}
    assert head == b"Content-Length: %d" % len(out)
    assert 'File "app.py", line 3' in caplog.text
    # A reply that only mentions the word passes untouched.
    hover = frame(json.dumps({"jsonrpc": "2.0", "id": 8, "result": {"contents": "a \"traceback\""}}).encode())
    ReplyWriter(sent.append).write(hover)
    assert sent[1] == hover
