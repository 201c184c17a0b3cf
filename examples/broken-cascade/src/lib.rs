//! One lost `use`, three errors. The trait that gives a list of lengths its `width` and its
//! `contains` is no longer imported (`use span::Span;` was here): `width` is not found, the root
//! error, and each `contains` call falls back to the slice's own `contains(&usize)`, a membership
//! test, with a type error whose own fix (`&word.len()`) compiles but asks another question.
//! Restoring the `use` fixes all three.

pub mod pick;
pub mod span;

/// The lengths of the words of `text`, in order.
pub fn lengths(text: &str) -> Vec<usize> {
    text.split_whitespace().map(str::len).collect()
}

/// How much longer the longest word of `text` is than the shortest.
pub fn spread(text: &str) -> usize {
    lengths(text).width()
}

/// Whether `word` is no shorter than the shortest word of `text` and no longer than the longest.
pub fn fits(text: &str, word: &str) -> bool {
    lengths(text).contains(word.len())
}
