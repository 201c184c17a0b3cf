//! The ledger: balances per account, updated entry by entry.

use std::collections::HashMap;

use crate::entry::Entry;

/// Why an entry was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LedgerError {
    /// The source account would go below zero.
    Overdraft { account: String, missing: i64 },
    /// An entry may not move money from an account to itself.
    SameAccount(String),
}

/// Balances of every account, in cents.
#[derive(Debug, Default)]
pub struct Ledger {
    balances: HashMap<String, i64>,
    applied: Vec<Entry>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Ledger::default()
    }

    /// Puts money into an account from outside the ledger.
    pub fn deposit(&mut self, account: &str, amount: i64) {
        *self.balances.entry(account.to_string()).or_insert(0) += amount;
    }

    /// The balance of an account; unknown accounts hold nothing.
    pub fn balance(&self, account: &str) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    /// Applies one entry, or explains why it cannot be applied.
    pub fn apply(&mut self, entry: Entry) -> Result<(), LedgerError> {
        if entry.from == entry.to {
            return Err(LedgerError::SameAccount(entry.from.clone()));
        }
        let available = self.balance(&entry.from);
        if available < entry.amount {
            return Err(LedgerError::Overdraft {
                account: entry.from.clone(),
                missing: entry.amount - available,
            });
        }
        self.deposit(&entry.from, -entry.amount);
        self.deposit(&entry.to, entry.amount);
        self.applied.push(entry);
        Ok(())
    }

    /// Entries applied so far, oldest first.
    pub fn history(&self) -> &[Entry] {
        &self.applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_moves_money() {
        let mut ledger = Ledger::new();
        ledger.deposit("Café Größe", 1_000);
        let entry = Entry::new("Café Größe", "bank", 250).unwrap();
        assert_eq!(ledger.apply(entry), Ok(()));
        assert_eq!(ledger.balance("bank"), 250);
    }

    #[test]
    fn apply_refuses_overdraft() {
        let mut ledger = Ledger::new();
        let entry = Entry::new("empty", "bank", 1).unwrap();
        assert!(matches!(ledger.apply(entry), Err(LedgerError::Overdraft { missing: 1, .. })));
    }
}
