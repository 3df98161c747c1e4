//! An exercise's session: starting its target process with a fresh salted hash, the task and
//! hints to show, and resetting everything.

use crate::i18n::Lang;
use std::path::Path;

use super::launch::{self, LaunchError};
use super::state::{self, Running, State, StateError};
use super::{Exercise, Goal};

/// A hint given: which one, of how many, and its text (the task's names filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// Which hint (1-based).
    pub n: u32,
    /// How many the exercise has.
    pub of: u32,
    /// Its text in the reader's language.
    pub text: String,
    /// The exercise's target is not running: the processes the hint names are shown by
    /// generic names ([`GENERIC`]), and the reader is told how to start it.
    pub not_running: bool,
}

/// What a hint's process names read while the exercise is not running: the names a trainee
/// would fill in, never a raw `{pid}`.
pub const GENERIC: &[(&str, &str)] = &[
    ("{pid}", "PID"),
    ("{backend}", "BACKEND_PID"),
    ("{server}", "SERVER_PIDS"),
];

/// Gives hint `n` of `ex` (default: the one after the last read) in `lang`, and saves in `dir`
/// that it was read. A hint read before the exercise is solved counts in `st` (the record's
/// `hints`, kept across restarts like its attempts); one read after, to look again, does not.
/// `None`, and nothing saved, when there is no such hint.
pub fn take_hint(
    dir: &Path,
    st: &mut State,
    ex: &Exercise,
    n: Option<u32>,
    lang: Lang,
) -> Result<Option<Hint>, StateError> {
    let rec = st.exercises.entry(ex.name.clone()).or_default();
    let read = rec.hints_read.max(rec.hints);
    let want = n.unwrap_or(read.saturating_add(1)).max(1);
    let of = u32::try_from(ex.hints.len()).unwrap_or(u32::MAX);
    let Some(h) = ex
        .hints
        .get(usize::try_from(want - 1).unwrap_or(usize::MAX))
    else {
        return Ok(None);
    };
    if rec.solved.is_none() {
        rec.hints = rec.hints.max(want);
    }
    rec.hints_read = read.max(want);
    let running = rec.running.as_ref().filter(|r| launch::is_running(r));
    let text = match running {
        Some(run) => {
            let mut tmp = ex.clone();
            tmp.task = h.clone();
            task_text(&tmp, lang, run)
        }
        None => GENERIC.iter().fold(
            h.get(lang).replace("{user}", launch::UNPRIVILEGED),
            |text, (from, to)| text.replace(from, to),
        ),
    };
    let not_running = running.is_none();
    st.save(dir)?;
    Ok(Some(Hint {
        n: want,
        of,
        text,
        not_running,
    }))
}

/// Stops every target process the lab started (as `dir`'s state names them) and removes the
/// state directory; a directory that is not there is already reset.
pub fn reset(dir: &Path) -> Result<(), StateError> {
    let st = State::load(dir)?;
    for r in st.exercises.values().filter_map(|r| r.running.as_ref()) {
        launch::stop(r);
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Remove {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Why an exercise could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory or file.
    #[error(transparent)]
    State(#[from] StateError),
    /// This executable (the victim is run from it) could not be found.
    #[error("finding this executable")]
    Exe(#[source] std::io::Error),
    /// The target process did not start.
    #[error("starting the target process of {name}")]
    Launch {
        /// The exercise.
        name: String,
        /// Why.
        #[source]
        source: LaunchError,
    },
    /// No randomness for the salt.
    #[error("generating a salt: {0}")]
    Salt(String),
}

/// The goal's name in JSON (`answer`, `prove-unreadable`, `prove-absent-then-answer`).
pub fn goal_key(g: Goal) -> &'static str {
    match g {
        Goal::Answer => "answer",
        Goal::ProveUnreadable => "prove-unreadable",
        Goal::ProveAbsentThenAnswer => "prove-absent-then-answer",
    }
}

/// `ex`'s task in `lang` with `{pid}`, `{user}`, `{server}` and `{backend}` filled in.
pub fn task_text(ex: &Exercise, lang: Lang, run: &Running) -> String {
    let server: Vec<String> = run.server.iter().map(i32::to_string).collect();
    ex.task
        .get(lang)
        .replace("{pid}", &run.pid.to_string())
        .replace("{user}", launch::UNPRIVILEGED)
        .replace("{server}", &server.join(", "))
        .replace("{backend}", &run.backend.unwrap_or(run.pid).to_string())
}

/// An exercise started afresh ([`start_session`]).
#[derive(Debug)]
pub struct Fresh {
    /// Its target.
    pub running: Running,
    /// It had been started before: its target and its secret are new, and an answer found
    /// before no longer counts.
    pub restarted: bool,
    /// The other exercises whose targets were still running and were stopped (the lab runs
    /// one exercise at a time).
    pub stopped: Vec<String>,
}

/// Starts `ex` afresh: see [`start_session`]; only its target.
pub fn start_fresh(
    dir: &Path,
    st: &mut State,
    ex: &Exercise,
    prepare: impl FnOnce(),
) -> Result<Running, StartError> {
    Ok(start_session(dir, st, ex, prepare)?.running)
}

/// Starts `ex` afresh: stops every target the lab still runs (this exercise's and any
/// other's: one exercise at a time, so no PostgreSQL or VM of an earlier one stays up),
/// starts a new one (after `prepare`, for a VM or container exercise), records the new
/// secret's salted hash in `st` and saves it in `dir`. Attempts and hints taken stay: they
/// count the trainee's work on the exercise, whichever start it was.
pub fn start_session(
    dir: &Path,
    st: &mut State,
    ex: &Exercise,
    prepare: impl FnOnce(),
) -> Result<Fresh, StartError> {
    state::ensure_dir(dir)?;
    let mut stopped = Vec::new();
    for (name, rec) in &mut st.exercises {
        if let Some(old) = rec.running.take() {
            if launch::stop(&old) && *name != ex.name {
                stopped.push(name.clone());
            }
        }
    }
    if !stopped.is_empty() {
        // The stopped targets are no longer the state's to name, even if this start fails.
        st.save(dir)?;
    }
    let exe = std::env::current_exe().map_err(StartError::Exe)?;
    if matches!(ex.context.as_str(), "vm" | "container") {
        prepare();
    }
    let started = launch::start(&exe, ex, dir).map_err(|source| StartError::Launch {
        name: ex.name.clone(),
        source,
    })?;
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| StartError::Salt(e.to_string()))?;
    let now = state::now();
    let rec = st.exercises.entry(ex.name.clone()).or_default();
    let restarted = !rec.check.is_empty();
    rec.starts = rec.starts.max(u32::from(restarted)).saturating_add(1);
    rec.salt = hex::encode(salt);
    rec.check = state::salted(&salt, &started.digest);
    rec.running = Some(started.running.clone());
    if rec.first_started == 0 {
        rec.first_started = now;
    }
    rec.started = now;
    rec.proved = None;
    rec.answered = None;
    st.current = Some(ex.name.clone());
    st.save(dir)?;
    // The state names the victim now: it is `lab reset`'s to stop, no longer ours.
    Ok(Fresh {
        running: started.hand_over(),
        restarted,
        stopped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_fills_in_the_pids_and_user() {
        let mut ex = crate::lab::builtin().unwrap()[0].clone();
        ex.task = crate::model::Texts::new("{pid} {user} [{server}] {backend}", "{pid}");
        let run = Running {
            victim_pid: 7,
            victim_start: 0,
            boot_id: None,
            pid: 7,
            region_start: String::new(),
            region_end: String::new(),
            server: vec![8, 9],
            backend: None,
        };
        assert_eq!(
            task_text(&ex, Lang::En, &run),
            format!("7 {} [8, 9] 7", launch::UNPRIVILEGED)
        );
        assert_eq!(task_text(&ex, Lang::Ja, &run), "7");
        assert_eq!(goal_key(Goal::ProveUnreadable), "prove-unreadable");
    }

    #[test]
    fn hints_count_up_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let ex = crate::lab::builtin().unwrap()[0].clone();
        let mut st = State::default();
        let first = take_hint(dir.path(), &mut st, &ex, None, Lang::En)
            .unwrap()
            .unwrap();
        assert_eq!((first.n, first.of as usize), (1, ex.hints.len()));
        assert_eq!(st.exercises[&ex.name].hints, 1);
        let again = State::load(dir.path()).unwrap();
        assert_eq!(again.exercises[&ex.name].hints, 1, "saved");
        let past = u32::try_from(ex.hints.len()).unwrap() + 1;
        assert!(take_hint(dir.path(), &mut st, &ex, Some(past), Lang::En)
            .unwrap()
            .is_none());
        reset(dir.path()).unwrap();
        assert!(!dir.path().exists());
        reset(dir.path()).unwrap();
    }
}
