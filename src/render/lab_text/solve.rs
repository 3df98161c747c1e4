//! `lab solve`: the reference solution's steps as they run, and what it found.

use super::check::{json_words, submitted_text};
use super::para;
use crate::i18n::{sep, t, tf, Lang};
use crate::lab::flow::SolveEvent;
use crate::lab::proof::Outcome;
use crate::lab::solve::StepRun;
use crate::lab::Exercise;
use crate::render::sanitize::{json_text, visible};

/// `lab solve`'s head: the exercise and its victim's `pid`.
pub fn solution_head(ex: &Exercise, pid: i32, l: Lang) -> String {
    let title = t(l, "titled")
        .replace("{label}", t(l, "solution"))
        .replace("{title}", ex.title.get(l))
        .replace("{name}", &ex.name);
    format!("{title}\n  {}{}pid {pid}\n", t(l, "victim"), sep(l))
}

/// One step of a reference solution as it ends: step `i` of `total`, its command, the start
/// of its output.
pub fn step_text(i: usize, total: usize, r: &StepRun<'_>, l: Lang) -> String {
    let mut text = format!("\n[{i}/{total}] {}\n  $ {}\n", r.step.say.get(l), r.command);
    for line in r.stdout.lines().take(20) {
        text.push_str(&format!("    {line}\n"));
    }
    for line in r.stderr.lines().take(10) {
        text.push_str(&format!("    {line}\n"));
    }
    if !r.ok {
        text.push_str(&format!("    {}\n", t(l, "exit.failure")));
    }
    text
}

/// What `lab solve` prints for one event (JSON shows only the verdicts and the end).
pub fn solve_event(e: &SolveEvent<'_>, l: Lang, json: bool) -> String {
    match e {
        SolveEvent::Verdict(ex, part, outcome) if json => {
            let (verdict, detail, part) = json_words(*part, outcome);
            let v = serde_json::json!({"exercise": ex.name, "verdict": verdict, "part": part,
                "detail": detail, "recorded": false});
            format!("{}\n", json_text(&v.to_string()))
        }
        SolveEvent::Shown(ex) if json => {
            let v = serde_json::json!({"exercise": ex.name, "shown": true});
            format!("{}\n", json_text(&v.to_string()))
        }
        _ if json => String::new(),
        SolveEvent::Head(ex, pid) => solution_head(ex, *pid, l),
        SolveEvent::Step(i, total, r) => step_text(i + 1, *total, r, l),
        SolveEvent::Submitted(s) => submitted_text(s, l),
        SolveEvent::Verdict(_, _, outcome) => {
            let (mark, key, detail) = match outcome {
                Outcome::Accepted(d) => ("✓", "solve.accepted", d),
                Outcome::Rejected(d) => ("✗", "solve.rejected", d),
            };
            let mut out = format!("{mark} {}\n", t(l, key));
            let detail = detail.get(l);
            if !detail.is_empty() {
                out.push_str(&para("  ", &visible(detail)));
            }
            out
        }
        SolveEvent::Shown(ex) => format!("\n{}", para("", &tf(l, "solve.shown", &[&ex.name]))),
    }
}
