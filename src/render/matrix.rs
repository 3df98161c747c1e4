//! The terminal matrix: rows = scenarios, columns = attack paths, every cell one real attack.
//!
//! Written for someone who has never heard of ptrace: the columns are explained in words above
//! the table, each row carries its lesson, a legend says what `????` and `absent` mean (and that
//! `absent` proves nothing), and the last line counts mismatches. Widths are display widths, so
//! Japanese text (two columns per character) keeps the box aligned.
//!
//! The helpers here ([`outcome_word`], [`display_width`], [`wrap`], [`cell_at`]) are shared with
//! the HTML report and presenter mode, so the three speak the same words.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use super::i18n::t;
use super::style::{paint, BOLD, DIM, GREEN_BOLD, RED_BOLD};
use crate::model::{AttackKind, Cell, DetectorKind, MatrixReport, Outcome, ScenarioInfo};

/// Bold, for scenario names.
/// Widest table we draw: fits a 150-column terminal, and a projector at a large font
/// usually gives about that much.
const MAX_TABLE_WIDTH: usize = 150;
/// Narrowest useful attack column: `✗ expected ????` wraps below this.
const MIN_COL: usize = 9;
const MAX_COL: usize = 22;
const MIN_SCENARIO_COL: usize = 14;
const MAX_SCENARIO_COL: usize = 26;

/// The verdict word of an outcome in `lang`: `LEAK`, `????`, `absent`, `n/a`...
pub fn outcome_word(lang: &str, o: Outcome) -> &'static str {
    t(lang, outcome_key(o))
}

/// The i18n key (and CSS class) of an outcome: its JSON spelling.
pub fn outcome_key(o: Outcome) -> &'static str {
    o.as_str()
}

/// The ANSI style of an outcome: red for a leak, green for a refused read, dim for the
/// outcomes that prove nothing either way.
pub(crate) fn outcome_style(o: Outcome) -> &'static str {
    match o {
        Outcome::Leak | Outcome::Error => RED_BOLD,
        Outcome::Unreadable => GREEN_BOLD,
        Outcome::Absent | Outcome::NotApplicable | Outcome::NotFound => DIM,
    }
}

/// Columns `s` takes on a terminal (CJK characters take two).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to `width` columns, with `…` when something was cut.
pub fn truncate(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for ch in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(ch);
        w += cw;
    }
    out.push('…');
    out
}

/// Characters a Japanese line should not start with (kinsoku): they stay with what precedes.
const NO_LINE_START: &str = "、。，．・：；？！）」』】〕ー…,.:;!?)]";

/// Wraps `s` to `width` display columns: English breaks at spaces, Japanese between any two
/// characters (but never before closing punctuation); a word wider than a line is split.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    // Tokens: a run of non-CJK non-space characters (a word), one space, or one wide character.
    let mut tokens: Vec<String> = Vec::new();
    for ch in s.chars() {
        let wide = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0) > 1;
        let glue = NO_LINE_START.contains(ch);
        match tokens.last_mut() {
            Some(last) if glue && !ch.is_whitespace() => last.push(ch),
            Some(last)
                if !wide
                    && !ch.is_whitespace()
                    && !last.ends_with(char::is_whitespace)
                    && !last.chars().last().is_some_and(|c| {
                        unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) > 1
                    }) =>
            {
                last.push(ch)
            }
            _ => tokens.push(ch.to_string()),
        }
    }
    let mut lines = Vec::new();
    let mut cur = String::new();
    for tok in tokens {
        if tok.chars().all(char::is_whitespace) {
            if !cur.is_empty() && display_width(&cur) < width {
                cur.push(' ');
            }
            continue;
        }
        if display_width(&cur) + display_width(&tok) > width && !cur.trim().is_empty() {
            lines.push(cur.trim_end().to_string());
            cur = String::new();
        }
        if display_width(&tok) > width {
            // A word longer than the line: split it by characters.
            for ch in tok.chars() {
                if display_width(&cur) + display_width(ch.encode_utf8(&mut [0; 4])) > width {
                    lines.push(std::mem::take(&mut cur));
                }
                cur.push(ch);
            }
        } else {
            cur.push_str(&tok);
        }
    }
    if !cur.trim().is_empty() {
        lines.push(cur.trim_end().to_string());
    }
    // A lone wide character on the last line (`秘` / `密`) reads badly: give it a companion
    // from the line above, unless that would start the line with closing punctuation.
    let n = lines.len();
    if n >= 2 && display_width(&lines[n - 1]) <= 2 {
        let prev = &mut lines[n - 2];
        let movable = prev.chars().last().filter(|c| {
            unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0) > 1
                && !NO_LINE_START.contains(*c)
        });
        if let (Some(c), true) = (movable, prev.chars().count() > 1) {
            prev.pop();
            lines[n - 1].insert(0, c);
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// The cell of `scenario` × `attack`, if the run produced one.
pub fn cell_at<'a>(
    report: &'a MatrixReport,
    scenario: &str,
    attack: AttackKind,
) -> Option<&'a Cell> {
    report
        .cells
        .iter()
        .find(|c| c.scenario == scenario && c.attack == attack)
}

/// `stand-in for an enclave` in `lang`. The scenario file names what is stood in for in
/// English; the few names we know are translated, others shown as they are.
pub fn stand_in_label(lang: &str, what: &str) -> String {
    if lang == "ja" {
        let what_ja = match what.trim_start_matches("an ").trim_start_matches("a ") {
            "enclave" => "エンクレーブ",
            "SGX enclave" => "SGX エンクレーブ",
            "confidential VM" => "機密 VM",
            other => other,
        };
        format!("{what_ja}{}", t(lang, "stand-in"))
    } else {
        format!("{} {what}", t(lang, "stand-in"))
    }
}

/// Number of cells whose observation differs from the expectation (counted from the cells,
/// so the final line can never disagree with what the table shows).
pub fn count_mismatches(report: &MatrixReport) -> usize {
    crate::model::count_mismatches(&report.cells)
}

/// `all N cells as expected` / `M mismatches (of N cells)` in `lang`.
pub fn summary_line(report: &MatrixReport) -> String {
    let lang = report.lang.as_str();
    let n = report.cells.len();
    let m = count_mismatches(report);
    let tmpl = match (n, m) {
        (0, _) => t(lang, "no-cells"),
        (_, 0) => t(lang, "all-met"),
        (_, 1) => t(lang, "mismatch.one"),
        _ => t(lang, "mismatches"),
    };
    tmpl.replace("{n}", &n.to_string())
        .replace("{m}", &m.to_string())
}

/// `✗ expected ????` in `lang`.
pub fn mismatch_note(lang: &str, c: &Cell) -> String {
    if c.required {
        return t(lang, "required.note").to_string();
    }
    t(lang, "mismatch.note").replace("{x}", outcome_word(lang, c.expected))
}

/// A run of text with one style (`""` = none).
type Seg = (String, &'static str);

/// One line of a table cell, as styled pieces; widths are measured on the text only.
#[derive(Default, Clone)]
struct Line(Vec<Seg>);

impl Line {
    fn plain(s: impl Into<String>) -> Self {
        Self(vec![(s.into(), "")])
    }
    fn styled(s: impl Into<String>, style: &'static str) -> Self {
        Self(vec![(s.into(), style)])
    }
    fn push(&mut self, s: impl Into<String>, style: &'static str) {
        self.0.push((s.into(), style));
    }
    fn width(&self) -> usize {
        self.0.iter().map(|(s, _)| display_width(s)).sum()
    }
    fn draw(&self, width: usize, color: bool) -> String {
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

/// What a row shows under its cells: the lesson, then footnotes (n/a reasons, errors).
struct RowText {
    notes: Vec<String>,
}

const MARKS: [&str; 9] = ["¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"];
/// Marks of the notes shared by several rows, printed once below the table.
const SHARED_MARKS: [&str; 6] = ["ᵃ", "ᵇ", "ᶜ", "ᵈ", "ᵉ", "ᶠ"];

fn shared_mark(i: usize) -> String {
    SHARED_MARKS
        .get(i)
        .map(|m| m.to_string())
        .unwrap_or_else(|| {
            format!(
                "[{}]",
                char::from(b'a'.saturating_add(u8::try_from(i).unwrap_or(25)))
            )
        })
}

/// The footnote text of a cell.
fn note_text(c: &Cell) -> String {
    format!("{}: {}", c.attack, c.reason.trim())
}

/// Footnotes that recur on two or more rows (e.g. "qmp: only for a victim inside a VM"): the
/// table says them once, below it, instead of under every row.
fn shared_notes(report: &MatrixReport) -> Vec<String> {
    let mut seen: Vec<(String, Vec<&str>)> = Vec::new();
    for c in report.cells.iter().filter(|c| wants_note(c)) {
        let text = note_text(c);
        match seen.iter_mut().find(|(t, _)| *t == text) {
            Some((_, rows)) => {
                if !rows.contains(&c.scenario.as_str()) {
                    rows.push(&c.scenario);
                }
            }
            None => seen.push((text, vec![&c.scenario])),
        }
    }
    seen.into_iter()
        .filter(|(_, rows)| rows.len() >= 2)
        .map(|(t, _)| t)
        .collect()
}

fn mark(i: usize) -> String {
    MARKS
        .get(i)
        .map(|m| m.to_string())
        .unwrap_or_else(|| format!("[{}]", i + 1))
}

/// Does this cell's reason deserve a footnote? The reasons of n/a and errors are the only
/// explanation the reader gets; a mismatch's reason is what they will ask about first.
fn wants_note(c: &Cell) -> bool {
    !c.reason.trim().is_empty()
        && (!c.met()
            || matches!(
                c.observed,
                Outcome::NotApplicable | Outcome::Error | Outcome::NotFound
            ))
}

/// The lines of one attack cell, at most `width` wide; footnotes go into `notes`.
fn cell_lines(
    lang: &str,
    c: Option<&Cell>,
    width: usize,
    shared: &[String],
    notes: &mut Vec<String>,
) -> Vec<Line> {
    let Some(c) = c else {
        return vec![Line::styled("—", DIM)];
    };
    let mut first = Line::styled(outcome_word(lang, c.observed), outcome_style(c.observed));
    if wants_note(c) {
        let text = note_text(c);
        if let Some(k) = shared.iter().position(|n| *n == text) {
            // Said once below the table: the same reason on several rows.
            first.push(shared_mark(k), "");
        } else {
            // The same reason on several cells of a row gets one footnote.
            let i = match notes.iter().position(|n| *n == text) {
                Some(i) => i,
                None => {
                    notes.push(text);
                    notes.len() - 1
                }
            };
            first.push(mark(i), "");
        }
    }
    if c.met() {
        first.push(" ✓", DIM);
    }
    let mut lines = vec![first];
    if !c.where_.is_empty()
        && matches!(
            c.observed,
            Outcome::Leak | Outcome::Unreadable | Outcome::Absent
        )
    {
        // `where` can be a long list of mappings: two lines at most, then `…`.
        let mut w = wrap(&c.where_, width);
        if w.len() > 2 {
            let rest = w[1..].join(" ");
            w.truncate(1);
            w.push(truncate(&rest, width));
        }
        lines.extend(w.into_iter().map(Line::plain));
    }
    if c.fragments_only && c.observed == Outcome::Leak {
        lines.push(Line::styled(truncate(t(lang, "fragments"), width), DIM));
    }
    if !c.met() {
        for l in wrap(&mismatch_note(lang, c), width) {
            lines.push(Line::styled(l, RED_BOLD));
        }
    }
    lines
}

fn scenario_lines(lang: &str, s: &ScenarioInfo, width: usize) -> Vec<Line> {
    let mut lines = vec![Line::styled(truncate(&s.name, width), BOLD)];
    let title = s.title.get(lang);
    if !title.is_empty() {
        lines.extend(wrap(title, width).into_iter().take(2).map(Line::plain));
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

struct Geometry {
    /// Inner widths: scenario column first, then one per attack.
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
        self.widths
            .iter()
            .map(|w| w + 3)
            .sum::<usize>()
            .saturating_sub(1)
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
        format!("│ {} │\n", line.draw(self.inner() - 2, color))
    }
}

/// The table, a lesson under each row, a legend and a final line, in `report.lang`.
pub fn render_table(report: &MatrixReport, color: bool) -> String {
    let lang = report.lang.as_str();
    let mut out = String::new();

    // What the columns mean, in words, before any of them is used.
    let _ = writeln!(out, "{}", t(lang, "columns"));
    let name_w = report
        .attacks
        .iter()
        .map(|a| display_width(a.as_str()))
        .max()
        .unwrap_or(0);
    for a in &report.attacks {
        let desc = t(lang, attack_key(*a));
        let pad = " ".repeat(name_w.saturating_sub(display_width(a.as_str())));
        let _ = writeln!(out, "  {}{pad}  {desc}", paint(a.as_str(), BOLD, color));
    }
    let _ = writeln!(out, "{}", t(lang, "rows"));
    out.push('\n');

    let geo = fit_columns(report);
    let inner_span = geo.inner() - 2;
    let shared = shared_notes(report);

    // Header.
    let mut header = vec![vec![Line::plain(t(lang, "scenario"))]];
    for a in &report.attacks {
        header.push(vec![Line::styled(truncate(a.as_str(), MAX_COL), BOLD)]);
    }
    out.push_str(&geo.rule(Layout::None, Layout::Full));
    out.push_str(&geo.rows(&header, color));

    let mut above = Layout::Full;
    for s in &report.scenarios {
        let sc_w = geo.widths.first().copied().unwrap_or(MIN_SCENARIO_COL);
        let row = match &s.unavailable {
            Some(why) => {
                // The whole row is n/a: say so once, across the attack columns.
                out.push_str(&geo.rule(above, Layout::FirstOnly));
                let rest: usize = geo.widths.iter().skip(1).map(|w| w + 3).sum::<usize>() - 3;
                let text = format!("{} — {}", outcome_word(lang, Outcome::NotApplicable), why);
                let merged: Vec<Line> = wrap(&text, rest)
                    .into_iter()
                    .map(|l| Line::styled(l, DIM))
                    .collect();
                let g = Geometry {
                    widths: vec![sc_w, rest],
                };
                out.push_str(&g.rows(&[scenario_lines(lang, s, sc_w), merged], color));
                RowText { notes: Vec::new() }
            }
            None => {
                out.push_str(&geo.rule(above, Layout::Full));
                let mut notes = Vec::new();
                let mut cells = vec![scenario_lines(lang, s, sc_w)];
                for (a, w) in report.attacks.iter().zip(geo.widths.iter().skip(1)) {
                    cells.push(cell_lines(
                        lang,
                        cell_at(report, &s.name, *a),
                        *w,
                        &shared,
                        &mut notes,
                    ));
                }
                out.push_str(&geo.rows(&cells, color));
                RowText { notes }
            }
        };
        let below_cells = if s.unavailable.is_some() {
            Layout::FirstOnly
        } else {
            Layout::Full
        };
        let lesson = s.lesson.get(lang);
        if lesson.is_empty() && row.notes.is_empty() {
            above = below_cells;
            continue;
        }
        out.push_str(&geo.rule(below_cells, Layout::Span));
        if !lesson.is_empty() {
            let head = format!("{}: ", t(lang, "lesson"));
            let hw = display_width(&head);
            for (i, l) in wrap(lesson, inner_span - hw).into_iter().enumerate() {
                let mut line = if i == 0 {
                    Line::styled(head.clone(), BOLD)
                } else {
                    Line::plain(" ".repeat(hw))
                };
                line.push(l, "");
                out.push_str(&geo.span_line(&line, color));
            }
        }
        for (i, n) in row.notes.iter().enumerate() {
            let m = format!("{} ", mark(i));
            let mw = display_width(&m);
            for (k, l) in wrap(n, inner_span - mw).into_iter().enumerate() {
                let lead = if k == 0 { m.clone() } else { " ".repeat(mw) };
                out.push_str(&geo.span_line(&Line::styled(format!("{lead}{l}"), DIM), color));
            }
        }
        above = Layout::Span;
    }
    out.push_str(&geo.rule(above, Layout::None));
    for (i, n) in shared.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}",
            paint(&format!("{} {n}", shared_mark(i)), DIM, color)
        );
    }

    // Legend: the words the table uses, and what each proves (or does not).
    let _ = writeln!(out, "{}", t(lang, "legend"));
    let legend = [
        (Outcome::Leak, "legend.leak"),
        (Outcome::Unreadable, "legend.unreadable"),
        (Outcome::Absent, "legend.absent"),
        (Outcome::NotApplicable, "legend.n/a"),
        (Outcome::NotFound, "legend.not-found"),
    ];
    let lw = legend
        .iter()
        .map(|(o, _)| display_width(outcome_word(lang, *o)))
        .chain(std::iter::once(display_width("✗")))
        .max()
        .unwrap_or(0);
    for (o, key) in legend {
        let w = outcome_word(lang, o);
        let pad = " ".repeat(lw - display_width(w));
        let _ = writeln!(
            out,
            "  {}{pad}  {}",
            paint(w, outcome_style(o), color),
            t(lang, key)
        );
    }
    for (mark, style, key) in [("✓", DIM, "legend.met"), ("✗", RED_BOLD, "legend.mismatch")] {
        let _ = writeln!(
            out,
            "  {}{}  {}",
            paint(mark, style, color),
            " ".repeat(lw - 1),
            t(lang, key)
        );
    }

    // Detections: secrets the detectors recognised without being told them.
    let found: Vec<String> = report
        .cells
        .iter()
        .filter(|c| c.detections > 0)
        .map(|c| {
            format!(
                "{} · {}: {}",
                c.scenario,
                c.attack,
                detection_summary(lang, c)
            )
        })
        .collect();
    if !found.is_empty() {
        let _ = writeln!(out, "{}", t(lang, "detections"));
        for f in found {
            let _ = writeln!(out, "  {f}");
        }
    }

    let summary = summary_line(report);
    let style = if count_mismatches(report) == 0 && !report.cells.is_empty() {
        GREEN_BOLD
    } else {
        RED_BOLD
    };
    let _ = writeln!(out, "{}", paint(&summary, style, color));
    out
}

/// What the detectors found in a cell, by kind: `2 canaries, 1 card number` /
/// `カナリア 2 件、カード番号 1 件`; the bare count when the kinds are not known.
pub fn detection_summary(lang: &str, c: &Cell) -> String {
    let unit = |n: usize| {
        t(
            lang,
            if n == 1 {
                "detections.one"
            } else {
                "detections.unit"
            },
        )
    };
    if c.detected.is_empty() {
        return format!("{} {}", c.detections, unit(c.detections));
    }
    let parts: Vec<String> = c
        .detected
        .iter()
        .map(|(kind, &n)| {
            let name = match (kind, n == 1) {
                (DetectorKind::CardNumber, true) => "det.card-number.one",
                (DetectorKind::CardNumber, false) => "det.card-number.many",
                (DetectorKind::PemPrivateKey, true) => "det.pem-private-key.one",
                (DetectorKind::PemPrivateKey, false) => "det.pem-private-key.many",
                (DetectorKind::Jwt, true) => "det.jwt.one",
                (DetectorKind::Jwt, false) => "det.jwt.many",
                (DetectorKind::AwsAccessKeyId, true) => "det.aws-access-key-id.one",
                (DetectorKind::AwsAccessKeyId, false) => "det.aws-access-key-id.many",
                (DetectorKind::Canary, true) => "det.canary.one",
                (DetectorKind::Canary, false) => "det.canary.many",
            };
            if lang == "ja" {
                format!("{} {n} {}", t(lang, name), unit(n))
            } else {
                format!("{n} {}", t(lang, name))
            }
        })
        .collect();
    parts.join(if lang == "ja" { "、" } else { ", " })
}

/// The i18n key describing an attack path.
pub fn attack_key(attack: AttackKind) -> &'static str {
    match attack {
        AttackKind::Dump => "attack.dump",
        AttackKind::Gcore => "attack.gcore",
        AttackKind::Kernel => "attack.kernel",
        AttackKind::Live => "attack.live",
        AttackKind::Qmp => "attack.qmp",
        AttackKind::SameUid => "attack.same-uid",
        AttackKind::Checkpoint => "attack.checkpoint",
        AttackKind::Disk => "attack.disk",
        AttackKind::Client => "attack.client",
    }
}

/// Column widths: each column as wide as its widest line, within bounds chosen so the table
/// stays under [`MAX_TABLE_WIDTH`] columns however many attack paths there are.
fn fit_columns(report: &MatrixReport) -> Geometry {
    let lang = report.lang.as_str();
    let n = report.attacks.len().max(1);
    let sc = report
        .scenarios
        .iter()
        .flat_map(|s| {
            let mut v = vec![display_width(&s.name)];
            // Titles wrap; do not let one long title widen the column past its bound.
            v.push(display_width(s.title.get(lang)).min(MAX_SCENARIO_COL));
            v
        })
        .chain(std::iter::once(display_width(t(lang, "scenario"))))
        .max()
        .unwrap_or(0)
        .clamp(MIN_SCENARIO_COL, MAX_SCENARIO_COL);
    // Each attack column costs its width + 3 (padding and a border).
    let budget = MAX_TABLE_WIDTH.saturating_sub(sc + 4) / n;
    let cap = budget.saturating_sub(3).clamp(MIN_COL, MAX_COL);
    let mut widths = vec![sc];
    for a in &report.attacks {
        let mut w = display_width(a.as_str());
        for s in &report.scenarios {
            let mut notes = Vec::new();
            for l in cell_lines(lang, cell_at(report, &s.name, *a), cap, &[], &mut notes) {
                w = w.max(l.width());
            }
            if let Some(c) = cell_at(report, &s.name, *a) {
                // `where` is wrapped to the cap; ask for its whole width up to the cap.
                w = w.max(display_width(&c.where_).min(cap));
            }
        }
        widths.push(w.clamp(MIN_COL, cap));
    }
    Geometry { widths }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{HexRow, HexWindow, HostInfo, Texts};

    fn texts(en: &str, ja: &str) -> Texts {
        Texts {
            en: en.into(),
            ja: ja.into(),
        }
    }

    pub(crate) fn cell(
        s: &str,
        a: &str,
        expected: Outcome,
        observed: Outcome,
        where_: &str,
    ) -> Cell {
        Cell {
            scenario: s.into(),
            attack: a.parse().unwrap_or(AttackKind::Dump),
            expected,
            observed,
            where_: where_.into(),
            reason: String::new(),
            command: format!("confidump attack --path {a} --pid 4242"),
            millis: 120,
            hits: usize::from(observed == Outcome::Leak),
            fragments_only: false,
            detections: 0,
            detected: Default::default(),
            view: None,
            required: false,
        }
    }

    /// A realistic report: a leaking row, a protected row (stand-in), a row with an n/a
    /// cell and a mismatch, and a wholly unavailable row.
    pub(crate) fn sample(lang: &str) -> MatrixReport {
        use Outcome::*;
        let attacks: Vec<String> = ["dump", "gcore", "kernel", "live", "same-uid"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let scenarios = vec![
            ScenarioInfo {
                name: "plain".into(),
                title: texts("Secret in ordinary heap memory", "通常のヒープメモリにある秘密"),
                holds: texts("a card number in a heap buffer", "ヒープ上のバッファにカード番号"),
                lesson: texts(
                    "Ordinary memory is in every dump: anyone who can dump the process has the secret.",
                    "通常のメモリはどのダンプにも含まれる。ダンプできる者は誰でも秘密を手に入れる。",
                ),
                stand_in_for: None,
                unavailable: None,
            },
            ScenarioInfo {
                name: "secretmem".into(),
                title: texts("Secret in memfd_secret memory", "memfd_secret メモリにある秘密"),
                holds: texts("the key in memfd_secret pages", "memfd_secret のページに鍵"),
                lesson: texts(
                    "The kernel refuses every read of these pages, even root's.",
                    "カーネルはこのページの読み取りを root でも拒否する。",
                ),
                stand_in_for: Some("an enclave".into()),
                unavailable: None,
            },
            ScenarioInfo {
                name: "dontdump".into(),
                title: texts("MADV_DONTDUMP only", "MADV_DONTDUMP のみ"),
                holds: texts("the key in a DONTDUMP area", "DONTDUMP 領域に鍵"),
                lesson: texts(
                    "Left out of dumps is not protected: a live read still gets it.",
                    "ダンプから除外されても保護ではない。実行中に読めば取れる。",
                ),
                stand_in_for: None,
                unavailable: None,
            },
            ScenarioInfo {
                name: "sgx".into(),
                title: texts("Secret in an SGX enclave", "SGX エンクレーブ内の秘密"),
                holds: texts("the key inside an enclave", "エンクレーブ内に鍵"),
                lesson: texts("", ""),
                stand_in_for: None,
                unavailable: Some("needs SGX: this CPU has none".into()),
            },
        ];
        let mut cells = Vec::new();
        for a in &attacks {
            let mut c = cell("plain", a, Leak, Leak, "[heap]");
            if a == "live" {
                c.where_ = "[heap], [stack], /usr/lib/x86_64-linux-gnu/libc.so.6".into();
            }
            if a == "same-uid" {
                c.fragments_only = true;
                c.detections = 1;
            }
            if a == "dump" {
                c.detections = 2;
                c.detected = [
                    (crate::model::DetectorKind::CardNumber, 1),
                    (crate::model::DetectorKind::Canary, 1),
                ]
                .into_iter()
                .collect();
                c.view = Some(HexWindow {
                    title: "[heap] at 0x5581c0".into(),
                    rows: vec![HexRow {
                        addr: 0x5581c0,
                        bytes: b"<b>4111 1111 11".iter().map(|b| Some(*b)).collect(),
                        highlight: (0..15).map(|i| i >= 3).collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            }
            cells.push(c);
        }
        for a in &attacks {
            let mut c = cell(
                "secretmem",
                a,
                Unreadable,
                Unreadable,
                "/secretmem (deleted)",
            );
            if a == "gcore" {
                c = cell("secretmem", a, NotApplicable, NotApplicable, "");
                c.reason = "gdb is not installed".into();
            }
            if a == "dump" {
                c.view = Some(HexWindow {
                    title: "/secretmem (deleted): read refused (EIO)".into(),
                    rows: vec![HexRow {
                        addr: 0x7f0000000000,
                        bytes: vec![None; 16],
                        highlight: vec![false; 16],
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            }
            cells.push(c);
        }
        for a in &attacks {
            let c = match a.as_str() {
                "dump" | "gcore" | "kernel" => cell("dontdump", a, Absent, Absent, "[anon]"),
                "live" => {
                    let mut c = cell("dontdump", a, Leak, Unreadable, "[anon]");
                    c.reason = "EIO: <script>alert(1)</script>".into();
                    c
                }
                _ => cell("dontdump", a, Leak, Leak, "[anon]"),
            };
            cells.push(c);
        }
        MatrixReport {
            host: HostInfo {
                kernel: "6.1.0-18-amd64".into(),
                hostname: "lab-1".into(),
                uid: 0,
                memfd_secret: true,
                gcore: false,
                core_pattern: "core".into(),
                confidump: "0.1.0".into(),
            },
            lang: lang.into(),
            scenarios,
            attacks: attacks.iter().filter_map(|a| a.parse().ok()).collect(),
            mismatches: 1,
            cells,
            millis: 4321,
        }
    }

    #[test]
    fn english_table_has_everything() {
        let t = render_table(&sample("en"), false);
        assert!(!t.contains('\x1b'), "{t}");
        for want in [
            "LEAK",
            "????",
            "absent",
            "n/a",
            "gdb is not installed",
            "needs SGX: this CPU has none",
            "stand-in for an enclave",
            "✗ expected LEAK",
            "fragments",
            "lesson: Ordinary memory",
            "1 mismatch (of 15 cells)",
            "plain · dump: 1 card number, 1 canary",
            "confidump writes a core dump",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        // The n/a reason appears once, as a footnote.
        assert_eq!(t.matches("gdb is not installed").count(), 1, "{t}");
    }

    #[test]
    fn japanese_table_is_aligned() {
        let t = render_table(&sample("ja"), false);
        for want in [
            "漏洩",
            "????",
            "除外",
            "対象外",
            "教訓",
            "エンクレーブの代役",
            "✗ 期待値: 漏洩",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        assert_table_aligned(&t);
        assert_table_aligned(&render_table(&sample("en"), false));
    }

    /// Every line of the box has the same display width, and none is wider than the bound.
    fn assert_table_aligned(t: &str) {
        let boxed: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with(['│', '┌', '├', '└']))
            .collect();
        assert!(boxed.len() > 10, "{t}");
        let w = display_width(boxed[0]);
        assert!(w <= MAX_TABLE_WIDTH, "table is {w} wide");
        for l in &boxed {
            assert_eq!(display_width(l), w, "misaligned line {l:?} in\n{t}");
        }
    }

    #[test]
    fn colour_only_when_asked() {
        let t = render_table(&sample("en"), true);
        assert!(t.contains("\x1b[1;31mLEAK\x1b[0m"), "{t}");
        assert!(t.contains("\x1b[1;32m????\x1b[0m"), "{t}");
        let plain: String = strip_ansi(&t);
        assert_eq!(plain, render_table(&sample("en"), false));
    }

    pub(crate) fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut esc = false;
        for ch in s.chars() {
            match (esc, ch) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    }

    #[test]
    fn all_met_summary() {
        let mut r = sample("en");
        r.cells.retain(Cell::met);
        let t = render_table(&r, false);
        assert!(
            t.contains(&format!("all {} cells as expected", r.cells.len())),
            "{t}"
        );
        assert!(!t.contains("✗ expected"));
    }

    #[test]
    fn wrap_and_truncate() {
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        let ja = wrap("通常のメモリはどのダンプにも含まれる。", 10);
        assert!(ja.iter().all(|l| display_width(l) <= 10), "{ja:?}");
        assert!(ja.iter().all(|l| !l.starts_with('。')), "{ja:?}");
        let title = wrap("通常のヒープメモリにある秘密", 26);
        assert_eq!(title, vec!["通常のヒープメモリにある", "秘密"]);
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(display_width(&truncate("日本語のテキスト", 7)), 7);
    }

    #[test]
    fn many_columns_stay_within_bound() {
        let mut r = sample("en");
        // Ten columns: five of the paths twice over.
        r.attacks.extend(AttackKind::ALL.into_iter().take(5));
        assert_table_aligned(&render_table(&r, false));
    }

    #[test]
    fn detections_are_named_by_kind_in_both_languages() {
        let en = render_table(&sample("en"), false);
        assert!(en.contains("plain · dump: 1 card number, 1 canary"), "{en}");
        assert!(en.contains("plain · same-uid: 1 secret"), "{en}");
        let ja = render_table(&sample("ja"), false);
        assert!(ja.contains("カード番号 1 件、カナリア 1 件"), "{ja}");
    }
}
