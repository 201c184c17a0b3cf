"""A cloned repository may hold anything. One workspace with every odd file at once — a symlink to
/dev/zero (reported size 0, endless bytes), FIFOs (a read never returns), a file name that is not
UTF-8, a symlink out of the workspace, random bytes in a .rs that a `mod` reaches — goes through
the server, `rusta index`, `rusta fix` and `rusta doctor`. Each finishes under a 1.5 GB memory cap
with its normal output, and reads nothing outside the workspace."""

from __future__ import annotations

import json
import os
import random
import sys

import pytest

from patches_support import SHARED_TARGET, copy_example
from rpc_support import CAP_BYTES, RawClient, cap_memory, progress_ended, run_capped, wait_peak

RUSTA = [sys.executable, "-m", "rusta_lsp.cli"]
SECRET = "pub fn leaked_secret_outside() -> u32 { 7 }\n"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    (base / "secret.rs").write_text(SECRET)
    root = copy_example("ledger", base / "ws")
    src = root / "src"
    (src / "zero.rs").symlink_to("/dev/zero")
    (root / "blob").symlink_to("/dev/zero")
    os.mkfifo(src / "pipe.rs")
    os.mkfifo(root / "notes.md")
    (src / "leak.rs").symlink_to(base / "secret.rs")
    (src / "noise.rs").write_bytes(random.Random(16).randbytes(64 * 1024))
    with open(os.path.join(os.fsencode(src), b"caf\xe9.rs"), "wb") as odd:
        odd.write(b"pub fn odd_name() {}\n")
    lib = src / "lib.rs"
    lib.write_text(lib.read_text() + "\nmod zero;\nmod pipe;\nmod leak;\nmod noise;\n")
    return base, root


def _memory(base, name):
    return ["--memory", str(base / name), "--set", f"cargo.targetDir={SHARED_TARGET}"]


@pytest.mark.slow
def test_index_doctor_and_fix_finish_under_the_cap(hostile):
    base, root = hostile
    code, out, err, peak = run_capped([*RUSTA, "index", "--json", "--no-embed", *_memory(base, "mem-index"), str(root)])
    assert code == 0, err
    # The ledger's own files, and none of the odd ones (noise.rs is skipped as binary).
    assert json.loads(out)["files"] == len(["lib.rs", "entry.rs", "store.rs", "tests/ledger.rs", "README.md"])
    assert "Traceback" not in err and "skipping src/pipe.rs: a FIFO" in err
    print(f"rusta index: peak {peak >> 20} MB")

    code, out, err, _ = run_capped([*RUSTA, "search", "--json", "--mode", "fts", *_memory(base, "mem-index"),
                                    "leaked_secret_outside", str(root)])
    assert code == 0 and "leaked_secret_outside" not in out  # nothing from outside the workspace

    code, out, err, _ = run_capped([*RUSTA, "explain", "--json", *_memory(base, "mem-index"),
                                    f"{root / 'src' / 'store.rs'}:1:1"])
    assert code == 0, err
    assert {"symbol", "abstained", "claims"} <= set(json.loads(out))

    code, out, err, _ = run_capped([*RUSTA, "doctor", "--json", *_memory(base, "mem-index"), str(root)])
    skipped = {c["name"]: c for c in json.loads(out)["checks"]}["workspace files"]
    reasons = dict(line.split(": ", 1) for line in skipped["notes"])
    assert reasons["src/zero.rs"] == reasons["blob"] == "a symlink to outside the workspace"
    assert reasons["src/pipe.rs"] == "a FIFO" and reasons["notes.md"] == "a FIFO"
    assert reasons["src/leak.rs"] == "a symlink to outside the workspace"
    assert reasons["src/caf\\xe9.rs"] == "file name is not UTF-8"

    code, out, err, peak = run_capped([*RUSTA, "fix", "--json", *_memory(base, "mem-fix"), str(root)])
    assert code == 0, err
    messages = [d["message"] for d in json.loads(out)["diagnostics"]]
    # The shadow copies none of the odd files: cargo says so, and reads nothing endless.
    assert any("zero" in m for m in messages) and any("pipe" in m for m in messages), messages
    print(f"rusta fix: peak {peak >> 20} MB")


@pytest.mark.slow
def test_server_serves_and_exits_under_the_cap(hostile, tmp_path):
    base, root = hostile
    client = RawClient.spawn(tmp_path / "server.log")
    over = cap_memory(client.proc)
    try:
        client.initialize(root, {"memory": {"uri": str(base / "mem-server")}, "heartbeat": {"enabled": False},
                                 "cargo": {"targetDir": str(SHARED_TARGET)}})
        assert progress_ended(client, "Rusta: memory") == "done"
        lib = root / "src" / "lib.rs"
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": lib.as_uri(), "languageId": "rust", "version": 1, "text": lib.read_text()}})
        client.notify("textDocument/didSave", {"textDocument": {"uri": lib.as_uri()}})
        assert progress_ended(client, "Rusta: checking fixes") in ("done", "cancelled")

        found = client.call("workspace/symbol", {"query": "Ledger"})["result"]
        assert found and not client.call("workspace/symbol", {"query": "leaked_secret_outside"})["result"]

        position = {"line": 0, "character": 0}
        refused = {
            "file:///dev/zero": "outside the workspace",
            (root / "src" / "pipe.rs").as_uri(): "a FIFO",
            (root / "src" / "zero.rs").as_uri(): "a symlink to outside the workspace",
            (root / "src" / "leak.rs").as_uri(): "a symlink to outside the workspace",
            f"{root.as_uri()}/../secret.rs": "outside the workspace",
            "untitled:Untitled-1": "not a file",
            "http://example.invalid/lib.rs": "not a file",
        }
        for uri, reason in refused.items():
            for method in ("textDocument/hover", "textDocument/documentSymbol"):
                reply = client.call(method, {"textDocument": {"uri": uri}, "position": position}, timeout=30)
                assert reply["error"]["code"] == -32803 and reason in reply["error"]["message"], (uri, reply)
                assert "data" not in reply["error"]  # no traceback, no details
        code_action = client.call("textDocument/codeAction", {
            "textDocument": {"uri": (root / "src" / "pipe.rs").as_uri()},
            "range": {"start": position, "end": position}, "context": {"diagnostics": []}})
        assert code_action["result"] is None
        assert "error" not in client.call("shutdown", None)
        client.notify("exit")
        code, peak = wait_peak(client.proc, 120)
    finally:
        client.close()
    assert not over.is_set(), f"the server passed {CAP_BYTES >> 20} MB resident"
    assert code == 0
    print(f"rusta serve: peak {peak >> 20} MB")
    assert "skipping src/pipe.rs: a FIFO" in client.log_text()
