"""The watcher follows create, modify, delete and rename on disk; never target/ or open buffers."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory_support import wait_for, write_ledger_crate
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory
from rusta_lsp.memory.watcher import Watcher


@pytest.fixture
def watched(tmp_path: Path):
    root = write_ledger_crate(tmp_path / "ledger")
    memory = Memory.open(str(tmp_path / "m"), root)
    ingestor = Ingestor(memory, root)
    ingestor.run(embed=False)
    updates: list[list[str]] = []
    watcher = Watcher(ingestor, on_update=lambda paths, changed: updates.append(paths), embed=False)
    watcher.start()
    assert watcher.ready.wait(10)
    yield root, memory, ingestor, updates
    watcher.stop()
    memory.close()


def names_in(memory: Memory, path: str) -> set[str]:
    return {i.name for i in memory.items_in_file(path)}


def touch_until(path: Path, text: str, condition, attempts: int = 3):
    """Write, and rewrite if the first event raced the OS watch being installed."""
    for _ in range(attempts):
        path.write_text(text)
        if wait_for(condition, timeout=5):
            return True
    return False


@pytest.mark.slow
def test_watcher_sees_create_modify_delete_and_rename(watched):
    root, memory, ingestor, updates = watched
    lib = root / "src/lib.rs"
    # modify
    assert touch_until(lib, lib.read_text() + "\npub fn fresh() {}\n", lambda: memory.lookup_name("fresh"))
    # create: a new module file and its `mod` line
    (root / "src/audit.rs").write_text("/// Checks totals.\npub fn audit() {}\n")
    lib.write_text(lib.read_text() + "\npub mod audit;\n")
    [audit] = wait_for(lambda: memory.lookup_name("audit", kind="fn"))
    assert (audit.path, audit.qualified) == ("src/audit.rs", "crate::audit::audit")
    # rename
    (root / "src/audit.rs").rename(root / "src/checks.rs")
    lib.write_text(lib.read_text().replace("pub mod audit;", "pub mod checks;"))
    assert wait_for(lambda: names_in(memory, "src/checks.rs") == {"audit"} and not names_in(memory, "src/audit.rs"))
    assert memory.lookup_name("audit", kind="fn")[0].qualified == "crate::checks::audit"
    # delete
    (root / "src/checks.rs").unlink()
    assert wait_for(lambda: not memory.lookup_name("audit", kind="fn"))
    assert all(not p.startswith(("target/", ".git/")) for batch in updates for p in batch)


@pytest.mark.slow
def test_watcher_ignores_target_and_files_with_open_buffers(watched):
    root, memory, ingestor, updates = watched
    target = root / "target" / "debug" / "build"
    target.mkdir(parents=True)
    (target / "generated.rs").write_text("pub fn generated() {}\n")
    ingestor.update_buffer("src/store.rs", (root / "src/store.rs").read_text() + "\npub fn unsaved() {}\n")
    (root / "src/store.rs").write_text((root / "src/store.rs").read_text().replace("apply", "apply_on_disk"))
    lib = root / "src/lib.rs"
    # A later, watched change proves the earlier events had their chance to be seen.
    assert touch_until(lib, lib.read_text() + "\npub fn marker() {}\n", lambda: memory.lookup_name("marker"))
    assert memory.lookup_name("generated") == []
    assert memory.lookup_name("unsaved") and memory.lookup_name("apply_on_disk") == []
    assert all("target/" not in p for batch in updates for p in batch)
