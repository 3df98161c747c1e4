//! A trainee's progress: which exercises are open, solved or running, and the status report
//! that `confidump lab status` prints and `lab report` merges.

use crate::i18n::Lang;
use serde::{Deserialize, Serialize};

use super::launch;
use super::state::State;
use super::Exercise;

/// Is exercise `i` of `all` open: the first one, or the one after a solved one?
pub fn is_open(all: &[Exercise], st: &State, i: usize) -> bool {
    i == 0
        || all
            .get(i - 1)
            .and_then(|prev| st.exercises.get(&prev.name))
            .is_some_and(|r| r.solved.is_some())
}

/// `solved`, `running`, `open` or `locked`: the state of exercise `i` (`ex`) of `all`.
pub fn state_word(all: &[Exercise], st: &State, i: usize, ex: &Exercise) -> &'static str {
    let rec = st.exercises.get(&ex.name);
    if rec.is_some_and(|r| r.solved.is_some()) {
        "solved"
    } else if rec
        .and_then(|r| r.running.as_ref())
        .is_some_and(launch::is_running)
    {
        "running"
    } else if is_open(all, st, i) {
        "open"
    } else {
        "locked"
    }
}

/// A state word as read from a status file: one of the four, anything else is `locked`.
pub fn state_key(s: &str) -> &'static str {
    match s {
        "solved" => "solved",
        "running" => "running",
        "open" => "open",
        _ => "locked",
    }
}

/// One exercise's progress, as `status --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The exercise's name.
    pub exercise: String,
    /// Its title, in the language asked for.
    pub title: String,
    /// `solved`, `running`, `open` or `locked` (from a file: anything).
    pub state: String,
    /// Answers and proofs submitted.
    pub attempts: u32,
    /// Hints shown.
    pub hints: u32,
    /// Seconds from the first start to the solution.
    pub seconds: Option<u64>,
}

/// A trainee's status file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// `user@host`.
    pub trainee: String,
    /// Per exercise, in order.
    pub exercises: Vec<Progress>,
}

/// Who is training here: `$SUDO_USER` (else `$USER`, else root) `@` the host name.
pub fn trainee() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "root".to_string());
    format!("{user}@{host}")
}

/// `trainee`'s progress through `all`, titles in `lang`.
pub fn progress(all: &[Exercise], lang: Lang, st: &State, trainee: String) -> StatusReport {
    let exercises = all
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let r = st.exercises.get(&e.name).cloned().unwrap_or_default();
            Progress {
                exercise: e.name.clone(),
                title: e.title.get(lang).to_string(),
                state: state_word(all, st, i, e).to_string(),
                attempts: r.attempts,
                hints: r.hints,
                seconds: r.solved.map(|s| s.saturating_sub(r.first_started)),
            }
        })
        .collect();
    StatusReport { trainee, exercises }
}

/// The most a trainee's status file may hold: a few hundred bytes per exercise.
pub const STATUS_LIMIT: u64 = 16 << 20;

/// Why a status file could not be read (`lab report`).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not a regular file, too large, or unreadable.
    #[error(transparent)]
    Input(#[from] crate::files::input::InputError),
    /// Not a status report.
    #[error("{}: not the output of `confidump lab status --format json`", path.display())]
    NotStatus {
        /// The file.
        path: std::path::PathBuf,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

/// Every trainee's status file, each read bounded (it is the trainee's to write).
pub fn load_reports(files: &[std::path::PathBuf]) -> Result<Vec<StatusReport>, ReportError> {
    files
        .iter()
        .map(|f| {
            let text = crate::files::input::read_user_text(f, STATUS_LIMIT, "a lab status file")?;
            serde_json::from_str(&text).map_err(|source| ReportError::NotStatus {
                path: f.clone(),
                source,
            })
        })
        .collect()
}

/// Seconds as `m:ss`, or `-` for none.
pub fn minutes(s: Option<u64>) -> String {
    s.map_or("-".to_string(), |s| format!("{}:{:02}", s / 60, s % 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::state::Record;

    #[test]
    fn status_files_are_read_back_and_others_named() {
        let dir = tempfile::tempdir().unwrap();
        let all = crate::lab::builtin().unwrap();
        let rep = progress(&all, Lang::En, &State::default(), "a@b".into());
        let good = dir.path().join("a.json");
        std::fs::write(&good, serde_json::to_string(&rep).unwrap()).unwrap();
        assert_eq!(
            load_reports(std::slice::from_ref(&good)).unwrap(),
            vec![rep]
        );
        let bad = dir.path().join("b.json");
        std::fs::write(&bad, "[]").unwrap();
        let e = load_reports(&[good, bad]).unwrap_err().to_string();
        assert!(e.ends_with("b.json: not the output of `confidump lab status --format json`"));
    }

    #[test]
    fn progress_of_a_hand_made_state() {
        let all = crate::lab::builtin().unwrap();
        let mut st = State::default();
        st.exercises.insert(
            all[0].name.clone(),
            Record {
                attempts: 3,
                hints: 1,
                first_started: 100,
                solved: Some(225),
                ..Record::default()
            },
        );
        st.exercises.insert(
            all[2].name.clone(),
            Record {
                attempts: 2,
                ..Record::default()
            },
        );
        let rep = progress(&all, Lang::En, &st, "ann@box".to_string());
        assert_eq!(rep.trainee, "ann@box");
        assert_eq!(rep.exercises.len(), all.len());
        let p = &rep.exercises[0];
        assert_eq!(p.exercise, all[0].name);
        assert_eq!(p.title, all[0].title.en);
        assert_eq!((p.state.as_str(), p.attempts, p.hints), ("solved", 3, 1));
        assert_eq!(p.seconds, Some(125));
        assert_eq!(minutes(p.seconds), "2:05");
        assert_eq!(rep.exercises[1].state, "open");
        assert_eq!(rep.exercises[2].state, "locked");
        assert_eq!(rep.exercises[2].attempts, 2);
        assert_eq!(rep.exercises[2].seconds, None);
        assert_eq!(minutes(None), "-");
        let ja = progress(&all, Lang::Ja, &st, String::new());
        assert_eq!(ja.exercises[0].title, all[0].title.ja);
    }

    #[test]
    fn state_words_from_files_are_one_of_four() {
        assert_eq!(state_key("solved"), "solved");
        assert_eq!(state_key("<b>"), "locked");
    }
}
