//! Capturing a hex window: the bytes around a hit, or at the start of a region the attacker
//! could not read, taken from any [`MemorySource`] into a [`HexWindow`] that renderers draw
//! later without touching memory.
//!
//! One rule says which bytes a view shows ([`around_hit`], [`at_region`]); the demo's cells,
//! the presenter, the HTML report, `attack` and `show --hit` all use it.

use super::{read_pagewise, MemorySource, RegionKind};
use crate::model::{HexRow, HexWindow, Span};

/// Bytes per row.
const ROW: u64 = 16;
/// Bytes a view shows: four rows.
pub const WINDOW_LEN: u64 = 64;

/// The window around a hit of `len` bytes at `vaddr`: from the row before the hit's row,
/// [`WINDOW_LEN`] bytes, grown by whole rows when the hit would not fit.
pub fn around_hit(vaddr: u64, len: u64) -> Span {
    let start = vaddr.saturating_sub(ROW) & !(ROW - 1);
    let hit_end = vaddr.saturating_add(len);
    let mut end = start.saturating_add(WINDOW_LEN);
    if hit_end > end {
        end = hit_end
            .checked_add(ROW - 1)
            .map_or(u64::MAX, |e| e & !(ROW - 1));
    }
    Span::new(start, end)
}

/// The window showing a region the attacker could not read (or that the dump left out): its
/// first [`WINDOW_LEN`] bytes, from the row it starts in.
pub fn at_region(start: u64) -> Span {
    let start = start & !(ROW - 1);
    Span::new(start, start.saturating_add(WINDOW_LEN))
}

/// One byte position of a row, as read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Byte {
    /// Outside the requested window (row padding).
    Blank,
    /// No region of the source covers it.
    Missing,
    /// A region covers it but a read of it was refused (unreadable region, failed read).
    Unknown,
    /// A region covers it but the source left its bytes out (an absent region of a core).
    Absent,
    /// A byte.
    Known(u8),
}

/// Reads `window` of `source` into a [`HexWindow`] titled `title`: unreadable bytes are
/// `None`, bytes inside a `highlight` span are marked. Each row also notes, for terminal views,
/// the region the view enters there and why bytes are missing, and whether no region covers
/// it at all.
pub fn capture<S: MemorySource + ?Sized>(
    source: &S,
    title: &str,
    window: Span,
    highlight: &[Span],
) -> HexWindow {
    let mut rows = Vec::new();
    let mut row = window.start - window.start % ROW;
    let mut last_region: Option<u64> = None;
    let mut last_failure: Option<String> = None;
    while row < window.end {
        let (cells, failure) = row_bytes(source, row, window);
        let unmapped = cells
            .iter()
            .all(|c| matches!(c, Byte::Missing | Byte::Blank));
        let mut note = String::new();
        if !unmapped {
            // Name the region when the view enters it: which mapping, and why bytes are missing.
            let first_in = row.max(window.start);
            if let Some(r) = source.region_at(first_in) {
                if last_region != Some(r.span.start) {
                    last_region = Some(r.span.start);
                    note = match &r.kind {
                        RegionKind::Readable => format!("  {}", r.name),
                        RegionKind::Unreadable(why) | RegionKind::Absent(why) => {
                            format!("  {}: {why}", r.name)
                        }
                    };
                }
            }
            // A live read that failed: say why once per run of failing rows.
            match failure {
                Some(why) if last_failure.as_ref() != Some(&why) => {
                    note = format!("{note}  ({why})");
                    last_failure = Some(why);
                }
                Some(_) => {}
                None => last_failure = None,
            }
        }
        let mut bytes = Vec::with_capacity(cells.len());
        let mut marks = Vec::with_capacity(cells.len());
        for (i, c) in (0u64..).zip(cells.iter()) {
            bytes.push(match c {
                Byte::Known(b) => Some(*b),
                _ => None,
            });
            marks.push(highlight.iter().any(|s| s.contains(row.wrapping_add(i))));
        }
        // Bytes the attacker never had (left out, or in no region) are told apart from refused
        // ones: only a refusal is a protection.
        let absent: Vec<bool> = cells
            .iter()
            .map(|c| matches!(c, Byte::Absent | Byte::Missing))
            .collect();
        rows.push(HexRow {
            addr: row,
            bytes,
            highlight: marks,
            absent: if absent.contains(&true) {
                absent
            } else {
                Vec::new()
            },
            note,
            unmapped,
        });
        match row.checked_add(ROW) {
            Some(next) => row = next,
            None => break,
        }
    }
    HexWindow {
        title: title.to_string(),
        rows,
        span: window,
    }
}

/// The 16 bytes of the row starting at `row`, and the reason of the first failed read in it.
fn row_bytes<S: MemorySource + ?Sized>(
    source: &S,
    row: u64,
    window: Span,
) -> ([Byte; 16], Option<String>) {
    let mut cells = [Byte::Blank; 16];
    let mut failure = None;
    let mut i = 0usize;
    while i < cells.len() {
        let a = row.wrapping_add(i as u64);
        if !window.contains(a) {
            i += 1;
            continue;
        }
        let Some(r) = source.region_at(a) else {
            if let Some(c) = cells.get_mut(i) {
                *c = Byte::Missing;
            }
            i += 1;
            continue;
        };
        // The piece of this row inside both the region and the window.
        let end = r.span.end.min(window.end).min(row.saturating_add(ROW));
        let n = usize::try_from(end.saturating_sub(a).max(1))
            .unwrap_or(1)
            .min(cells.len() - i);
        let Some(slot) = cells.get_mut(i..i + n) else {
            break;
        };
        if r.kind == RegionKind::Readable {
            let mut buf = vec![0u8; n];
            let bad = read_pagewise(source, a, &mut buf);
            if let Some((_, e)) = bad.first() {
                failure.get_or_insert_with(|| e.reason.clone());
            }
            for ((k, b), c) in (0u64..).zip(buf.iter()).zip(slot.iter_mut()) {
                let at = a + k;
                *c = if bad.iter().any(|(s, _)| s.contains(at)) {
                    Byte::Unknown
                } else {
                    Byte::Known(*b)
                };
            }
        } else if matches!(r.kind, RegionKind::Absent(_)) {
            slot.fill(Byte::Absent);
        } else {
            slot.fill(Byte::Unknown);
        }
        i += n;
    }
    (cells, failure)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::memory::{ReadError, SourceRegion};

    struct Two {
        regions: Vec<SourceRegion>,
    }

    impl MemorySource for Two {
        fn describe(&self) -> String {
            "two".into()
        }
        fn regions(&self) -> &[SourceRegion] {
            &self.regions
        }
        fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            for (k, b) in buf.iter_mut().enumerate() {
                *b = b"hello world, this is memory!"[(addr as usize + k) % 28];
            }
            Ok(())
        }
    }

    /// 16 readable bytes of `[heap]`, then 16 refused bytes of `/secretmem (deleted)`.
    pub(crate) fn heap_then_secretmem() -> impl MemorySource {
        Two {
            regions: vec![
                SourceRegion {
                    span: Span::new(0x1000, 0x1010),
                    name: "[heap]".into(),
                    kind: RegionKind::Readable,
                    offset: Some(0x1000),
                },
                SourceRegion {
                    span: Span::new(0x1010, 0x1020),
                    name: "/secretmem (deleted)".into(),
                    kind: RegionKind::Unreadable("EIO".into()),
                    offset: None,
                },
            ],
        }
    }

    #[test]
    fn captured_window_keeps_unreadable_bytes_unknown() {
        let src = heap_then_secretmem();
        let w = capture(
            &src,
            "t",
            Span::new(0x1008, 0x1018),
            &[Span::new(0x1008, 0x100a)],
        );
        assert_eq!(w.rows.len(), 2);
        assert_eq!(
            w.rows[0].bytes[8],
            Some(b"hello world, this is memory!"[0x1008 % 28])
        );
        assert_eq!(w.rows[0].bytes[0], None); // outside the window
        assert!(w.rows[0].highlight[8] && !w.rows[0].highlight[10]);
        assert!(w.rows[1].bytes.iter().all(Option::is_none));
        assert!(w.rows[1].absent.is_empty(), "refused, not absent");
        assert_eq!(w.rows[1].gap(0), Some(crate::model::Gap::Refused));
        assert_eq!(w.rows[0].note, "  [heap]");
        assert_eq!(w.rows[1].note, "  /secretmem (deleted): EIO");
        let w = capture(&src, "t", Span::new(0x1000, 0x1040), &[]);
        assert_eq!(
            w.rows.iter().map(|r| r.unmapped).collect::<Vec<_>>(),
            [false, false, true, true]
        );
        // No region covers the last rows: not in what the attacker got, never "refused".
        assert_eq!(w.rows[2].gap(0), Some(crate::model::Gap::Absent));
        assert_eq!(w.rows[0].gap(0), None);
    }

    #[test]
    fn one_rule_for_the_window() {
        // A 34-byte canary fits the 64 bytes from the row before it...
        assert_eq!(around_hit(0x1005, 34), Span::new(0x0ff0, 0x1030));
        // ...unless it starts at the end of its row: then one more row.
        assert_eq!(around_hit(0x100f, 34), Span::new(0x0ff0, 0x1040));
        // A long hit is shown whole.
        assert_eq!(around_hit(0x1000, 100), Span::new(0x0ff0, 0x1070));
        assert_eq!(around_hit(3, 4), Span::new(0, 64));
        assert_eq!(at_region(0x2008), Span::new(0x2000, 0x2040));
    }
}
