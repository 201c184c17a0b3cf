"""The memory in the real server over stdio: background ingest with `$/progress`, buffers that win
over the disk, the watcher after the ingest, and a client cancelling a cold ingest."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import SERVER_COMMAND, init_params, open_document, wait_for_progress
from memory_support import write_ledger_crate
from model_support import tiny_encoder
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory

REGEX = Path("/usr/share/cargo/registry/regex-1.7.1")
CLI = [sys.executable, "-m", "rusta_lsp.cli"]
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="function")]


def options(tmp: Path) -> dict:
    # A tiny random model keeps the vector stage real but quick.
    return {"memory": {"uri": str(tmp / "memory")}, "heartbeat": {"enabled": False},
            "model": {"embedding": str(tiny_encoder(tmp / "tiny"))}}


async def eventually(check, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


def memory_progress(client) -> list:
    return [v for v in client.progress_reports.values() if v and v[0].title == "Rusta: memory"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_background_ingest_buffers_and_watcher(client: LanguageClient, tmp_path):
    root = write_ledger_crate(tmp_path / "ledger")
    await client.initialize_session(init_params(root, options(tmp_path)))
    await wait_for_progress(client, "Rusta: memory")
    [reports] = memory_progress(client)
    assert isinstance(reports[-1], types.WorkDoneProgressEnd) and reports[-1].message == "done"
    percents = [r.percentage for r in reports[1:-1] if r.percentage is not None]
    assert percents == sorted(percents) and percents[-1] == 100

    with Memory.open(str(tmp_path / "memory"), root, read_only=True) as memory:
        assert memory.lookup_name("apply")[0].qualified == "crate::store::Ledger::apply"
        # Vectors fill in behind, once the user pauses.
        assert await eventually(lambda: memory.stats()["embedded"] > 5, timeout=40)
        # The rows land before the job's `$/progress` end reaches the client.
        await wait_for_progress(client, "Rusta: memory vectors", timeout=40)
        vectors = [v for v in client.progress_reports.values() if v and v[0].title == "Rusta: memory vectors"]
        assert vectors and vectors[0][-1].message == "done"
        lib = root / "src/lib.rs"
        disk = lib.read_text()
        # A buffer opened with unsaved text is indexed as it opens (not after a typing pause).
        uri = open_document(client, lib, disk + "\npub fn opened() {}\n")
        assert await eventually(lambda: memory.lookup_name("opened"))
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=disk + "\npub fn typed() {}\n")]))
        assert await eventually(lambda: memory.lookup_name("typed"))
        assert lib.read_text() == disk
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        assert await eventually(lambda: not memory.lookup_name("typed"))
        (root / "src/store.rs").write_text((root / "src/store.rs").read_text() + "\npub fn on_disk() {}\n")
        assert await eventually(lambda: memory.lookup_name("on_disk"))


@pytest.mark.skipif(not REGEX.is_dir(), reason="librust-regex-dev is not installed")
async def test_client_cancels_a_cold_ingest(client: LanguageClient, tmp_path):
    root = tmp_path / "regex"
    shutil.copytree(REGEX, root)
    await client.initialize_session(init_params(root, options(tmp_path)))

    def first_report():
        progress = memory_progress(client)
        return progress and len(progress[0]) > 1 and progress[0]

    assert await eventually(first_report)
    token = next(t for t, v in client.progress_reports.items() if v and v[0].title == "Rusta: memory")
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    await wait_for_progress(client, "Rusta: memory")
    assert memory_progress(client)[0][-1].message == "cancelled"
    with Memory.open(str(tmp_path / "memory"), root, read_only=True) as memory:
        assert memory.stats()["files"] < 60  # regex has 68 indexed files


async def test_commands_beside_a_server_in_its_start_up_window(client: LanguageClient, tmp_path):
    """A command that writes the memory as the server starts (a `rusta index` begun a moment
    earlier): the server waits for it instead of writing beside it, then becomes the memory's one
    writer, so the commands after it read only or refuse."""
    root = write_ledger_crate(tmp_path / "ledger")
    uri = str(tmp_path / "memory")
    command = Memory.open_for_cli(uri, root)
    assert not command.read_only  # no server yet: the command is the writer
    await client.initialize_session(init_params(root, options(tmp_path)))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: Ingestor(command, root).run(embed=False))
    assert not memory_progress(client) or not isinstance(memory_progress(client)[0][-1], types.WorkDoneProgressEnd)
    command.close()

    await wait_for_progress(client, "Rusta: memory")
    assert memory_progress(client)[0][-1].message == "done"
    assert Memory.writer_busy(uri)  # the server holds the writer lock now
    index = await asyncio.create_subprocess_exec(*CLI, "index", "--json", "--no-embed", "--memory", uri, str(root),
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await index.communicate()
    assert index.returncode == 2 and b"a running Rusta server keeps this memory current" in err
    search = await asyncio.create_subprocess_exec(*CLI, "search", "--json", "--mode", "fts", "--memory", uri,
                                                  "deposit", str(root),
                                                  stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await search.communicate()
    assert search.returncode == 0 and json.loads(out) and b"reading it only" in err
