//! The lab's texts for people: the task sheet, a check's verdict, `lab status` and `lab report`.

use std::collections::{BTreeMap, BTreeSet};

use unicode_width::UnicodeWidthStr;

use super::sanitize::{json_text, visible};
use super::wrap::hang;
use crate::i18n::{sep, t, Lang};
use crate::lab::flow::{Checked, SolveEvent, Started};
use crate::lab::progress::state_word;
use crate::lab::progress::{minutes, state_key, Progress, StatusReport};
use crate::lab::proof::{Outcome, Part};
use crate::lab::record::Recorded;
use crate::lab::session::{goal_key, Hint};
use crate::lab::solve::{StepRun, Submitted};
use crate::lab::state::{Running, State};
use crate::lab::{Exercise, Goal};

/// The width of the exercise-name column: the longest name (at least 10).
pub fn name_width(all: &[Exercise]) -> usize {
    widest(all.iter().map(|e| e.name.as_str()))
}

fn widest<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0).max(10)
}

/// `text` padded to `width` display columns (a Japanese word is two columns a character).
pub fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(UnicodeWidthStr::width(text));
    format!("{text}{}", " ".repeat(fill))
}

/// `text` right-aligned in `width` display columns.
pub fn pad_left(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(UnicodeWidthStr::width(text));
    format!("{}{text}", " ".repeat(fill))
}

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

/// `lab status` as text: the trainee, then one line per exercise.
pub fn status_table(rep: &StatusReport, l: Lang) -> String {
    let mut out = format!("{}\n", visible(&rep.trainee));
    let w = widest(rep.exercises.iter().map(|p| p.exercise.as_str())) + 1;
    // Each number column is as wide as its heading (回答回数 is eight columns wide).
    let cw = |key: &'static str, min: usize| UnicodeWidthStr::width(t(l, key)).max(min);
    let (tw, hw, mw) = (cw("tries", 5), cw("hints", 5), cw("time", 6));
    out.push_str(&format!(
        "     {} {} {} {} {}\n",
        pad(t(l, "exercise"), w),
        pad(t(l, "state"), 10),
        pad_left(t(l, "tries"), tw),
        pad_left(t(l, "hints"), hw),
        pad_left(t(l, "time"), mw)
    ));
    for (i, p) in rep.exercises.iter().enumerate() {
        out.push_str(&format!(
            "{:>3}. {:<w$} {} {:>tw$} {:>hw$} {:>mw$}  {}\n",
            i + 1,
            visible(&p.exercise),
            pad(t(l, state_key(&p.state)), 10),
            p.attempts,
            p.hints,
            minutes(p.seconds),
            visible(&p.title)
        ));
    }
    out
}

/// `lab report`: one line per trainee, one column per exercise any of them has, and the
/// total. Every string of the (untrusted) reports is shown through [`visible`]; each
/// trainee's exercises are looked up in a map (n log n).
pub fn report_table(reps: &[StatusReport], lang: Lang) -> String {
    // The columns: every exercise, in the order first seen.
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut names: Vec<&str> = Vec::new();
    for r in reps {
        for p in &r.exercises {
            if seen.insert(p.exercise.as_str()) {
                names.push(p.exercise.as_str());
            }
        }
    }
    // Per trainee, its first entry for each exercise (a file that repeats one counts it once).
    let by_name: Vec<BTreeMap<&str, &Progress>> = reps
        .iter()
        .map(|r| {
            let mut m = BTreeMap::new();
            for p in &r.exercises {
                m.entry(p.exercise.as_str()).or_insert(p);
            }
            m
        })
        .collect();
    let shown: Vec<String> = names.iter().map(|n| visible(n).into_owned()).collect();
    let trainees: Vec<String> = reps
        .iter()
        .map(|r| visible(&r.trainee).into_owned())
        .collect();
    let w = |s: &str| UnicodeWidthStr::width(s);
    let head = t(lang, "trainee");
    let width = trainees
        .iter()
        .map(|t| w(t))
        .max()
        .unwrap_or(0)
        .max(w(head));
    let mut out = pad(head, width);
    for n in &shown {
        out.push_str("  ");
        out.push_str(&pad(n, w(n).max(10)));
    }
    out.push('\n');
    let mut solved = 0usize;
    for (trainee, cells) in trainees.iter().zip(&by_name) {
        out.push_str(&pad(trainee, width));
        for (n, shown) in names.iter().zip(&shown) {
            let cell = match cells.get(n) {
                Some(p) if p.state == "solved" => {
                    solved = solved.saturating_add(1);
                    format!("✓ {}", minutes(p.seconds))
                }
                Some(p) if p.attempts > 0 => format!("✗ {}", p.attempts),
                Some(p) if p.state == "running" => "…".to_string(),
                _ => "-".to_string(),
            };
            out.push_str("  ");
            out.push_str(&pad(&cell, w(shown).max(10)));
        }
        out.push('\n');
    }
    out.push_str(
        &t(lang, "report.total")
            .replace("{t}", &reps.len().to_string())
            .replace("{s}", &solved.to_string())
            .replace("{n}", &reps.len().saturating_mul(names.len()).to_string()),
    );
    out.push('\n');
    out
}

/// `lab list`: a line per exercise, numbered, with its state and title; the columns line up
/// by display width (a Japanese state word takes two columns a character).
pub fn list_text(all: &[Exercise], st: &State, l: Lang) -> String {
    let w = name_width(all);
    let states: Vec<&str> = (0..all.len())
        .zip(all)
        .map(|(i, e)| t(l, state_word(all, st, i, e)))
        .collect();
    let sw = states
        .iter()
        .map(|s| UnicodeWidthStr::width(*s))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for ((i, e), state) in all.iter().enumerate().zip(states) {
        out.push_str(&format!(
            "{:>2}. {} {} {}\n",
            i + 1,
            pad(&visible(&e.name), w),
            pad(state, sw),
            visible(e.title.get(l))
        ));
    }
    out
}

/// `lab list --format json`.
pub fn list_json(all: &[Exercise], st: &State, l: Lang) -> serde_json::Value {
    all.iter()
        .enumerate()
        .map(|(i, e)| {
            serde_json::json!({
                "exercise": e.name, "title": e.title.get(l), "context": e.context,
                "goal": goal_key(e.goal), "tools": e.tools, "state": state_word(all, st, i, e),
            })
        })
        .collect()
}

/// `lab start --format json`: the exercise, its processes and `task`.
pub fn start_json(ex: &Exercise, run: &Running, task: &str, l: Lang) -> serde_json::Value {
    serde_json::json!({
        "exercise": ex.name, "title": ex.title.get(l),
        "pids": std::iter::once(run.pid).chain(run.server.iter().copied()).collect::<Vec<_>>(),
        "context": ex.context, "secret_shape": crate::lab::SECRET_SHAPE, "task": task,
        "goal": goal_key(ex.goal), "tools": ex.tools,
    })
}

/// `lab hint`: hint `n` of `of` wrapped to `width` columns, each of its `quoted` commands on
/// a line of its own, whole (a command broken across lines could not be pasted), every line
/// shown, none interpreted.
pub fn hint_text(n: u32, of: u32, text: &str, l: Lang, width: usize) -> String {
    let head = format!("{} {n}/{of}{}", t(l, "hint"), sep(l));
    let mut out: Vec<String> = Vec::new();
    for (i, piece) in text.split('`').enumerate() {
        if i % 2 == 1 {
            if out.is_empty() {
                out.push(head.trim_end().to_string());
            }
            out.push(format!("    {}", visible(piece)));
            continue;
        }
        // What follows a command starts a line: a leading `, ` or `. ` reads wrong there.
        let prose = piece
            .trim()
            .trim_start_matches([',', '、', '.', '。'])
            .trim();
        for line in prose.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let indent = if out.is_empty() { head.as_str() } else { "  " };
            out.extend(hang(indent, &visible(line), width));
        }
    }
    if out.is_empty() {
        out.push(head.trim_end().to_string());
    }
    out.join("\n")
}

/// `text`'s lines wrapped to `width` columns, each with `indent` before it and its own
/// leading spaces kept (a task's numbered list stays indented).
fn wrapped(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let body = line.trim_start();
        let head = format!("{indent}{}", line.strip_suffix(body).unwrap_or(""));
        if body.is_empty() {
            out.push('\n');
            continue;
        }
        let shown = visible(body);
        if UnicodeWidthStr::width(head.as_str()) + UnicodeWidthStr::width(shown.as_ref()) <= width {
            // A line that fits keeps its own spacing (`check SECRET   (or --file FILE)`).
            out.push_str(&format!("{head}{shown}\n"));
            continue;
        }
        for l in hang(&head, &shown, width) {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// What the target is, for the task sheet's header: its context, then what makes it this
/// exercise (the secret on the command line, the database's store, the container's runtime,
/// the protection mode), each only when the exercise has it.
pub fn target_what(ex: &Exercise, l: Lang) -> String {
    let context = match ex.context.as_str() {
        "vm" => t(l, "ctx.vm"),
        "container" => t(l, "ctx.container"),
        "service" => t(l, "ctx.service"),
        _ => t(l, "ctx.process"),
    };
    let mut parts = vec![context.to_string()];
    if ex.secret == crate::lab::SecretVia::Argv {
        parts.push(t(l, "via.argv").to_string());
    }
    for flag in ["--store", "--runtime"] {
        let value = ex.args.iter().skip_while(|a| *a != flag).nth(1);
        if let Some(v) = value {
            parts.push(visible(v).into_owned());
        }
    }
    if !ex.mode.is_empty() {
        parts.push(visible(&ex.mode).into_owned());
    }
    crate::i18n::list(l, &parts)
}

/// `lab solve`'s head: the exercise and its victim's `pid`.
pub fn solution_head(ex: &Exercise, pid: i32, l: Lang) -> String {
    let title = t(l, "titled")
        .replace("{label}", t(l, "solution"))
        .replace("{title}", ex.title.get(l))
        .replace("{name}", &ex.name);
    format!("{title}\n  {}{}pid {pid}\n", t(l, "victim"), sep(l))
}

/// What the solution submits to `lab check`, said before its verdict.
pub fn submitted_text(s: &Submitted, l: Lang) -> String {
    let said = match s {
        Submitted::Proof(p) => format!("{}{}{}", t(l, "proof.file"), sep(l), p.display()),
        Submitted::Answer(a) => format!("{}{}{a}", t(l, "answer.found"), sep(l)),
    };
    format!("\n{said}\n$ confidump lab check ...\n")
}

/// The lab word naming a goal.
fn goal_word(g: Goal) -> &'static str {
    match g {
        Goal::Answer => "goal.answer",
        Goal::ProveUnreadable => "goal.prove-unreadable",
        Goal::ProveAbsentThenAnswer => "goal.prove-absent-then-answer",
    }
}

/// What `lab start` shows: exercise `i` of `n`, its victim `pid`, goal, tools and `task`,
/// wrapped to `width` columns.
pub fn task_sheet(
    ex: &Exercise,
    i: usize,
    n: usize,
    pid: i32,
    task: &str,
    l: Lang,
    width: usize,
) -> String {
    let s = sep(l);
    let mut out = t(l, "head")
        .replace("{label}", t(l, "exercise"))
        .replace("{i}", &i.to_string())
        .replace("{n}", &n.to_string())
        .replace("{title}", &visible(ex.title.get(l)))
        .replace("{name}", &visible(&ex.name));
    out.push_str("\n\n  ");
    out.push_str(
        &t(l, "victim.line")
            .replace("{label}", t(l, "victim"))
            .replace("{pid}", &pid.to_string())
            .replace("{what}", &target_what(ex, l)),
    );
    out.push('\n');
    out.push_str(&format!(
        "  {}{s}{}\n",
        t(l, "goal"),
        t(l, goal_word(ex.goal))
    ));
    out.push_str(&format!("  {}{s}{}\n", t(l, "shape"), t(l, "shape.text")));
    out.push_str(&format!(
        "  {}{s}{}\n\n",
        t(l, "tools"),
        visible(&ex.tools.join(crate::i18n::t(l, "list.sep")))
    ));
    out.push_str(&wrapped(task, "  ", width));
    let submit = match ex.goal {
        Goal::Answer => "submit.answer",
        Goal::ProveUnreadable => "submit.proof",
        Goal::ProveAbsentThenAnswer => "submit.both",
    };
    out.push('\n');
    out.push_str(&wrapped(t(l, submit), "  ", width));
    out.push_str(&wrapped(t(l, "stuck"), "  ", width));
    out
}

/// A recorded check's outcome for scripts (in English, as the other fields are).
pub fn outcome_json(
    ex: &Exercise,
    part: Part,
    outcome: &Outcome,
    r: &Recorded<'_>,
) -> serde_json::Value {
    let (verdict, detail) = match outcome {
        Outcome::Accepted(d) => ("right", d.en.as_str()),
        Outcome::Rejected(d) => ("wrong", d.en.as_str()),
    };
    let part = match part {
        Part::Answer => "answer",
        Part::Proof => "proof",
    };
    let next = if r.solved {
        r.next.map(|n| n.name.as_str())
    } else {
        None
    };
    serde_json::json!({"exercise": ex.name, "verdict": verdict, "part": part,
        "solved": r.solved, "detail": detail, "still_to_do": r.todo.map(|k| t(Lang::En, k)),
        "attempts": r.attempts, "next": next})
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
                line(&format!("  {detail}"));
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
                line(&format!("  {detail}"));
            }
        }
    }
    out
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

/// `value` as JSON for scripts (shown, never interpreted by a terminal) when `json`, else
/// `text()`: what a lab command prints.
pub fn say<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<String, serde_json::Error> {
    Ok(if json {
        format!("{}\n", json_text(&serde_json::to_string_pretty(value)?))
    } else {
        text()
    })
}

/// What `lab start` prints: what the start stopped or replaced, then the task sheet (wrapped
/// to `width` columns); or its JSON.
pub fn started(
    s: &Started<'_>,
    n: usize,
    l: Lang,
    json: bool,
    width: usize,
) -> Result<String, serde_json::Error> {
    let mut value = start_json(s.ex, &s.run, &s.task, l);
    value["restarted"] = s.restarted.into();
    value["stopped"] = s.stopped.clone().into();
    say(json, &value, || {
        let mut out = String::new();
        if !s.stopped.is_empty() {
            let names = crate::i18n::list(l, &s.stopped);
            out.push_str(&wrapped(
                &t(l, "stopped.others").replace("{names}", &names),
                "",
                width,
            ));
        }
        if s.restarted {
            out.push_str(&wrapped(t(l, "restarted"), "", width));
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&task_sheet(
            s.ex,
            s.index + 1,
            n,
            s.run.pid,
            &s.task,
            l,
            width,
        ));
        out
    })
}

/// What `lab hint` prints for hint `h` of exercise `name` (wrapped to `width` columns), or
/// that there is none. A hint of an exercise that is not running says how to start it.
pub fn hint_reply(h: Option<&(String, Hint)>, l: Lang, json: bool, width: usize) -> String {
    match h {
        None => format!("{}\n", t(l, "no.more.hints")),
        Some((name, h)) if json => {
            let v = serde_json::json!({"exercise": name, "hint": h.n, "of": h.of,
                "text": h.text, "running": !h.not_running});
            format!("{}\n", json_text(&v.to_string()))
        }
        Some((name, h)) => {
            let mut out = format!("{}\n", hint_text(h.n, h.of, &h.text, l, width));
            if h.not_running {
                let name = visible(name);
                let note = t(l, "hint.not.running").replace("{name}", &name);
                out.push_str(&wrapped(&note, "", width));
                out.push_str(&format!("    confidump lab start {name}\n"));
            }
            out
        }
    }
}

/// What a recorded check prints.
pub fn checked(c: &Checked<'_>, l: Lang, json: bool) -> String {
    if json {
        format!("{}\n", outcome_json(&c.ex, c.part, &c.outcome, &c.recorded))
    } else {
        outcome_text(&c.ex, c.part, &c.outcome, &c.recorded, l)
    }
}

/// What `lab reset` prints.
pub fn reset_reply(l: Lang, json: bool) -> String {
    if json {
        format!("{}\n", serde_json::json!({"reset": true}))
    } else {
        format!("{}\n", t(l, "reset.done"))
    }
}

/// What `lab solve` prints for one event (JSON shows only the checks).
pub fn solve_event(e: &SolveEvent<'_, '_>, l: Lang, json: bool) -> String {
    match e {
        SolveEvent::Checked(c) => checked(c, l, json),
        _ if json => String::new(),
        SolveEvent::Head(ex, pid) => solution_head(ex, *pid, l),
        SolveEvent::Step(i, total, r) => step_text(i + 1, *total, r, l),
        SolveEvent::Submitted(s) => submitted_text(s, l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let b = rep("b@h", &[("y", "running", 0)]);
        let s = report_table(&[a, b], Lang::En);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 4, "{s}");
        assert!(
            lines[1].contains("✓ 1:30") && lines[1].contains("✗ 2"),
            "{s}"
        );
        assert!(lines[2].contains('…'), "{s}");
        assert!(s.ends_with('\n'));
    }
}
