"""The heartbeat through a real client: status notifications, $/progress, commands, pre-emption."""

import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import EXAMPLES, SERVER_COMMAND, init_params, open_document, plain, wait_until

pytestmark = pytest.mark.slow


async def start(client: LanguageClient, tmp_path: Path, heartbeat: dict) -> None:
    root = tmp_path / "ledger"
    shutil.copytree(EXAMPLES / "ledger", root, ignore=shutil.ignore_patterns("target"))
    client.heartbeats = []
    client.feature("rusta/heartbeat")(lambda params: client.heartbeats.append(plain(params)))
    options = {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": heartbeat,
               "cargo": {"checkArgs": ["check", "--lib"]}}
    client.root = root
    await client.initialize_session(init_params(root, options))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    await start(lsp_client, tmp_path, {"idleSeconds": 0, "cpuSecondsPerHour": 8})
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def resting_client(lsp_client: LanguageClient, tmp_path: Path):
    """A heartbeat that never works on its own: whatever runs, a command asked for."""
    await start(lsp_client, tmp_path, {"enabled": False, "cpuSecondsPerHour": 8})
    yield
    await lsp_client.shutdown_session()


def field(status, name):
    return plain(status)[name]


async def test_jobs_report_status_progress_and_yield_to_edits(client: LanguageClient):
    # Idle from the start: the first job (reflection) runs and is announced.
    await wait_until(lambda: any(field(s, "state") == "running" for s in client.heartbeats))
    def reflected(status) -> bool:
        result = (field(status, "results") or {}).get("reflect")
        return result is not None and "error" not in result  # errors while the memory opens don't count

    await wait_until(lambda: any(reflected(s) for s in client.heartbeats), timeout=180)
    titles = [v[0].title for v in client.progress_reports.values() if v]
    assert any(t.startswith("Rusta heartbeat") for t in titles)
    done = [v for v in client.progress_reports.values() if v and v[0].title.startswith("Rusta heartbeat")]
    await wait_until(lambda: all(isinstance(v[-1], types.WorkDoneProgressEnd) for v in done))

    # The drill job runs next; an edit stops it, and the heartbeat waits again.
    await wait_until(lambda: field(client.heartbeats[-1], "job") == "drill" or
                     "drill" in (field(client.heartbeats[-1], "results") or {}))
    uri = open_document(client, client.root / "src" / "store.rs")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="// edited\n")]))
    await wait_until(lambda: field(client.heartbeats[-1], "job") is None, timeout=5)
    budget = field(client.heartbeats[-1], "budgetLeftSeconds")
    assert 0 <= budget <= 8


async def test_commands(resting_client: LanguageClient):
    client = resting_client
    folder = [from_fs_path(str(client.root))]  # what the editors send along
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="rusta.drillNow", arguments=folder))
    # It answers at once, with the heartbeat's status (or before the heartbeat started) ...
    assert field(status, "state") in ("disabled", "starting")
    # ... and the drill runs, though the heartbeat is off: nothing else does.
    await wait_until(lambda: any(field(s, "job") == "drill" for s in client.heartbeats), timeout=60)
    assert {field(s, "job") for s in client.heartbeats} <= {"drill", None}
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="rusta.showReport", arguments=folder))
    path = Path(field(result, "path"))
    assert path.is_file() and "Rusta heartbeat report" in path.read_text()
