//! The lab's texts for people: the task sheet, a check's verdict, `lab status` and `lab report`.

use std::collections::{BTreeMap, BTreeSet};

use unicode_width::UnicodeWidthStr;

use super::sanitize::{json_text, visible};
use super::wrap::hang;
use crate::i18n::{paren, sep, t, tf, Lang};
use crate::lab::flow::{Checked, SolveEvent, Started};
use crate::lab::progress::state_word;
use crate::lab::progress::{minutes, state_key, Progress, StatusReport};
use crate::lab::proof::{Outcome, Part};
use crate::lab::record::Recorded;
use crate::lab::session::{goal_key, Hint};
use crate::lab::solve::{StepRun, Submitted};
use crate::lab::state::{Running, State};
use crate::lab::{Exercise, Goal};

/// Where the lab's sentences are wrapped (display columns).
const WRAP: usize = 100;

/// `text` wrapped to [`WRAP`] columns, every line after `indent`, each ending in a newline.
fn para(indent: &str, text: &str) -> String {
    super::wrap::hang(indent, text, WRAP)
        .into_iter()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

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

/// What `lab solve` prints for one event (JSON shows only the verdicts and the end).
pub fn solve_event(e: &SolveEvent<'_>, l: Lang, json: bool) -> String {
    match e {
        SolveEvent::Verdict(ex, part, outcome) if json => {
            let (verdict, detail) = match outcome {
                Outcome::Accepted(d) => ("right", d.en.as_str()),
                Outcome::Rejected(d) => ("wrong", d.en.as_str()),
            };
            let part = match part {
                Part::Answer => "answer",
                Part::Proof => "proof",
            };
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
        let col =
            |line: &str, word: &str| UnicodeWidthStr::width(&line[..line.find(word).unwrap()]);
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
}
