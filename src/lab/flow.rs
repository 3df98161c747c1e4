//! The lab's commands as library calls (`confidump lab start/hint/check/status/reset/solve`):
//! each loads the trainee's state, does its job and returns what happened as data, which the
//! CLI prints through `render::lab_text`.

use std::path::{Path, PathBuf};

use super::launch::LaunchError;
use super::progress::{self, is_open, ReportError, StatusReport};
use super::proof::{Outcome, Part, ProofError};
use super::record::{self, Recorded, SubmitError};
use super::session::{self, task_text, Hint, StartError};
use super::solve::{self, StepRun, Submitted};
use super::state::{self, Running, State, StateError};
use super::{find, holds_secret_shape, load, Exercise, Goal, LabError};
use crate::files::stdout::StdoutError;
use crate::i18n::{t, Lang};
use crate::model::Texts;

/// Why a lab command failed; each says the same as the error it wraps.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The exercise files.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// The state directory or file.
    #[error(transparent)]
    State(#[from] StateError),
    /// Starting an exercise.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A submission that could not be checked.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// A file the solution produced that could not be checked.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The solution's working directory.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// Status files of `lab report`.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Printing what happened (handed back by the caller's printer).
    #[error(transparent)]
    Print(#[from] StdoutError),
    /// The exercise before this one is not solved (`why` in the reader's language).
    #[error("{name} {why}")]
    Locked {
        /// The exercise.
        name: String,
        /// Why it is locked.
        why: &'static str,
    },
    /// No exercise named and none started (in the reader's language).
    #[error("{0}")]
    NotStarted(&'static str),
    /// No exercise of that name (in the reader's language, with the names there are).
    #[error("{0}")]
    Unknown(String),
    /// A typed answer not even shaped like a secret: not checked, not counted as an attempt
    /// (in the reader's language, with the shape it should have).
    #[error("{0}")]
    Shape(String),
    /// This executable (the solution's steps run it) could not be found.
    #[error("finding this executable")]
    Exe(#[source] std::io::Error),
    /// A solution step could not be run.
    #[error("running the solution")]
    Solve(#[source] std::io::Error),
}

/// The exercises and the trainee's state directory, in one language.
#[derive(Debug)]
pub struct Lab {
    /// The reader's language.
    pub lang: Lang,
    /// Every exercise, in order (built in, then `--labs-dir`'s).
    pub all: Vec<Exercise>,
    /// The state directory.
    pub dir: PathBuf,
}

/// An exercise started: its place in the list, its victim and its task.
#[derive(Debug)]
pub struct Started<'a> {
    /// The exercise.
    pub ex: &'a Exercise,
    /// Its 0-based index in [`Lab::all`].
    pub index: usize,
    /// Its victim.
    pub run: Running,
    /// The task, names filled in.
    pub task: String,
    /// It had been started before: the target and its secret are new.
    pub restarted: bool,
    /// Other exercises whose targets were stopped to start this one.
    pub stopped: Vec<String>,
}

/// A check's outcome, recorded.
#[derive(Debug)]
pub struct Checked<'a> {
    /// The exercise.
    pub ex: Exercise,
    /// Which part was checked.
    pub part: Part,
    /// The verdict.
    pub outcome: Outcome,
    /// What recording it changed.
    pub recorded: Recorded<'a>,
}

/// What `lab solve` does, as it happens. It runs in a scratch state of its own, against a
/// target of its own: nothing of it is recorded as the trainee's work.
#[derive(Debug)]
pub enum SolveEvent<'e> {
    /// The exercise was started: its victim's PID.
    Head(&'e Exercise, i32),
    /// Step `i` (0-based) of `total` ended.
    Step(usize, usize, &'e StepRun<'e>),
    /// What is submitted next.
    Submitted(&'e Submitted),
    /// Its outcome, checked as `lab check` would (and recorded nowhere).
    Verdict(&'e Exercise, Part, &'e Outcome),
    /// The end: the trainee's state now marks the exercise as shown.
    Shown(&'e Exercise),
}

impl Lab {
    /// The exercises (with `labs_dir`'s) and the state directory.
    pub fn open(lang: Lang, labs_dir: Option<&Path>) -> Result<Self, FlowError> {
        let all = load(labs_dir)?;
        Ok(Lab {
            lang,
            all,
            dir: state::dir()?,
        })
    }

    /// The trainee's state.
    pub fn state(&self) -> Result<State, FlowError> {
        Ok(State::load(&self.dir)?)
    }

    /// The exercise a command refers to: `name`, else the current one.
    pub fn current(&self, st: &State, name: Option<&str>) -> Result<&Exercise, FlowError> {
        match name.map(str::to_string).or_else(|| st.current.clone()) {
            Some(n) => self.named(&n),
            None => Err(FlowError::NotStarted(t(self.lang, "not.started"))),
        }
    }

    /// The exercise named `name`; an unknown name is told in the reader's language.
    fn named(&self, name: &str) -> Result<&Exercise, FlowError> {
        find(&self.all, name).map_err(|e| match e {
            LabError::Unknown { name, .. } => {
                let valid: Vec<&str> = self.all.iter().map(|e| e.name.as_str()).collect();
                FlowError::Unknown(
                    t(self.lang, "unknown.exercise")
                        .replace("{name}", &format!("{name:?}"))
                        .replace("{valid}", &crate::i18n::list(self.lang, &valid)),
                )
            }
            other => FlowError::Lab(other),
        })
    }

    /// Starts exercise `name` (unless locked and not `any_order`); `prepare` runs first for a
    /// VM or container exercise.
    pub fn start(
        &self,
        name: &str,
        any_order: bool,
        prepare: impl FnOnce(),
    ) -> Result<Started<'_>, FlowError> {
        let ex = self.named(name)?;
        let index = self.all.iter().position(|e| e.name == ex.name).unwrap_or(0);
        let mut st = self.state()?;
        if !any_order && !is_open(&self.all, &st, index) {
            return Err(FlowError::Locked {
                name: ex.name.clone(),
                why: t(self.lang, "locked.why"),
            });
        }
        let fresh = session::start_session(&self.dir, &mut st, ex, prepare)?;
        let task = task_text(ex, self.lang, &fresh.running);
        Ok(Started {
            ex,
            index,
            run: fresh.running,
            task,
            restarted: fresh.restarted,
            stopped: fresh.stopped,
        })
    }

    /// Hint `n` (default: the next) of exercise `name` (default: the current one), with the
    /// exercise's name; `None` when there is no such hint.
    pub fn hint(
        &self,
        n: Option<u32>,
        name: Option<&str>,
    ) -> Result<Option<(String, Hint)>, FlowError> {
        let mut st = self.state()?;
        let ex = self.current(&st, name)?;
        let h = session::take_hint(&self.dir, &mut st, ex, n, self.lang)?;
        Ok(h.map(|h| (ex.name.clone(), h)))
    }

    /// Checks `answer` or `file` for exercise `name` (default: the current one) and records it.
    pub fn check(
        &self,
        answer: Option<&str>,
        file: Option<&Path>,
        name: Option<&str>,
    ) -> Result<Checked<'_>, FlowError> {
        let mut st = self.state()?;
        let ex = self.current(&st, name)?.clone();
        // A record with no secret is one `lab solve` made to mark the solution shown.
        let started = st.exercises.get(&ex.name).filter(|r| !r.check.is_empty());
        let Some(rec) = started.cloned() else {
            return Err(FlowError::NotStarted(t(self.lang, "not.started")));
        };
        if let (Some(a), None) = (answer, file) {
            if ex.goal != Goal::ProveUnreadable && !holds_secret_shape(a) {
                return Err(FlowError::Shape(
                    t(self.lang, "shape.wrong").replace("{shape}", t(self.lang, "shape.text")),
                ));
            }
        }
        let (part, mut outcome) = record::judge(&rec, ex.goal, answer, file)?;
        // A wrong answer after a restart may be the previous start's secret: say so.
        if let Outcome::Rejected(detail) = &mut outcome {
            if part == Part::Answer && detail.en.is_empty() && rec.starts > 1 {
                *detail = Texts::new(t(Lang::En, "secret.changed"), t(Lang::Ja, "secret.changed"));
            }
        }
        self.record(&mut st, ex, part, outcome)
    }

    fn record(
        &self,
        st: &mut State,
        ex: Exercise,
        part: Part,
        outcome: Outcome,
    ) -> Result<Checked<'_>, FlowError> {
        let recorded = record::record(&self.all, &self.dir, st, &ex, part, &outcome)?;
        Ok(Checked {
            ex,
            part,
            outcome,
            recorded,
        })
    }

    /// The trainee's progress, under `name` (else the login's name) and this machine's id.
    pub fn status(&self, name: Option<&str>) -> Result<StatusReport, FlowError> {
        let st = self.state()?;
        let who = progress::identity(name, self.lang)?;
        Ok(progress::progress(&self.all, self.lang, &st, who))
    }

    /// Stops every target process and forgets all progress.
    pub fn reset(&self) -> Result<(), FlowError> {
        Ok(session::reset(&self.dir)?)
    }

    /// Runs exercise `name`'s reference solution for real, telling `show` each event, and
    /// checks what it found as `lab check` would. True when every part was accepted.
    ///
    /// It gives no credit: it starts a target of its own in a scratch state (stopped and
    /// removed at the end), so the trainee's own target, attempts and locks are untouched,
    /// and the trainee's state records only that the solution was shown (`status` and
    /// `report` then say `shown`, not `solved`).
    pub fn solve(
        &self,
        name: &str,
        prepare: impl FnOnce(),
        show: &mut dyn FnMut(SolveEvent<'_>) -> Result<(), StdoutError>,
    ) -> Result<bool, FlowError> {
        let ex = find(&self.all, name)?.clone();
        let scratch = solve::Scratch::new(&self.dir)?;
        let mut scratch_st = State::default();
        let run = session::start_fresh(scratch.dir(), &mut scratch_st, &ex, prepare)?;
        let work = solve::work_dir(&ex.name)?;
        let exe = std::env::current_exe().map_err(FlowError::Exe)?;
        let vars = solve::Vars::new(&run, work.0.clone(), exe);
        // Shown from the moment it runs: a solution interrupted half-way was still seen.
        let mut st = self.state()?;
        solve::mark_shown(&self.dir, &mut st, &ex.name)?;
        show(SolveEvent::Head(&ex, run.pid))?;
        let total = ex.solution.len();
        // Each step is shown as it ends; a write error (other than a reader that left) is
        // kept and returned once the solution has run.
        let mut printed: Result<(), StdoutError> = Ok(());
        let refused = t(self.lang, "readmem.refused");
        let found = solve::run(&ex, &vars, refused, &mut |i, r| {
            if printed.is_ok() {
                printed = show(SolveEvent::Step(i, total, r));
            }
        })
        .map_err(FlowError::Solve)?;
        printed?;
        let rec = scratch_st
            .exercises
            .get(&ex.name)
            .cloned()
            .unwrap_or_default();
        // Every part the solution produced, the proof first: each is checked as `lab check` would.
        let parts = solve::check_found(&rec, &found, ex.goal)?;
        let mut ok = !parts.is_empty();
        if parts.is_empty() {
            show(SolveEvent::Verdict(
                &ex,
                Part::Answer,
                &solve::nothing_found(),
            ))?;
        }
        for (said, part, outcome) in &parts {
            show(SolveEvent::Submitted(said))?;
            show(SolveEvent::Verdict(&ex, *part, outcome))?;
            ok &= matches!(outcome, Outcome::Accepted(_));
        }
        show(SolveEvent::Shown(&ex))?;
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        Lab {
            lang: Lang::En,
            all: super::super::builtin().unwrap_or_default(),
            dir: PathBuf::from("/nonexistent/confidump-lab-test"),
        }
    }

    #[test]
    fn current_is_the_named_exercise_else_the_started_one() {
        let lab = lab();
        let mut st = State::default();
        assert!(matches!(
            lab.current(&st, None),
            Err(FlowError::NotStarted(_))
        ));
        assert!(matches!(lab.current(&st, Some("argv")), Ok(e) if e.name == "argv"));
        st.current = Some("dontdump".into());
        assert!(matches!(lab.current(&st, None), Ok(e) if e.name == "dontdump"));
        let unknown = lab.current(&st, Some("nosuch\x1b"));
        assert!(
            matches!(&unknown, Err(FlowError::Unknown(m)) if m.starts_with("no exercise named \"nosuch\\u{1b}\" (there are: find-it, ")),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_locked_exercise_is_refused_before_anything_starts() {
        let lab = lab();
        let err = lab.start("secretmem", false, || {});
        assert!(
            matches!(&err, Err(FlowError::Locked { name, .. }) if name == "secretmem"),
            "{err:?}"
        );
    }
}
