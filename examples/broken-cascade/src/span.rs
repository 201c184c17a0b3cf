//! A list of lengths seen as a span, from the shortest to the longest.

/// `width`: the longest minus the shortest; `contains`: whether a length lies between them (not
/// whether it was seen).
pub trait Span {
    fn width(&self) -> usize;
    fn contains(&self, n: usize) -> bool;
}

impl Span for Vec<usize> {
    fn width(&self) -> usize {
        match (self.iter().min(), self.iter().max()) {
            (Some(lo), Some(hi)) => hi - lo,
            _ => 0,
        }
    }

    fn contains(&self, n: usize) -> bool {
        match (self.iter().min(), self.iter().max()) {
            (Some(&lo), Some(&hi)) => lo <= n && n <= hi,
            _ => false,
        }
    }
}
