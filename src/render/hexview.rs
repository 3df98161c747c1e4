//! The hex view: 16 bytes per row (address, hex, ASCII) of any [`MemorySource`], with the bytes
//! the attacker could not read drawn as `??` / `?`: the "?????" an admin sees when dumping an
//! enclave. It prints to stdout on purpose (showing the bytes is the demo's point); it never
//! logs them.

use std::fmt::Write;

use super::style::{paint, DIM, RED_BOLD, YELLOW};
use crate::memory::{read_pagewise, MemorySource, RegionKind};
use crate::model::{HexRow, HexWindow, Span};

const ROW: u64 = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// Outside the requested window (row padding).
    Blank,
    /// No region of the source covers it.
    Missing,
    /// A region covers it but the bytes are not there (unreadable, absent, failed read).
    Unknown,
    /// A byte.
    Byte(u8),
}

/// Draws `[addr, addr+len)` of `source`. Bytes inside any `highlight` span are shown in red
/// when `color`, and rows holding them are marked with `*` when not.
pub fn render<S: MemorySource + ?Sized>(
    source: &S,
    addr: u64,
    len: u64,
    highlight: &[Span],
    color: bool,
) -> String {
    let window = Span::new(addr, addr.saturating_add(len));
    let mut out = String::new();
    let mut row = addr - addr % ROW;
    let mut missing_since: Option<u64> = None;
    let mut last_region: Option<u64> = None;
    let mut last_failure: Option<String> = None;
    while row < window.end {
        let (cells, failure) = row_cells(source, row, window);
        let next = row.saturating_add(ROW);
        let all_missing = cells
            .iter()
            .all(|c| matches!(c, Cell::Missing | Cell::Blank));
        if all_missing {
            missing_since.get_or_insert(row.max(window.start));
            if next <= row {
                break;
            }
            row = next;
            continue;
        }
        if let Some(since) = missing_since.take() {
            let _ = writeln!(
                out,
                "  {since:#018x}-{row:#018x}  {}",
                paint("not in any region of the source", DIM, color)
            );
        }
        // Name the region when the view enters it: which mapping, and why bytes are missing.
        let first_in = row.max(window.start);
        let note = match source.region_at(first_in) {
            Some(r) if last_region != Some(r.span.start) => {
                last_region = Some(r.span.start);
                match &r.kind {
                    RegionKind::Readable => format!("  {}", r.name),
                    RegionKind::Unreadable(why) | RegionKind::Absent(why) => {
                        format!("  {}: {why}", r.name)
                    }
                }
            }
            _ => String::new(),
        };
        // A live read that failed: say why once per run of failing rows.
        let note = match failure {
            Some(why) if last_failure.as_ref() != Some(&why) => {
                last_failure = Some(why.clone());
                format!("{note}  ({why})")
            }
            Some(_) => note,
            None => {
                last_failure = None;
                note
            }
        };
        let marks: Vec<bool> = (0..ROW)
            .map(|i| is_hl(row.wrapping_add(i), highlight))
            .collect();
        push_row(&mut out, row, &cells, &marks, color, &note);
        if next <= row {
            break;
        }
        row = next;
    }
    if let Some(since) = missing_since {
        let _ = writeln!(
            out,
            "  {since:#018x}-{:#018x}  {}",
            window.end,
            paint("not in any region of the source", DIM, color)
        );
    }
    out
}

/// Reads `[addr, addr+len)` of `source` into a [`HexWindow`] (unreadable bytes as `None`), so
/// that reports (HTML, presenter) can draw it later without the source.
pub fn capture<S: MemorySource + ?Sized>(
    source: &S,
    title: &str,
    addr: u64,
    len: u64,
    highlight: &[Span],
) -> HexWindow {
    let window = Span::new(addr, addr.saturating_add(len));
    let mut rows = Vec::new();
    let mut row = addr - addr % ROW;
    while row < window.end {
        let (cells, _) = row_cells(source, row, window);
        let mut bytes = Vec::with_capacity(16);
        let mut marks = Vec::with_capacity(16);
        for (i, c) in cells.iter().enumerate() {
            let a = row.wrapping_add(i as u64);
            bytes.push(match c {
                Cell::Byte(b) => Some(*b),
                _ => None,
            });
            marks.push(is_hl(a, highlight));
        }
        rows.push(HexRow {
            addr: row,
            bytes,
            highlight: marks,
        });
        match row.checked_add(ROW) {
            Some(next) => row = next,
            None => break,
        }
    }
    HexWindow {
        title: title.to_string(),
        rows,
    }
}

/// Draws a captured window: the same layout as [`render`], `??` for missing bytes.
pub fn render_window(w: &HexWindow, color: bool) -> String {
    let mut out = String::new();
    for r in &w.rows {
        let cells: Vec<Cell> = r
            .bytes
            .iter()
            .map(|b| b.map_or(Cell::Unknown, Cell::Byte))
            .collect();
        push_row(&mut out, r.addr, &cells, &r.highlight, color, "");
    }
    out
}

/// One row: a `*` when it holds highlighted bytes (without colour), the address, 16 hex cells in
/// two groups, the ASCII column, and `note`. `marks[i]` highlights cell `i`.
fn push_row(out: &mut String, addr: u64, cells: &[Cell], marks: &[bool], color: bool, note: &str) {
    let marked = marks.iter().any(|&m| m);
    out.push(if marked && !color { '*' } else { ' ' });
    let _ = write!(out, " {addr:#018x}  ");
    let mut ascii = String::new();
    for (i, c) in cells.iter().enumerate() {
        let hl = color && marks.get(i).copied().unwrap_or(false);
        let (h, ch) = match c {
            Cell::Blank => ("  ".to_string(), " ".to_string()),
            Cell::Missing | Cell::Unknown => {
                (paint("??", YELLOW, color), paint("?", YELLOW, color))
            }
            Cell::Byte(b) => {
                let shown = if b.is_ascii_graphic() || *b == b' ' {
                    char::from(*b)
                } else {
                    '.'
                };
                (hex::encode([*b]), shown.to_string())
            }
        };
        if hl {
            out.push_str(&paint(&h, RED_BOLD, true));
            ascii.push_str(&paint(&ch, RED_BOLD, true));
        } else {
            out.push_str(&h);
            ascii.push_str(&ch);
        }
        out.push(' ');
        if i == 7 {
            out.push(' ');
        }
    }
    let _ = writeln!(out, " |{ascii}|{note}");
}

fn is_hl(a: u64, highlight: &[Span]) -> bool {
    highlight.iter().any(|s| s.contains(a))
}

/// The 16 cells of the row starting at `row`.
/// Also returns the reason of the first failed read in the row, if any.
fn row_cells<S: MemorySource + ?Sized>(
    source: &S,
    row: u64,
    window: Span,
) -> ([Cell; 16], Option<String>) {
    let mut cells = [Cell::Blank; 16];
    let mut failure = None;
    let mut i = 0u64;
    while i < ROW {
        let a = row.wrapping_add(i);
        if !window.contains(a) {
            i += 1;
            continue;
        }
        let Some(r) = source.region_at(a) else {
            cells[i as usize] = Cell::Missing;
            i += 1;
            continue;
        };
        // The piece of this row inside both the region and the window.
        let end = r.span.end.min(window.end).min(row.saturating_add(ROW));
        let n = end.saturating_sub(a).max(1);
        let slot = i as usize..(i + n) as usize;
        if r.kind == RegionKind::Readable {
            let mut buf = vec![0u8; n as usize];
            let bad = read_pagewise(source, a, &mut buf);
            if let Some((_, e)) = bad.first() {
                failure.get_or_insert_with(|| e.reason.clone());
            }
            for (k, b) in buf.iter().enumerate() {
                let at = a + k as u64;
                cells[slot.start + k] = if bad.iter().any(|(s, _)| s.contains(at)) {
                    Cell::Unknown
                } else {
                    Cell::Byte(*b)
                };
            }
        } else {
            cells[slot].fill(Cell::Unknown);
        }
        i += n;
    }
    (cells, failure)
}

#[cfg(test)]
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
    fn heap_then_secretmem() -> Two {
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
    fn unreadable_shown_as_question_marks() {
        let src = heap_then_secretmem();
        let t = render(&src, 0x1000, 0x40, &[Span::new(0x1000, 0x1002)], false);
        let lines: Vec<_> = t.lines().collect();
        assert!(lines[0].starts_with('*'), "{t}");
        assert!(lines[1].contains("?? ?? ??"), "{t}");
        assert!(lines[1].contains("|????????????????|"), "{t}");
        assert!(lines[1].contains("/secretmem (deleted): EIO"), "{t}");
        assert!(lines[2].contains("not in any region"), "{t}");
        assert_eq!(lines.len(), 3, "{t}");
        assert!(!t.contains('\x1b'));
    }

    #[test]
    fn captured_window_keeps_unreadable_bytes_unknown() {
        let src = heap_then_secretmem();
        let w = capture(&src, "t", 0x1008, 0x10, &[Span::new(0x1008, 0x100a)]);
        assert_eq!(w.rows.len(), 2);
        assert_eq!(
            w.rows[0].bytes[8],
            Some(b"hello world, this is memory!"[0x1008 % 28])
        );
        assert_eq!(w.rows[0].bytes[0], None); // outside the window
        assert!(w.rows[0].highlight[8] && !w.rows[0].highlight[10]);
        assert!(w.rows[1].bytes.iter().all(Option::is_none));
        let t = render_window(&w, false);
        assert!(t.contains("|????????????????|"), "{t}");
    }
}
