//! Unresolved names: the same missing `use` is reported by several errors and must be added once.

/// Counts words; the map type is not imported.
pub fn word_counts(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_string()).or_insert(0) += 1;
    }
    counts
}

/// Writes a greeting into any byte sink; `write_all` needs the `Write` trait.
/// One line on purpose: the error's column comes after non-ASCII text.
pub fn greet(out: &mut Vec<u8>, name: &str) {
    let text = format!("«héllo» {name}"); out.write_all(text.as_bytes()).unwrap();
}

/// A second use of the map type: its import must still be inserted once.
pub fn empty_counts() -> HashMap<String, usize> {
    HashMap::new()
}
