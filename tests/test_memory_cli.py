"""`rusta index` and `rusta search` through the real CLI entry point."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from memory_support import server_holding, write_ledger_crate
from model_support import tiny_encoder
from rusta_lsp.cli import main
from rusta_lsp.commands.memory import ProgressBar
from rusta_lsp.memory.store import Memory


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Path, Path]:
    return write_ledger_crate(tmp_path / "ledger"), tmp_path / "memory"


def index_json(capsys, *args: str) -> dict:
    assert main(["index", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_index_reports_totals_and_a_rerun_reports_the_same(ledger, capsys):
    root, memory = ledger
    first = index_json(capsys, "--no-embed", "--memory", str(memory), str(root))
    assert set(first) == {"files", "items", "embedded", "seconds", "changed"}
    assert first["files"] == 3 and first["items"] > 5 and first["embedded"] == 0 and first["changed"] == 3
    again = index_json(capsys, "--no-embed", "--memory", str(memory), str(root))
    assert (again["files"], again["items"], again["changed"]) == (first["files"], first["items"], 0)


@pytest.mark.slow
def test_index_fills_vectors_with_the_packaged_model(ledger, capsys):
    root, memory = ledger
    out = index_json(capsys, "--memory", str(memory), str(root))
    assert 0 < out["embedded"] < out["items"]  # every item but the `use` lines
    assert main(["search", "--memory", str(memory), "record deposits per customer", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and lines[0].startswith("README.md:5  ")


def test_search_prints_ranked_path_line_snippets(ledger, capsys):
    root, memory = ledger
    index_json(capsys, "--no-embed", "--memory", str(memory), str(root))
    assert main(["search", "--memory", str(memory), "--mode", "fts", "-k", "3", "deposit ledger", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "src/store.rs:12  pub fn apply(&mut self, amount: u64)  // Applies a deposit to the ledger."
    assert len(lines) <= 3
    assert main(["search", "--json", "--memory", str(memory), "Ledger", str(root)]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["path"] == "src/store.rs" and hits[0]["line"] >= 1


def test_search_on_an_empty_memory_indexes_first(ledger, capsys):
    root, memory = ledger
    assert main(["search", "--memory", str(memory), "--mode", "fts", "deposit", str(root)]) == 0
    captured = capsys.readouterr()
    assert "indexing" in captured.err and captured.out.startswith("src/store.rs:12")


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    assert main(["index", "--json", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a folder" in err
    assert main(["search", "-k", "0", "x", str(tmp_path)]) == 2


def test_progress_bar_draws_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream)
        bar(50, "parsing")
        bar(100, "memory up to date")
        bar.done()
    assert pipe.getvalue() == ""
    assert "\r[###############---------------]  50% parsing" in tty.getvalue()
    assert tty.getvalue().endswith("\n")


def test_beside_a_server_index_is_refused_and_search_only_reads(ledger, capsys):
    root, memory = ledger
    index_json(capsys, "--no-embed", "--memory", str(memory), str(root))
    def versions() -> dict[str, int]:
        with Memory.open(str(memory), root, read_only=True) as reader:
            return reader.table_versions()

    with server_holding(memory, root):
        before = versions()
        assert main(["index", "--json", "--no-embed", "--memory", str(memory), str(root)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "a running Rusta server keeps this memory current" in err
        assert main(["search", "--json", "--mode", "fts", "--memory", str(memory), "deposit", str(root)]) == 0
        out = capsys.readouterr()
        assert json.loads(out.out) and "reading it only" in out.err
        assert versions() == before


def test_a_deleted_full_text_index_is_rebuilt_at_open(ledger, capsys):
    root, memory = ledger
    index_json(capsys, "--no-embed", "--memory", str(memory), str(root))
    full_text = [p for p in (memory / "items.lance" / "_indices").iterdir() if (p / "metadata.lance").exists()]
    assert len(full_text) == 1
    shutil.rmtree(full_text[0])  # LanceDB still lists the index; a search through it finds no items
    assert main(["search", "--json", "--mode", "fts", "--memory", str(memory), "deposit", str(root)]) == 0
    out = capsys.readouterr()
    assert "memory index of 'items' is damaged: rebuilding it" in out.err
    assert [h["path"] for h in json.loads(out.out) if h["kind"] == "item"]  # items are found again


def test_a_model_that_does_not_load_keeps_the_stored_vectors(ledger, capsys, tmp_path):
    root, memory = ledger
    tiny = tiny_encoder(tmp_path / "tiny")
    first = index_json(capsys, "--memory", str(memory), "--set", f"model.embedding={tiny}", str(root))
    assert first["embedded"] > 5
    assert main(["index", "--json", "--memory", str(memory), "--set", f"model.embedding={tiny}-typo", str(root)]) == 0
    out = capsys.readouterr()
    assert "could not be loaded" in out.err and json.loads(out.out)["embedded"] == first["embedded"]
    with Memory.open(str(memory), root, read_only=True) as reader:
        assert reader.vector_model() == str(tiny) and reader.has_vectors_of(str(tiny))
