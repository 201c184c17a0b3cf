"""Verified fixes through a real client: save a broken file, get the hint diagnostic (at once,
after the check) and a code action that says what was checked (the related tests, once they ran)
with its confidence, apply it, and the crate compiles."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from patches_support import SHARED_TARGET
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import (
    EXAMPLES, SERVER_COMMAND, PublishLog, client_capabilities, init_params, wait_for_progress, wait_until,
)
from rusta_lsp.config import read_config
from rusta_lsp.locks import lock_held
from rusta_lsp.patches.confidence import FEATURES
from rusta_lsp.patches.shadow import shadow_base

pytestmark = pytest.mark.slow
BROKEN = ('ledger.deposit("Café Größe", 1_000);', 'ledger.deposit("Café Größe".to_string(), 1_000);')


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    root = tmp_path / "ledger"
    shutil.copytree(EXAMPLES / "ledger", root, ignore=shutil.ignore_patterns("target"), copy_function=shutil.copy)
    # The flow is under test here, not the prior: a lower target keeps it independent of the weights.
    options = {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False},
               "cargo": {"targetDir": str(SHARED_TARGET)}, "abstain": {"targetPrecision": 0.8}}
    params = init_params(root, options)
    caps = client_capabilities()
    caps.text_document.code_action = types.CodeActionClientCapabilities(
        resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]))
    params.capabilities = caps
    lsp_client.root = root
    lsp_client.options = options
    lsp_client.slots = shadow_base(root, read_config(options)[0])
    lsp_client.diagnostics = PublishLog()
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")

    def offset(pos: types.Position) -> int:
        # UTF-16 columns: "Café Größe" has no astral characters, so code units are characters.
        return sum(len(line) + 1 for line in lines[: pos.line]) + pos.character

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def save_and_wait_for_hints(client: LanguageClient, path: Path, text: str) -> str:
    """Write `text` to `path`, open and save it in the client, wait for Rusta's hints; its URI."""
    path.write_text(text)
    uri = from_fs_path(str(path))
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="rust", version=1, text=text)))
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await wait_until(lambda: client.diagnostics.get(uri))
    return uri


async def test_save_broken_file_get_verified_action_apply_it_and_compile(client: LanguageClient):
    path = client.root / "src" / "store.rs"
    text = path.read_text().replace(*BROKEN)
    uri = await save_and_wait_for_hints(client, path, text)
    # The hint comes with the check; the related tests (the fixed line sits in a test) run after.
    await wait_for_progress(client, "Rusta: running related tests")
    hints = [ds for u, ds in client.diagnostics.history if u == uri and ds]
    assert re.fullmatch(r"verified fix: .+ \(compiles, tests not run, \d{2,3}%\)", hints[0][0].message)
    [hint] = client.diagnostics[uri]
    assert hint.source == "rusta" and hint.severity == types.DiagnosticSeverity.Hint and hint.code == "E0308"
    assert re.fullmatch(r"verified fix: .+ \(compiles, 1 related test passes, \d{2,3}%\)", hint.message)
    line = text.split("\n")[hint.range.start.line]
    assert line[hint.range.start.character :].startswith('"Café Größe".to_string()')

    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=hint.range,
        context=types.CodeActionContext(diagnostics=[hint])))
    assert actions and actions[0].is_preferred
    assert re.fullmatch(r"Rusta: .+ \(compiles, 1 related test passes, \d{2,3}%\)", actions[0].title)
    assert actions[0].edit is None  # the client resolves edits
    resolved = await client.code_action_resolve_async(actions[0])
    fixed = apply_text_edits(text, resolved.edit.changes[uri])
    path.write_text(fixed)
    assert resolved.command.command == "rusta.feedback"
    [feedback] = resolved.command.arguments
    feedback = feedback._asdict() if hasattr(feedback, "_asdict") else feedback
    assert len(feedback["features"]) == len(FEATURES)  # what the model saw, for the heartbeat to learn
    assert feedback["uri"] == uri  # the workspace the command goes to, in a window with several
    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=resolved.command.command, arguments=resolved.command.arguments))
    assert "recorded" in (answer._asdict() if hasattr(answer, "_asdict") else answer)

    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)]))
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await wait_until(lambda: len(client.diagnostics.get(uri, [hint])) == 0)  # the hint is cleared
    check = subprocess.run(["cargo", "check", "--all-targets", "--offline"], cwd=client.root, capture_output=True,
                           env={**__import__("os").environ, "CARGO_TARGET_DIR": str(SHARED_TARGET)})
    assert check.returncode == 0, check.stderr.decode()[-2000:]


def slot_held(folder: Path, slot: int) -> bool:
    """Whether an engine (in the server) holds shadow slot `slot`."""
    return lock_held(folder / f"slot-{slot}.lock")


async def test_a_settings_change_rebuilds_the_engine_in_the_slots_the_old_one_gave_back(client: LanguageClient):
    # The engine used to be rebuilt on every change without closing the old one, both on slot 0.
    check = "Rusta: checking fixes"
    await wait_for_progress(client, check)
    assert slot_held(client.slots, 0) and not slot_held(client.slots, 2)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"rusta": {**client.options, "abstain": {"targetPrecision": 0.85}}}))
    await wait_until(lambda: sum(v[0].title == check for v in client.progress_reports.values() if v) == 2)
    await wait_for_progress(client, check)
    assert slot_held(client.slots, 0) and slot_held(client.slots, 1)
    assert not slot_held(client.slots, 2) and not slot_held(client.slots, 3)


async def test_code_in_progress_gets_a_hint_with_the_reason_and_no_action(client: LanguageClient):
    # Before, a body left at a TODO comment had its parameter offered as the body, at 97%.
    path = client.root / "src" / "store.rs"
    text = path.read_text().replace("    /// An empty ledger.", "    /// The fee an amount costs.\n"
                                    "    pub fn fee(&self, amount: i64) -> i64 {\n        // TODO: the fee schedule\n"
                                    "    }\n\n    /// An empty ledger.", 1)
    uri = await save_and_wait_for_hints(client, path, text)
    [hint] = client.diagnostics[uri]
    assert hint.severity == types.DiagnosticSeverity.Hint and hint.code == "E0308"
    assert hint.message == "no fix offered: this function is not written yet (`fee`: its body is empty)"
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=hint.range,
        context=types.CodeActionContext(diagnostics=[hint])))
    assert not actions
