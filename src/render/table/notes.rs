//! Footnotes of the terminal table: one kind of marker (`¹ ² ³ …`) numbered across the whole
//! table, each reason said once. A reason only one row has is printed under that row; a reason
//! several rows share is printed once, below the table.

use crate::i18n::Lang;
use crate::model::{Cell, MatrixReport, Outcome};

const MARKS: [&str; 9] = ["¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"];

/// The marker of note `i` (0-based).
pub(crate) fn mark(i: usize) -> String {
    MARKS
        .get(i)
        .map(|m| m.to_string())
        .unwrap_or_else(|| format!("[{}]", i + 1))
}

/// Does this cell's reason deserve a footnote? The reasons of n/a and errors are the only
/// explanation the reader gets; a mismatch's reason is what they will ask about first.
pub(crate) fn wants_note(c: &Cell) -> bool {
    // A cell n/a by design is drawn `·`; its column's reason is said once below the table.
    !c.reason.trim().is_empty()
        && !crate::render::summary::by_design(c)
        && (!c.met()
            || matches!(
                c.observed,
                Outcome::NotApplicable | Outcome::Error | Outcome::NotFound
            ))
}

/// The footnote text of a cell.
fn note_text(c: &Cell, lang: Lang) -> String {
    format!("{}{}{}", c.attack, crate::i18n::sep(lang), c.reason.trim())
}

/// Every footnote of one table, numbered in order of first appearance.
pub(crate) struct Notes {
    /// `(text, rows that use it)`, in marker order.
    notes: Vec<(String, Vec<String>)>,
    /// The report's language (the notes' label separator).
    lang: Lang,
}

impl Notes {
    /// The notes of the cells `cells` (those the table shows), in the order given.
    pub(crate) fn collect<'a>(cells: impl Iterator<Item = &'a Cell>, lang: Lang) -> Self {
        let mut notes: Vec<(String, Vec<String>)> = Vec::new();
        for c in cells.filter(|c| wants_note(c)) {
            let text = note_text(c, lang);
            match notes.iter_mut().find(|(t, _)| *t == text) {
                Some((_, rows)) => {
                    if !rows.contains(&c.scenario) {
                        rows.push(c.scenario.clone());
                    }
                }
                None => notes.push((text, vec![c.scenario.clone()])),
            }
        }
        Self { notes, lang }
    }

    /// The notes of `report`'s cells in the columns `shown`, row by row.
    pub(crate) fn of(report: &MatrixReport, shown: &[crate::model::AttackKind]) -> Self {
        // A row that cannot run says its reason once, across the row: its cells get no notes.
        Self::collect(
            report
                .scenarios
                .iter()
                .filter(|s| s.unavailable.is_none())
                .flat_map(|s| {
                    shown
                        .iter()
                        .filter_map(move |a| super::super::matrix::cell_at(report, &s.name, *a))
                }),
            report.lang,
        )
    }

    /// The marker a cell carries, if its reason is a footnote.
    pub(crate) fn mark_of(&self, c: &Cell) -> Option<String> {
        if !wants_note(c) {
            return None;
        }
        let text = note_text(c, self.lang);
        self.notes.iter().position(|(t, _)| *t == text).map(mark)
    }

    /// `(marker, text)` of the notes only row `scenario` uses: printed under it.
    pub(crate) fn of_row(&self, scenario: &str) -> Vec<(String, &str)> {
        self.select(|rows| rows.len() == 1 && rows.iter().any(|r| r == scenario))
    }

    /// `(marker, text)` of the notes several rows use: printed once, below the table.
    pub(crate) fn shared(&self) -> Vec<(String, &str)> {
        self.select(|rows| rows.len() >= 2)
    }

    fn select(&self, keep: impl Fn(&[String]) -> bool) -> Vec<(String, &str)> {
        self.notes
            .iter()
            .enumerate()
            .filter(|(_, (_, rows))| keep(rows))
            .map(|(i, (t, _))| (mark(i), t.as_str()))
            .collect()
    }
}
