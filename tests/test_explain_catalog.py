"""The in-process catalog answers exactly what the memory answers, and follows its changes."""

import threading
import time

import pytest

from explain_support import index, write_shop
from rusta_lsp.explain import catalog as catalog_module
from rusta_lsp.explain.catalog import Catalog
from rusta_lsp.memory.ingest import Ingestor

NAMES = ["Ledger", "new", "apply", "total", "Item", "price", "ring_up", "Apply", "nothing_by_this_name"]


@pytest.fixture
def shop(tmp_path):
    root = write_shop(tmp_path / "shop")
    memory = index(root, tmp_path / "memory")
    yield root, memory
    memory.close()


@pytest.mark.parametrize("scan_rows", [catalog_module.SCAN_ROWS, 7])  # the tables in one batch, in many
def test_snapshot_equals_memory_queries(shop, monkeypatch, scan_rows):
    _, memory = shop
    monkeypatch.setattr(catalog_module, "SCAN_ROWS", scan_rows)
    direct, loaded = Catalog(memory), Catalog(memory)
    assert loaded.load()
    for name in NAMES:
        assert loaded.lookup_name(name) == direct.lookup_name(name)
        assert loaded.lookup_name(name, "method") == direct.lookup_name(name, "method")
        assert loaded.references(name) == direct.references(name)
        assert loaded.references(name, "Ledger") == direct.references(name, "Ledger")
        # Nearest first and bounded, as usage_claims asks: the snapshot ranks in Arrow what the
        # memory's answer gives sorted in Python.
        nearest = lambda path: path != "src/store.rs"  # noqa: E731
        assert loaded.references(name, rank=nearest, limit=2) == direct.references(name, rank=nearest, limit=2)
        assert loaded.passages_mentioning(name, 2) == direct.passages_mentioning(name, 2)
    for qualified in ["crate::store::Ledger::new", "crate::item::Item", "crate::nope"]:
        assert loaded.lookup_path(qualified) == direct.lookup_path(qualified)
    assert [p.path for p in loaded.passages_mentioning("Ledger", 2)] == ["README.md"]
    # more references than the limit, in more than one file: the ranking above was not trivial
    assert len(loaded.references("new")) > 2 and len({r.path for r in loaded.references("new")}) > 1


def test_snapshot_follows_memory_versions(shop, monkeypatch):
    root, memory = shop
    monkeypatch.setattr(catalog_module, "CHECK_EVERY", 0.0)
    started = []

    def behind(load):  # the server's background executor, at a lower priority than the hovers
        started.append(load)
        threading.Thread(target=load).start()

    following = Catalog(memory, auto_load=True, behind=behind)
    assert following.load()
    assert following.lookup_name("refund") == []
    store = root / "src/store.rs"
    store.write_text(store.read_text() + "\npub fn refund() {}\n")
    Ingestor(memory, root).update_paths(["src/store.rs"], embed=False)
    deadline = time.monotonic() + 30
    while not following.lookup_name("refund") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.qualified for r in following.lookup_name("refund")] == ["crate::store::refund"]
    assert started  # the lookups started the reload through `behind`, never on their own thread


def recorded_reads(memory, monkeypatch) -> list[tuple[str, list[str] | None]]:
    """(table, paths) of each `read_table` from now on (a whole read streams through `scan`)."""
    reads = []
    read_table = memory.read_table
    monkeypatch.setattr(memory, "read_table", lambda name, columns, paths=None: (
        reads.append((name, paths)), read_table(name, columns, paths))[1])
    return reads

def test_snapshot_patches_in_the_changed_files_only(shop, monkeypatch):
    """A save reads its files' rows only, a compaction reads nothing and keeps the explanations
    cached; the patched snapshot answers what one read whole answers."""
    root, memory = shop
    following = Catalog(memory)
    assert following.load()
    reads = recorded_reads(memory, monkeypatch)
    store, readme = root / "src/store.rs", root / "README.md"
    store.write_text(store.read_text().replace("fn apply_item", "fn ring_up_item") + "\npub fn refund() {}\n")
    readme.write_text(readme.read_text() + "\nA refund undoes a `Ledger` sale.\n")
    Ingestor(memory, root).update_paths(["src/store.rs", "README.md"], embed=False)
    generation = following.generation
    assert following.load() and following.generation == generation + 1
    assert reads and {tuple(paths) for _, paths in reads} == {("README.md", "src/store.rs")}, reads
    whole = Catalog(memory)
    assert whole.load()
    for name in [*NAMES, "refund", "ring_up_item", "apply_item", "Describe"]:
        assert following.lookup_name(name) == whole.lookup_name(name) == memory.lookup_name(name)
        assert following.references(name) == whole.references(name) == memory.references(name)
        assert following.members_of(name) == whole.members_of(name)
        assert following.passages_mentioning(name, 3) == whole.passages_mentioning(name, 3)
    assert [r.qualified for r in following.lookup_name("refund")] == ["crate::store::refund"]
    assert following.lookup_name("apply_item") == [] and following.members_of("Ledger")
    assert [p.path for p in following.passages_mentioning("refund", 3)] == ["README.md"]

    reads.clear()
    moved = memory.versions(catalog_module._TABLES)
    memory.compact().result()
    assert memory.versions(catalog_module._TABLES) != moved
    assert following.load() and reads == [] and following.generation == generation + 1


def test_files_read_while_a_commit_lands_are_read_again(shop, monkeypatch):
    root, memory = shop
    following = Catalog(memory)
    assert following.load()
    store = root / "src/store.rs"
    store.write_text(store.read_text() + "\npub fn refund() {}\n")
    Ingestor(memory, root).update_paths(["src/store.rs"], embed=False)
    versions = memory.versions
    asked = []
    # The tables' versions move between the start of the load and its end: a commit landed.
    monkeypatch.setattr(memory, "versions", lambda names: (asked.append(names), tuple(
        v + len(asked) - 1 for v in versions(names)))[1])
    assert following.load()
    monkeypatch.setattr(memory, "versions", versions)
    reads = recorded_reads(memory, monkeypatch)
    assert following.load()
    assert {tuple(paths) for _, paths in reads} == {("src/store.rs",)}, reads
    reads.clear()
    assert following.load() and reads == []  # read at one version: nothing to read again
    assert [r.qualified for r in following.lookup_name("refund")] == ["crate::store::refund"]
