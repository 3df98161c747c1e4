//! The lab's texts on hand-built data: replies in text and JSON, tables, wrapping.

use super::check::{outcome_json, outcome_text, submitted_text};
use super::exercise::hint_text;
use super::solve::solution_head;
use super::*;
use crate::i18n::{t, Lang};
use crate::lab::progress::{Progress, StatusReport};
use crate::lab::proof::{Outcome, Part};
use crate::lab::record::Recorded;
use crate::lab::session::Hint;
use crate::lab::solve::Submitted;
use crate::lab::state::State;

#[test]
fn replies_in_text_and_json() {
    assert_eq!(reset_reply(Lang::En, true), "{\"reset\":true}\n");
    assert_eq!(
        reset_reply(Lang::En, false),
        format!("{}\n", t(Lang::En, "reset.done"))
    );
    // No hint left is said in words even to a script, as before.
    assert_eq!(
        hint_reply(None, Lang::En, true, 100),
        format!("{}\n", t(Lang::En, "no.more.hints"))
    );
    let h = Hint {
        n: 1,
        of: 2,
        text: "look".into(),
        not_running: false,
    };
    let json = hint_reply(Some(&("find-it".into(), h)), Lang::En, true, 100);
    assert!(
        json.starts_with("{\"exercise\":\"find-it\",\"hint\":1"),
        "{json}"
    );
    assert_eq!(say(false, &1, || "x".into()).unwrap(), "x");
    assert_eq!(say(true, &1, || "x".into()).unwrap(), "1\n");
}

#[test]
fn list_hint_and_solution_lines() {
    let all = crate::lab::builtin().unwrap();
    let st = State::default();
    let text = list_text(&all, &st, Lang::En);
    assert_eq!(text.lines().count(), all.len());
    assert!(text.starts_with(" 1. find-it"), "{text}");
    let json = list_json(&all, &st, Lang::En);
    assert_eq!(json[0]["exercise"], "find-it");
    assert_eq!(json.as_array().map(Vec::len), Some(all.len()));
    let hint = hint_text(1, 3, "a\nb\x1b", Lang::En, 100);
    assert!(
        hint.starts_with("Hint 1/3") && !hint.contains('\x1b'),
        "{hint}"
    );
    // Commands stand whole on lines of their own; the prose around them is wrapped.
    let long = "Dump it and search the dump for the secret's shape: `gcore -o DIR/core 1234`, then `grep -a -o -E 'CONFIDUMP-[0-9a-f]{24}' DIR/core.1234 | sort -u`";
    let hint = hint_text(2, 3, long, Lang::En, 40);
    let lines: Vec<&str> = hint.lines().collect();
    assert_eq!(
        lines,
        [
            "Hint 2/3: Dump it and search the dump",
            "          for the secret's shape:",
            "    gcore -o DIR/core 1234",
            "  then",
            "    grep -a -o -E 'CONFIDUMP-[0-9a-f]{24}' DIR/core.1234 | sort -u",
        ],
        "{hint}"
    );
    // Japanese lines break at phrases and line up by display width.
    let text = list_text(&all, &st, Lang::Ja);
    let title_at: Vec<usize> = text
        .lines()
        .map(|l| {
            let title = all
                .iter()
                .map(|e| e.title.get(Lang::Ja))
                .find(|t| l.ends_with(*t))
                .unwrap();
            UnicodeWidthStr::width(l) - UnicodeWidthStr::width(title)
        })
        .collect();
    assert!(title_at.iter().all(|&w| w == title_at[0]), "{text}");
    let said = submitted_text(&Submitted::Answer("X".into()), Lang::En);
    assert!(said.starts_with('\n') && said.ends_with("$ confidump lab check ...\n"));
    let head = solution_head(&all[0], 42, Lang::En);
    assert!(head.ends_with("pid 42\n"), "{head}");
}

fn rep(trainee: &str, rows: &[(&str, &str, u32)]) -> StatusReport {
    StatusReport {
        trainee: trainee.to_string(),
        machine: "m".to_string(),
        account: String::new(),
        exercises: rows
            .iter()
            .map(|&(e, s, a)| Progress {
                exercise: e.to_string(),
                title: format!("T {e}"),
                state: s.to_string(),
                attempts: a,
                hints: 0,
                seconds: (s == "solved").then_some(90),
            })
            .collect(),
    }
}

#[test]
fn status_lines_up_and_shows_controls_visibly() {
    let r = rep(
        "a\u{1b}[2J@h",
        &[("find-it", "solved", 1), ("argv", "open", 0)],
    );
    let s = status_table(&r, Lang::En);
    assert!(!s.contains('\u{1b}'), "{s}");
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[2].starts_with("  1. find-it "), "{s}");
    assert!(lines[2].contains("1:30  T find-it"), "{s}");
}

#[test]
fn report_counts_each_trainee_exercise_once() {
    let a = rep(
        "a@h",
        &[("x", "solved", 1), ("x", "solved", 1), ("y", "locked", 2)],
    );
    let b = rep("b@h", &[("y", "running", 0), ("x", "shown", 0)]);
    let s = report_table(&[a, b], Lang::En);
    assert!(s.starts_with("Self-reported"), "{s}");
    // The table starts after the self-reported paragraph and its blank line.
    let lines: Vec<&str> = s.split("\n\n").nth(1).unwrap().lines().collect();
    assert!(lines[0].starts_with("trainee  machine  x "), "{s}");
    assert!(
        lines[0].ends_with("solved  shown  attempts  hints  time"),
        "{s}"
    );
    // a: x solved once in 1:30 with 1 attempt, y tried twice; totals 1 solved, 3 attempts.
    assert!(lines[1].contains("✓ 1:30 1/0  ✗ 2/0"), "{s}");
    assert!(lines[1].ends_with("1      0         3      0  1:30"), "{s}");
    assert!(
        lines[2].contains("◌ 0/0") && lines[2].contains("▸ 0/0"),
        "{s}"
    );
    assert_eq!(
        lines[3],
        "2 trainees, 1 of 4 exercises solved (1 with the solution shown, not counted)"
    );
    let legend: Vec<&str> = s.split("\n\n").nth(2).unwrap().lines().collect();
    assert!(
        legend[0].starts_with("✓ solved") && legend[1].starts_with("◌ "),
        "{s}"
    );
    // No line is wider than the wrap, the table's aside.
    assert!(
        s.lines().take(2).all(|l| UnicodeWidthStr::width(l) <= WRAP),
        "{s}"
    );
    // Every line's columns line up by display width, Japanese headings included.
    let ja = report_table(&[rep("アン", &[("x", "solved", 1)])], Lang::Ja);
    let rows: Vec<&str> = ja.split("\n\n").nth(1).unwrap().lines().take(2).collect();
    let col = |line: &str, word: &str| UnicodeWidthStr::width(&line[..line.find(word).unwrap()]);
    assert_eq!(col(rows[0], "マシン"), col(rows[1], "m "), "{ja}");
    assert!(ja.contains("受講者 1 人"), "{ja}");
}

#[test]
fn a_solve_after_the_solution_was_shown_is_not_credited() {
    let all = crate::lab::builtin().unwrap();
    let r = |after_shown| Recorded {
        attempts: 1,
        accepted: true,
        solved: true,
        todo: None,
        stopped: false,
        next: None,
        all_solved: false,
        after_shown,
    };
    let yes = Outcome::Accepted(crate::model::Texts::default());
    let v = outcome_json(&all[0], Part::Answer, &yes, &r(true));
    assert_eq!(
        (v["solved"].as_bool(), v["credited"].as_bool()),
        (Some(true), Some(false))
    );
    let v = outcome_json(&all[0], Part::Answer, &yes, &r(false));
    assert_eq!(v["credited"].as_bool(), Some(true));
    let text = outcome_text(&all[0], Part::Answer, &yes, &r(true), Lang::En);
    assert!(text.contains("your status reads \"shown\""), "{text}");
}

#[test]
fn csv_rows_are_one_per_trainee_and_exercise_and_never_formulas() {
    let a = rep(
        "=cmd|' /C calc'!A0",
        &[("x", "solved", 1), ("y", "open", 0)],
    );
    let text = report_csv(&[a]).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(&rows[0][0], "'=cmd|' /C calc'!A0");
    assert_eq!(
        (&rows[0][3], &rows[0][5], &rows[0][8]),
        ("x", "solved", "90")
    );
    assert_eq!(&rows[1][9], "self-reported");
}
