//! The boxed table: one column per attack path shown, one row per scenario, the lesson and the
//! row's footnotes in a band under it. Column widths are fitted to the screen: each column
//! starts at its narrowest useful width and grows toward its natural width while room is left;
//! when even the narrowest widths do not fit, [`fit`] says so and the caller stacks instead.

use std::fmt::Write as _;

use super::notes::Notes;
use crate::i18n::{t, Lang};
use crate::model::{AttackKind, Cell, MatrixReport, Outcome, ScenarioInfo};
use crate::render::matrix::{cell_at, cell_word, mismatch_note, outcome_style, stand_in_label};
use crate::render::style::{paint, BOLD, DIM, RED_BOLD};
use crate::render::wrap::{display_width, longest_unit, truncate, wrap};

/// Narrowest useful attack column: `LEAK¹ ✓`, `対象外¹ ✓` fit; a column is as wide as its widest
/// verdict line at least.
const MIN_COL: usize = 9;
/// Widest attack column: wider only spreads a long `where` thinly.
const MAX_COL: usize = 22;
const MIN_SCENARIO_COL: usize = 14;
const MAX_SCENARIO_COL: usize = 26;

/// A run of text with one style (`""` = none).
type Seg = (String, &'static str);

/// One line of a table cell, as styled pieces; widths are measured on the text only.
#[derive(Default, Clone)]
pub(crate) struct Line(Vec<Seg>);

impl Line {
    pub(crate) fn plain(s: impl Into<String>) -> Self {
        Self(vec![(s.into(), "")])
    }
    pub(crate) fn styled(s: impl Into<String>, style: &'static str) -> Self {
        Self(vec![(s.into(), style)])
    }
    pub(crate) fn push(&mut self, s: impl Into<String>, style: &'static str) {
        self.0.push((s.into(), style));
    }
    pub(crate) fn width(&self) -> usize {
        self.0.iter().map(|(s, _)| display_width(s)).sum()
    }
    /// The line padded to `width` columns.
    pub(crate) fn draw(&self, width: usize, color: bool) -> String {
        let mut out = String::new();
        for (s, style) in &self.0 {
            if style.is_empty() {
                out.push_str(s);
            } else {
                out.push_str(&paint(s, style, color));
            }
        }
        out.push_str(&" ".repeat(width.saturating_sub(self.width())));
        out
    }
}

/// The verdict line of a cell of a row that runs here: the word, its footnote marker, `✓` when
/// as expected.
pub(crate) fn verdict_line(lang: Lang, c: &Cell, notes: &Notes) -> Line {
    let mut first = Line::styled(cell_word(lang, c, false), outcome_style(c.observed));
    if let Some(m) = notes.mark_of(c) {
        first.push(m, "");
    }
    if c.met() {
        first.push(" ✓", DIM);
    }
    first
}

/// What a cell says under its verdict, unwrapped: where, `fragments`, the mismatch.
pub(crate) fn details(lang: Lang, c: &Cell) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if !c.where_.is_empty()
        && matches!(
            c.observed,
            Outcome::Leak | Outcome::Unreadable | Outcome::Absent
        )
    {
        out.push((c.where_.clone(), ""));
    }
    if c.fragments_only && c.observed == Outcome::Leak {
        out.push((t(lang, "fragments").to_string(), DIM));
    }
    if !c.met() {
        out.push((mismatch_note(lang, c), RED_BOLD));
    }
    out
}

/// The lines of one attack cell, at most `width` wide.
fn cell_lines(lang: Lang, c: Option<&Cell>, width: usize, notes: &Notes) -> Vec<Line> {
    let Some(c) = c else {
        return vec![Line::styled("—", DIM)];
    };
    if crate::render::summary::by_design(c) {
        // Not this row's path; its column's reason is said once below the table.
        return vec![Line::styled("·", DIM)];
    }
    let mut lines = vec![verdict_line(lang, c, notes)];
    for (k, (text, style)) in details(lang, c).into_iter().enumerate() {
        let mut w = wrap(&text, width);
        if k == 0 && w.len() > 3 {
            // `where` can be a long list of mappings: three lines at most, then `…`.
            let rest = w[2..].join(" ");
            w.truncate(2);
            w.push(truncate(&rest, width));
        }
        lines.extend(w.into_iter().map(|l| Line::styled(l, style)));
    }
    lines
}

/// The scenario column: name, title, the stand-in label.
fn scenario_lines(lang: Lang, s: &ScenarioInfo, width: usize) -> Vec<Line> {
    let mut lines = vec![Line::styled(truncate(&s.name, width), BOLD)];
    let title = s.title.get(lang);
    if !title.is_empty() {
        lines.extend(wrap(title, width).into_iter().map(Line::plain));
    }
    if let Some(what) = &s.stand_in_for {
        // Honest label: memfd_secret is a stand-in, never "an enclave".
        let label = format!("— {}", stand_in_label(lang, what));
        lines.extend(
            wrap(&label, width)
                .into_iter()
                .map(|l| Line::styled(l, DIM)),
        );
    }
    lines
}

/// Which column boundaries a horizontal rule meets above and below it.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Nothing (the edge of the table).
    None,
    /// Every column.
    Full,
    /// Only the scenario column's right edge (an unavailable row).
    FirstOnly,
    /// No inner boundary (a lesson line).
    Span,
}

/// Column widths of a fitted table.
pub(crate) struct Geometry {
    /// Inner widths: scenario column first, then one per attack shown.
    widths: Vec<usize>,
}

impl Geometry {
    /// Line positions (inside the outer borders) of the inner boundaries for `layout`.
    fn boundaries(&self, layout: Layout) -> Vec<usize> {
        let mut pos = Vec::new();
        let mut at = 0;
        for (i, w) in self.widths.iter().enumerate() {
            at += w + 2;
            if i + 1 < self.widths.len() {
                pos.push(at);
            }
            at += 1;
        }
        match layout {
            Layout::Full => pos,
            Layout::FirstOnly => pos.into_iter().take(1).collect(),
            Layout::None | Layout::Span => Vec::new(),
        }
    }
    /// Width between the outer borders.
    fn inner(&self) -> usize {
        total(&self.widths).saturating_sub(2)
    }
    fn rule(&self, above: Layout, below: Layout) -> String {
        let (l, r) = match (above, below) {
            (Layout::None, _) => ('┌', '┐'),
            (_, Layout::None) => ('└', '┘'),
            _ => ('├', '┤'),
        };
        let a = self.boundaries(above);
        let b = self.boundaries(below);
        let mut s = String::new();
        s.push(l);
        for p in 0..self.inner() {
            s.push(match (a.contains(&p), b.contains(&p)) {
                (true, true) => '┼',
                (true, false) => '┴',
                (false, true) => '┬',
                (false, false) => '─',
            });
        }
        s.push(r);
        s.push('\n');
        s
    }
    /// Draws rows of cells side by side (`cols` matches `widths`).
    fn rows(&self, cols: &[Vec<Line>], color: bool) -> String {
        let height = cols.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = String::new();
        for i in 0..height {
            out.push('│');
            for (col, w) in cols.iter().zip(&self.widths) {
                let line = col.get(i).cloned().unwrap_or_default();
                let _ = write!(out, " {} │", line.draw(*w, color));
            }
            out.push('\n');
        }
        out
    }
    /// One line across the whole table.
    fn span_line(&self, line: &Line, color: bool) -> String {
        format!("│ {} │\n", line.draw(self.inner().saturating_sub(2), color))
    }
}

/// Display width of a table whose inner column widths are `widths`: `│ w │ w │`.
fn total(widths: &[usize]) -> usize {
    widths.iter().map(|w| w + 3).sum::<usize>() + 1
}

/// Column widths for `shown` in at most `width` columns, or `None` when even the narrowest
/// useful widths do not fit (the caller then stacks the rows).
pub(crate) fn fit(
    report: &MatrixReport,
    shown: &[AttackKind],
    notes: &Notes,
    width: usize,
) -> Option<Geometry> {
    if shown.is_empty() {
        return None;
    }
    let lang = report.lang;
    let names = report.scenarios.iter().map(|s| display_width(&s.name));
    let sc_min = names
        .clone()
        .chain([MIN_SCENARIO_COL])
        .max()
        .unwrap_or(MIN_SCENARIO_COL)
        .min(MAX_SCENARIO_COL);
    let sc_nat = report
        .scenarios
        .iter()
        .map(|s| display_width(s.title.get(lang)))
        .chain(names)
        .chain([display_width(t(lang, "scenario"))])
        .max()
        .unwrap_or(0)
        .clamp(sc_min, MAX_SCENARIO_COL);
    // The widest word of each column: room goes there first, so that no word is split while
    // a column that already fits its words could have given way.
    let sc_word = report
        .scenarios
        .iter()
        .flat_map(|s| {
            let label = s.stand_in_for.as_ref().map(|w| stand_in_label(lang, w));
            [longest_unit(s.title.get(lang), MAX_SCENARIO_COL)]
                .into_iter()
                .chain(label.map(|l| longest_unit(&l, MAX_SCENARIO_COL)))
        })
        .max()
        .unwrap_or(0)
        .clamp(sc_min, sc_nat);
    let mut mins = vec![sc_min];
    let mut nats = vec![sc_nat];
    let mut words = vec![sc_word];
    for a in shown {
        // A verdict line is never wrapped (`実行不可¹ ✓`, `not found¹ ✓`): the column holds it.
        let min = report
            .scenarios
            .iter()
            .filter(|s| s.unavailable.is_none())
            .filter_map(|s| cell_at(report, &s.name, *a))
            .map(|c| verdict_line(lang, c, notes).width())
            .chain([display_width(a.as_str()), MIN_COL])
            .max()
            .unwrap_or(MIN_COL);
        let mut nat = min;
        let mut word = min;
        for s in report.scenarios.iter().filter(|s| s.unavailable.is_none()) {
            let c = cell_at(report, &s.name, *a);
            for l in cell_lines(lang, c, MAX_COL, notes) {
                nat = nat.max(l.width());
            }
            if let Some(c) = c {
                nat = nat.max(display_width(&c.where_).min(MAX_COL));
                word = word.max(longest_unit(&c.where_, MAX_COL));
            }
        }
        let nat = nat.clamp(min, MAX_COL.max(min));
        mins.push(min);
        nats.push(nat);
        words.push(word.clamp(min, nat));
    }
    if total(&mins) > width {
        return None;
    }
    // Grow the columns one step at a time, attack columns first, while room is left: first
    // to their widest word, then to their natural width.
    let mut widths = mins;
    let mut room = width - total(&widths);
    let order: Vec<usize> = (1..widths.len()).chain([0]).collect();
    for goal in [&words, &nats] {
        while room > 0 {
            let mut grew = false;
            for &i in &order {
                if room > 0 && widths[i] < goal[i] {
                    widths[i] += 1;
                    room -= 1;
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
    }
    Some(Geometry { widths })
}

/// The boxed table of `report`'s rows in the columns `shown`, with `geo`'s widths.
pub(crate) fn draw(
    report: &MatrixReport,
    shown: &[AttackKind],
    notes: &Notes,
    geo: &Geometry,
    color: bool,
) -> String {
    let lang = report.lang;
    let mut out = String::new();
    let inner_span = geo.inner().saturating_sub(2);
    let mut header = vec![vec![Line::plain(t(lang, "scenario"))]];
    for (a, w) in shown.iter().zip(geo.widths.iter().skip(1)) {
        header.push(vec![Line::styled(truncate(a.as_str(), *w), BOLD)]);
    }
    out.push_str(&geo.rule(Layout::None, Layout::Full));
    out.push_str(&geo.rows(&header, color));

    let sc_w = geo.widths.first().copied().unwrap_or(MIN_SCENARIO_COL);
    let mut above = Layout::Full;
    for s in &report.scenarios {
        let below_cells = match &s.unavailable {
            Some(why) => {
                // The whole row is n/a: say so once, across the attack columns.
                out.push_str(&geo.rule(above, Layout::FirstOnly));
                let rest = geo
                    .widths
                    .iter()
                    .skip(1)
                    .map(|w| w + 3)
                    .sum::<usize>()
                    .saturating_sub(3);
                let (text, style) = super::unavailable_row(report, s, why);
                let merged: Vec<Line> = wrap(&text, rest)
                    .into_iter()
                    .map(|l| Line::styled(l, style))
                    .collect();
                let g = Geometry {
                    widths: vec![sc_w, rest],
                };
                out.push_str(&g.rows(&[scenario_lines(lang, s, sc_w), merged], color));
                Layout::FirstOnly
            }
            None => {
                out.push_str(&geo.rule(above, Layout::Full));
                let mut cells = vec![scenario_lines(lang, s, sc_w)];
                for (a, w) in shown.iter().zip(geo.widths.iter().skip(1)) {
                    cells.push(cell_lines(lang, cell_at(report, &s.name, *a), *w, notes));
                }
                out.push_str(&geo.rows(&cells, color));
                Layout::Full
            }
        };
        let band = super::row_band(lang, s, notes, inner_span);
        if band.is_empty() {
            above = below_cells;
            continue;
        }
        out.push_str(&geo.rule(below_cells, Layout::Span));
        for line in &band {
            out.push_str(&geo.span_line(line, color));
        }
        above = Layout::Span;
    }
    out.push_str(&geo.rule(above, Layout::None));
    out
}
