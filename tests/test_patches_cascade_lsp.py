"""Cascades and duplicates through a real client.

A lost `use` and its follow-on type errors: one hint and one code action for the root; each
follow-on gets a hint that names its root and no action, also when the root's answer comes from
the cache (another file edited), where the follow-on's own `&` used to be offered. An error in
library code, reported once for the library and again for its test harness (in other words):
one hint and one code action.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from patches_support import SHARED_TARGET
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import EXAMPLES, SERVER_COMMAND, init_params, open_document, wait_until

pytestmark = pytest.mark.slow
ROOT_LINE = 16  # 0-based: `lengths(text).width()` in broken-cascade's lib.rs


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    lsp_client.tmp = tmp_path
    yield
    await lsp_client.shutdown_session()


async def start(client: LanguageClient, example: str) -> Path:
    root = client.tmp / example
    shutil.copytree(EXAMPLES / example, root, ignore=shutil.ignore_patterns("target"), copy_function=shutil.copy)
    options = {"memory": {"uri": str(client.tmp / "memory")}, "heartbeat": {"enabled": False},
               "cargo": {"targetDir": str(SHARED_TARGET)}, "abstain": {"targetPrecision": 0.8}}
    await client.initialize_session(init_params(root, options))
    return root


def save(client: LanguageClient, uri: str) -> None:
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))


async def actions_at(client: LanguageClient, uri: str, hint: types.Diagnostic) -> list:
    answer = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=hint.range,
        context=types.CodeActionContext(diagnostics=[hint])))
    return answer or []


async def test_a_lost_use_gets_one_action_and_its_follow_ons_name_it(client: LanguageClient):
    root = await start(client, "broken-cascade")
    lib_uri = open_document(client, root / "src/lib.rs")
    pick = root / "src/pick.rs"
    pick_uri = open_document(client, pick)
    save(client, lib_uri)
    await wait_until(lambda: len(client.diagnostics.get(lib_uri, [])) == 2 and client.diagnostics.get(pick_uri))
    by_line = {h.range.start.line: h for h in client.diagnostics[lib_uri]}
    root_hint, follow_on = by_line[ROOT_LINE], by_line[ROOT_LINE + 5]
    assert root_hint.message.startswith("verified fix: add `use crate::span::Span;`")
    assert follow_on.severity == types.DiagnosticSeverity.Hint and follow_on.code == "E0308"
    assert follow_on.message == "follows from the error at src/lib.rs:17"
    [related] = follow_on.related_information
    assert related.location.uri == lib_uri and related.location.range == root_hint.range
    [action] = await actions_at(client, lib_uri, root_hint)
    assert action.title.startswith("Rusta: add `use crate::span::Span;`")
    assert await actions_at(client, lib_uri, follow_on) == []

    # The submodule edited and saved, lib.rs unchanged: the root is answered from the cache, and
    # the follow-on's own `&w.len()` (which compiles while the `use` is missing) is not offered.
    text = pick.read_text().replace("/// The words", "/// Keeps the order of `words`.\n/// The words")
    pick.write_text(text)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=pick_uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    save(client, pick_uri)
    await wait_until(lambda: any(h.range.start.line == 8 for h in client.diagnostics.get(pick_uri, [])))
    [hint] = client.diagnostics[pick_uri]
    assert hint.message == "follows from the error at src/lib.rs:17"
    assert await actions_at(client, pick_uri, hint) == []


async def test_one_error_of_the_library_and_its_test_harness_is_one_hint_and_one_action(client: LanguageClient):
    # The library says `&mut store::Ledger`, its test harness (`use super::*`) `&mut Ledger`.
    root = await start(client, "ledger")
    store = root / "src/store.rs"
    text = store.read_text().replace("self.applied.push(entry);", "self.applide.push(entry);")
    store.write_text(text)
    uri = open_document(client, store)
    save(client, uri)
    await wait_until(lambda: client.diagnostics.get(uri))
    [hint] = client.diagnostics[uri]
    assert hint.code == "E0609" and hint.message.startswith("verified fix: replace `applide` with `applied`")
    [action] = await actions_at(client, uri, hint)
    assert action.title.startswith("Rusta: replace `applide` with `applied`")
