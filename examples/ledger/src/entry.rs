//! Entries: one movement of money between two accounts.

use std::fmt;

/// One movement of `amount` cents from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Account the money leaves.
    pub from: String,
    /// Account the money reaches.
    pub to: String,
    /// Amount in cents; always positive.
    pub amount: i64,
}

impl Entry {
    /// Creates an entry; names are trimmed. Returns `None` for a non-positive amount.
    pub fn new(from: &str, to: &str, amount: i64) -> Option<Entry> {
        if amount <= 0 {
            return None;
        }
        Some(Entry { from: from.trim().to_string(), to: to.trim().to_string(), amount })
    }

    /// The amount as a string of euros, such as "12.50 €".
    pub fn euros(&self) -> String {
        format!("{}.{:02} €", self.amount / 100, self.amount % 100)
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}: {}", self.from, self.to, self.euros())
    }
}
