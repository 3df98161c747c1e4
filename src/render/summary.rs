//! The demo on one screen: one line per scenario, one short cell per attack path, the rows
//! that cannot run here in one line that says in a word what they need, a one-line legend and
//! the verdict ([`render_summary`]). Every text view of a demo ends with it; `--summary` prints
//! only it.
//!
//! Also what the default view on a terminal ([`render_overview`]) prints above it: what the
//! columns mean, each row's lesson, and the detections in one line per scenario.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::i18n::{self, t, tf, Lang};
use crate::model::{AttackKind, Cell, MatrixReport, Outcome, ScenarioInfo};
use crate::render::matrix::{
    attack_key, cannot_run_here, cell_at, count_mismatches, detection_summary, stand_in_label,
    summary_line,
};
use crate::render::sanitize::visible;
use crate::render::style::{paint, BOLD, DIM, GREEN_BOLD, RED_BOLD};
use crate::render::wrap::{display_width, hang, truncate, wrap};

/// Which text view of a demo's matrix to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Only the one-screen summary (`--summary`).
    Summary,
    /// What the columns mean, each row's lesson, detections, then the summary: what a terminal
    /// shows by default.
    Overview,
    /// The whole table, a row's every cell with where and why, then the summary (`--details`;
    /// the default for a file or a pipe, which nobody has to scroll).
    Details,
}

/// The text of `report` in `view`, at most `width` columns wide.
pub fn render(report: &MatrixReport, view: View, color: bool, width: usize) -> String {
    let width = width.max(crate::render::term::MIN_WIDTH);
    match view {
        View::Summary => render_summary(report, color, width),
        View::Overview => render_overview(report, color, width),
        View::Details => {
            let mut out = crate::render::table::render_body(report, color, width);
            out.push('\n');
            out.push_str(&render_summary(report, color, width));
            out
        }
    }
}

/// A cell that says nothing about its row: the path does not apply to it by design (qmp for a
/// process, same-uid for a root victim), as expected.
pub(crate) fn by_design(c: &Cell) -> bool {
    c.observed == Outcome::NotApplicable && c.met() && c.runnable && !c.required
}

/// The rows that run here, in order.
fn running(report: &MatrixReport) -> impl Iterator<Item = &ScenarioInfo> {
    report.scenarios.iter().filter(|s| s.unavailable.is_none())
}

/// The columns of the summary: those where some row that runs here has a cell that is not `n/a`
/// by design (the others apply to no row of this run).
pub fn columns(report: &MatrixReport) -> Vec<AttackKind> {
    report
        .attacks
        .iter()
        .copied()
        .filter(|a| {
            running(report)
                .filter_map(|s| cell_at(report, &s.name, *a))
                .any(|c| !by_design(c))
        })
        .collect()
}

/// A column's short head, for a screen too narrow for its full name.
fn short_head(a: AttackKind) -> &'static str {
    match a {
        AttackKind::Dump => "dump",
        AttackKind::Gcore => "gcore",
        AttackKind::Kernel => "kern",
        AttackKind::Live => "live",
        AttackKind::Qmp => "qmp",
        AttackKind::Wire => "wire",
        AttackKind::SameUid => "uid",
        AttackKind::Checkpoint => "ckpt",
        AttackKind::Disk => "disk",
        AttackKind::Client => "clnt",
        AttackKind::Pod => "pod",
    }
}

/// The cell of a path that does not apply to its row: a symbol, the same in every language.
const BY_DESIGN: &str = "·";
/// Between the legend's entries.
const LEGEND_SEP: &str = "  ";

/// The glyph key of a cell: the summary's short verdict word (`sum.n/a`: [`BY_DESIGN`]).
pub(crate) fn glyph_key(c: &Cell) -> &'static str {
    if by_design(c) {
        return "sum.n/a";
    }
    if cannot_run_here(c, false) {
        return "sum.n/a.host";
    }
    match c.observed {
        Outcome::Leak => "sum.leak",
        Outcome::Unreadable => "sum.unreadable",
        Outcome::Absent => "sum.absent",
        Outcome::NotFound => "sum.not-found",
        Outcome::Error => "sum.error",
        Outcome::NotApplicable => "sum.n/a",
    }
}

/// The style of a cell's glyph: red for a leak or an error, green for a refused read, dim for
/// what proves nothing either way, red for any cell that differs from its expectation.
fn glyph_style(c: &Cell) -> &'static str {
    if !c.met() {
        return RED_BOLD;
    }
    match c.observed {
        Outcome::Leak | Outcome::Error => RED_BOLD,
        Outcome::Unreadable => GREEN_BOLD,
        _ => DIM,
    }
}

/// Widths of the summary's grid: the scenario column, each column's head and width.
struct Grid {
    name_w: usize,
    heads: Vec<(AttackKind, &'static str, usize)>,
}

impl Grid {
    fn of(report: &MatrixReport, width: usize) -> Self {
        let lang = report.lang;
        let cols = columns(report);
        let name_w = running(report)
            .map(|s| display_width(&visible(&s.name)))
            .chain([display_width(t(lang, "sum.scenario"))])
            .max()
            .unwrap_or(0);
        let content = |a: AttackKind| {
            running(report)
                .filter_map(|s| cell_at(report, &s.name, a))
                .map(|c| display_width(word(lang, glyph_key(c))) + usize::from(!c.met()))
                .max()
                .unwrap_or(1)
        };
        let layout = |short: bool| -> Vec<(AttackKind, &'static str, usize)> {
            cols.iter()
                .map(|&a| {
                    let head = if short { short_head(a) } else { a.as_str() };
                    (a, head, content(a).max(display_width(head)))
                })
                .collect()
        };
        let total = |heads: &[(AttackKind, &str, usize)]| {
            name_w + heads.iter().map(|(_, _, w)| w + 1).sum::<usize>()
        };
        let full = layout(false);
        let heads = if total(&full) <= width {
            full
        } else {
            layout(true)
        };
        Self { name_w, heads }
    }
}

/// The heads the summary gives its columns at `width`: the full names when they fit, else the
/// short ones (`kern`, `uid`); the overview explains the columns under the same heads.
pub fn heads(report: &MatrixReport, width: usize) -> Vec<(AttackKind, &'static str)> {
    Grid::of(report, width)
        .heads
        .into_iter()
        .map(|(a, h, _)| (a, h))
        .collect()
}

/// The one-screen summary of `report`, at most `width` columns wide.
pub fn render_summary(report: &MatrixReport, color: bool, width: usize) -> String {
    let lang = report.lang;
    let grid = Grid::of(report, width);
    let mut out = String::new();

    // The head: `scenario` and the columns' names.
    let mut head = pad(t(lang, "sum.scenario"), grid.name_w);
    for (_, h, w) in &grid.heads {
        head.push(' ');
        head.push_str(&pad(h, *w));
    }
    let _ = writeln!(out, "{}", paint(head.trim_end(), BOLD, color));

    // One line per row that runs here.
    let mut used: Vec<&'static str> = Vec::new();
    let mut mismatch = false;
    for s in running(report) {
        let mut line = pad(&visible(&s.name), grid.name_w);
        for (a, _, w) in &grid.heads {
            line.push(' ');
            let Some(c) = cell_at(report, &s.name, *a) else {
                line.push_str(&" ".repeat(*w));
                continue;
            };
            let key = glyph_key(c);
            if !used.contains(&key) {
                used.push(key);
            }
            let mut shown = word(lang, key).to_string();
            if !c.met() {
                shown.push('✗');
                mismatch = true;
            }
            let ww = display_width(&shown);
            line.push_str(&paint(&shown, glyph_style(c), color));
            line.push_str(&" ".repeat(w.saturating_sub(ww)));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }

    // The rows that cannot run here, in one sentence.
    let (na, required) = unavailable_line(report);
    if !na.is_empty() {
        let style = if required { RED_BOLD } else { DIM };
        // Where to look next, when it costs no line of its own.
        let with_tail = format!("{na}{}", t(lang, "sum.na.tail"));
        let lines = if wrap(&with_tail, width).len() > wrap(&na, width).len() {
            wrap(&na, width)
        } else {
            wrap(&with_tail, width)
        };
        for l in lines {
            let _ = writeln!(out, "{}", paint(&l, style, color));
        }
    }

    // The legend: only the words this summary uses.
    let mut entries = legend(lang, &used, mismatch || required);
    // One line: the word `LEAK` explains itself, and goes first when the line is too long.
    let sep = LEGEND_SEP;
    if entries.len() > 1 && display_width(&entries.join(sep)) > width && used.contains(&"sum.leak")
    {
        entries.remove(0);
    }
    let legend = entries.join(sep);
    if display_width(&legend) <= width {
        let _ = writeln!(out, "{}", paint(&legend, DIM, color));
    } else {
        for l in wrap(&legend, width) {
            let _ = writeln!(out, "{}", paint(&l, DIM, color));
        }
    }

    let style = if count_mismatches(report) == 0 && !report.cells.is_empty() {
        GREEN_BOLD
    } else {
        RED_BOLD
    };
    for l in wrap(&summary_line(report), width) {
        let _ = writeln!(out, "{}", paint(&l, style, color));
    }
    out
}

/// The legend's entries for the glyph keys `used` (and `✗` when `mismatch`): `???? refused`.
pub(crate) fn legend(lang: Lang, used: &[&'static str], mismatch: bool) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    for (key, what) in [
        ("sum.leak", "sum.legend.leak"),
        ("sum.unreadable", "sum.legend.unreadable"),
        ("sum.absent", "sum.legend.absent"),
        ("sum.not-found", "sum.legend.not-found"),
        ("sum.error", "sum.legend.error"),
        ("sum.n/a.host", "sum.legend.n/a.host"),
        ("sum.n/a", "sum.legend.n/a"),
    ] {
        if used.contains(&key) {
            entries.push(format!("{} {}", word(lang, key), t(lang, what)));
        }
    }
    if mismatch {
        entries.push(format!("✗ {}", t(lang, "sum.legend.mismatch")));
    }
    entries
}

/// `n/a here: sgx, sgx-debug (needs sgx); cvm-tdx (needs tdx-host); …`, and whether a
/// row among them was required (a failure, drawn in red with `✗`). Empty when every row runs.
pub(crate) fn unavailable_line(report: &MatrixReport) -> (String, bool) {
    let lang = report.lang;
    // Rows grouped by what they lack, in order of first appearance.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut required = false;
    for s in report.scenarios.iter().filter(|s| s.unavailable.is_some()) {
        let needs = needs_of(lang, s);
        let mut name = visible(&s.name).into_owned();
        if report
            .cells
            .iter()
            .any(|c| c.scenario == s.name && c.required)
        {
            name.push('✗');
            required = true;
        }
        match groups.iter_mut().find(|(n, _)| *n == needs) {
            Some((_, rows)) => rows.push(name),
            None => groups.push((needs, vec![name])),
        }
    }
    if groups.is_empty() {
        return (String::new(), false);
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(needs, rows)| {
            tf(
                lang,
                "sum.na.group",
                &[&i18n::list(lang, rows) as &dyn std::fmt::Display, needs],
            )
        })
        .collect();
    (
        format!(
            "{}{}",
            t(lang, "sum.na.head"),
            parts.join(t(lang, "sum.na.join"))
        ),
        required,
    )
}

/// What a row that cannot run here lacks, in a word: doctor's names of the capabilities; for a
/// result without them (an older file), the start of its reason.
fn needs_of(lang: Lang, s: &ScenarioInfo) -> String {
    if !s.needs.is_empty() {
        return i18n::list(
            lang,
            &s.needs.iter().map(|n| visible(n)).collect::<Vec<_>>(),
        );
    }
    let why = visible(s.unavailable.as_deref().unwrap_or_default()).into_owned();
    // `… needs SGX (…)`, `… SGX が必要（…`: the last thing named as needed.
    let en = why
        .rfind("needs ")
        .map(|i| &why[i + "needs ".len()..])
        .map(|rest| rest.split(" (").next().unwrap_or(rest))
        .map(|rest| rest.split([':', ';']).next().unwrap_or(rest).trim());
    let ja = why.rfind("が必要").map(|i| {
        why[..i]
            .rsplit(['。', '：'])
            .next()
            .unwrap_or_default()
            .trim()
    });
    let word = match lang {
        Lang::Ja => ja.or(en),
        Lang::En => en.or(ja),
    };
    truncate(word.filter(|w| !w.is_empty()).unwrap_or(&why), 24)
}

/// The summary's word for glyph key `key` in `lang`.
pub(crate) fn word(lang: Lang, key: &'static str) -> &'static str {
    if key == "sum.n/a" {
        BY_DESIGN
    } else {
        t(lang, key)
    }
}

/// `s` padded with spaces to `w` display columns.
fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(display_width(s))))
}

/// Per scenario, in one line: what the detectors found without being told the secret, where
/// it was, and by which paths (`plain: 2 canaries in [heap] — dump, gcore, kernel, live`).
pub fn detection_lines(report: &MatrixReport, width: usize) -> Vec<String> {
    let lang = report.lang;
    let mut out = Vec::new();
    for s in &report.scenarios {
        let found: Vec<&Cell> = report
            .cells
            .iter()
            .filter(|c| c.scenario == s.name && c.detections > 0)
            .collect();
        let Some(first) = found.first() else {
            continue;
        };
        // The most any one path found of each kind: the paths read the same memory.
        let mut kinds: BTreeMap<_, usize> = BTreeMap::new();
        for c in &found {
            for (k, n) in &c.detected {
                let e = kinds.entry(*k).or_default();
                *e = (*e).max(*n);
            }
        }
        let mut merged = (*first).clone();
        merged.detections = found.iter().map(|c| c.detections).max().unwrap_or(0);
        merged.detected = kinds;
        let mut wheres: Vec<String> = Vec::new();
        for c in found.iter().filter(|c| c.observed == Outcome::Leak) {
            // A server's cell says `backend 4242: [heap], …; walwriter 4243: …`: the places.
            let places = c
                .where_
                .split("; ")
                .map(|item| item.split_once(": ").map_or(item, |(_, at)| at))
                .flat_map(|at| at.split(", "));
            for w in places.filter(|w| !w.is_empty()) {
                let w = visible(w).into_owned();
                if !wheres.contains(&w) {
                    wheres.push(w);
                }
            }
        }
        let paths: Vec<&str> = found.iter().map(|c| c.attack.as_str()).collect();
        let text = if wheres.is_empty() {
            format!(
                "{} — {}",
                detection_summary(lang, &merged),
                paths.join(", ")
            )
        } else {
            let at = truncate(&i18n::list(lang, &wheres), 48);
            tf(
                lang,
                "sum.detected.at",
                &[&detection_summary(lang, &merged), &at, &paths.join(", ")],
            )
        };
        let head = format!("  {}{}", visible(&s.name), i18n::sep(lang));
        out.extend(hang(&head, &text, width));
    }
    if !out.is_empty() {
        let mut all = wrap(t(lang, "detections"), width);
        all.extend(out);
        return all;
    }
    out
}

/// The default view on a terminal: what the columns mean (under the heads the summary uses),
/// each running row's lesson, the detections in a line per scenario, then the summary.
pub fn render_overview(report: &MatrixReport, color: bool, width: usize) -> String {
    let lang = report.lang;
    let mut out = String::new();
    let heads = heads(report, width);
    for l in wrap(t(lang, "columns"), width) {
        let _ = writeln!(out, "{l}");
    }
    let hw = heads
        .iter()
        .map(|(_, h)| display_width(h))
        .max()
        .unwrap_or(0);
    for (a, h) in &heads {
        let head = format!("  {}  ", pad(h, hw));
        for (i, l) in hang(&head, t(lang, attack_key(*a)), width)
            .into_iter()
            .enumerate()
        {
            let l = if i == 0 {
                l.replacen(h, &paint(h, BOLD, color), 1)
            } else {
                l
            };
            let _ = writeln!(out, "{l}");
        }
    }
    out.push('\n');
    for l in wrap(t(lang, "sum.lessons"), width) {
        let _ = writeln!(out, "{l}");
    }
    for s in running(report) {
        let mut title = format!("{} — {}", visible(&s.name), visible(s.title.get(lang)));
        if let Some(what) = &s.stand_in_for {
            let _ = write!(title, " · {}", stand_in_label(lang, what));
        }
        for (i, l) in hang("  ", &title, width).into_iter().enumerate() {
            let _ = writeln!(out, "{}", if i == 0 { paint(&l, BOLD, color) } else { l });
        }
        let lesson = s.lesson.get(lang);
        if !lesson.is_empty() {
            for l in hang("    ", &visible(lesson), width) {
                let _ = writeln!(out, "{l}");
            }
        }
    }
    let found = detection_lines(report, width);
    if !found.is_empty() {
        out.push('\n');
        for l in found {
            let _ = writeln!(out, "{l}");
        }
    }
    out.push('\n');
    out.push_str(&render_summary(report, color, width));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::matrix::tests::{sample, strip_ansi};

    #[test]
    fn one_line_per_running_row_and_the_unavailable_ones_in_one_sentence() {
        let r = sample(Lang::En);
        let s = strip_ansi(&render_summary(&r, true, 80));
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("scenario"), "{s}");
        assert!(lines[1].starts_with("plain"), "{s}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("n/a here: sgx (needs SGX)")),
            "{s}"
        );
        assert!(
            s.ends_with("1 mismatch (of 15 cells)\n") || s.contains("mismatch"),
            "{s}"
        );
        // The mismatch is marked where it is.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("dontdump") && l.contains("????✗")),
            "{s}"
        );
        for l in &lines {
            assert!(display_width(l) <= 80, "{l}");
        }
    }
}
