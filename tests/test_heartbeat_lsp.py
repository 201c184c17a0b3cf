"""The heartbeat through a real client: status notifications, $/progress, commands, pre-emption."""

import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import EXAMPLES, SERVER_COMMAND, init_params, open_document, wait_until

pytestmark = pytest.mark.slow


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    root = tmp_path / "ledger"
    shutil.copytree(EXAMPLES / "ledger", root, ignore=shutil.ignore_patterns("target"))
    lsp_client.heartbeats = []
    lsp_client.feature("rusta/heartbeat")(lambda params: lsp_client.heartbeats.append(plain(params)))
    options = {"memory": {"uri": str(tmp_path / "memory")},
               "heartbeat": {"idleSeconds": 0, "cpuSecondsPerHour": 8},
               "cargo": {"checkArgs": ["check", "--lib"]}}
    lsp_client.root = root
    await lsp_client.initialize_session(init_params(root, options))
    yield
    await lsp_client.shutdown_session()


def plain(value):
    """pygls hands untyped params over as namedtuples: turn them back into JSON-like dicts."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


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


async def test_commands(client: LanguageClient):
    folder = [from_fs_path(str(client.root))]  # what the editors send along
    await wait_until(lambda: client.heartbeats)
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="rusta.drillNow", arguments=folder))
    assert field(status, "state") in ("idle", "running", "waiting", "over-budget")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="rusta.showReport", arguments=folder))
    path = Path(field(result, "path"))
    assert path.is_file() and "Rusta heartbeat report" in path.read_text()
