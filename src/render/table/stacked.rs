//! The stacked layout, for screens too narrow for one column per attack path: one block per
//! scenario, one line per attack, the lesson and the row's footnotes under it.
//!
//! ```text
//! plain — Ordinary memory
//!   dump      LEAK ✓    [heap]
//!   gcore     absent ✓  [anon]
//!   lesson: Any root tool recovers the secret.
//! ```

use super::grid::{details, verdict_line, Line};
use super::notes::Notes;
use crate::model::{AttackKind, MatrixReport};
use crate::render::matrix::{cell_at, stand_in_label};
use crate::render::style::{paint, BOLD, DIM};
use crate::render::wrap::{display_width, hang, wrap};

/// Below this many columns for the details, they go on lines of their own.
const MIN_DETAILS: usize = 14;

/// The rows of `report` in the columns `shown`, stacked, at most `width` wide.
pub(crate) fn draw(
    report: &MatrixReport,
    shown: &[AttackKind],
    notes: &Notes,
    width: usize,
    color: bool,
) -> String {
    let lang = report.lang;
    let mut out = String::new();
    let aw = shown
        .iter()
        .map(|a| display_width(a.as_str()))
        .max()
        .unwrap_or(0);
    let verdicts: Vec<Line> = report
        .cells
        .iter()
        .filter(|c| shown.contains(&c.attack))
        .map(|c| verdict_line(lang, c, notes))
        .collect();
    let vw = verdicts.iter().map(Line::width).max().unwrap_or(0);
    let lead = 2 + aw + 2 + vw + 2;
    let inline = width.saturating_sub(lead) >= MIN_DETAILS;
    for (i, s) in report.scenarios.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let head = format!("{} — ", s.name);
        for (k, l) in hang(&head, s.title.get(lang), width)
            .into_iter()
            .enumerate()
        {
            if k == 0 {
                let (name, rest) = l.split_at(s.name.len());
                out.push_str(&format!("{}{rest}\n", paint(name, BOLD, color)));
            } else {
                out.push_str(&format!("{l}\n"));
            }
        }
        if let Some(what) = &s.stand_in_for {
            let label = format!("— {}", stand_in_label(lang, what));
            for l in hang("  ", &label, width) {
                out.push_str(&format!("{}\n", paint(&l, DIM, color)));
            }
        }
        if let Some(why) = &s.unavailable {
            let (text, style) = super::unavailable_row(report, s, why);
            for l in hang("  ", &text, width) {
                out.push_str(&format!("{}\n", paint(&l, style, color)));
            }
        } else {
            for a in shown {
                let Some(c) = cell_at(report, &s.name, *a) else {
                    continue;
                };
                // A path that does not apply to this row is not listed in it.
                if crate::render::summary::by_design(c) {
                    continue;
                }
                let name = format!("{:<aw$}", a.as_str());
                let verdict = verdict_line(lang, c, notes).draw(vw, color);
                let mut first = format!("  {}  {verdict}", paint(&name, BOLD, color));
                let pad = " ".repeat(if inline { lead } else { 4 });
                let dw = width.saturating_sub(pad.len()).max(8);
                let mut lines: Vec<String> = Vec::new();
                for (text, style) in details(lang, c) {
                    lines.extend(wrap(&text, dw).into_iter().map(|l| paint(&l, style, color)));
                }
                let mut rest = lines.into_iter();
                if inline {
                    if let Some(l) = rest.next() {
                        first = format!("{first}  {l}");
                    }
                }
                out.push_str(first.trim_end());
                out.push('\n');
                for l in rest {
                    out.push_str(&format!("{pad}{l}\n"));
                }
            }
        }
        for line in super::row_band(lang, s, notes, width.saturating_sub(2)) {
            out.push_str(&format!("  {}\n", line.draw(0, color).trim_end()));
        }
    }
    out
}
