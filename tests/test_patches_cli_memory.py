"""`rusta fix` beside a server on the same memory: the server is the memory's one writer, so the
command reads the memory only, says so once, and answers exactly as it would alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lancedb
import pytest
from memory_support import server_holding
from patches_support import config_for, copy_example, settings_flags

from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory
from rusta_lsp.cli import main

pytestmark = pytest.mark.slow
BROKEN = ('ledger.deposit("Café Größe", 1_000);', 'ledger.deposit("Café Größe".to_string(), 1_000);')


def table_versions(uri: Path) -> dict[str, int]:
    db = lancedb.connect(str(uri))
    return {name: db.open_table(name).version for name in db.list_tables(limit=10_000).tables}


def run_fix(capsys, root: Path, memory_dir: Path) -> tuple[int, dict, str]:
    code = main(["fix", "--json", *settings_flags(config_for(memory_dir)), str(root)])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_fix_beside_a_server_reads_the_memory_and_writes_no_table_version(tmp_path, capsys):
    root = copy_example("ledger", tmp_path / "ws")
    memory_dir = tmp_path / "memory"
    with Memory.open(str(memory_dir), root) as memory:
        Ingestor(memory, root).run(embed=False)
    assert not Memory.writer_busy(str(memory_dir))
    with server_holding(memory_dir, root):
        assert Memory.writer_busy(str(memory_dir))
        before = table_versions(memory_dir)
        store = root / "src/store.rs"
        pristine = store.read_text()
        store.write_text(pristine.replace(*BROKEN))

        code, data, err = run_fix(capsys, root, memory_dir)
        assert code == 0
        assert err.strip().splitlines() == [
            "rusta fix: a server owns this memory: reading it only, this run learns no exemplars"]
        [diag] = data["diagnostics"]
        assert set(data) == {"diagnostics"}
        assert set(diag) == {"code", "message", "path", "start_line", "start_col", "abstained", "reason", "patches"}
        assert (diag["code"], diag["path"]) == ("E0308", "src/store.rs") and diag["patches"]
        for patch in diag["patches"]:
            assert set(patch) == {"title", "confidence", "verified", "source", "kind", "edits", "tests"}
            assert patch["verified"]
        # The fixed line sits in a test: the read-only memory still tells which test to run.
        assert diag["patches"][0]["tests"] == {"related": 1, "passed": 1, "failed": 0, "not_run": 0, "ran": True}

        # The user's own fix: a writing run would now store it as an exemplar.
        store.write_text(pristine)
        code, data, _ = run_fix(capsys, root, memory_dir)
        assert code == 0 and data == {"diagnostics": []}
        assert table_versions(memory_dir) == before
        assert not (memory_dir / "patches-last-run.json").exists()  # the server's learning state is its own
    assert not Memory.writer_busy(str(memory_dir))


def test_drill_beside_a_server_is_refused_with_a_reason(tmp_path):
    root = copy_example("ledger", tmp_path / "ws")
    memory_dir = tmp_path / "memory"
    with server_holding(memory_dir, root):
        drill = subprocess.run([sys.executable, "-m", "rusta_lsp.cli", "drill", "--budget", "5",
                                "--memory", str(memory_dir), str(root)], capture_output=True, text=True)
    assert drill.returncode == 2, drill.stderr
    assert drill.stderr.count("\n") == 1 and "a running Rusta server owns this workspace's memory" in drill.stderr
