//! A check's verdict: what was submitted, the outcome of each part, as text or JSON.

use super::para;
use crate::i18n::{sep, t, Lang};
use crate::lab::flow::Checked;
use crate::lab::proof::{Outcome, Part};
use crate::lab::record::Recorded;
use crate::lab::solve::Submitted;
use crate::lab::{Exercise, Goal};

/// `✓`/`✗` lines: the verdict, the exercise, the attempts so far (`template` of the lab words).
pub fn verdict_line(
    template: &'static str,
    l: Lang,
    head: &str,
    name: &str,
    attempts: u32,
) -> String {
    t(l, template)
        .replace("{head}", head)
        .replace("{name}", name)
        .replace("{tries}", t(l, "tries"))
        .replace("{n}", &attempts.to_string())
}

/// What the solution submits to `lab check`, said before its verdict.
pub fn submitted_text(s: &Submitted, l: Lang) -> String {
    let said = match s {
        Submitted::Proof(p) => format!("{}{}{}", t(l, "proof.file"), sep(l), p.display()),
        Submitted::Answer(a) => format!("{}{}{a}", t(l, "answer.found"), sep(l)),
    };
    format!("\n{said}\n$ confidump lab check ...\n")
}

/// A verdict's words in JSON, for a recorded check and for `lab solve`'s alike: `right`/`wrong`,
/// the English detail, and the part checked (`answer`, `proof`).
pub(super) fn json_words(part: Part, outcome: &Outcome) -> (&'static str, &str, &'static str) {
    let (verdict, detail) = match outcome {
        Outcome::Accepted(d) => ("right", d.en.as_str()),
        Outcome::Rejected(d) => ("wrong", d.en.as_str()),
    };
    let part = match part {
        Part::Answer => "answer",
        Part::Proof => "proof",
    };
    (verdict, detail, part)
}

/// A recorded check's outcome for scripts (in English, as the other fields are).
pub fn outcome_json(
    ex: &Exercise,
    part: Part,
    outcome: &Outcome,
    r: &Recorded<'_>,
) -> serde_json::Value {
    let (verdict, detail, part) = json_words(part, outcome);
    let next = if r.solved {
        r.next.map(|n| n.name.as_str())
    } else {
        None
    };
    serde_json::json!({"exercise": ex.name, "verdict": verdict, "part": part,
        "solved": r.solved, "detail": detail, "still_to_do": r.todo.map(|k| t(Lang::En, k)),
        "attempts": r.attempts, "next": next, "credited": r.solved && !r.after_shown})
}

/// A recorded check's outcome for people: `✓`/`✗`, what was found, and what to do next.
pub fn outcome_text(
    ex: &Exercise,
    part: Part,
    outcome: &Outcome,
    r: &Recorded<'_>,
    l: Lang,
) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    match outcome {
        Outcome::Accepted(detail) => {
            let head = match (part, ex.goal) {
                (_, Goal::ProveAbsentThenAnswer) if r.solved => t(l, "solved.both"),
                (Part::Proof, _) => t(l, "proof.accepted"),
                (Part::Answer, Goal::ProveAbsentThenAnswer) => t(l, "right.part"),
                (Part::Answer, _) => t(l, "right"),
            };
            let v = verdict_line("verdict.line", l, head, &ex.name, r.attempts);
            line(&format!("✓ {v}"));
            let detail = detail.get(l);
            if !detail.is_empty() {
                line(para("  ", detail).trim_end());
            }
            if r.after_shown {
                line(para("  ", t(l, "check.after.shown")).trim_end());
            }
            if let Some(k) = r.todo {
                line(&format!("  {}", t(l, k)));
            } else {
                if r.stopped {
                    line(&format!("  {}", t(l, "stopped")));
                }
                match r.next {
                    Some(n) => line(&format!(
                        "  {}{}confidump lab start {}",
                        t(l, "next"),
                        sep(l),
                        n.name
                    )),
                    None if r.all_solved => line(&format!("  {}", t(l, "all.done"))),
                    None => {}
                }
            }
        }
        Outcome::Rejected(detail) => {
            let head = match part {
                Part::Proof => t(l, "proof.rejected"),
                Part::Answer => t(l, "wrong"),
            };
            let v = verdict_line("verdict.no", l, head, &ex.name, r.attempts);
            line(&format!("✗ {v}"));
            let detail = detail.get(l);
            if !detail.is_empty() {
                line(para("  ", detail).trim_end());
            }
        }
    }
    out
}

/// What a recorded check prints.
pub fn checked(c: &Checked<'_>, l: Lang, json: bool) -> String {
    if json {
        format!("{}\n", outcome_json(&c.ex, c.part, &c.outcome, &c.recorded))
    } else {
        outcome_text(&c.ex, c.part, &c.outcome, &c.recorded, l)
    }
}
