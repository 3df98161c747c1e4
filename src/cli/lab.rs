//! `confidump lab`: exercises that trainees solve with real tools, checked by hash.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{EXIT_ERROR, EXIT_MISMATCH, EXIT_OK};
use crate::i18n::Lang;
use crate::lab::flow::{Lab, SolveEvent};
use crate::lab::progress;
use crate::render::lab_text;

const AFTER_HELP: &str = "\
A trainee, as root on their own machine (or VM, or container):
  confidump lab list                     the exercises, in order, and which are open
  confidump lab start find-it            start its target process with a fresh secret (and stop
                                         any other exercise's); prints the task
  confidump lab hint                     the next hint for the current exercise (lab hint N: hint N)
  confidump lab check CONFIDUMP-…        submit the secret (or --file FILE with the bytes found)
  confidump lab check --file core.1234   submit a core dump as proof (\"it cannot be read\" exercises)
  confidump lab status                   progress: tries, hints, time per exercise
  confidump lab reset                    stop every target process, forget all progress
Exercises, built in, in order: find-it, dontdump, argv, secretmem, residue, same-uid, vm,
container, database, database-client, pod-neighbour (`lab list` shows them with --labs-dir's
own).
An instructor:
  confidump lab solve secretmem          run the reference solution for real, step by step
  confidump lab status --name ann --format json > ann.json
                                         one trainee's progress, for collecting
  confidump lab report ann.json bob.json every trainee's progress in one table (--format csv
                                         for a spreadsheet); self-reported: honest progress,
                                         not an exam
`lab solve` records nothing as the trainee's work: its target is its own, and the exercise then
reads \"shown\" in status and report.

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
    /// For a spreadsheet: `lab status` and `lab report` only (one row per trainee and
    /// exercise).
    Csv,
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
    #[command(group = clap::ArgGroup::new("submission").required(true).args(["answer", "file"]))]
    Check {
        /// The secret.
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
        /// Your name as the instructor's table shows it [default: $SUDO_USER, else $USER].
        /// The status file also holds an id of this machine.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Also write one self-contained HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Replace an existing --html file.
        #[arg(long, requires = "html")]
        force: bool,
    },
    /// Stop every target process the lab started and forget all progress.
    Reset,
    /// Run an exercise's reference solution for real, step by step, against a target of its
    /// own: nothing is recorded as your work, and `status` then shows the exercise as
    /// "shown", not solved.
    Solve {
        /// The exercise.
        name: String,
    },
    /// Merge several trainees' `lab status --format json` into one table (self-reported
    /// progress); the same trainee twice is refused.
    Report {
        /// Status files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs `confidump lab`.
pub fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    let lang = args.lang.unwrap_or_else(crate::i18n::detect_lang);
    let lab = Lab::open(lang, args.labs_dir.as_deref())?;
    let json = args.format == Format::Json;
    let csv = args.format == Format::Csv;
    if csv && !matches!(args.action, Action::Status { .. } | Action::Report { .. }) {
        anyhow::bail!("{}", crate::i18n::t(lang, "csv.only"));
    }
    // The commands that start targets or gdb sweep what killed runs left, as demo does.
    if matches!(
        args.action,
        Action::Start { .. } | Action::Solve { .. } | Action::Reset
    ) {
        crate::runner::leftovers::sweep();
    }
    let prepare = || super::prepare_static_binary(lang);
    let (text, code) = match args.action {
        Action::List => {
            let st = lab.state()?;
            let value = lab_text::list_json(&lab.all, &st, lang);
            let text = lab_text::say(json, &value, || lab_text::list_text(&lab.all, &st, lang));
            (text?, EXIT_OK)
        }
        Action::Start { name, any_order } => {
            let s = lab.start(&name, any_order, prepare)?;
            let width = crate::render::term::width();
            let text = lab_text::started(&s, lab.all.len(), lang, json, width)?;
            (text, EXIT_OK)
        }
        Action::Hint { n, exercise } => {
            let h = lab.hint(n, exercise.as_deref())?;
            let width = crate::render::term::width();
            (lab_text::hint_reply(h.as_ref(), lang, json, width), EXIT_OK)
        }
        Action::Check {
            answer,
            file,
            exercise,
        } => {
            let c = lab.check(answer.as_deref(), file.as_deref(), exercise.as_deref())?;
            let code = if c.recorded.accepted {
                EXIT_OK
            } else {
                EXIT_MISMATCH
            };
            (lab_text::checked(&c, lang, json), code)
        }
        Action::Status { name, html, force } => {
            let rep = lab.status(name.as_deref())?;
            if let Some(path) = html {
                let page = crate::render::lab_page::page(&rep, lang);
                crate::secret::write_private(&path, page.as_bytes(), force)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let text = if csv {
                lab_text::report_csv(std::slice::from_ref(&rep))?
            } else {
                lab_text::say(json, &rep, || lab_text::status_table(&rep, lang))?
            };
            (text, EXIT_OK)
        }
        Action::Reset => {
            lab.reset()?;
            (lab_text::reset_reply(lang, json), EXIT_OK)
        }
        Action::Solve { name } => {
            let mut show =
                |e: SolveEvent<'_>| crate::out!("{}", lab_text::solve_event(&e, lang, json));
            let ok = lab.solve(&name, prepare, &mut show)?;
            (String::new(), if ok { EXIT_OK } else { EXIT_ERROR })
        }
        Action::Report { files } => {
            let reps = progress::load_reports(&files, lang)?;
            let text = if csv {
                lab_text::report_csv(&reps)?
            } else {
                lab_text::say(json, &reps, || lab_text::report_table(&reps, lang))?
            };
            (text, EXIT_OK)
        }
    };
    crate::out!("{text}")?;
    Ok(ExitCode::from(code))
}
