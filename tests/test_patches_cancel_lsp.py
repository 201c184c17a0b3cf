"""Cancellation by a new edit, through a real client: the check of an older text is killed, its
`$/progress` ends "cancelled" (not "failed") and its result is never published; a fresh check
runs, and the hints that arrive answer the latest text.

The timing is made deterministic with cargo's own build-directory lock: while the test holds it,
the server's cargo waits, so the first check is certainly still running when the edit arrives.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import (EXAMPLES, SERVER_COMMAND, PublishLog, init_params, save_document, wait_for_progress,
                         wait_until)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")]
CHECK = "Rusta: checking fixes"
FIRST = ('ledger.deposit("Café Größe", 1_000);', 'ledger.deposit("Café Größe".to_string(), 1_000);')  # E0308
SECOND = ("let mut ledger = Ledger::new();\n        ledger.deposit(", "let ledger = Ledger::new();\n        ledger.deposit(")  # E0596


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    root = tmp_path / "ledger"
    shutil.copytree(EXAMPLES / "ledger", root, ignore=shutil.ignore_patterns("target"))
    # A target of its own: the test locks it, and nothing else may wait on that lock.
    lsp_client.target = tmp_path / "target"
    options = {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False},
               "cargo": {"targetDir": str(lsp_client.target)}, "abstain": {"targetPrecision": 0.8}}
    lsp_client.root = root
    lsp_client.diagnostics = PublishLog()
    await lsp_client.initialize_session(init_params(root, options))
    yield
    await lsp_client.shutdown_session()


def cargo_pids(target: Path) -> set[int]:
    """Running cargo processes that build into `target` (the server's, in its shadow)."""
    wanted = f"CARGO_TARGET_DIR={target}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if wanted in environ and os.path.basename(command).startswith(b"cargo") and state != "Z":
            found.add(int(entry))
    return found


def checks(client: LanguageClient) -> list[list]:
    """The progress reports of every fix check so far, oldest first."""
    return [v for v in client.progress_reports.values() if v and getattr(v[0], "title", "") == CHECK]


async def test_a_new_edit_cancels_the_running_check_and_its_result_is_never_published(client: LanguageClient):
    await wait_for_progress(client, CHECK)  # the check at startup, of the clean crate
    path = client.root / "src" / "store.rs"
    pristine = path.read_text()
    first, second = pristine.replace(*FIRST), pristine.replace(*SECOND)
    assert first != pristine and second != pristine
    uri = from_fs_path(str(path))
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="rust", version=1, text=pristine)))

    with open(client.target / "debug" / ".cargo-lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        save_document(client, path, first, version=2)
        await wait_until(lambda: cargo_pids(client.target))
        stale = cargo_pids(client.target)  # waiting for the lock: the first check cannot end by itself
        save_document(client, path, second, version=3)
        # Killed, and the first edit's check over, while the lock still holds any cargo back.
        await wait_until(lambda: not stale & cargo_pids(client.target), timeout=30)
        await wait_until(lambda: isinstance(checks(client)[1][-1], types.WorkDoneProgressEnd), timeout=30)
        fcntl.flock(lock, fcntl.LOCK_UN)

    superseded = checks(client)[1]
    assert superseded[-1].message == "cancelled"  # a superseded check is no failure

    await wait_until(lambda: client.diagnostics.get(uri))
    fresh = checks(client)[2]
    await wait_until(lambda: isinstance(fresh[-1], types.WorkDoneProgressEnd), timeout=60)
    assert fresh[-1].message == "done"
    [hint] = client.diagnostics[uri]
    assert hint.source == "rusta" and hint.code == "E0596"
    assert second.split("\n")[hint.range.start.line][hint.range.start.character:].startswith("ledger")
    published = [d for u, ds in client.diagnostics.history if u == uri for d in ds]
    assert {d.code for d in published} == {"E0596"}  # the E0308 of the first text never reached the client

    whole = types.Range(start=types.Position(line=0, character=0),
                        end=types.Position(line=len(second.split("\n")), character=0))
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=whole,
        context=types.CodeActionContext(diagnostics=[hint])))
    assert actions and [a.title.split(" (")[0] for a in actions] == ["Rusta: add `mut`"]


async def test_a_change_that_arrives_after_its_save_gets_the_saved_text_checked(client: LanguageClient):
    """Neovim debounces didChange and does not flush it before didSave: the save's check starts
    on the old text, the change cancels it, and the saved text must still be checked. The user's
    own cargo (its build lock held by the test) keeps the save's check waiting its turn."""
    statuses: list[dict] = []
    client.feature("rusta/status")(lambda params: statuses.append(params))
    await wait_for_progress(client, CHECK)
    path = client.root / "src" / "store.rs"
    pristine = path.read_text()
    broken = pristine.replace(*SECOND)
    uri = from_fs_path(str(path))
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="rust", version=1, text=pristine)))

    (client.root / "target" / "debug").mkdir(parents=True)
    with open(client.root / "target" / "debug" / ".cargo-lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path.write_text(broken)
        client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
        await wait_until(lambda: any(getattr(s, "checking", None) == "cargo" for s in statuses), timeout=30)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=broken)]))
        await asyncio.sleep(1)  # the change reaches the server while its check still waits
        fcntl.flock(lock, fcntl.LOCK_UN)

    await wait_until(lambda: client.diagnostics.get(uri), timeout=120)
    [hint] = client.diagnostics[uri]
    assert hint.source == "rusta" and hint.code == "E0596"
