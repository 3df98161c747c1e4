//! The hex view: 16 bytes per row (address, hex, ASCII) of a captured [`HexWindow`], with the
//! bytes whose read was refused drawn as `??` / `?` (the "?????" an admin sees when dumping an
//! enclave) and bytes that are simply not in what the attacker got (a tool left them out)
//! drawn differently, dim `--` / `-`: only a refusal is a protection. It draws what
//! `memory::window::capture` read; it never reads memory and never logs the bytes.

use std::fmt::Write;

use super::style::{paint, DIM, RED_BOLD, YELLOW};

/// The glyphs of a missing byte (hex column, ASCII column).
pub fn glyphs(gap: Gap) -> (&'static str, &'static str) {
    match gap {
        Gap::Refused => ("??", "?"),
        Gap::Absent => ("--", "-"),
    }
}
use crate::i18n::Lang;
use crate::model::{Gap, HexRow, HexWindow, Span};

/// Draws a captured window for a terminal (`show`, `attack`): each row with its note (the
/// region the view enters, why bytes are missing), and one "not in any region" line per run
/// of rows no region covers. Highlighted bytes are red when `color`; rows holding them are
/// marked with `*` when not.
pub fn render(w: &HexWindow, color: bool) -> String {
    let mut out = String::new();
    let mut missing_since: Option<u64> = None;
    let gap = |out: &mut String, from: u64, to: u64| {
        let _ = writeln!(
            out,
            "  {from:#018x}-{to:#018x}  {}",
            paint("not in any region of the source", DIM, color)
        );
    };
    for r in &w.rows {
        if r.unmapped {
            missing_since.get_or_insert(r.addr.max(w.span.start));
            continue;
        }
        if let Some(since) = missing_since.take() {
            gap(&mut out, since, r.addr);
        }
        push_row(&mut out, r, color, &r.note, Some(w.span), None);
    }
    if let Some(since) = missing_since {
        gap(&mut out, since, w.span.end);
    }
    out
}

/// Draws a captured window as reports show it (presenter, cell views): every row, `??` / `--`
/// for missing bytes, no notes (the window's title says what it is). Compact: addresses in
/// the hex digits the window needs, without `0x`, and the ASCII column set off as xxd does, so a
/// row of user-space memory (12 digits) is 80 columns.
pub fn render_window(w: &HexWindow, color: bool) -> String {
    let digits = w
        .rows
        .iter()
        .map(|r| format!("{:x}", r.addr).len())
        .max()
        .unwrap_or(1)
        .max(8);
    let mut out = String::new();
    for r in &w.rows {
        push_row(&mut out, r, color, "", None, Some(digits));
    }
    out
}

/// The legend a window needs: `(glyph, what it means in lang)` for each kind of missing byte
/// it shows.
pub fn legend(w: &HexWindow, lang: Lang) -> Vec<(&'static str, &'static str)> {
    let uses = |g: Gap| {
        w.rows
            .iter()
            .any(|r| (0..r.bytes.len()).any(|i| r.gap(i) == Some(g)))
    };
    [(Gap::Refused, "hex.refused"), (Gap::Absent, "hex.absent")]
        .into_iter()
        .filter(|(g, _)| uses(*g))
        .map(|(g, key)| (glyphs(g).0, crate::i18n::t(lang, key)))
        .collect()
}

/// How a byte taken out by `--redact` is drawn (twice in the hex column, once in the ASCII).
pub const REDACTED: &str = "█";

/// One row: a `*` when it holds highlighted bytes (without colour), the address, 16 hex cells
/// in two groups, the ASCII column, and `note`. `compact`: the address in that many digits
/// without `0x`, one space after it (else `0x` and 16 digits, two spaces). Bytes outside
/// `inside` (when given) are row padding, drawn blank.
fn push_row(
    out: &mut String,
    row: &HexRow,
    color: bool,
    note: &str,
    inside: Option<Span>,
    compact: Option<usize>,
) {
    let (addr, marks) = (row.addr, &row.highlight);
    let marked = marks.iter().any(|&m| m);
    out.push(if marked && !color { '*' } else { ' ' });
    let _ = match compact {
        Some(digits) => write!(out, "{addr:0digits$x} "),
        None => write!(out, " {addr:#018x}  "),
    };
    let mut ascii = String::new();
    for (i, b) in row.bytes.iter().enumerate() {
        let hl = color && marks.get(i).copied().unwrap_or(false);
        let padding = inside.is_some_and(|w| !w.contains(addr.wrapping_add(i as u64)));
        let (h, ch) = match b {
            _ if padding => ("  ".to_string(), " ".to_string()),
            // A highlighted byte without a value: taken out by --redact (HexRow::is_redacted).
            None if row.is_redacted(i) => (REDACTED.repeat(2), REDACTED.into()),
            None => {
                let gap = row.gap(i).unwrap_or(Gap::Refused);
                let (h, a) = glyphs(gap);
                let style = if gap == Gap::Refused { YELLOW } else { DIM };
                (paint(h, style, color), paint(a, style, color))
            }
            Some(b) => {
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
    // Compact rows separate the ASCII column as xxd does (two spaces, no bars): 80 columns.
    let (open, close) = if compact.is_some() {
        (" ", "")
    } else {
        (" |", "|")
    };
    let _ = writeln!(out, "{open}{ascii}{close}{note}");
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::HexRow;

    /// As `memory::window::capture` gives `[heap]` then refused `/secretmem` bytes, then no
    /// region, for the 64 bytes at 0x1000 with the first two bytes highlighted.
    fn captured() -> HexWindow {
        let row = |addr: u64, bytes: Vec<Option<u8>>, note: &str, unmapped: bool| HexRow {
            addr,
            highlight: (0..16).map(|i| addr == 0x1000 && i < 2).collect(),
            bytes,
            absent: vec![unmapped; if unmapped { 16 } else { 0 }],
            note: note.into(),
            unmapped,
        };
        HexWindow {
            title: "t".into(),
            rows: vec![
                row(0x1000, vec![Some(b'h'); 16], "  [heap]", false),
                row(0x1010, vec![None; 16], "  /secretmem (deleted): EIO", false),
                row(0x1020, vec![None; 16], "", true),
                row(0x1030, vec![None; 16], "", true),
            ],
            span: Span::new(0x1000, 0x1040),
        }
    }

    #[test]
    fn unreadable_shown_as_question_marks() {
        let t = render(&captured(), false);
        let lines: Vec<_> = t.lines().collect();
        assert!(lines[0].starts_with('*'), "{t}");
        assert!(lines[1].contains("?? ?? ??"), "{t}");
        assert!(lines[1].contains("|????????????????|"), "{t}");
        assert!(lines[1].contains("/secretmem (deleted): EIO"), "{t}");
        assert!(
            lines[2].contains("0x0000000000001020-0x0000000000001040"),
            "{t}"
        );
        assert!(lines[2].contains("not in any region"), "{t}");
        assert_eq!(lines.len(), 3, "{t}");
        assert!(!t.contains('\x1b'));
    }

    #[test]
    fn report_views_draw_every_row_without_notes() {
        let t = render_window(&captured(), false);
        assert_eq!(t.lines().count(), 4, "{t}");
        assert!(t.contains("?? ??  ????????????????"), "{t}");
        // Bytes no region holds are not drawn as refused ones.
        assert!(t.contains("-- --  ----------------"), "{t}");
        assert!(t.lines().all(|l| l.chars().count() <= 80), "{t}");
        let legend = legend(&captured(), Lang::En);
        assert_eq!(legend.len(), 2, "{legend:?}");
        assert_eq!(legend[0].0, "??", "{legend:?}");
        assert!(
            legend[0].1.starts_with("the read was refused"),
            "{legend:?}"
        );
        assert_eq!(legend[1].0, "--", "{legend:?}");
        assert!(legend[1].1.starts_with("not in the dump"), "{legend:?}");
        assert!(
            !t.contains("secretmem") && !t.contains("not in any region"),
            "{t}"
        );
    }
}
