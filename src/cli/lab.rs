//! `confidump lab`: exercises that trainees solve with real tools, checked by hash.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use serde::Serialize;

use super::{EXIT_ERROR, EXIT_MISMATCH, EXIT_OK};
use crate::lab::proof::{self, Outcome, Part, Want};
use crate::lab::state::{self, Record, State};
use crate::lab::words::t;
use crate::lab::{self, launch, solve, Exercise, Goal, SECRET_SHAPE};
use crate::model::Texts;
use crate::render::i18n::sep;
use crate::render::sanitize::{json_text, visible};

const AFTER_HELP: &str = "\
A trainee, as root on their own machine (or VM, or container):
  confidump lab list                     the exercises, in order, and which are open
  confidump lab start find-it            start its target process with a fresh secret; prints the task
  confidump lab hint                     the next hint for the current exercise
  confidump lab check CONFIDUMP-…        submit the secret (or --file FILE with the bytes found)
  confidump lab check --file core.1234   submit a core dump as proof (\"it cannot be read\" exercises)
  confidump lab status                   progress: tries, hints, time per exercise
  confidump lab reset                    stop every target process, forget all progress
Exercises, built in, in order: find-it, dontdump, argv, secretmem, residue, same-uid, vm,
container, database, database-client (`lab list` shows them with --labs-dir's own).
An instructor:
  confidump lab solve secretmem          run the reference solution for real, step by step
  confidump lab status --format json     one trainee's progress, for collecting
  confidump lab report a.json b.json     every trainee's progress in one table

The answer is never stored: the state directory ($XDG_STATE_HOME/confidump/lab, else
~/.local/state/confidump/lab, mode 0700) keeps only a salted hash of each secret.

Exercise files are code, not data: `solve` runs their steps as shell commands with your
privileges (root), and `start` passes their `args` to the victim. --labs-dir DIR is trusted as
sudo trusts its files: DIR and each *.toml in it must be owned by you (or root, or the user who
ran sudo) and writable by no one else, or the lab refuses to start; two files naming the same
exercise are refused (FILE:LINE:COL). Use only exercise files you would run as root.";

/// Options of `confidump lab`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct LabArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
    /// Language of the texts [default: from the locale].
    #[arg(long, global = true, value_parser = ["en", "ja"])]
    pub lang: Option<String>,
    /// More exercises (`*.toml`) beside the built-in ones. They are code run as you (root):
    /// DIR and its files must be yours (or root's) and writable by no one else.
    #[arg(long, global = true, value_name = "DIR")]
    pub labs_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub format: Format,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

/// The lab's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// The exercises, in order.
    List,
    /// Start an exercise: its target process with a fresh secret, and the task.
    Start {
        /// The exercise.
        name: String,
        /// Start it even if the exercise before it is not solved (instructors).
        #[arg(long)]
        any_order: bool,
    },
    /// The next hint (or hint N) for the current exercise.
    Hint {
        /// Which hint (1-based) [default: the next one].
        n: Option<u32>,
        /// The exercise [default: the current one].
        #[arg(long)]
        exercise: Option<String>,
    },
    /// Submit an answer, or a file (the bytes found, or a core dump as proof).
    Check {
        /// The secret.
        #[arg(required_unless_present = "file")]
        answer: Option<String>,
        /// A file: the bytes found, or a core dump.
        #[arg(long, value_name = "PATH", conflicts_with = "answer")]
        file: Option<PathBuf>,
        /// The exercise [default: the current one].
        #[arg(long)]
        exercise: Option<String>,
    },
    /// Progress: per exercise, done, tries, hints, time.
    Status {
        /// Also write one self-contained HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Replace an existing --html file.
        #[arg(long, requires = "html")]
        force: bool,
    },
    /// Stop every target process the lab started and forget all progress.
    Reset,
    /// Run an exercise's reference solution for real, step by step (instructors).
    Solve {
        /// The exercise.
        name: String,
    },
    /// Merge several trainees' `lab status --format json` into one table.
    Report {
        /// Status files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

struct Ctx {
    lang: &'static str,
    json: bool,
    all: Vec<Exercise>,
    dir: PathBuf,
}

/// Runs `confidump lab`.
pub fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    let lang = match args.lang.as_deref() {
        Some("ja") => "ja",
        Some(_) => "en",
        None => crate::render::i18n::detect_lang(),
    };
    let all = lab::load(args.labs_dir.as_deref())?;
    let ctx = Ctx {
        lang,
        json: args.format == Format::Json,
        all,
        dir: state::dir()?,
    };
    // The commands that start targets or gdb sweep what killed runs left, as demo does.
    if matches!(
        args.action,
        Action::Start { .. } | Action::Solve { .. } | Action::Reset
    ) {
        super::sweep_leftovers();
    }
    let code = match args.action {
        Action::List => list(&ctx)?,
        Action::Start { name, any_order } => start(&ctx, &name, any_order)?,
        Action::Hint { n, exercise } => hint(&ctx, n, exercise.as_deref())?,
        Action::Check {
            answer,
            file,
            exercise,
        } => check(
            &ctx,
            answer.as_deref(),
            file.as_deref(),
            exercise.as_deref(),
        )?,
        Action::Status { html, force } => status(&ctx, html.as_deref(), force)?,
        Action::Reset => reset(&ctx)?,
        Action::Solve { name } => solve_cmd(&ctx, &name)?,
        Action::Report { files } => report(&ctx, &files)?,
    };
    Ok(ExitCode::from(code))
}

fn index_of(ctx: &Ctx, name: &str) -> anyhow::Result<usize> {
    let ex = lab::find(&ctx.all, name)?;
    Ok(ctx.all.iter().position(|e| e.name == ex.name).unwrap_or(0))
}

fn is_open(ctx: &Ctx, st: &State, i: usize) -> bool {
    i == 0
        || ctx
            .all
            .get(i - 1)
            .and_then(|prev| st.exercises.get(&prev.name))
            .is_some_and(|r| r.solved.is_some())
}

fn state_word(ctx: &Ctx, st: &State, i: usize, ex: &Exercise) -> &'static str {
    let rec = st.exercises.get(&ex.name);
    if rec.is_some_and(|r| r.solved.is_some()) {
        "solved"
    } else if rec
        .and_then(|r| r.running.as_ref())
        .is_some_and(launch::is_running)
    {
        "running"
    } else if is_open(ctx, st, i) {
        "open"
    } else {
        "locked"
    }
}

fn list(ctx: &Ctx) -> anyhow::Result<u8> {
    let st = State::load(&ctx.dir)?;
    if ctx.json {
        let rows: Vec<_> = ctx
            .all
            .iter()
            .enumerate()
            .map(|(i, e)| {
                serde_json::json!({
                    "exercise": e.name, "title": e.title.get(ctx.lang), "context": e.context,
                    "goal": goal_key(e.goal), "tools": e.tools, "state": state_word(ctx, &st, i, e),
                })
            })
            .collect();
        crate::outln!("{}", json_text(&serde_json::to_string_pretty(&rows)?))?;
        return Ok(EXIT_OK);
    }
    let w = name_width(&ctx.all);
    for (i, e) in ctx.all.iter().enumerate() {
        crate::outln!(
            "{:>2}. {:<w$} {} {}",
            i + 1,
            visible(&e.name),
            pad(t(ctx.lang, state_word(ctx, &st, i, e)), 9),
            visible(e.title.get(ctx.lang))
        )?;
    }
    Ok(EXIT_OK)
}

/// The width of the exercise-name column: the longest name.
fn name_width(all: &[Exercise]) -> usize {
    all.iter().map(|e| e.name.len()).max().unwrap_or(0).max(10)
}

fn goal_key(g: Goal) -> &'static str {
    match g {
        Goal::Answer => "answer",
        Goal::ProveUnreadable => "prove-unreadable",
        Goal::ProveAbsentThenAnswer => "prove-absent-then-answer",
    }
}

/// What a submitted file is checked as, for `ex`'s goal.
fn want_of(g: Goal) -> Want {
    match g {
        Goal::Answer => Want::Answer,
        Goal::ProveUnreadable => Want::UnreadableProof,
        Goal::ProveAbsentThenAnswer => Want::ServerProofOrAnswer,
    }
}

/// The task with `{pid}`, `{user}`, `{server}` and `{backend}` filled in.
fn task_text(ctx: &Ctx, ex: &Exercise, run: &state::Running) -> String {
    let server: Vec<String> = run.server.iter().map(i32::to_string).collect();
    ex.task
        .get(ctx.lang)
        .replace("{pid}", &run.pid.to_string())
        .replace("{user}", launch::UNPRIVILEGED)
        .replace("{server}", &server.join(", "))
        .replace("{backend}", &run.backend.unwrap_or(run.pid).to_string())
}

/// Starts `ex` afresh: stops its previous victim, starts a new one, records the salted hash.
fn start_fresh(ctx: &Ctx, st: &mut State, ex: &Exercise) -> anyhow::Result<state::Running> {
    state::ensure_dir(&ctx.dir)?;
    if let Some(old) = st.exercises.get(&ex.name).and_then(|r| r.running.clone()) {
        launch::stop(&old);
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    if matches!(ex.context.as_str(), "vm" | "container") {
        super::prepare_static_binary(ctx.lang);
    }
    let started = launch::start(&exe, ex, &ctx.dir)
        .with_context(|| format!("starting the target process of {}", ex.name))?;
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| anyhow::anyhow!("generating a salt: {e}"))?;
    let now = state::now();
    let rec = st.exercises.entry(ex.name.clone()).or_default();
    rec.salt = hex::encode(salt);
    rec.check = state::salted(&salt, &started.digest);
    rec.running = Some(started.running.clone());
    if rec.first_started == 0 {
        rec.first_started = now;
    }
    rec.started = now;
    rec.hints = 0;
    rec.proved = None;
    rec.answered = None;
    st.current = Some(ex.name.clone());
    st.save(&ctx.dir)?;
    // The state names the victim now: it is `lab reset`'s to stop, no longer ours.
    Ok(started.hand_over())
}

fn start(ctx: &Ctx, name: &str, any_order: bool) -> anyhow::Result<u8> {
    let i = index_of(ctx, name)?;
    let ex = &ctx.all[i];
    let mut st = State::load(&ctx.dir)?;
    if !any_order && !is_open(ctx, &st, i) {
        bail!("{} {}", ex.name, t(ctx.lang, "locked.why"));
    }
    let run = start_fresh(ctx, &mut st, ex)?;
    let task = task_text(ctx, ex, &run);
    if ctx.json {
        crate::outln!(
            "{}",
            json_text(&serde_json::to_string_pretty(&serde_json::json!({
                "exercise": ex.name, "title": ex.title.get(ctx.lang),
                "pids": std::iter::once(run.pid).chain(run.server.iter().copied()).collect::<Vec<_>>(),
                "context": ex.context, "secret_shape": SECRET_SHAPE, "task": task,
                "goal": goal_key(ex.goal), "tools": ex.tools,
            }))?)
        )?;
        return Ok(EXIT_OK);
    }
    let l = ctx.lang;
    crate::outln!(
        "{}",
        t(l, "head")
            .replace("{label}", t(l, "exercise"))
            .replace("{i}", &(i + 1).to_string())
            .replace("{n}", &ctx.all.len().to_string())
            .replace("{title}", &visible(ex.title.get(l)))
            .replace("{name}", &visible(&ex.name))
    )?;
    crate::outln!()?;
    crate::outln!(
        "  {}",
        t(l, "victim.line")
            .replace("{label}", t(l, "victim"))
            .replace("{pid}", &run.pid.to_string())
            .replace("{context}", &visible(&ex.context))
            .replace("{mode}", &visible(&ex.mode))
    )?;
    let s = sep(l);
    crate::outln!("  {}{s}{}", t(l, "goal"), t(l, goal_key_word(ex.goal)))?;
    crate::outln!("  {}{s}{}", t(l, "shape"), t(l, "shape.text"))?;
    crate::outln!(
        "  {}{s}{}",
        t(l, "tools"),
        visible(&ex.tools.join(crate::render::i18n::t(l, "list.sep")))
    )?;
    crate::outln!()?;
    for line in task.lines() {
        crate::outln!("  {}", visible(line))?;
    }
    crate::outln!()?;
    crate::outln!(
        "  {}",
        t(
            l,
            match ex.goal {
                Goal::Answer => "submit.answer",
                Goal::ProveUnreadable => "submit.proof",
                Goal::ProveAbsentThenAnswer => "submit.both",
            }
        )
    )?;
    crate::outln!("  {}", t(l, "stuck"))?;
    Ok(EXIT_OK)
}

fn goal_key_word(g: Goal) -> &'static str {
    match g {
        Goal::Answer => "goal.answer",
        Goal::ProveUnreadable => "goal.prove-unreadable",
        Goal::ProveAbsentThenAnswer => "goal.prove-absent-then-answer",
    }
}

/// The exercise a command refers to: `--exercise`, else the current one.
fn current<'a>(ctx: &'a Ctx, st: &State, name: Option<&str>) -> anyhow::Result<&'a Exercise> {
    match name.map(str::to_string).or_else(|| st.current.clone()) {
        Some(n) => Ok(lab::find(&ctx.all, &n)?),
        None => bail!("{}", t(ctx.lang, "not.started")),
    }
}

fn hint(ctx: &Ctx, n: Option<u32>, name: Option<&str>) -> anyhow::Result<u8> {
    let mut st = State::load(&ctx.dir)?;
    let ex = current(ctx, &st, name)?;
    let rec = st.exercises.entry(ex.name.clone()).or_default();
    let want = n.unwrap_or(rec.hints + 1).max(1);
    let total = u32::try_from(ex.hints.len()).unwrap_or(u32::MAX);
    let Some(h) = ex
        .hints
        .get(usize::try_from(want - 1).unwrap_or(usize::MAX))
    else {
        crate::outln!("{}", t(ctx.lang, "no.more.hints"))?;
        return Ok(EXIT_OK);
    };
    rec.hints = rec.hints.max(want);
    let text = match &rec.running {
        Some(run) => {
            let mut tmp = ex.clone();
            tmp.task = h.clone();
            task_text(ctx, &tmp, run)
        }
        None => h.get(ctx.lang).replace("{user}", launch::UNPRIVILEGED),
    };
    st.save(&ctx.dir)?;
    if ctx.json {
        let json =
            serde_json::json!({"exercise": ex.name, "hint": want, "of": total, "text": text});
        crate::outln!("{}", json_text(&json.to_string()))?;
    } else {
        // A hint may span lines; each is shown, none interpreted.
        let lines: Vec<_> = text.lines().map(visible).collect();
        crate::outln!(
            "{} {want}/{total}{}{}",
            t(ctx.lang, "hint"),
            sep(ctx.lang),
            lines.join("\n")
        )?;
    }
    Ok(EXIT_OK)
}

fn check(
    ctx: &Ctx,
    answer: Option<&str>,
    file: Option<&Path>,
    name: Option<&str>,
) -> anyhow::Result<u8> {
    let mut st = State::load(&ctx.dir)?;
    let ex = current(ctx, &st, name)?.clone();
    let Some(rec) = st.exercises.get(&ex.name).cloned() else {
        bail!("{}", t(ctx.lang, "not.started"));
    };
    let want = want_of(ex.goal);
    let (part, outcome) = match (answer, file) {
        (_, Some(f)) => proof::check_file(&rec, rec.running.as_ref(), f, want)?,
        (Some(a), None) if want == Want::UnreadableProof => (
            Part::Proof,
            if proof::check_answer(&rec, a) == Outcome::Accepted(Texts::default()) {
                Outcome::Rejected(Texts::new(
                    "that is the secret, but this exercise asks you to prove it cannot be read: submit the core with --file",
                    "それは秘密だが、この演習では読めないことを証明する。コアを --file で提出すること。",
                ))
            } else {
                Outcome::Rejected(Texts::new(
                    "this exercise asks for a core dump as proof: confidump lab check --file CORE",
                    "この演習ではコアダンプを証明として提出する：confidump lab check --file コアファイル",
                ))
            },
        ),
        (Some(a), None) => (Part::Answer, proof::check_answer(&rec, a)),
        (None, None) => bail!("give the answer, or --file PATH"),
    };
    record_outcome(ctx, &mut st, &ex, part, &outcome)
}

/// Records a check's outcome (of `part` of the exercise), prints it, and returns the exit code.
fn record_outcome(
    ctx: &Ctx,
    st: &mut State,
    ex: &Exercise,
    part: Part,
    outcome: &Outcome,
) -> anyhow::Result<u8> {
    let l = ctx.lang;
    let rec = st.exercises.entry(ex.name.clone()).or_default();
    rec.attempts = rec.attempts.saturating_add(1);
    let attempts = rec.attempts;
    let accepted = matches!(outcome, Outcome::Accepted(_));
    // A two-part exercise is solved when both of the current start's parts were accepted.
    let right = if ex.goal == Goal::ProveAbsentThenAnswer {
        if accepted {
            let slot = match part {
                Part::Proof => &mut rec.proved,
                Part::Answer => &mut rec.answered,
            };
            slot.get_or_insert(state::now());
        }
        rec.proved.is_some() && rec.answered.is_some()
    } else {
        accepted
    };
    let todo = match (rec.proved.is_some(), rec.answered.is_some()) {
        _ if right || ex.goal != Goal::ProveAbsentThenAnswer => None,
        (false, _) => Some("todo.proof"),
        (true, _) => Some("todo.answer"),
    };
    let mut stopped = false;
    if right {
        rec.solved.get_or_insert(state::now());
        if let Some(r) = rec.running.take() {
            stopped = launch::stop(&r);
        }
    }
    st.save(&ctx.dir)?;
    let i = ctx.all.iter().position(|e| e.name == ex.name).unwrap_or(0);
    let next = ctx.all.get(i + 1);
    let all_solved = ctx.all.iter().all(|e| {
        st.exercises
            .get(&e.name)
            .is_some_and(|r| r.solved.is_some())
    });
    if ctx.json {
        let (verdict, detail) = match outcome {
            // The JSON speaks English, as its other fields do.
            Outcome::Accepted(d) => ("right", d.en.as_str()),
            Outcome::Rejected(d) => ("wrong", d.en.as_str()),
        };
        let part = match part {
            Part::Answer => "answer",
            Part::Proof => "proof",
        };
        crate::outln!(
            "{}",
            serde_json::json!({"exercise": ex.name, "verdict": verdict, "part": part,
                "solved": right, "detail": detail, "still_to_do": todo.map(|k| t("en", k)),
                "attempts": attempts, "next": if right { next.map(|n| n.name.as_str()) } else { None }})
        )?;
    } else {
        match outcome {
            Outcome::Accepted(detail) => {
                let head = match (part, ex.goal) {
                    (_, Goal::ProveAbsentThenAnswer) if right => t(l, "solved.both"),
                    (Part::Proof, _) => t(l, "proof.accepted"),
                    (Part::Answer, Goal::ProveAbsentThenAnswer) => t(l, "right.part"),
                    (Part::Answer, _) => t(l, "right"),
                };
                crate::outln!(
                    "✓ {}",
                    verdict_line("verdict.line", l, head, &ex.name, attempts)
                )?;
                let detail = detail.get(l);
                if !detail.is_empty() {
                    crate::outln!("  {detail}")?;
                }
                if let Some(k) = todo {
                    crate::outln!("  {}", t(l, k))?;
                    return Ok(EXIT_OK);
                }
                if stopped {
                    crate::outln!("  {}", t(l, "stopped"))?;
                }
                match next {
                    Some(n) => {
                        crate::outln!("  {}{}confidump lab start {}", t(l, "next"), sep(l), n.name)?
                    }
                    None if all_solved => crate::outln!("  {}", t(l, "all.done"))?,
                    None => {}
                }
            }
            Outcome::Rejected(detail) => {
                let head = match part {
                    Part::Proof => t(l, "proof.rejected"),
                    Part::Answer => t(l, "wrong"),
                };
                crate::outln!(
                    "✗ {}",
                    verdict_line("verdict.no", l, head, &ex.name, attempts)
                )?;
                let detail = detail.get(l);
                if !detail.is_empty() {
                    crate::outln!("  {detail}")?;
                }
            }
        }
    }
    Ok(if accepted { EXIT_OK } else { EXIT_MISMATCH })
}

/// One exercise's progress, as `status --format json` prints it.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Progress {
    exercise: String,
    title: String,
    state: String,
    attempts: u32,
    hints: u32,
    /// Seconds from the first start to the solution.
    seconds: Option<u64>,
}

/// A trainee's status file.
#[derive(Debug, Serialize, serde::Deserialize)]
struct StatusReport {
    trainee: String,
    exercises: Vec<Progress>,
}

fn progress(ctx: &Ctx, st: &State) -> StatusReport {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "root".to_string());
    let exercises = ctx
        .all
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let r = st.exercises.get(&e.name).cloned().unwrap_or_default();
            Progress {
                exercise: e.name.clone(),
                title: e.title.get(ctx.lang).to_string(),
                state: state_word(ctx, st, i, e).to_string(),
                attempts: r.attempts,
                hints: r.hints,
                seconds: r.solved.map(|s| s.saturating_sub(r.first_started)),
            }
        })
        .collect();
    StatusReport {
        trainee: format!("{user}@{host}"),
        exercises,
    }
}

/// `text` padded to `width` display columns (a Japanese word is two columns a character).
fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(unicode_width::UnicodeWidthStr::width(text));
    format!("{text}{}", " ".repeat(fill))
}

/// `text` right-aligned in `width` display columns.
fn pad_left(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(unicode_width::UnicodeWidthStr::width(text));
    format!("{}{text}", " ".repeat(fill))
}

/// `✓`/`✗` lines: the verdict, the exercise, the attempts so far (`template` of the lab words).
fn verdict_line(template: &'static str, l: &str, head: &str, name: &str, attempts: u32) -> String {
    t(l, template)
        .replace("{head}", head)
        .replace("{name}", name)
        .replace("{tries}", t(l, "tries"))
        .replace("{n}", &attempts.to_string())
}

fn minutes(s: Option<u64>) -> String {
    s.map_or("-".to_string(), |s| format!("{}:{:02}", s / 60, s % 60))
}

fn status(ctx: &Ctx, html: Option<&Path>, force: bool) -> anyhow::Result<u8> {
    let st = State::load(&ctx.dir)?;
    let rep = progress(ctx, &st);
    let l = ctx.lang;
    if let Some(path) = html {
        let mut page = format!(
            "<!doctype html><meta charset=utf-8><title>confidump lab: {0}</title>\
             <style>body{{font-family:sans-serif}}td,th{{padding:.2em .8em;border-bottom:1px solid #ccc}}\
             .solved{{color:#070}}.locked{{color:#888}}</style><h1>confidump lab: {0}</h1><table>\
             <tr><th>#</th><th>{1}</th><th>{2}</th><th>{3}</th><th>{4}</th><th>{5}</th></tr>",
            esc(&rep.trainee),
            t(l, "exercise"),
            t(l, "state"),
            t(l, "tries"),
            t(l, "hints"),
            t(l, "time")
        );
        for (i, p) in rep.exercises.iter().enumerate() {
            page.push_str(&format!(
                "<tr class={}><td>{}</td><td>{} <small>({})</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                p.state,
                i + 1,
                esc(&p.title),
                esc(&p.exercise),
                t(l, state_key(&p.state)),
                p.attempts,
                p.hints,
                minutes(p.seconds)
            ));
        }
        page.push_str("</table>\n");
        crate::secret::write_private(path, page.as_bytes(), force)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if ctx.json {
        crate::outln!("{}", json_text(&serde_json::to_string_pretty(&rep)?))?;
        return Ok(EXIT_OK);
    }
    crate::outln!("{}", visible(&rep.trainee))?;
    let w = name_width(&ctx.all) + 1;
    // Each number column is as wide as its heading (回答回数 is eight columns wide).
    let cw =
        |key: &'static str, min: usize| unicode_width::UnicodeWidthStr::width(t(l, key)).max(min);
    let (tw, hw, mw) = (cw("tries", 5), cw("hints", 5), cw("time", 6));
    crate::outln!(
        "     {} {} {} {} {}",
        pad(t(l, "exercise"), w),
        pad(t(l, "state"), 10),
        pad_left(t(l, "tries"), tw),
        pad_left(t(l, "hints"), hw),
        pad_left(t(l, "time"), mw)
    )?;
    for (i, p) in rep.exercises.iter().enumerate() {
        crate::outln!(
            "{:>3}. {:<w$} {} {:>tw$} {:>hw$} {:>mw$}  {}",
            i + 1,
            visible(&p.exercise),
            pad(t(l, state_key(&p.state)), 10),
            p.attempts,
            p.hints,
            minutes(p.seconds),
            visible(&p.title)
        )?;
    }
    Ok(EXIT_OK)
}

fn state_key(s: &str) -> &'static str {
    match s {
        "solved" => "solved",
        "running" => "running",
        "open" => "open",
        _ => "locked",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn reset(ctx: &Ctx) -> anyhow::Result<u8> {
    let st = State::load(&ctx.dir)?;
    for r in st.exercises.values().filter_map(|r| r.running.as_ref()) {
        launch::stop(r);
    }
    match std::fs::remove_dir_all(&ctx.dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", ctx.dir.display())),
    }
    if ctx.json {
        crate::outln!("{}", serde_json::json!({"reset": true}))?;
    } else {
        crate::outln!("{}", t(ctx.lang, "reset.done"))?;
    }
    Ok(EXIT_OK)
}

fn solve_cmd(ctx: &Ctx, name: &str) -> anyhow::Result<u8> {
    let ex = lab::find(&ctx.all, name)?.clone();
    let l = ctx.lang;
    let mut st = State::load(&ctx.dir)?;
    let run = start_fresh(ctx, &mut st, &ex)?;
    let work = work_dir(&ex.name)?;
    let vars = solve::Vars {
        pid: run.pid,
        work: work.0.clone(),
        exe: std::env::current_exe().context("finding this executable")?,
        user: launch::UNPRIVILEGED.to_string(),
        backend: run.backend.unwrap_or(run.pid),
    };
    if !ctx.json {
        crate::outln!(
            "{}",
            t(l, "titled")
                .replace("{label}", t(l, "solution"))
                .replace("{title}", ex.title.get(l))
                .replace("{name}", &ex.name)
        )?;
        crate::outln!("  {}{}pid {}", t(l, "victim"), sep(l), run.pid)?;
    }
    let total = ex.solution.len();
    let json = ctx.json;
    // Each step is printed as it ends; a write error (other than a reader that left) is
    // kept and returned once the solution has run.
    let mut printed: Result<(), crate::cli::out::StdoutError> = Ok(());
    let found = solve::run(&ex, &vars, &mut |i, r| {
        if json || printed.is_err() {
            return;
        }
        let mut text = format!(
            "\n[{}/{total}] {}\n  $ {}\n",
            i + 1,
            r.step.say.get(l),
            r.command
        );
        for line in r.stdout.lines().take(20) {
            text.push_str(&format!("    {line}\n"));
        }
        for line in r.stderr.lines().take(10) {
            text.push_str(&format!("    {line}\n"));
        }
        if !r.ok {
            text.push_str(&format!("    {}\n", t(l, "exit.failure")));
        }
        printed = crate::out!("{text}");
    })
    .context("running the solution")?;
    printed?;
    let rec: Record = st.exercises.get(&ex.name).cloned().unwrap_or_default();
    // Every part the solution produced, the proof first: each is checked as `lab check` would.
    let mut parts = Vec::new();
    if let Some(p) = &found.proof {
        let checked = proof::check_file(&rec, rec.running.as_ref(), p, want_of(ex.goal))?;
        parts.push((
            format!("{}{}{}", t(l, "proof.file"), sep(l), p.display()),
            checked,
        ));
    }
    if let Some(a) = &found.answer {
        let checked = (Part::Answer, proof::check_answer(&rec, a));
        parts.push((format!("{}{}{a}", t(l, "answer.found"), sep(l)), checked));
    }
    if parts.is_empty() {
        let nothing = Outcome::Rejected(Texts::new(
            "the solution produced nothing",
            "模範解答は何も出力しなかった。",
        ));
        record_outcome(ctx, &mut st, &ex, Part::Answer, &nothing)?;
        return Ok(EXIT_ERROR);
    }
    let mut code = EXIT_OK;
    for (said, (part, outcome)) in parts {
        if !json {
            crate::outln!()?;
            crate::outln!("{said}")?;
            crate::outln!("$ confidump lab check ...")?;
        }
        if record_outcome(ctx, &mut st, &ex, part, &outcome)? != EXIT_OK {
            code = EXIT_ERROR;
        }
    }
    Ok(code)
}

/// The solution's working directory: traversable by the unprivileged user (a step runs the
/// live reader as it), listable by root only; removed with everything in it.
fn work_dir(name: &str) -> anyhow::Result<launch::RemoveOnDrop> {
    use std::os::unix::fs::PermissionsExt;
    let p = launch::private_temp_dir(&format!("confidump-lab-{name}"))?;
    let guard = launch::RemoveOnDrop(p);
    std::fs::set_permissions(&guard.0, std::fs::Permissions::from_mode(0o711))?;
    Ok(guard)
}

/// The most a trainee's status file may hold: a few hundred bytes per exercise.
const STATUS_LIMIT: u64 = 16 << 20;

/// `lab report`: one line per trainee, one column per exercise any of them has. Each status
/// file is the trainee's to write: read bounded, every string shown through
/// [`visible`](crate::render::sanitize::visible), and each trainee's exercises looked up in a
/// map (n log n: a file with 100k exercises is read in well under a second).
fn report(ctx: &Ctx, files: &[PathBuf]) -> anyhow::Result<u8> {
    use std::collections::{BTreeMap, BTreeSet};
    use unicode_width::UnicodeWidthStr;

    let mut reps = Vec::new();
    for f in files {
        let text = crate::files::input::read_user_text(f, STATUS_LIMIT, "a lab status file")?;
        let r: StatusReport = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not the output of `confidump lab status --format json`",
                f.display()
            )
        })?;
        reps.push(r);
    }
    if ctx.json {
        let json = serde_json::to_string_pretty(&reps)?;
        crate::outln!("{}", json_text(&json))?;
        return Ok(EXIT_OK);
    }
    // The columns: every exercise, in the order first seen.
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut names: Vec<&str> = Vec::new();
    for r in &reps {
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
    let pad = |s: &str, width: usize| format!("{s}{}", " ".repeat(width.saturating_sub(w(s))));
    let head = t(ctx.lang, "trainee");
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
    crate::out!("{out}")?;
    crate::outln!(
        "{}",
        t(ctx.lang, "report.total")
            .replace("{t}", &reps.len().to_string())
            .replace("{s}", &solved.to_string())
            .replace("{n}", &reps.len().saturating_mul(names.len()).to_string())
    )?;
    Ok(EXIT_OK)
}
