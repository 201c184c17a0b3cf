"""The LanceDB store: lookups, self-healing, the single writer, compaction, devlog and generic tables."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import lancedb
import pytest

from memory_support import wait_for, write_ledger_crate
from rusta_lsp.memory import schema
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.retrieval import search
from rusta_lsp.memory.store import Memory
from rusta_lsp.memory.writer import INDEXES, MAX_UNOPTIMIZED, OPTIMIZE_EVERY


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Path, str]:
    root = write_ledger_crate(tmp_path / "ledger")
    uri = str(tmp_path / "memory")
    with Memory.open(uri, root) as memory:
        Ingestor(memory, root).run(embed=False)
    return root, uri


def test_lookups_on_an_indexed_crate(ledger):
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        [apply] = memory.lookup_name("apply")
        assert apply.qualified == "crate::store::Ledger::apply"
        assert (apply.path, apply.kind, apply.impl_type) == ("src/store.rs", "method", "Ledger")
        lines = (root / "src/store.rs").read_text().split("\n")
        assert "pub fn apply" in "\n".join(lines[apply.start_line - 1 : apply.end_line])
        assert apply.doc == "Applies a deposit to the ledger."
        assert lines[apply.doc_start_line - 1].strip() == "/// Applies a deposit to the ledger."
        assert memory.lookup_path("crate::store::Ledger::new")[0].name == "new"
        assert [i.qualified for i in memory.lookup_suffix("Ledger::new")] == ["crate::store::Ledger::new"]
        assert memory.lookup_suffix("dger::new") == []  # a suffix is whole path segments
        assert memory.lookup_name("Ledger", kind="struct")[0].kind == "struct"
        assert [i.name for i in memory.items_in_file("src/lib.rs") if i.kind == "fn"] == ["add"]

        calls = memory.references("apply")
        assert [(r.path, r.enclosing, r.in_test) for r in calls] == [
            ("src/store.rs", "crate::store::tests::apply_adds", True)
        ]
        ref = calls[0]
        assert lines[ref.line - 1][ref.col - 1 : ref.end_col - 1] == "apply"
        assert [t.qualified for t in memory.tests_referencing("apply")] == ["crate::store::tests::apply_adds"]
        assert memory.tests_referencing("add") == []  # only non-test code calls add
        stats = memory.stats()
        assert stats["files"] == 3 and stats["items"] > 5 and stats["embedded"] == 0
        assert not memory.is_empty()


def test_full_text_search_finds_items_and_readme_passages(ledger):
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        hits = search(memory, "deposit ledger", k=5, mode="fts")
        assert hits[0].kind == "item" and hits[0].item.name == "apply"
        readme = search(memory, "one ledger per customer", k=3, mode="fts")
        assert readme[0].kind == "passage" and readme[0].path == "README.md"
        assert (readme[0].passage.start_line, readme[0].passage.end_line) == (5, 7)
        assert readme[0].passage.text.startswith("## Usage")
        # No embedder: hybrid degrades to full-text instead of failing.
        assert [h.snippet for h in search(memory, "deposit ledger", k=5)] == [h.snippet for h in hits]
        # Punctuation is never parsed as query syntax.
        assert search(memory, 'Ledger::apply("x) OR', k=3, mode="fts")


def test_schema_mismatch_rebuilds_from_the_workspace(ledger):
    root, uri = ledger
    db = lancedb.connect(uri)
    meta = db.open_table("meta")
    meta.delete("true")
    meta.add([{"key": "schema_version", "value": "0"}])
    with Memory.open(uri, root) as memory:
        assert any("schema 0" in m for m in memory.messages)
        assert memory.is_empty()
        result = Ingestor(memory, root).run(embed=False)
        assert result.changed == 3
        assert memory.lookup_name("apply")
    with Memory.open(uri, root) as memory:
        assert memory.messages == []


def test_corrupted_table_is_rebuilt_not_fatal(ledger):
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        memory.log_event("save", {"n": 1})
        memory.flush()
    for data_file in (Path(uri) / "items.lance" / "data").iterdir():
        data_file.write_bytes(b"garbage")  # every fragment of the items table is now unreadable
    with Memory.open(uri, root) as memory:
        assert any("'items' is damaged" in m for m in memory.messages)
        assert Ingestor(memory, root).run(embed=False).changed == 3
        assert memory.lookup_name("apply")[0].qualified == "crate::store::Ledger::apply"
        assert [e["payload"] for e in memory.events("save")] == [{"n": 1}]  # history survives


def test_a_table_folder_deleted_by_hand_is_recreated(ledger):
    root, uri = ledger
    shutil.rmtree(Path(uri) / "refs.lance" / "_versions")
    with Memory.open(uri, root) as memory:
        assert memory.messages
        Ingestor(memory, root).run(embed=False)
        assert memory.references("apply")


def test_readers_do_not_wait_for_the_writer(ledger):
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        release = threading.Event()
        blocked = memory._writer.submit("call", "", lambda: release.wait(30))
        memory.log_event("queued", {})  # queued behind the blocked op
        try:
            assert memory.lookup_name("apply")  # answered while the writer is busy
            assert search(memory, "ledger", mode="fts")
            assert not blocked.done()
        finally:
            release.set()
        memory.flush()
        assert memory.events("queued")


def saved_functions(memory: Memory, root: Path, name: str, count: int):
    """Index the workspace, then save src/store.rs `count` times, each with one more function
    `{name}_{n}`; yields n after each save."""
    ingestor = Ingestor(memory, root)
    ingestor.run(embed=False)
    store = root / "src/store.rs"
    original = store.read_text()
    for n in range(count):
        store.write_text(original + f"\npub fn {name}_{n}() {{}}\n")
        ingestor.update_paths(["src/store.rs"], embed=False)
        yield n

def test_versions_stay_bounded_under_many_small_writes(ledger):
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        for n in saved_functions(memory, root, "extra", 3 * OPTIMIZE_EVERY):
            if n % 10 == 9:
                versions = memory.table_versions()
                # 2 commits per save on items: 120+ versions without compaction.
                assert max(versions.values()) <= MAX_UNOPTIMIZED + 2, versions
        assert [i.name for i in memory.lookup_name(f"extra_{3 * OPTIMIZE_EVERY - 1}")]
        assert memory.lookup_name("extra_0") == []
        # A pause in the writes compacts what is left.
        assert wait_for(lambda: memory.table_versions()["items"] <= 2, timeout=20)



def test_compaction_in_a_pause_keeps_one_copy_of_each_index(ledger):
    """optimize prunes old versions before it brings the indexes up to date; the version left
    between holds the previous index files (a fifth of a large memory on disk) unless the pause's
    compaction prunes it too."""
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        for _ in saved_functions(memory, root, "kept", 3):
            pass
        memory.compact().result(timeout=60)
        versions = memory.table_versions()
        assert versions["items"] == versions["refs"] == versions["files"] == 1, versions
        for name in ("items", "refs"):
            indexes = lancedb.connect(uri).open_table(name).list_indices()
            folders = list((Path(uri) / f"{name}.lance" / "_indices").iterdir())
            assert len(indexes) == len(folders) == len(INDEXES[name][0]) + len(INDEXES[name][1]), folders
        assert [i.qualified for i in memory.lookup_name("kept_2")] == ["crate::store::kept_2"]
        assert memory.lookup_name("kept_0") == []
        assert search(memory, "kept_2", mode="fts")

def test_devlog_events_and_generic_tables(ledger):
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        memory.log_event("patch.applied", {"code": "E0308"}, path="src/lib.rs", line=4)
        memory.log_event("save", {"n": 2})
        memory.flush()
        [event] = memory.events("patch.applied")
        assert (event["path"], event["line"], event["payload"]) == ("src/lib.rs", 4, {"code": "E0308"})
        assert len(memory.events()) == 2
        assert memory.events(since=event["ts"] + 1000) == []

        memory.put_rows("principles", [{"id": "E0308", "text": "cast"}, {"id": "E0425", "text": "import"}], key="id")
        memory.put_rows("principles", [{"id": "E0308", "text": "convert with into()"}], key="id")
        assert sorted(r["text"] for r in memory.rows("principles")) == ["convert with into()", "import"]
        assert memory.rows("principles", where="key = 'E0425'") == [{"id": "E0425", "text": "import"}]
        with pytest.raises(ValueError):
            memory.put_rows("items", [{"id": 1}], key="id")
    with Memory.open(uri, root, read_only=True) as memory:  # history is durable
        assert len(memory.rows("principles")) == 2
        assert set(schema.KEYED_TABLES) <= set(memory.table_versions())


def test_only_the_first_writable_process_repairs_the_memory(ledger):
    root, uri = ledger
    first = Memory.open(uri, root)
    # A row whose file row is not written yet: another writer's batch in flight.
    [row] = lancedb.connect(uri).open_table("items").search().where("name = 'apply'").limit(1).to_list()
    lancedb.connect(uri).open_table("items").add([{**row, "path": "src/in_flight.rs"}])
    with Memory.open(uri, root) as second:
        assert second.items_in_file("src/in_flight.rs")  # not taken for an orphan
    first.close()
    with Memory.open(uri, root) as third:  # the lock is free again: reconcile as after a crash
        assert third.items_in_file("src/in_flight.rs") == []


def test_compact_on_demand_and_public_bulk_reads(ledger):
    root, uri = ledger
    with Memory.open(uri, root) as memory:
        Ingestor(memory, root).run(embed=False)
        for n in range(5):  # a few commits, fewer than the writer compacts by itself
            memory.put_rows("principles", [{"id": f"p{n}", "text": "x"}], key="id")
        memory.flush()
        assert memory.table_versions()["principles"] > 2
        memory.compact().result(timeout=30)
        assert memory.table_versions()["principles"] <= 2
        before = memory.versions(("items", "principles"))
        items = memory.read_table("items", ["name", "path"])
        assert "Ledger" in items.column("name").to_pylist() and items.column_names == ["name", "path"]
        memory.put_rows("principles", [{"id": "p9", "text": "y"}], key="id")
        memory.flush()
        after = memory.versions(("items", "principles"))
        assert after[0] == before[0] and after[1] > before[1]  # only the table written moved
        assert memory.read_table("no_such_table", ["x"]) is None
    with Memory.open(uri, root, read_only=True) as memory:
        with pytest.raises(Exception, match="read-only"):
            memory.compact()
