//! Frequent type and ownership slips, each with one right local fix.

pub struct Account {
    pub owner: String,
    pub cents: u64,
}

fn shout(text: &str) -> String {
    text.to_uppercase()
}

pub fn label(account: &Account) -> String {
    let name = account.owner.clone();
    shout(name)
}

pub fn deposit(account: &mut Account, amount: u32) {
    let amount: u64 = amount;
    account.cents += amount;
}

pub fn open(owner: &str) -> Account {
    Account { owner: owner, cents: 0 }
}

pub fn total(accounts: &[Account]) -> u64 {
    let sum = 0;
    for a in accounts {
        sum += a.cents;
    }
    sum
}
