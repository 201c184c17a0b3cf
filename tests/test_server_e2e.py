"""End to end: the real server over stdio, a real client (pytest-lsp), good and bad requests."""

import asyncio
import shutil
import subprocess

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import (EXAMPLES, SERVER_COMMAND, frame, init_params, insert_text, open_document, plain,
                         read_message, send_raw_request, wait_for_progress)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws") / "ledger"
    shutil.copytree(EXAMPLES / "ledger", root, ignore=shutil.ignore_patterns("target"))
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, workspace, tmp_path):
    options = {"memory": {"uri": str(tmp_path / "memory")},  # two bad options on purpose
               "heartbeat": {"enabled": False, "cpuSecondsPerHour": -5}, "abstain": {"targetPrecision": 2}}
    lsp_client.init_result = await lsp_client.initialize_session(init_params(workspace, options))
    await wait_for_progress(lsp_client, "Rusta: symbols")
    yield
    await lsp_client.shutdown_session()


async def test_bad_option_is_reported_and_default_used(client: LanguageClient):
    assert any("abstain.targetPrecision" in m.message for m in client.messages)
    assert any("heartbeat.cpuSecondsPerHour" in m.message for m in client.messages)
    # The heartbeat runs on the default budget (with -5 it would be over budget and never drill).
    status = {}
    for _ in range(100):  # until the heartbeat has started (the command may beat it)
        status = plain(await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="rusta.drillNow", arguments=[])))
        if "budgetPerHourSeconds" in status:
            break
        await asyncio.sleep(0.1)
    assert status["budgetPerHourSeconds"] == 300 and status["budgetLeftSeconds"] > 0, status


async def test_document_symbols_are_hierarchical(client: LanguageClient, workspace):
    uri = open_document(client, workspace / "src" / "store.rs")
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    top = {s.name: s for s in symbols}
    assert {"LedgerError", "Ledger", "impl Ledger", "tests"} <= set(top)
    methods = [c.name for c in top["impl Ledger"].children]
    assert methods == ["new", "deposit", "balance", "apply", "history"]
    apply = top["impl Ledger"].children[3]
    source = (workspace / "src" / "store.rs").read_text().splitlines()
    line = source[apply.selection_range.start.line]
    assert line[apply.selection_range.start.character:].startswith("apply(")
    assert apply.kind == types.SymbolKind.Method


async def test_workspace_symbols_are_fuzzy_and_located(client: LanguageClient, workspace):
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Ledger::apply"))
    assert result and result[0].name == "apply"
    assert result[0].location.uri.endswith("src/store.rs")
    assert result[0].container_name == "crate::store::<impl Ledger>"
    fuzzy = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="ldgerr"))
    assert [s.name for s in fuzzy] == ["LedgerError"]


async def test_edits_update_symbols_incrementally(client: LanguageClient, workspace):
    path = workspace / "src" / "entry.rs"
    uri = open_document(client, path)
    text = path.read_text()
    end_line = len(text.splitlines())
    insert_text(client, uri, end_line, "\n/// Größe of the 𝄞 account.\npub fn größe_total() -> i64 { 0 }\n")
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    added = next(s for s in symbols if s.name == "größe_total")
    assert added.selection_range.start == types.Position(line=end_line + 2, character=7)
    assert added.selection_range.end.character == 7 + len("größe_total")
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="größe_total"))
    assert [s.name for s in found] == ["größe_total"]


async def test_invalid_params_are_answered(client: LanguageClient):
    with pytest.raises(JsonRpcException) as err:
        await send_raw_request(client, types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, {"textDocument": 42})
    assert err.value.code == types.ErrorCodes.InvalidParams
    # ... and the server keeps serving.
    assert await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Entry"))


async def test_unknown_method_is_answered(client: LanguageClient):
    with pytest.raises(JsonRpcException) as err:
        await send_raw_request(client, "rusta/noSuchThing", {})
    assert err.value.code == types.ErrorCodes.MethodNotFound


async def test_positions_past_the_end_are_clamped(client: LanguageClient, workspace):
    path = workspace / "src" / "lib.rs"
    uri = open_document(client, path)
    # An edit whose range lies past the end of the file appends instead of crashing the server.
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=900, character=80),
                              end=types.Position(line=901, character=3)),
            text="\npub fn appended() {}\n")]))
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert "appended" in [s.name for s in symbols]
    if client.init_result.capabilities.hover_provider:
        # Whatever hover says about a position past the end, it answers.
        await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=999, character=999)))


async def test_huge_and_binary_documents_are_answered(client: LanguageClient, workspace):
    huge_text = "".join(f"pub fn f{i}(x: u32) -> u32 {{ x + {i} }}\n" for i in range(30_000))
    huge = open_document(client, workspace / "src" / "huge.rs", huge_text)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=huge)))
    assert len(symbols) == 30_000
    binary = open_document(client, workspace / "src" / "blob.rs", "\x00\x01\x02 not rust \x00")
    result = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=binary)))
    assert result is None
    assert await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Ledger"))


async def test_commands_accept_any_number_of_arguments(client: LanguageClient, workspace):
    """Editors send commands with no arguments, none at all, or a folder: each gets an answer."""
    commands = client.init_result.capabilities.execute_command_provider.commands
    assert {"rusta.feedback", "rusta.drillNow", "rusta.showReport"} <= set(commands)
    for arguments in (None, [], [workspace.as_uri()]):
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="rusta.drillNow", arguments=arguments))
        assert isinstance(result, dict) and "state" in result


@pytest.mark.parametrize(("shut_down", "code"), [(True, 0), (False, 1)])
def test_the_exit_code_says_whether_shutdown_came_first(workspace, tmp_path, shut_down, code):
    server = subprocess.Popen(SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        options = {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False}}
        server.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "capabilities": {}, "rootUri": workspace.as_uri(), "initializationOptions": options}}))
        server.stdin.flush()
        assert read_message(server.stdout)["id"] == 1
        messages = [{"jsonrpc": "2.0", "method": "initialized", "params": {}}]
        if shut_down:
            messages.append({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        server.stdin.write(b"".join(map(frame, messages)))
        server.stdin.flush()
        if shut_down:
            while read_message(server.stdout).get("id") != 2:
                pass  # notifications and requests of the server's own come first
        server.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        server.stdin.flush()
        assert server.wait(timeout=120) == code
    finally:
        server.kill()
