//! `lab status` and `lab report`: a trainee's progress as a table, and the instructor's table
//! of several trainees (text, with its legend, or CSV for a spreadsheet).

use std::collections::{BTreeMap, BTreeSet};

use unicode_width::UnicodeWidthStr;

use super::{pad, pad_left, para, widest};
use crate::i18n::{paren, t, tf, Lang};
use crate::lab::progress::{minutes, state_key, Progress, StatusReport};
use crate::render::sanitize::visible;

/// `lab status` as text: the trainee, then one line per exercise; a note when a solution
/// was shown.
pub fn status_table(rep: &StatusReport, l: Lang) -> String {
    let mut out = visible(&rep.trainee).into_owned();
    if !rep.account.is_empty() && rep.account != rep.trainee {
        out.push_str(&paren(l, &visible(&rep.account)));
    }
    out.push('\n');
    let w = widest(rep.exercises.iter().map(|p| p.exercise.as_str())) + 1;
    let dw = |s: &str| UnicodeWidthStr::width(s);
    // Each column is as wide as its heading or its widest word (回答回数 is eight columns).
    let sw = ["state", "solved", "shown", "running", "open", "locked"]
        .iter()
        .map(|k| dw(t(l, k)))
        .max()
        .unwrap_or(10);
    let cw = |key: &'static str, min: usize| dw(t(l, key)).max(min);
    let (tw, hw, mw) = (cw("tries", 5), cw("hints", 5), cw("time", 6));
    out.push_str(&format!(
        "     {} {} {} {} {}\n",
        pad(t(l, "exercise"), w),
        pad(t(l, "state"), sw),
        pad_left(t(l, "tries"), tw),
        pad_left(t(l, "hints"), hw),
        pad_left(t(l, "time"), mw)
    ));
    for (i, p) in rep.exercises.iter().enumerate() {
        out.push_str(&format!(
            "{:>3}. {} {} {} {} {}  {}\n",
            i + 1,
            pad(&visible(&p.exercise), w),
            pad(t(l, state_key(&p.state)), sw),
            pad_left(&p.attempts.to_string(), tw),
            pad_left(&p.hints.to_string(), hw),
            pad_left(&minutes(p.seconds), mw),
            visible(&p.title)
        ));
    }
    if rep.exercises.iter().any(|p| state_key(&p.state) == "shown") {
        out.push_str(&format!("\n{}", para("", t(l, "status.shown.note"))));
    }
    out
}

/// The exercises of `reps`, in the order first seen (the report's columns).
fn exercise_names(reps: &[StatusReport]) -> Vec<&str> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut names: Vec<&str> = Vec::new();
    for r in reps {
        for p in &r.exercises {
            if seen.insert(p.exercise.as_str()) {
                names.push(p.exercise.as_str());
            }
        }
    }
    names
}

/// Per trainee, its first entry for each exercise (a file that repeats one counts it once).
fn by_exercise(reps: &[StatusReport]) -> Vec<BTreeMap<&str, &Progress>> {
    reps.iter()
        .map(|r| {
            let mut m = BTreeMap::new();
            for p in &r.exercises {
                m.entry(p.exercise.as_str()).or_insert(p);
            }
            m
        })
        .collect()
}

/// One cell of `lab report`: the state's mark, the time for a solve, attempts/hints.
fn report_cell(p: Option<&&Progress>) -> String {
    let Some(p) = p else { return "-".to_string() };
    let counts = format!("{}/{}", p.attempts, p.hints);
    match state_key(&p.state) {
        "solved" => format!("✓ {} {counts}", minutes(p.seconds)),
        "shown" => format!("◌ {counts}"),
        "running" => format!("▸ {counts}"),
        _ if p.attempts > 0 || p.hints > 0 => format!("✗ {counts}"),
        _ => "-".to_string(),
    }
}

/// `lab report`: a line saying the table is self-reported; one line per trainee (name,
/// machine), a column per exercise any of them has, and the totals (solved, shown, attempts,
/// hints, time); the total line; a legend. Every string of the (untrusted) reports is shown
/// through [`visible`]; columns are aligned by display width.
pub fn report_table(reps: &[StatusReport], lang: Lang) -> String {
    let l = lang;
    let names = exercise_names(reps);
    let by_name = by_exercise(reps);
    let dw = |s: &str| UnicodeWidthStr::width(s);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut head: Vec<String> = vec![t(l, "trainee").to_string(), t(l, "machine").to_string()];
    head.extend(names.iter().map(|n| visible(n).into_owned()));
    for k in ["solved", "shown", "tries", "hints", "time"] {
        head.push(t(l, k).to_string());
    }
    let (mut solved_all, mut shown_all) = (0usize, 0usize);
    for (r, cells) in reps.iter().zip(&by_name) {
        let mut row = vec![
            visible(&r.trainee).into_owned(),
            visible(&r.machine).into_owned(),
        ];
        if row[1].is_empty() {
            row[1] = "-".to_string();
        }
        row.extend(names.iter().map(|n| report_cell(cells.get(n))));
        let mine: Vec<&&Progress> = cells.values().collect();
        let count = |k: &str| mine.iter().filter(|p| state_key(&p.state) == k).count();
        let (solved, shown) = (count("solved"), count("shown"));
        solved_all = solved_all.saturating_add(solved);
        shown_all = shown_all.saturating_add(shown);
        let attempts: u64 = mine.iter().map(|p| u64::from(p.attempts)).sum();
        let hints: u64 = mine.iter().map(|p| u64::from(p.hints)).sum();
        let time: u64 = mine
            .iter()
            .filter(|p| state_key(&p.state) == "solved")
            .filter_map(|p| p.seconds)
            .sum();
        row.push(solved.to_string());
        row.push(shown.to_string());
        row.push(attempts.to_string());
        row.push(hints.to_string());
        row.push(minutes((solved > 0).then_some(time)));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|c| {
            std::iter::once(&head)
                .chain(&rows)
                .filter_map(|r| r.get(c))
                .map(|s| dw(s))
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Names, the machine and the exercise cells to the left; the totals to the right.
    let totals_from = head.len().saturating_sub(5);
    let line = |r: &[String]| {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| {
                if c >= totals_from {
                    pad_left(s, w)
                } else {
                    pad(s, w)
                }
            })
            .collect();
        format!("{}\n", cells.join("  ").trim_end())
    };
    let mut out = format!("{}\n", para("", t(l, "report.self")));
    out.push_str(&line(&head));
    for r in &rows {
        out.push_str(&line(r));
    }
    let key = if reps.len() == 1 {
        "report.total.one"
    } else {
        "report.total"
    };
    out.push_str(
        &t(l, key)
            .replace("{t}", &reps.len().to_string())
            .replace("{s}", &solved_all.to_string())
            .replace("{n}", &reps.len().saturating_mul(names.len()).to_string()),
    );
    if shown_all > 0 {
        out.push_str(&tf(l, "report.total.shown", &[&shown_all]));
    }
    out.push_str("\n\n");
    out.push_str(t(l, "report.legend"));
    out.push('\n');
    out
}

/// A spreadsheet cell for text from a status file: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return would make a spreadsheet read it as a formula, so it is quoted with `'`;
/// control characters are shown visibly.
fn sheet_cell(s: &str) -> String {
    let s = visible(s);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.into_owned()
    }
}

/// `lab report --format csv` (and `lab status --format csv`): one row per trainee and
/// exercise, with a header row; every row says the figures are self-reported.
pub fn report_csv(reps: &[StatusReport]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "trainee", "machine", "account", "exercise", "title", "state", "attempts", "hints",
        "seconds", "source",
    ])?;
    for (r, cells) in reps.iter().zip(by_exercise(reps)) {
        for n in exercise_names(std::slice::from_ref(r)) {
            let Some(p) = cells.get(n) else { continue };
            w.write_record([
                sheet_cell(&r.trainee),
                sheet_cell(&r.machine),
                sheet_cell(&r.account),
                sheet_cell(&p.exercise),
                sheet_cell(&p.title),
                state_key(&p.state).to_string(),
                p.attempts.to_string(),
                p.hints.to_string(),
                p.seconds.map(|s| s.to_string()).unwrap_or_default(),
                "self-reported".to_string(),
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
