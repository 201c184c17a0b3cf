//! A tiny double-entry ledger.
//!
//! Entries move cents between accounts; the ledger rejects overdrafts.

pub mod entry;
pub mod store;

pub use entry::Entry;
pub use store::{Ledger, LedgerError};

/// Sums the amounts of many entries, in cents.
pub fn total(entries: &[Entry]) -> i64 {
    entries.iter().map(|e| e.amount).sum()
}
