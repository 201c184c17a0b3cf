use ledger::{total, Entry, Ledger};

#[test]
fn history_keeps_order() {
    let mut ledger = Ledger::new();
    ledger.deposit("a", 10);
    ledger.apply(Entry::new("a", "b", 4).unwrap()).unwrap();
    ledger.apply(Entry::new("b", "c", 3).unwrap()).unwrap();
    let amounts: Vec<i64> = ledger.history().iter().map(|e| e.amount).collect();
    assert_eq!(amounts, vec![4, 3]);
    assert_eq!(total(ledger.history()), 7);
}

#[test]
fn euros_formats_cents() {
    assert_eq!(Entry::new("a", "b", 1250).unwrap().euros(), "12.50 €");
}
