//! `confidump lab`: exercises that trainees solve with real tools, checked by hash.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use super::{EXIT_ERROR, EXIT_MISMATCH, EXIT_OK};
use crate::i18n::{t, Lang};
use crate::lab::progress::{self, is_open};
use crate::lab::proof::{Outcome, Part};
use crate::lab::record;
use crate::lab::session::{self, task_text};
use crate::lab::state::{self, State};
use crate::lab::{self, solve, Exercise};
use crate::render::lab_text;
use crate::render::sanitize::json_text;

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
    #[arg(long, global = true, value_parser = super::lang_parser(false))]
    pub lang: Option<Lang>,
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
    lang: Lang,
    json: bool,
    all: Vec<Exercise>,
    dir: PathBuf,
}

/// Runs `confidump lab`.
pub fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    let lang = args.lang.unwrap_or_else(crate::i18n::detect_lang);
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
        crate::runner::leftovers::sweep();
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

/// `value` as JSON for scripts (shown, never interpreted by a terminal), or `text()`.
fn say<T: serde::Serialize>(
    ctx: &Ctx,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<u8> {
    if ctx.json {
        crate::outln!("{}", json_text(&serde_json::to_string_pretty(value)?))?;
    } else {
        crate::out!("{}", text())?;
    }
    Ok(EXIT_OK)
}

fn list(ctx: &Ctx) -> anyhow::Result<u8> {
    let st = State::load(&ctx.dir)?;
    let json = lab_text::list_json(&ctx.all, &st, ctx.lang);
    say(ctx, &json, || lab_text::list_text(&ctx.all, &st, ctx.lang))
}

/// Starts `ex` afresh ([`session::start_fresh`]), building the static binary a VM or container needs.
fn start_fresh(ctx: &Ctx, st: &mut State, ex: &Exercise) -> anyhow::Result<state::Running> {
    let lang = ctx.lang;
    Ok(session::start_fresh(&ctx.dir, st, ex, || {
        super::prepare_static_binary(lang)
    })?)
}

fn start(ctx: &Ctx, name: &str, any_order: bool) -> anyhow::Result<u8> {
    let i = index_of(ctx, name)?;
    let ex = &ctx.all[i];
    let mut st = State::load(&ctx.dir)?;
    if !any_order && !is_open(&ctx.all, &st, i) {
        bail!("{} {}", ex.name, t(ctx.lang, "locked.why"));
    }
    let run = start_fresh(ctx, &mut st, ex)?;
    let task = task_text(ex, ctx.lang, &run);
    let json = lab_text::start_json(ex, &run, &task, ctx.lang);
    let sheet = || lab_text::task_sheet(ex, i + 1, ctx.all.len(), run.pid, &task, ctx.lang);
    say(ctx, &json, sheet)
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
    let Some(h) = session::take_hint(&ctx.dir, &mut st, ex, n, ctx.lang)? else {
        crate::outln!("{}", t(ctx.lang, "no.more.hints"))?;
        return Ok(EXIT_OK);
    };
    if ctx.json {
        let json =
            serde_json::json!({"exercise": ex.name, "hint": h.n, "of": h.of, "text": h.text});
        crate::outln!("{}", json_text(&json.to_string()))?;
    } else {
        crate::outln!("{}", lab_text::hint_text(h.n, h.of, &h.text, ctx.lang))?;
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
    let (part, outcome) = record::judge(&rec, ex.goal, answer, file)?;
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
    let r = record::record(&ctx.all, &ctx.dir, st, ex, part, outcome)?;
    if ctx.json {
        crate::outln!("{}", lab_text::outcome_json(ex, part, outcome, &r))?;
    } else {
        crate::out!(
            "{}",
            lab_text::outcome_text(ex, part, outcome, &r, ctx.lang)
        )?;
    }
    Ok(if r.accepted { EXIT_OK } else { EXIT_MISMATCH })
}

fn status(ctx: &Ctx, html: Option<&Path>, force: bool) -> anyhow::Result<u8> {
    let st = State::load(&ctx.dir)?;
    let rep = progress::progress(&ctx.all, ctx.lang, &st, progress::trainee());
    if let Some(path) = html {
        let page = crate::render::lab_page::page(&rep, ctx.lang);
        crate::secret::write_private(path, page.as_bytes(), force)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    say(ctx, &rep, || lab_text::status_table(&rep, ctx.lang))
}

fn reset(ctx: &Ctx) -> anyhow::Result<u8> {
    session::reset(&ctx.dir)?;
    if ctx.json {
        crate::outln!("{}", serde_json::json!({"reset": true}))?;
    } else {
        crate::outln!("{}", t(ctx.lang, "reset.done"))?;
    }
    Ok(EXIT_OK)
}

fn solve_cmd(ctx: &Ctx, name: &str) -> anyhow::Result<u8> {
    let ex = lab::find(&ctx.all, name)?.clone();
    let (l, json) = (ctx.lang, ctx.json);
    let mut st = State::load(&ctx.dir)?;
    let run = start_fresh(ctx, &mut st, &ex)?;
    let work = solve::work_dir(&ex.name)?;
    let exe = std::env::current_exe().context("finding this executable")?;
    let vars = solve::Vars::new(&run, work.0.clone(), exe);
    if !json {
        crate::out!("{}", lab_text::solution_head(&ex, run.pid, l))?;
    }
    let total = ex.solution.len();
    // Each step is printed as it ends; a write error (other than a reader that left) is
    // kept and returned once the solution has run.
    let mut printed: Result<(), crate::files::stdout::StdoutError> = Ok(());
    let found = solve::run(&ex, &vars, &mut |i, r| {
        if !json && printed.is_ok() {
            printed = crate::out!("{}", lab_text::step_text(i + 1, total, r, l));
        }
    })
    .context("running the solution")?;
    printed?;
    let rec = st.exercises.get(&ex.name).cloned().unwrap_or_default();
    // Every part the solution produced, the proof first: each is checked as `lab check` would.
    let parts = solve::check_found(&rec, &found, ex.goal)?;
    if parts.is_empty() {
        record_outcome(ctx, &mut st, &ex, Part::Answer, &solve::nothing_found())?;
        return Ok(EXIT_ERROR);
    }
    let mut code = EXIT_OK;
    for (said, part, outcome) in parts {
        if !json {
            crate::out!("{}", lab_text::submitted_text(&said, l))?;
        }
        if record_outcome(ctx, &mut st, &ex, part, &outcome)? != EXIT_OK {
            code = EXIT_ERROR;
        }
    }
    Ok(code)
}

/// `lab report`: every trainee's status file in one table.
fn report(ctx: &Ctx, files: &[PathBuf]) -> anyhow::Result<u8> {
    let reps = progress::load_reports(files)?;
    say(ctx, &reps, || lab_text::report_table(&reps, ctx.lang))
}
