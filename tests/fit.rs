//! The demo fits the screen it is shown on, and says only what is true, on real runs: the
//! table at 80, 100 and 120 columns (and stacked below what its columns need), the argv row's
//! view of the `[stack]` copy its lesson is about, and bytes a tool left out told apart from
//! bytes the kernel refused. Victims, dumps, gcore and kernel cores are all real.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};

use common::{bin, code_out_err};
use confidump::model::{Gap, MatrixReport, Outcome};
use confidump::render::table::render_table;
use confidump::render::wrap::display_width;

const ROWS: [&str; 8] = [
    "--scenario",
    "plain",
    "--scenario",
    "dontdump",
    "--scenario",
    "secretmem",
    "--scenario",
    "argv",
];

/// `confidump demo` over the four process rows, with `COLUMNS` set and `extra` arguments.
fn demo(columns: usize, extra: &[&str]) -> (i32, String, String) {
    let o = Command::new(bin())
        .arg("demo")
        .args(ROWS)
        .args(extra)
        .env("COLUMNS", columns.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run confidump demo");
    code_out_err(&o)
}

fn widest(text: &str) -> (usize, String) {
    text.lines()
        .map(|l| (display_width(l), l.to_string()))
        .max_by_key(|(w, _)| *w)
        .unwrap_or_default()
}

fn assert_fits(text: &str, width: usize) {
    let (w, line) = widest(text);
    assert!(
        w <= width,
        "a line of {w} columns at {width}: {line:?}\n{text}"
    );
}

/// The printed table, with `COLUMNS` set, fits: English at 120, Japanese at 80.
#[test]
fn the_printed_table_fits_columns() {
    for (columns, lang) in [(120, "en"), (80, "ja")] {
        let (code, out, err) = demo(columns, &["--lang", lang]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert_fits(&out, columns);
        let leak = if lang == "ja" { "漏洩" } else { "LEAK" };
        assert!(out.contains('┌') && out.contains(leak), "{out}");
    }
}

/// One real run, drawn at every width: a box where the columns fit, stacked where they do not,
/// never a line wider than the screen; and what the cells captured says only what is true.
#[test]
fn a_real_run_fits_every_width_and_tells_absent_from_refused() {
    let (code, out, err) = demo(100, &["--format", "json", "--lang", "en"]);
    assert_eq!(code, 0, "{err}");
    let mut r: MatrixReport =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not a report ({e}): {out}"));
    for lang in ["en", "ja"] {
        r.lang = lang.parse().expect("a language");
        for w in [80, 100, 120] {
            let t = render_table(&r, false, w);
            assert_fits(&t, w);
            assert!(t.contains('┌'), "four attack columns fit {w} columns:\n{t}");
        }
        let t = render_table(&r, false, 60);
        assert_fits(&t, 60);
        assert!(!t.contains('┌'), "stacked at 60 columns:\n{t}");
        assert!(t.lines().any(|l| l.starts_with("argv — ")), "{t}");
    }

    let cell = |s: &str, a: &str| {
        r.cells
            .iter()
            .find(|c| c.scenario == s && c.attack.as_str() == a)
            .unwrap_or_else(|| panic!("no {s} · {a} cell"))
    };
    // argv: the view shows the kernel's copy on [stack], the one the lesson is about.
    for a in ["dump", "gcore", "kernel", "live"] {
        let c = cell("argv", a);
        assert_eq!(c.observed, Outcome::Leak, "{c:?}");
        let title = &c.view.as_ref().expect("a view").title;
        assert!(title.starts_with("[stack] at "), "argv · {a}: {title}");
    }
    // dontdump · gcore: left out, not refused: no byte of its view may read as a refusal.
    let gaps = |s: &str, a: &str| -> Vec<Gap> {
        let v = cell(s, a).view.as_ref().expect("a view");
        v.rows
            .iter()
            .flat_map(|row| (0..row.bytes.len()).filter_map(|i| row.gap(i)))
            .collect()
    };
    let absent = gaps("dontdump", "gcore");
    assert!(
        !absent.is_empty() && absent.iter().all(|g| *g == Gap::Absent),
        "{absent:?}"
    );
    // secretmem · dump: the kernel refused the read: `??`, never `--`.
    let refused = gaps("secretmem", "dump");
    assert!(
        !refused.is_empty() && refused.iter().all(|g| *g == Gap::Refused),
        "{refused:?}"
    );
}
