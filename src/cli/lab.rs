//! `confidump lab`: exercises that trainees solve with real tools, checked by hash.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use super::{EXIT_ERROR, EXIT_MISMATCH, EXIT_OK};
use crate::lab::progress::{self, is_open, state_word, StatusReport};
use crate::lab::proof::{self, Outcome, Part};
use crate::lab::record::{self, want_of, Recorded};
use crate::lab::session::{self, goal_key, task_text};
use crate::lab::state::{self, Record, State};
use crate::lab::words::t;
use crate::lab::{self, launch, solve, Exercise, SECRET_SHAPE};
use crate::model::Texts;
use crate::render::i18n::sep;
use crate::render::lab_text::{self, name_width, pad};
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
                    "goal": goal_key(e.goal), "tools": e.tools, "state": state_word(&ctx.all, &st, i, e),
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
            pad(t(ctx.lang, state_word(&ctx.all, &st, i, e)), 9),
            visible(e.title.get(ctx.lang))
        )?;
    }
    Ok(EXIT_OK)
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
    let sheet = lab_text::task_sheet(ex, i + 1, ctx.all.len(), run.pid, &task, ctx.lang);
    crate::out!("{sheet}")?;
    Ok(EXIT_OK)
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
            task_text(&tmp, ctx.lang, run)
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
    tell_outcome(ctx, ex, part, outcome, &r)?;
    Ok(if r.accepted { EXIT_OK } else { EXIT_MISMATCH })
}

/// Prints a recorded outcome.
fn tell_outcome(
    ctx: &Ctx,
    ex: &Exercise,
    part: Part,
    outcome: &Outcome,
    r: &Recorded<'_>,
) -> anyhow::Result<()> {
    if ctx.json {
        crate::outln!("{}", lab_text::outcome_json(ex, part, outcome, r))?;
    } else {
        crate::out!("{}", lab_text::outcome_text(ex, part, outcome, r, ctx.lang))?;
    }
    Ok(())
}

fn status(ctx: &Ctx, html: Option<&Path>, force: bool) -> anyhow::Result<u8> {
    let st = State::load(&ctx.dir)?;
    let rep = progress::progress(&ctx.all, ctx.lang, &st, progress::trainee());
    if let Some(path) = html {
        let page = crate::render::lab_page::page(&rep, ctx.lang);
        crate::secret::write_private(path, page.as_bytes(), force)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if ctx.json {
        crate::outln!("{}", json_text(&serde_json::to_string_pretty(&rep)?))?;
        return Ok(EXIT_OK);
    }
    crate::out!("{}", lab_text::status_table(&rep, ctx.lang))?;
    Ok(EXIT_OK)
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
    let mut printed: Result<(), crate::files::stdout::StdoutError> = Ok(());
    let found = solve::run(&ex, &vars, &mut |i, r| {
        if json || printed.is_err() {
            return;
        }
        let text = lab_text::step_text(i + 1, total, r, l);
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

/// `lab report`: every trainee's status file, read bounded (each is the trainee's to write),
/// in one table ([`report_table`](lab_text::report_table)).
fn report(ctx: &Ctx, files: &[PathBuf]) -> anyhow::Result<u8> {
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
    crate::out!("{}", lab_text::report_table(&reps, ctx.lang))?;
    Ok(EXIT_OK)
}
