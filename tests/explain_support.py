"""A small crate with the cases explain must get right (or abstain on), indexed into a memory."""

from __future__ import annotations

from pathlib import Path

FILES = {
    "Cargo.toml": '[package]\nname = "shop"\nversion = "0.1.0"\nedition = "2021"\n',
    "README.md": "# shop\n\nA `Ledger` keeps the running total of every sale.\n\nNothing else here.\n",
    "src/lib.rs": '''//! Shop: ledgers and items.

pub mod item;
pub mod store;

pub use store::Ledger;
use item::Item as Product;

macro_rules! make_counter {
    ($name:ident) => {
        pub struct $name(pub u32);
    };
}

make_counter!(Visits);

/// Rings up one sale: a new item applied to a fresh ledger.
pub fn ring_up(price: u32) -> u32 {
    let mut ledger = Ledger::new();
    let item = Product::new(price);
    ledger.apply(item.price);
    let total = ledger.total;
    let total = total + 1;
    println!("{}", total);
    let double = |x: u32| x * 2;
    match Some(total) {
        Some(seen) if seen > 1 => double(seen),
        _ => 0,
    }
}

/// Applies whatever it is given; the receiver type is not known here.
pub fn apply_any<T: Apply>(thing: &mut T, amount: u32) {
    thing.apply(amount);
}

pub fn visits() -> u32 {
    let café = "ünïcödé 🎉"; let n = café.len() as u32;
    Visits(n).0
}

pub fn nested() -> u32 {
    const STEP: u32 = 2;
    fn helper(x: u32) -> u32 { x + STEP }
    helper(STEP)
}

pub trait Apply {
    fn apply(&mut self, amount: u32);
}

pub fn outside(names: Vec<String>, f: &mut std::fmt::Formatter) -> usize {
    f.write_str("names").ok();
    names.len()
}

pub fn bounded<T: Clone>(mut thing: T) {
    thing.apply(1);
}

pub trait Describe {
    fn describe(&self) -> &'static str {
        "something"
    }
}

impl Describe for store::Ledger {}

pub fn describe_ledger(ledger: &store::Ledger) -> &'static str {
    ledger.describe()
}
''',
    "src/store.rs": '''use crate::item::Item;

/// A running total of sales.
pub struct Ledger {
    /// Sum of every applied amount.
    pub total: u32,
}

impl Ledger {
    /// Creates an empty ledger.
    pub fn new() -> Self {
        Self { total: 0 }
    }

    /// Adds an amount to the total.
    pub fn apply(&mut self, amount: u32) {
        self.total += amount;
    }

    pub fn apply_item(&mut self, item: &Item) {
        self.apply(item.price);
    }
}

impl crate::Apply for Ledger {
    fn apply(&mut self, amount: u32) {
        Ledger::apply(self, amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ledger_is_empty() {
        assert_eq!(Ledger::new().total, 0);
    }
}
''',
    "src/item.rs": '''/// Something for sale.
pub struct Item {
    pub price: u32,
}

impl Item {
    /// Creates an item with a price.
    pub fn new(price: u32) -> Item {
        Item { price }
    }

    /// Discounts the item by an amount.
    pub fn apply(&mut self, amount: u32) {
        self.price -= amount;
    }
}
''',
}


def write_shop(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def index(root: Path, memory_dir: Path):
    """Index `root` into a fresh memory (full-text only) and return the open Memory."""
    from rusta_lsp.memory.ingest import Ingestor
    from rusta_lsp.memory.store import Memory

    memory = Memory.open(str(memory_dir), root)
    Ingestor(memory, root).run(embed=False)
    return memory


def position(root: Path, rel: str, needle: str, delta: int = 0, nth: int = 0) -> tuple[int, int]:
    """1-based line and column (Unicode scalars) of the `nth` occurrence of `needle`, plus `delta`."""
    text = (root / rel).read_text(encoding="utf-8")
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += delta
    before = text[:at]
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return line, col


def explain_at(explainer, rel: str, data: bytes, line: int, col: int):
    """Explain at a 1-based line and column (Unicode scalars), as `rusta explain` does."""
    from rusta_lsp.analysis.model import Pos

    return explainer.explain(rel, data, explainer.parse(rel, data).lines.offset(Pos(line, col)))


def plain(value):
    """JSON results as pygls clients hand them over (namedtuples) back to dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
