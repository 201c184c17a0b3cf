"""Several Cargo workspaces in one window, through a real client: two folders, each with its own
memory; hovers, `rusta/explain` and verified fixes answered by the workspace a file belongs to;
workspace symbols from both; a folder removed and one added while the server runs, that one
holding a workspace with an excluded member and a nested workspace, each a workspace of its own
as cargo sees them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from explain_support import plain
from lsp_support import EXAMPLES, SERVER_COMMAND, PublishLog, init_params, open_document, wait_until
from patches_support import SHARED_TARGET
from rusta_lsp.config import root_memory_uri
from rusta_lsp.memory.store import Memory

pytestmark = pytest.mark.slow


def copy(name: str, dest: Path) -> Path:
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("target"), copy_function=shutil.copy)
    return dest


def package(folder: Path, name: str, source: str, manifest_extra: str = "") -> None:
    (folder / "src").mkdir(parents=True)
    (folder / "Cargo.toml").write_text(f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n'
                                       f"{manifest_extra}")
    (folder / "src" / "lib.rs").write_text(source)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    ledger, shop = copy("ledger", tmp_path / "ledger"), copy("broken-types", tmp_path / "shop")
    params = init_params(ledger, {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False},
                                  "cargo": {"targetDir": str(SHARED_TARGET)}})
    params.workspace_folders.append(types.WorkspaceFolder(uri=from_fs_path(str(shop)), name="shop"))
    lsp_client.diagnostics = PublishLog()
    lsp_client.folders = (ledger, shop)
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


async def hover(client: LanguageClient, path: Path, line_text: str, word: str) -> str:
    text = path.read_text()
    line = next(n for n, t in enumerate(text.splitlines()) if line_text in t)
    uri = open_document(client, path, text)
    answer = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=text.splitlines()[line].index(word) + 1)))
    assert answer is not None, (path, line_text)
    return answer.contents.value


async def explain(client: LanguageClient, path: Path, line_text: str, word: str) -> dict:
    text = path.read_text()
    line = next(n for n, t in enumerate(text.splitlines()) if line_text in t)
    open_document(client, path, text)
    return plain(await client.protocol.send_request_async("rusta/explain", {
        "textDocument": {"uri": from_fs_path(str(path))},
        "position": {"line": line, "character": text.splitlines()[line].index(word) + 1}}))


def memory_files(uri: str, root: Path) -> set[str]:
    if not Path(uri, "files.lance").exists():
        return set()
    with Memory.open(uri, root, read_only=True) as memory:
        return set(memory.file_hashes())


def names(uri: str, root: Path, *wanted: str) -> set[str]:
    """Which of these item names the memory holds."""
    with Memory.open(uri, root, read_only=True) as memory:
        return {name for name in wanted if memory.lookup_name(name)}


async def test_two_folders_two_memories_each_file_answered_by_its_own(client: LanguageClient, tmp_path):
    ledger, shop = client.folders
    # Each folder's memory holds its own files: the first keeps memory.uri, the second a folder in it.
    ledger_memory, shop_memory = str(tmp_path / "memory"), root_memory_uri(str(tmp_path / "memory"), shop)
    await wait_until(lambda: {"src/store.rs", "src/entry.rs"} <= memory_files(ledger_memory, ledger), 300)
    await wait_until(lambda: "src/lib.rs" in memory_files(shop_memory, shop), 300)
    assert names(ledger_memory, ledger, "Ledger", "shout") == {"Ledger"}
    assert names(shop_memory, shop, "Ledger", "shout") == {"shout"}

    # Hovers: a definition link into the file's own folder.
    ledger_hover = await hover(client, ledger / "src/store.rs", "Ledger::default()", "Ledger")
    assert from_fs_path(str(ledger / "src/store.rs")) in ledger_hover
    shop_hover = await hover(client, shop / "src/lib.rs", "shout(name)", "shout")
    assert from_fs_path(str(shop / "src/lib.rs")) in shop_hover and str(ledger) not in shop_hover
    # rusta/explain: paths relative to the file's own workspace.
    explained = await explain(client, shop / "src/lib.rs", "shout(name)", "shout")
    assert not explained["abstained"]
    assert {a["path"] for c in explained["claims"] for a in c["anchors"]} == {"src/lib.rs"}

    # Verified fixes: the broken folder's hints, on its own file; none in the other.
    shop_uri = from_fs_path(str(shop / "src/lib.rs"))
    await wait_until(lambda: client.diagnostics.get(shop_uri), 600)
    assert all(d.source == "rusta" for d in client.diagnostics[shop_uri])
    assert not any(uri.startswith(from_fs_path(str(ledger))) and diagnostics
                   for uri, diagnostics in client.diagnostics.items())

    # Commands run in the workspace of the file the editor sends (VS Code and Neovim send its
    # URI as the first argument), in the first workspace without one.
    async def report(*arguments: str) -> Path:
        answer = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="rusta.showReport", arguments=list(arguments)))
        return Path(plain(answer)["path"])
    assert await report(shop_uri) == Path(shop_memory, "report.html")
    assert await report(from_fs_path(str(ledger / "src/store.rs"))) == Path(ledger_memory, "report.html")
    assert await report() == Path(ledger_memory, "report.html")

    # Workspace symbols come from both.
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Ledger"))
    assert any(s.location.uri.startswith(from_fs_path(str(ledger))) for s in found)
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="shout"))
    assert [s.location.uri for s in found] == [shop_uri]


async def test_folders_removed_and_added_while_serving(client: LanguageClient, tmp_path):
    ledger, shop = client.folders
    shop_memory = root_memory_uri(str(tmp_path / "memory"), shop)
    await wait_until(lambda: Memory.writer_busy(shop_memory), 300)  # the server is its writer
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(
            added=[], removed=[types.WorkspaceFolder(uri=from_fs_path(str(shop)), name="shop")])))
    await wait_until(lambda: not Memory.writer_busy(shop_memory), 60)  # closed: its memory is free

    # A folder with a workspace, a member excluded from it and a nested workspace.
    mono = tmp_path / "mono"
    mono.mkdir()
    (mono / "Cargo.toml").write_text('[workspace]\nmembers = ["crates/*"]\nexclude = ["crates/tool"]\n')
    package(mono / "crates" / "core", "core", "/// The core's one function.\npub fn core_fn() -> u32 {\n    1\n}\n")
    package(mono / "crates" / "tool", "tool", "/// The tool's own function.\npub fn tool_fn() -> u32 {\n    2\n}\n\n"
                                              "pub fn run() -> u32 {\n    tool_fn()\n}\n")
    package(mono / "nested", "nested", "/// Nested.\npub fn nested_fn() -> u32 {\n    3\n}\n\n"
                                       "pub fn go() -> u32 {\n    nested_fn()\n}\n", '[workspace]\n')
    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        event=types.WorkspaceFoldersChangeEvent(
            added=[types.WorkspaceFolder(uri=from_fs_path(str(mono)), name="mono")], removed=[])))
    tool = mono / "crates" / "tool"
    await wait_until(lambda: Memory.writer_busy(root_memory_uri(str(tmp_path / "memory"), tool)), 300)
    explained = await explain(client, tool / "src/lib.rs", "    tool_fn()", "tool_fn")
    # Answered by the excluded member's own workspace: its paths are relative to it.
    assert not explained["abstained"]
    assert {a["path"] for c in explained["claims"] for a in c["anchors"]} == {"src/lib.rs"}
    explained = await explain(client, mono / "nested" / "src/lib.rs", "    nested_fn()", "nested_fn")
    assert {a["path"] for c in explained["claims"] for a in c["anchors"]} == {"src/lib.rs"}
    # And the workspace around them indexes its members only.
    await wait_until(lambda: memory_files(root_memory_uri(str(tmp_path / "memory"), mono), mono)
                     == {"crates/core/src/lib.rs"}, 300)
    # The ledger folder serves on.
    assert from_fs_path(str(ledger / "src/store.rs")) in await hover(
        client, ledger / "src/store.rs", "Ledger::default()", "Ledger")
