"""Helpers for the memory tests: small crates on disk, a tiny random embedding model."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

LIB_RS = '''//! A tiny ledger crate for memory tests.

pub mod store;

/// Adds two amounts without overflow checks.
pub fn add(a: u64, b: u64) -> u64 {
    a + b
}
'''

STORE_RS = '''/// Keeps balances by account.
pub struct Ledger {
    total: u64,
}

impl Ledger {
    /// Creates an empty ledger.
    pub fn new() -> Ledger {
        Ledger { total: 0 }
    }

    /// Applies a deposit to the ledger.
    pub fn apply(&mut self, amount: u64) {
        self.total = crate::add(self.total, amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_adds() {
        let mut ledger = Ledger::new();
        ledger.apply(3);
        assert_eq!(ledger.total, 3);
    }
}
'''


def write_ledger_crate(root: Path) -> Path:
    """A one-crate workspace: lib.rs, store.rs (with a test module) and a README."""
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "ledger"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "src" / "lib.rs").write_text(LIB_RS)
    (root / "src" / "store.rs").write_text(STORE_RS)
    (root / "README.md").write_text("# Ledger\n\nA ledger that keeps balances of accounts.\n\n"
                                    "## Usage\n\nOpen one ledger per customer and record every deposit.\n")
    return root


def wait_for(condition: Callable[[], object], timeout: float = 15.0, interval: float = 0.1):
    """Poll until `condition()` is truthy; returns its value (the watcher works asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# Stands in for `rusta serve`: opens the memory writable (so it holds the writer lock) until stdin closes.
_HOLDER = """
import sys
from pathlib import Path
from rusta_lsp.memory.store import Memory
memory = Memory.open(sys.argv[1], Path(sys.argv[2]))
print("ready", flush=True)
sys.stdin.read()
memory.close()
"""


@contextlib.contextmanager
def server_holding(memory_dir: Path, root: Path) -> Iterator[None]:
    """Another process holds the memory's writer lock (as a running server does) meanwhile."""
    server = subprocess.Popen([sys.executable, "-c", _HOLDER, str(memory_dir), str(root)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        yield
    finally:
        server.communicate("", timeout=60)
