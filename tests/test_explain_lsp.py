"""End to end: hover and `rusta/explain` through the real server over stdio, on Debian's regex
crate and on the shop fixture with the ambiguous cases, in one Cargo workspace."""

import asyncio
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path, to_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from explain_support import index, plain, write_shop
from lsp_support import SERVER_COMMAND, init_params, insert_text, open_document, send_raw_request, wait_for_progress

REGEX = Path("/usr/share/cargo/registry/regex-1.7.1")
# One server for the module: starting it and indexing regex is the slow part.
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(not REGEX.is_dir(), reason="librust-regex-dev is not installed")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    shutil.copytree(REGEX, root / "regex")
    write_shop(root / "shop")
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["regex", "shop"]\n')
    memory_dir = root.parent / "memory"
    index(root, memory_dir).close()
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND), scope="module", loop_scope="module")
async def client(lsp_client: LanguageClient, workspace):
    # Full-text memory (indexed above): no embedding model, so the server's own ingest pass is quick.
    options = {"memory": {"uri": str(workspace.parent / "memory")}, "heartbeat": {"enabled": False},
               "model": {"embedding": str(workspace.parent / "no-embedding-model")}}
    lsp_client.init_result = await lsp_client.initialize_session(init_params(workspace, options))
    yield
    await wait_for_progress(lsp_client, "Rusta: memory")  # shut down after the server's ingest pass
    await lsp_client.shutdown_session()


async def hover(client, path: Path, line0: int, char16: int, attempts: int = 100):
    """Hover, waiting for the explain feature to finish starting (it opens the memory in the background)."""
    uri = from_fs_path(str(path))
    params = types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri),
                               position=types.Position(line=line0, character=char16))
    for _ in range(attempts):
        result = await client.text_document_hover_async(params)
        if result is not None:
            return result
        await asyncio.sleep(0.1)
    return None


def links(markdown: str) -> list[str]:
    import re

    return re.findall(r"\]\((file://[^)]+)\)", markdown)


def check_link(link: str, needle: str) -> None:
    """A hover link opens a real file at a line range holding `needle`."""
    parsed = urlparse(link)
    start, _, end = parsed.fragment.partition("-")
    assert start.startswith("L")
    first, last = int(start[1:]), int(end[1:]) if end else int(start[1:])
    lines = Path(to_fs_path(f"file://{parsed.path}")).read_text().splitlines()
    assert 1 <= first <= last <= len(lines)
    assert needle in "\n".join(lines[first - 1 : last])


async def test_hover_on_regex_call_cites_definition_with_clickable_anchor(client, workspace):
    path = workspace / "regex/src/re_unicode.rs"
    source = path.read_text().splitlines()
    line0 = next(i for i, text in enumerate(source) if text.strip() == "Regex::new(s)")
    char = source[line0].index("new")
    result = await hover(client, path, line0, char)
    assert result is not None
    value = result.contents.value
    assert result.contents.kind == types.MarkupKind.Markdown
    assert value.startswith("**`crate::re_unicode::Regex::new`** · method")
    assert result.range.start == types.Position(line=line0, character=char)
    assert result.range.end == types.Position(line=line0, character=char + 3)
    found = links(value)
    assert found and found[0].startswith(from_fs_path(str(path)) + "#L")
    check_link(found[0], "pub fn new(re: &str)")
    for link in found:  # every anchor opens a real range (the verifier checked its text)
        check_link(link, "")


async def test_rusta_explain_returns_the_json_contract(client, workspace):
    path = workspace / "regex/src/re_unicode.rs"
    source = path.read_text().splitlines()
    line0 = next(i for i, text in enumerate(source) if text.strip() == "Regex::new(s)")
    await hover(client, path, line0, 0)  # wait for the feature
    result = plain(await send_raw_request(client, "rusta/explain", {
        "textDocument": {"uri": from_fs_path(str(path))},
        "position": {"line": line0, "character": source[line0].index("new")},
    }))
    assert list(result) == ["symbol", "abstained", "reason", "claims", "markdown"]
    assert result["symbol"] == "crate::re_unicode::Regex::new" and result["abstained"] is False
    definition = result["claims"][0]["anchors"][0]
    assert definition["path"] == "regex/src/re_unicode.rs" and definition["kind"] == "definition"
    assert source[definition["start_line"] - 1 : definition["end_line"]] and any(
        "pub fn new(re: &str)" in text for text in source[definition["start_line"] - 1 : definition["end_line"]])


async def test_hover_in_an_unsaved_buffer_abstains_on_an_unknown_receiver(client, workspace):
    path = workspace / "shop/src/lib.rs"
    uri = open_document(client, path)
    text = path.read_text()
    end_line = len(text.splitlines())
    insert_text(client, uri, end_line, "pub fn mystery() { let x = make(); x.apply(1); }\n")
    result = await hover(client, path, end_line, len("pub fn mystery() { let x = make(); x.ap"))
    value = result.contents.value
    assert "_Rusta abstains: ambiguous" in value
    assert "Candidate: `store::Ledger::apply`" in value and "Candidate: `item::Item::apply`" in value
    for link in links(value):
        check_link(link, "apply")


async def test_hover_counts_utf16_units_after_an_emoji(client, workspace):
    path = workspace / "shop/src/lib.rs"
    line0 = 37
    line = path.read_text().splitlines()[line0]  # `let café = "ünïcödé 🎉"; let n = café.len() as u32;`
    scalar = line.index("café.len")
    char16 = len(line[:scalar].encode("utf-16-le")) // 2  # 🎉 takes two UTF-16 units
    assert char16 == scalar + 1
    result = await hover(client, path, line0, char16)
    assert result.contents.value.startswith("**`café`** · local variable")
    assert result.range.start.character == char16


async def test_nothing_to_say_means_no_hover(client, workspace):
    path = workspace / "shop/src/lib.rs"
    await hover(client, path, 17, 8)  # wait for the feature
    uri = from_fs_path(str(path))
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=5)))
    assert result is None  # inside the `//!` comment


async def test_bad_explain_params_are_invalid_params(client):
    with pytest.raises(JsonRpcException) as err:
        await send_raw_request(client, "rusta/explain", {"textDocument": {"uri": 3}, "position": {"line": -1}})
    assert err.value.code == types.ErrorCodes.InvalidParams


async def test_the_cli_and_the_server_give_one_answer_at_one_position(client, workspace):
    """`rusta explain` beside the server and the server's `rusta/explain` (and its hover) answer
    the same at the same positions: random identifiers of regex, names inside its macro calls and
    the shop's store, through the one explain path (issue 13: the CLI abstained where hover resolved)."""
    import contextlib
    import io
    import json
    import random

    from rusta_lsp import cli
    from rusta_lsp.analysis.parser import parse_tree
    from rusta_lsp.analysis.positions import LineIndex
    from rusta_lsp.explain.locate import ident_at

    rng = random.Random(12)
    files = sorted(p for p in (workspace / "regex/src").rglob("*.rs")) + [workspace / "shop/src/store.rs"]
    positions = []
    while len(positions) < 40:
        path = rng.choice(files)
        data = path.read_bytes()
        node = ident_at(parse_tree(data).root_node, rng.randrange(len(data)))
        if node is not None:
            positions.append((path, data, node.start_byte))
    data = (workspace / "regex/src/sparse.rs").read_bytes()  # `write!(f, "SparseSet({:?})", self.dense)`
    positions.append((workspace / "regex/src/sparse.rs", data, data.index(b"self.dense)") + 5))
    await hover(client, positions[0][0], 0, 0)  # wait for the feature
    answered = 0
    for path, data, offset in positions:
        lines = LineIndex(data)
        line0, char16 = lines.utf16(offset)
        pos = lines.pos(offset)
        served = plain(await send_raw_request(client, "rusta/explain", {
            "textDocument": {"uri": from_fs_path(str(path))}, "position": {"line": line0, "character": char16}}))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = await asyncio.to_thread(cli.main, ["explain", "--json", "--memory", str(workspace.parent / "memory"),
                                                      f"{path}:{pos.line}:{pos.col}"])
        assert code == 0
        told = json.loads(out.getvalue())
        where = f"{path.relative_to(workspace)}:{pos.line}:{pos.col}"
        assert told == served, where
        shown = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=from_fs_path(str(path))),
            position=types.Position(line=line0, character=char16)))
        if shown is not None:  # the hover: the same heading, and the same reason when it abstains
            assert shown.contents.value.splitlines()[:3 if told["abstained"] else 1] == \
                told["markdown"].splitlines()[:3 if told["abstained"] else 1], where
        answered += not told["abstained"]
    assert answered >= 10
