"""Code never seen building, through a real client: the hint says why no fix is offered; once the
user's own text built in a check, the same slip gets its verified fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from patches_support import LOST_USE, SHARED_TARGET, copy_example
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_support import SERVER_COMMAND, PublishLog, client_capabilities, init_params, save_document, wait_until

pytestmark = pytest.mark.slow


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    # examples/broken-cascade as code that never built: no commit, no build, no check passed.
    root = copy_example("broken-cascade", tmp_path / "ws")
    options = {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False},
               "cargo": {"targetDir": str(SHARED_TARGET)}}  # the default target precision, 0.95
    lsp_client.root = root
    lsp_client.diagnostics = PublishLog()
    await lsp_client.initialize_session(init_params(root, options))
    yield
    await lsp_client.shutdown_session()


async def test_never_built_code_says_why_and_gets_the_fix_once_it_built(client: LanguageClient):
    path = client.root / "src" / "lib.rs"
    uri, broken = from_fs_path(str(path)), path.read_text()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="rust", version=1, text=broken)))
    # The check at start: the lost `use` abstains, and the hint says why in words.
    await wait_until(lambda: client.diagnostics.get(uri))
    [hint] = [d for d in client.diagnostics[uri] if d.code == "E0599"]
    assert hint.message.startswith("no fix offered: this code has never built here; Rusta only offers near-certain "
                                   f"fixes (95% or more) until it has seen it build (best: add `{LOST_USE}`")
    # The user writes the `use`: the check passes. Losing it again, the fix is offered.
    save_document(client, path, broken.replace("pub mod span;\n", f"pub mod span;\n\n{LOST_USE}\n"), 2)
    await wait_until(lambda: not client.diagnostics.get(uri, [hint]))  # the hints are cleared
    save_document(client, path, broken, 3)
    await wait_until(lambda: any(d.message.startswith("verified fix:") for d in client.diagnostics.get(uri, [])))
    [hint] = [d for d in client.diagnostics[uri] if d.code == "E0599"]
    assert hint.message.startswith(f"verified fix: add `{LOST_USE}`")
