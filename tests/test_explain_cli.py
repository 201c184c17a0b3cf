"""`rusta explain`: the JSON contract, workspace-relative paths, indexing an empty memory, usage errors."""

import json

import pytest

from explain_support import position, write_shop
from rusta_lsp.cli import main


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    # A workspace whose member is the shop crate: JSON paths are relative to the outer root.
    root = tmp_path_factory.mktemp("ws")
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["shop"]\n')
    write_shop(root / "shop")
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_with_relative_paths_indexing_first(workspace, tmp_path, capsys):
    memory = str(tmp_path / "memory")
    line, col = position(workspace / "shop", "src/lib.rs", "Ledger::new", 8)
    target = f"{workspace / 'shop' / 'src' / 'lib.rs'}:{line}:{col}"
    code, out, err = run(capsys, "explain", "--json", "--memory", memory, target)
    assert code == 0, err
    assert "indexing" in err
    payload = json.loads(out)
    assert list(payload) == ["symbol", "abstained", "reason", "claims", "markdown"]
    assert payload["symbol"] == "crate::store::Ledger::new"
    assert payload["abstained"] is False and payload["reason"] is None
    anchors = [a for c in payload["claims"] for a in c["anchors"]]
    assert all(list(a) == ["path", "start_line", "end_line", "kind"] for a in anchors)
    assert anchors[0] == {"path": "shop/src/store.rs", "start_line": 10, "end_line": 13, "kind": "definition"}
    assert {a["kind"] for a in anchors} >= {"definition", "doc", "reference", "test"}
    assert "[shop/src/store.rs:10-13](shop/src/store.rs#L10-L13)" in payload["markdown"]

    code, out, err = run(capsys, "explain", "--json", "--memory", memory, target)
    assert code == 0 and "indexing" not in err  # the memory is filled now
    assert json.loads(out)["claims"] == payload["claims"]


def test_terminal_output_and_non_ascii_column(workspace, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(workspace / "shop")
    line = (workspace / "shop/src/lib.rs").read_text().splitlines()[37]
    col = line.index("café.len") + 1
    code, out, err = run(capsys, "explain", "--memory", str(tmp_path / "m"), f"src/lib.rs:38:{col}")
    assert code == 0, err
    assert out.startswith("café (local variable)")
    assert "shop/src/lib.rs:38 [definition]" in out


def test_abstention_is_exit_zero_with_reason(workspace, tmp_path, capsys):
    line, col = position(workspace / "shop", "src/lib.rs", "Some(total)")
    code, out, _ = run(capsys, "explain", "--json", "--memory", str(tmp_path / "m"),
                       f"{workspace / 'shop/src/lib.rs'}:{line}:{col}")
    payload = json.loads(out)
    assert code == 0 and payload["abstained"] is True and "standard prelude" in payload["reason"]
    assert payload["claims"] == []


@pytest.mark.parametrize("target,message", [
    ("src/lib.rs", "expected FILE:LINE:COL"),
    ("src/nope.rs:1:1", "no such file"),
    ("src/lib.rs:0:1", "line 0 is outside"),
    ("src/lib.rs:999:1", "line 999 is outside"),
    ("src/lib.rs:1:99", "column 99 is outside"),
    ("src/lib.rs:1:x", "expected FILE:LINE:COL"),
])
def test_bad_targets_exit_2_with_one_line(workspace, tmp_path, capsys, monkeypatch, target, message):
    monkeypatch.chdir(workspace / "shop")
    code, out, err = run(capsys, "explain", "--json", "--memory", str(tmp_path / "m"), target)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_binary_file_is_bad_input(tmp_path, capsys):
    path = tmp_path / "blob.rs"
    path.write_bytes(b"\xff\xfe\x00fn")
    code, _, err = run(capsys, "explain", "--json", "--memory", str(tmp_path / "m"), f"{path}:1:1")
    assert code == 2 and "not UTF-8" in err
