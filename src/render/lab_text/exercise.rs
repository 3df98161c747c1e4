//! An exercise as the trainee meets it: the list, the task sheet when it starts, its hints,
//! and the reset.

use unicode_width::UnicodeWidthStr;

use super::{name_width, pad, say, wrapped};
use crate::i18n::{sep, t, Lang};
use crate::lab::flow::Started;
use crate::lab::progress::state_word;
use crate::lab::session::{goal_key, Hint};
use crate::lab::state::{Running, State};
use crate::lab::{Exercise, Goal};
use crate::render::sanitize::{json_text, visible};
use crate::render::wrap::hang;

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

/// What `lab reset` prints.
pub fn reset_reply(l: Lang, json: bool) -> String {
    if json {
        format!("{}\n", serde_json::json!({"reset": true}))
    } else {
        format!("{}\n", t(l, "reset.done"))
    }
}
