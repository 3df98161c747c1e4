//! The terminal matrix: rows = scenarios, columns = attack paths, every cell one real attack,
//! fitted to the screen it is printed on.
//!
//! Written for someone who has never heard of ptrace: the columns are explained in words above
//! the table, each row carries its lesson, a legend says what `????` and `absent` mean (and that
//! `absent` proves nothing), and the last line counts mismatches. Only the columns some row
//! runs are drawn (a column that is `n/a` by design in every row is named below instead). When
//! the columns fit the width they are a box ([`grid`]); when they do not, each scenario is a
//! block with one line per attack ([`stacked`]). Footnotes ([`notes`]) use one kind of marker.

mod grid;
mod notes;
mod stacked;

use std::fmt::Write as _;

use grid::Line;
use notes::Notes;

use crate::i18n::{t, Lang};
use crate::model::{AttackKind, Cell, DetectorKind, MatrixReport, ScenarioInfo};
use crate::render::matrix::{
    attack_key, count_mismatches, legend_words, outcome_style, summary_line,
};
use crate::render::style::{paint, BOLD, DIM, GREEN_BOLD, RED_BOLD};
use crate::render::summary::by_design;
use crate::render::wrap::{display_width, hang, wrap};

/// What a row that cannot run here says across its columns, and its style: dim, or, when the
/// run required it (`--platform`, `--require`), a failure in red that says so.
pub(crate) fn unavailable_row(
    report: &MatrixReport,
    s: &ScenarioInfo,
    why: &str,
) -> (String, &'static str) {
    let lang = report.lang;
    let word = super::matrix::unavailable_word(lang);
    if report
        .cells
        .iter()
        .any(|c| c.scenario == s.name && c.required)
    {
        (format!("{} — {why}", t(lang, "required.note")), RED_BOLD)
    } else {
        (format!("{word} — {why}"), DIM)
    }
}

/// The columns worth drawing: those where some row that runs here has a cell that is not
/// `n/a` by design (the summary's columns). Hidden columns are named, with their reason, below
/// the table.
pub(crate) fn shown_attacks(report: &MatrixReport) -> Vec<AttackKind> {
    crate::render::summary::columns(report)
}

/// The band under a row: its lesson, then the footnotes only this row uses, `width` wide.
fn row_band(lang: Lang, s: &ScenarioInfo, notes: &Notes, width: usize) -> Vec<Line> {
    let mut out = Vec::new();
    let lesson = s.lesson.get(lang);
    if !lesson.is_empty() {
        let head = format!("{}{}", t(lang, "lesson"), crate::i18n::sep(lang));
        let hw = display_width(&head);
        for (i, l) in wrap(lesson, width.saturating_sub(hw))
            .into_iter()
            .enumerate()
        {
            let mut line = if i == 0 {
                Line::styled(head.clone(), BOLD)
            } else {
                Line::plain(" ".repeat(hw))
            };
            line.push(l, "");
            out.push(line);
        }
    }
    for (m, text) in notes.of_row(&s.name) {
        for l in hang(&format!("{m} "), text, width) {
            out.push(Line::styled(l, DIM));
        }
    }
    out
}

/// The table, a lesson under each row, a legend and a final line, in `report.lang`, at most
/// `width` columns wide (display width: Japanese characters count two).
pub fn render_table(report: &MatrixReport, color: bool, width: usize) -> String {
    let mut out = render_body(report, color, width);
    let summary = summary_line(report);
    let style = if count_mismatches(report) == 0 && !report.cells.is_empty() {
        GREEN_BOLD
    } else {
        RED_BOLD
    };
    for l in wrap(&summary, width.max(crate::render::term::MIN_WIDTH)) {
        let _ = writeln!(out, "{}", paint(&l, style, color));
    }
    out
}

/// [`render_table`] without its final line: what `--details` prints above the summary, which
/// ends with the same line.
pub fn render_body(report: &MatrixReport, color: bool, width: usize) -> String {
    let lang = report.lang;
    let width = width.max(crate::render::term::MIN_WIDTH);
    let mut out = String::new();
    let line = |out: &mut String, l: &str, style: &'static str| {
        let _ = writeln!(out, "{}", paint(l, style, color));
    };
    let shown = shown_attacks(report);

    // What the columns mean, in words, before any of them is used.
    for l in wrap(t(lang, "columns"), width) {
        line(&mut out, &l, "");
    }
    let name_w = shown
        .iter()
        .map(|a| display_width(a.as_str()))
        .max()
        .unwrap_or(0);
    for a in &shown {
        let head = format!("  {:<name_w$}  ", a.as_str());
        for (i, l) in hang(&head, t(lang, attack_key(*a)), width)
            .into_iter()
            .enumerate()
        {
            if i == 0 {
                // The column's name in bold, as in the header.
                let rest = l.get(head.len()..).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {}  {rest}",
                    paint(&format!("{:<name_w$}", a.as_str()), BOLD, color)
                );
            } else {
                line(&mut out, &l, "");
            }
        }
    }
    for l in wrap(t(lang, "rows"), width) {
        line(&mut out, &l, "");
    }
    out.push('\n');

    let notes = Notes::of(report, &shown);
    match grid::fit(report, &shown, &notes, width) {
        Some(geo) => out.push_str(&grid::draw(report, &shown, &notes, &geo, color)),
        None => out.push_str(&stacked::draw(report, &shown, &notes, width, color)),
    }
    for (m, text) in notes.shared() {
        for l in hang(&format!("{m} "), text, width) {
            line(&mut out, &l, DIM);
        }
    }
    hidden_columns(&mut out, report, &shown, width, color);
    by_design_cells(&mut out, report, &shown, width, color);
    legend(&mut out, lang, width, color);
    detections(&mut out, report, width);
    out
}

/// The columns not drawn, each with why its cells are `n/a` (said once, not once per row).
fn hidden_columns(
    out: &mut String,
    report: &MatrixReport,
    shown: &[AttackKind],
    width: usize,
    color: bool,
) {
    let lines: Vec<(AttackKind, Vec<&str>)> = report
        .attacks
        .iter()
        .copied()
        .filter(|a| !shown.contains(a))
        .filter(|a| report.cells.iter().any(|c| c.attack == *a))
        .map(|a| {
            // The column's own reason: the first a row that runs here gives (a row that cannot
            // run said its reason across the row already, and another row's reason is not this
            // column's).
            let reason = report
                .cells
                .iter()
                .filter(|c| c.attack == a)
                .filter(|c| runs(report, &c.scenario))
                .map(|c| c.reason.trim())
                .find(|r| !r.is_empty());
            (a, vec![reason.unwrap_or("n/a")])
        })
        .collect();
    reasons_block(out, t(report.lang, "columns.hidden"), &lines, width, color);
}

/// Whether row `scenario` runs on this host.
fn runs(report: &MatrixReport, scenario: &str) -> bool {
    report
        .scenarios
        .iter()
        .any(|s| s.name == scenario && s.unavailable.is_none())
}

/// Why the `·` cells of the columns drawn are `n/a` by design (qmp for a process, kernel for a
/// VM): each column's reasons once, here, instead of a line in every row.
fn by_design_cells(
    out: &mut String,
    report: &MatrixReport,
    shown: &[AttackKind],
    width: usize,
    color: bool,
) {
    let mut lines: Vec<(AttackKind, Vec<&str>)> = Vec::new();
    for a in shown {
        let mut reasons: Vec<&str> = Vec::new();
        for c in report.cells.iter().filter(|c| c.attack == *a) {
            let r = c.reason.trim();
            if by_design(c) && runs(report, &c.scenario) && !r.is_empty() && !reasons.contains(&r) {
                reasons.push(r);
            }
        }
        if !reasons.is_empty() {
            lines.push((*a, reasons));
        }
    }
    reasons_block(
        out,
        t(report.lang, "columns.by-design"),
        &lines,
        width,
        color,
    );
}

/// `heading`, then each column's name and its reasons, one a line, hanging under the first;
/// nothing when there are no lines.
fn reasons_block(
    out: &mut String,
    heading: &str,
    lines: &[(AttackKind, Vec<&str>)],
    width: usize,
    color: bool,
) {
    if lines.is_empty() {
        return;
    }
    for l in wrap(heading, width) {
        let _ = writeln!(out, "{}", paint(&l, DIM, color));
    }
    let name_w = lines
        .iter()
        .map(|(a, _)| display_width(a.as_str()))
        .max()
        .unwrap_or(0);
    for (a, reasons) in lines {
        let head = format!("  {:<name_w$}  ", a.as_str());
        let blank = " ".repeat(display_width(&head));
        for (i, r) in reasons.iter().enumerate() {
            for l in hang(if i == 0 { &head } else { &blank }, r, width) {
                let _ = writeln!(out, "{}", paint(&l, DIM, color));
            }
        }
    }
}

/// The words the table uses, and what each proves (or does not).
fn legend(out: &mut String, lang: Lang, width: usize, color: bool) {
    let _ = writeln!(out, "{}", t(lang, "legend"));
    let legend = legend_words(lang);
    let lw = legend
        .iter()
        .map(|(word, _, _)| display_width(word))
        .max()
        .unwrap_or(1);
    let mut entry = |word: &str, style: &'static str, key: &'static str| {
        let head = format!(
            "  {word}{}  ",
            " ".repeat(lw.saturating_sub(display_width(word)))
        );
        for (i, l) in hang(&head, t(lang, key), width).into_iter().enumerate() {
            let l = if i == 0 {
                l.replacen(word, &paint(word, style, color), 1)
            } else {
                l
            };
            let _ = writeln!(out, "{l}");
        }
    };
    for (word, o, key) in legend {
        entry(word, outcome_style(o), key);
    }
    entry("✓", DIM, "legend.met");
    entry("✗", RED_BOLD, "legend.mismatch");
}

/// Secrets the detectors recognised without being told them (with where, when a leak says), and,
/// when a cell counts the canary more than once, one line on why.
fn detections(out: &mut String, report: &MatrixReport, width: usize) {
    let lang = report.lang;
    let found: Vec<&Cell> = report.cells.iter().filter(|c| c.detections > 0).collect();
    if found.is_empty() {
        return;
    }
    // One line per scenario: what was found, where, by which paths.
    for l in crate::render::summary::detection_lines(report, width) {
        let _ = writeln!(out, "{l}");
    }
    if found.iter().any(|c| {
        c.detected
            .get(&DetectorKind::Canary)
            .is_some_and(|&n| n >= 2)
    }) {
        for l in hang("  ", t(lang, "detections.canaries"), width) {
            let _ = writeln!(out, "{l}");
        }
    }
}

#[cfg(test)]
mod tests;
