//! Choosing words by the lengths of another text's words.

use super::*;

/// The words of `words` that fit `text` (see `fits`).
pub fn fitting<'a>(text: &str, words: &[&'a str]) -> Vec<&'a str> {
    let seen = lengths(text);
    words.iter().copied().filter(|w| seen.contains(w.len())).collect()
}
