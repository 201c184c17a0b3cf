"""Ingestion on a real crate: hash skipping, deletes/renames, buffers, cancellation, kill -9."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from debian_crates import copy_debian_crate
from memory_support import write_ledger_crate
from rusta_lsp.cancel import Cancelled, CancelToken
from rusta_lsp.memory.ingest import Ingestor, Pacer
from rusta_lsp.memory.store import Memory

REGEX = "regex-1.7.1"


def item_keys(memory: Memory) -> Counter:
    rows = memory.select("items", "true", ["path", "qualified", "start_line"])
    return Counter((r["path"], r["qualified"], r["start_line"]) for r in rows)


def ref_count(memory: Memory) -> int:
    return memory._table_rows("refs")


@pytest.fixture(scope="module")
def regex_reference(tmp_path_factory) -> tuple[Path, Counter, int, dict]:
    """An uninterrupted ingest of a copy of regex: what every other run must end up equal to."""
    root = copy_debian_crate(REGEX, tmp_path_factory.mktemp("regex") / "regex")
    with Memory.open(str(tmp_path_factory.mktemp("reference")), root) as memory:
        result = Ingestor(memory, root).run(embed=False)
        return root, item_keys(memory), ref_count(memory), {"files": result.files, "items": result.items}


@pytest.mark.slow
def test_regex_ingest_is_complete_and_skips_unchanged_files(regex_reference, tmp_path):
    root, keys, refs, totals = regex_reference
    assert totals["files"] > 60 and totals["items"] > 1500
    assert max(keys.values()) == 1  # no item stored twice
    with Memory.open(str(tmp_path / "m"), root) as memory:
        percents = []
        first = Ingestor(memory, root).run(progress=lambda p, m: percents.append(p), embed=False)
        assert first.changed == totals["files"]
        assert percents == sorted(percents) and percents[-1] == 100
        again = Ingestor(memory, root).run(embed=False)
        assert again.changed == 0 and (again.files, again.items) == (first.files, first.items)
        found = memory.lookup_suffix("Regex::find_iter")
        assert {i.path for i in found} == {"src/re_bytes.rs", "src/re_unicode.rs"}
        tests = memory.tests_referencing("find_iter")
        assert tests and all(t.is_test for t in tests)
        assert any(t.path.startswith("tests/") for t in tests)


def test_edit_delete_and_rename_follow_the_disk(tmp_path):
    root = write_ledger_crate(tmp_path / "ledger")
    with Memory.open(str(tmp_path / "m"), root) as memory:
        ingestor = Ingestor(memory, root)
        ingestor.run(embed=False)
        store = root / "src/store.rs"
        store.write_text(store.read_text().replace("pub fn apply(", "pub fn deposit("))
        assert ingestor.run(embed=False).changed == 1
        assert memory.lookup_name("apply") == [] and memory.lookup_name("deposit")

        (root / "src/store.rs").rename(root / "src/ledger_store.rs")
        (root / "src/lib.rs").write_text((root / "src/lib.rs").read_text().replace("mod store;", "mod ledger_store;"))
        result = ingestor.run(embed=False)
        assert result.changed == 3  # lib.rs changed, store.rs gone, ledger_store.rs new
        [deposit] = memory.lookup_name("deposit")
        assert (deposit.path, deposit.qualified) == ("src/ledger_store.rs", "crate::ledger_store::Ledger::deposit")
        assert memory.items_in_file("src/store.rs") == []
        assert all(r.path != "src/store.rs" for r in memory.references("new"))

        (root / "build.rs").write_text("fn main() {}\n")  # not a crate source: ignored, no full pass
        assert ingestor.update_paths(["build.rs"], embed=False) == 0
        assert memory.items_in_file("build.rs") == []

        (root / "README.md").unlink()
        ingestor.run(embed=False)
        assert memory.passages_in_file("README.md") == []
        assert memory.stats()["files"] == 2


def test_unsaved_buffer_wins_over_the_disk(tmp_path):
    root = write_ledger_crate(tmp_path / "ledger")
    with Memory.open(str(tmp_path / "m"), root) as memory:
        ingestor = Ingestor(memory, root)
        ingestor.run(embed=False)
        disk = (root / "src/lib.rs").read_text()
        # Opened and closed as it is on disk: the memory has it, nothing is written (no new versions).
        versions = memory.table_versions()
        ingestor.update_buffer("src/lib.rs", disk)
        ingestor.close_buffer("src/lib.rs")
        assert memory.table_versions() == versions
        buffer = disk.replace("pub fn add(", "\n\npub fn subtract(")
        ingestor.update_buffer("src/lib.rs", buffer)
        [sub] = memory.lookup_name("subtract")
        assert (sub.start_line, sub.end_line) == (5, 10)  # the buffer's lines (on disk: 5-8)
        assert memory.lookup_name("add") == []
        # A full pass (or a watcher event) reads the buffer, not the disk.
        assert ingestor.run(embed=False).changed == 0
        assert memory.lookup_name("subtract")
        assert (root / "src/lib.rs").read_text() == disk
        ingestor.close_buffer("src/lib.rs")
        assert memory.lookup_name("subtract") == [] and memory.lookup_name("add")


def test_cancelling_a_cold_ingest_keeps_what_was_written_and_resumes(regex_reference, tmp_path, monkeypatch):
    root, keys, refs, totals = regex_reference
    monkeypatch.setattr("rusta_lsp.memory.ingest.WRITE_BATCH_FILES", 8)
    token = CancelToken()

    def progress(percent: int, message: str) -> None:
        if message == "writing" and percent >= 70:
            token.cancel()

    with Memory.open(str(tmp_path / "m"), root) as memory:
        ingestor = Ingestor(memory, root)
        cancelled = ingestor.run(progress=progress, cancel=token, embed=False)
        assert cancelled.cancelled
        assert 0 < cancelled.files < totals["files"]
        resumed = ingestor.run(embed=False)
        assert not resumed.cancelled
        assert resumed.changed == totals["files"] - cancelled.files
        assert item_keys(memory) == keys and ref_count(memory) == refs


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import rusta_lsp.memory.ingest as ingest
    from rusta_lsp.memory.store import Memory
    from rusta_lsp.memory.writer import Writer

    ingest.WRITE_BATCH_FILES = 4
    root, uri, at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

    def progress(percent, message):
        if message == "writing" and 0 <= at <= percent:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-write: the writer has batches in flight

    if at < 0:  # die inside the writer: a batch's items and refs committed, its file rows not
        committed = Writer.note_commit

        def dying(self, table):
            committed(self, table)
            if table == "refs" and self.total_commits > -at:
                os.kill(os.getpid(), signal.SIGKILL)

        Writer.note_commit = dying

    memory = Memory.open(uri, root)
    ingest.Ingestor(memory, root).run(progress=progress, embed=False)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [62, 90, -12])
def test_kill_9_during_ingest_then_reopen_loses_and_duplicates_nothing(regex_reference, tmp_path, kill_at):
    root, keys, refs, totals = regex_reference
    uri = str(tmp_path / "m")
    proc = subprocess.run([sys.executable, "-c", KILLER, str(root), uri, str(kill_at)],
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert proc.returncode == -9, proc.stderr
    with Memory.open(uri, root) as memory:
        partial = memory.stats()["files"]
        assert 0 < partial < totals["files"]
        result = Ingestor(memory, root).run(embed=False)
        assert result.changed == totals["files"] - partial
        assert (result.files, result.items) == (totals["files"], totals["items"])
        assert item_keys(memory) == keys and ref_count(memory) == refs


def test_cpu_budget_sleeps_in_proportion_to_the_work(monkeypatch):
    clock = [0.0]
    slept = []
    monkeypatch.setattr("rusta_lsp.memory.ingest.time.perf_counter", lambda: clock[0])
    monkeypatch.setattr("rusta_lsp.memory.ingest.time.sleep", lambda s: (slept.append(s), clock.__setitem__(0, clock[0] + s)))
    pacer = Pacer(0.25, None)
    clock[0] += 1.0  # one second of work
    pacer.step()
    clock[0] += 0.5
    pacer.step()
    assert slept == [3.0, 1.5]  # work takes a quarter of the wall clock
    full = Pacer(1.0, None)
    clock[0] += 2.0
    full.step()
    assert slept == [3.0, 1.5]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        Pacer(0.5, token).step()


@pytest.mark.slow
def test_the_structure_stage_over_worker_processes_writes_what_one_process_writes(tmp_path):
    root = tmp_path / "mono"
    for crate in ("bytes-1.2.1", "either-1.6.1", "humantime-2.1.0"):
        copy_debian_crate(crate, root / crate)
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["bytes-1.2.1", "either-1.6.1", "humantime-2.1.0"]\n')
    buffer = "/// Unsaved in the editor.\npub fn only_in_the_buffer() {}\n"
    results = []
    for workers in (1, 2):
        with Memory.open(str(tmp_path / f"m{workers}"), root) as memory:
            ingestor = Ingestor(memory, root, workers=workers)
            ingestor.buffers["humantime-2.1.0/src/lib.rs"] = buffer.encode()
            result = ingestor.run(embed=False)
            assert memory.lookup_name("only_in_the_buffer")  # the buffer reached the workers
            results.append((result.files, result.items, item_keys(memory), ref_count(memory), memory.file_hashes(),
                            sorted((f.path, f.module_path) for f in ingestor.workspace.files)))
    assert results[0] == results[1] and results[0][1] > 1000
