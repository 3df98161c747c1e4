//! Address lookups over what a core's notes list, in O(log n) each: a hostile core may list a
//! million NT_FILE entries and twenty thousand segments, and a linear search per segment made
//! reading one take minutes.

use crate::model::Span;

/// Disjoint spans in address order, each naming the entry it came from. Built once from spans
/// that a hostile file may make overlap: an overlap belongs to the entry that starts first (in
/// file order among equal starts), as with overlapping PT_LOADs, and the later one is clipped.
/// For the spans a real core lists, which never overlap, a lookup finds the one entry that
/// contains the address.
#[derive(Debug, Default)]
pub(super) struct SpanIndex {
    spans: Vec<(Span, usize)>,
}

impl SpanIndex {
    /// Indexes `spans`; the `usize` a lookup returns is a span's position in this iterator.
    pub(super) fn new(spans: impl IntoIterator<Item = Span>) -> Self {
        let mut all: Vec<(Span, usize)> = spans
            .into_iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .map(|(i, s)| (s, i))
            .collect();
        all.sort_unstable_by_key(|&(s, i)| (s.start, i));
        let mut out = Vec::with_capacity(all.len());
        let mut last_end = 0u64;
        for (s, i) in all {
            let start = s.start.max(last_end);
            if start < s.end {
                out.push((Span::new(start, s.end), i));
                last_end = s.end;
            }
        }
        Self { spans: out }
    }

    /// The entry whose (clipped) span contains `addr`.
    pub(super) fn find(&self, addr: u64) -> Option<usize> {
        let at = self.spans.partition_point(|(s, _)| s.end <= addr);
        self.spans
            .get(at)
            .filter(|(s, _)| s.contains(addr))
            .map(|&(_, i)| i)
    }
}

/// Points (a thread's stack pointer) in address order, each naming its entry.
#[derive(Debug, Default)]
pub(super) struct PointIndex {
    points: Vec<(u64, usize)>,
}

impl PointIndex {
    /// Indexes `points`; the `usize` a lookup returns is a point's position in this iterator.
    pub(super) fn new(points: impl IntoIterator<Item = u64>) -> Self {
        let mut points: Vec<(u64, usize)> = points
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, i))
            .collect();
        points.sort_unstable();
        Self { points }
    }

    /// The entry of the lowest point inside `span` (in file order among equal points).
    pub(super) fn first_in(&self, span: Span) -> Option<usize> {
        let at = self.points.partition_point(|&(p, _)| p < span.start);
        self.points
            .get(at)
            .filter(|&&(p, _)| span.contains(p))
            .map(|&(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_belong_to_the_first_start() {
        let idx = SpanIndex::new([
            Span::new(0x100, 0x200),
            Span::new(0x000, 0x180),
            Span::new(0x300, 0x300),
            Span::new(0x150, 0x400),
        ]);
        assert_eq!(idx.find(0x0), Some(1));
        assert_eq!(idx.find(0x17f), Some(1));
        assert_eq!(idx.find(0x180), Some(0));
        assert_eq!(idx.find(0x1ff), Some(0));
        assert_eq!(idx.find(0x200), Some(3));
        assert_eq!(idx.find(0x3ff), Some(3));
        assert_eq!(idx.find(0x400), None);
        assert_eq!(SpanIndex::new([]).find(0), None);
    }

    #[test]
    fn points_in_a_span() {
        let idx = PointIndex::new([0x250, 0x150, 0x160]);
        assert_eq!(idx.first_in(Span::new(0x100, 0x200)), Some(1));
        assert_eq!(idx.first_in(Span::new(0x200, 0x250)), None);
        assert_eq!(idx.first_in(Span::new(0x200, 0x251)), Some(0));
    }
}
