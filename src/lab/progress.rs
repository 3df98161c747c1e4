//! A trainee's progress: which exercises are open, solved or running, and the status report
//! that `confidump lab status` prints and `lab report` merges.

use crate::i18n::Lang;
use serde::{Deserialize, Serialize};

use super::launch;
use super::state::{Record, State};
use super::Exercise;

/// Is exercise `i` of `all` open: the first one, or the one after a solved one?
pub fn is_open(all: &[Exercise], st: &State, i: usize) -> bool {
    i == 0
        || all
            .get(i - 1)
            .and_then(|prev| st.exercises.get(&prev.name))
            .is_some_and(|r| r.solved.is_some())
}

/// Was exercise record `r` solved by the trainee: solved before `lab solve` showed its
/// solution, or with no solution shown at all. (Seconds are the clock's grain: a solve in the
/// same second as the showing counts as before it.)
pub fn credited(r: &Record) -> bool {
    r.solved
        .is_some_and(|s| r.shown.map_or(true, |shown| s <= shown))
}

/// `solved`, `shown`, `running`, `open` or `locked`: the state of exercise `i` (`ex`) of
/// `all`. An exercise whose reference solution was shown before it was solved is `shown`,
/// whatever else it is: the table credits only the trainee's own work.
pub fn state_word(all: &[Exercise], st: &State, i: usize, ex: &Exercise) -> &'static str {
    let rec = st.exercises.get(&ex.name);
    if rec.is_some_and(credited) {
        "solved"
    } else if rec.is_some_and(|r| r.shown.is_some()) {
        "shown"
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

/// A state word as read from a status file: one of the five, anything else is `locked`.
pub fn state_key(s: &str) -> &'static str {
    match s {
        "solved" => "solved",
        "shown" => "shown",
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
    /// `solved`, `shown`, `running`, `open` or `locked` (from a file: anything).
    pub state: String,
    /// Answers and proofs submitted.
    pub attempts: u32,
    /// Hints shown.
    pub hints: u32,
    /// Seconds from the first start to the solution.
    pub seconds: Option<u64>,
}

/// A trainee's status file: self-reported (the trainee is root on their own machine and
/// writes it), so it is honest progress, not an exam.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Who: `--name`, else `$SUDO_USER`/`$USER` (files of older versions: `user@host`).
    pub trainee: String,
    /// The machine: a confidump-specific id derived from `/etc/machine-id` (12 hex digits),
    /// so that two trainees of the same name on different machines stay apart and the same
    /// file handed in twice is caught. Empty in files of older versions.
    #[serde(default)]
    pub machine: String,
    /// The account and host the status was taken on (`user@host`), for the instructor.
    #[serde(default)]
    pub account: String,
    /// Per exercise, in order.
    pub exercises: Vec<Progress>,
}

/// Who a status file is about: the trainee's name, the machine's id and the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `--name`, else `$SUDO_USER`, else `$USER`, else `root`.
    pub trainee: String,
    /// See [`StatusReport::machine`].
    pub machine: String,
    /// `user@host`.
    pub account: String,
}

/// Longest `--name`, in characters.
pub const MAX_NAME: usize = 64;

/// This trainee: `name` (at most [`MAX_NAME`] characters, no control characters), else the
/// user who ran `sudo`, else `$USER`; the machine's id; the account.
pub fn identity(name: Option<&str>, lang: Lang) -> Result<Identity, ReportError> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let user = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "root".to_string());
    let trainee = match name.map(str::trim) {
        Some(n)
            if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) =>
        {
            return Err(ReportError::BadName(crate::i18n::tf(
                lang,
                "report.bad.name",
                &[&MAX_NAME],
            )))
        }
        Some(n) => n.to_string(),
        None => user.clone(),
    };
    Ok(Identity {
        trainee,
        machine: machine_id(),
        account: format!("{user}@{host}"),
    })
}

/// The machine's id for the lab: the first 12 hex digits of
/// `HMAC-SHA256(key = /etc/machine-id, "confidump lab")`, so the raw id (which other
/// programs use as a secret-ish key) is not handed around; empty when the machine has none.
pub fn machine_id() -> String {
    use hmac::{Hmac, Mac};
    let raw = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let Some(raw) = raw else {
        return String::new();
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(raw.as_bytes()) else {
        return String::new();
    };
    mac.update(b"confidump lab");
    let mut id = hex::encode(mac.finalize().into_bytes());
    id.truncate(12);
    id
}

/// `trainee`'s progress through `all`, titles in `lang`.
pub fn progress(all: &[Exercise], lang: Lang, st: &State, who: Identity) -> StatusReport {
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
                seconds: r
                    .solved
                    .filter(|_| credited(&r))
                    .map(|s| s.saturating_sub(r.first_started)),
            }
        })
        .collect();
    StatusReport {
        trainee: who.trainee,
        machine: who.machine,
        account: who.account,
        exercises,
    }
}

/// The most a trainee's status file may hold: a few hundred bytes per exercise.
pub const STATUS_LIMIT: u64 = 16 << 20;

/// Why a status file could not be read (`lab report`), or a `--name` not taken.
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
    /// Two files of one trainee (the same file twice, or a copy), said in the reader's
    /// language.
    #[error("{0}")]
    Duplicate(String),
    /// A `--name` that cannot name a trainee, said in the reader's language.
    #[error("{0}")]
    BadName(String),
}

/// Every trainee's status file, each read bounded (it is the trainee's to write). The same
/// file named twice, or two files of the same trainee on the same machine, are refused: each
/// would count a trainee's work twice. Messages are in `lang`.
pub fn load_reports(
    files: &[std::path::PathBuf],
    lang: Lang,
) -> Result<Vec<StatusReport>, ReportError> {
    let mut reps: Vec<StatusReport> = Vec::with_capacity(files.len());
    let mut seen: Vec<(std::path::PathBuf, usize)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let real = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        if let Some((_, j)) = seen.iter().find(|(p, _)| *p == real) {
            return Err(ReportError::Duplicate(crate::i18n::tf(
                lang,
                "report.same.file",
                &[&f.display(), &files.get(*j).unwrap_or(f).display()],
            )));
        }
        seen.push((real, i));
        let text = crate::files::input::read_user_text(f, STATUS_LIMIT, "a lab status file")?;
        let rep: StatusReport =
            serde_json::from_str(&text).map_err(|source| ReportError::NotStatus {
                path: f.clone(),
                source,
            })?;
        if let Some(j) = reps
            .iter()
            .position(|r| r.trainee == rep.trainee && r.machine == rep.machine)
        {
            // The name is the trainee's to write: quoted with its control characters escaped,
            // and bounded, before it reaches a terminal.
            let shown = format!(
                "{:?}",
                rep.trainee.chars().take(MAX_NAME).collect::<String>()
            );
            return Err(ReportError::Duplicate(crate::i18n::tf(
                lang,
                "report.same.trainee",
                &[&f.display(), &files.get(j).unwrap_or(f).display(), &shown],
            )));
        }
        reps.push(rep);
    }
    Ok(reps)
}

/// Seconds as `m:ss`, or `-` for none.
pub fn minutes(s: Option<u64>) -> String {
    s.map_or("-".to_string(), |s| format!("{}:{:02}", s / 60, s % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str) -> Identity {
        Identity {
            trainee: name.to_string(),
            machine: "m1".to_string(),
            account: format!("root@{name}"),
        }
    }

    #[test]
    fn status_files_are_read_back_and_others_named() {
        let dir = tempfile::tempdir().unwrap();
        let all = crate::lab::builtin().unwrap();
        let rep = progress(&all, Lang::En, &State::default(), who("a"));
        let good = dir.path().join("a.json");
        std::fs::write(&good, serde_json::to_string(&rep).unwrap()).unwrap();
        assert_eq!(
            load_reports(std::slice::from_ref(&good), Lang::En).unwrap(),
            vec![rep]
        );
        let bad = dir.path().join("b.json");
        std::fs::write(&bad, "[]").unwrap();
        let e = load_reports(&[good, bad], Lang::En)
            .unwrap_err()
            .to_string();
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
        let rep = progress(&all, Lang::En, &st, who("ann"));
        assert_eq!((rep.trainee.as_str(), rep.machine.as_str()), ("ann", "m1"));
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
        let ja = progress(&all, Lang::Ja, &st, who(""));
        assert_eq!(ja.exercises[0].title, all[0].title.ja);
    }

    #[test]
    fn state_words_from_files_are_one_of_five() {
        assert_eq!(state_key("solved"), "solved");
        assert_eq!(state_key("shown"), "shown");
        assert_eq!(state_key("<b>"), "locked");
    }

    #[test]
    fn a_solution_shown_before_the_solve_is_no_credit() {
        let all = crate::lab::builtin().unwrap();
        let mut st = State::default();
        let rec = |solved: Option<u64>, shown: Option<u64>| Record {
            first_started: 100,
            solved,
            shown,
            ..Record::default()
        };
        st.exercises
            .insert(all[0].name.clone(), rec(Some(200), Some(300)));
        st.exercises
            .insert(all[1].name.clone(), rec(Some(400), Some(300)));
        st.exercises
            .insert(all[2].name.clone(), rec(None, Some(300)));
        let rep = progress(&all, Lang::En, &st, who("a"));
        let states: Vec<&str> = rep.exercises.iter().map(|p| p.state.as_str()).collect();
        // The one after a shown exercise stays locked: a solution seen unlocks nothing.
        assert_eq!(&states[..4], ["solved", "shown", "shown", "locked"]);
        assert_eq!(rep.exercises[0].seconds, Some(100));
        assert_eq!(rep.exercises[1].seconds, None, "no time for a shown one");
    }

    #[test]
    fn the_same_trainee_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let all = crate::lab::builtin().unwrap();
        let write = |f: &str, name: &str| {
            let p = dir.path().join(f);
            let rep = progress(&all, Lang::En, &State::default(), who(name));
            std::fs::write(&p, serde_json::to_string(&rep).unwrap()).unwrap();
            p
        };
        let (a, b, c) = (
            write("a.json", "ann"),
            write("b.json", "bob"),
            write("c.json", "ann"),
        );
        assert_eq!(
            load_reports(&[a.clone(), b.clone()], Lang::En)
                .unwrap()
                .len(),
            2
        );
        let e = load_reports(&[a.clone(), b.clone(), a.clone()], Lang::En).unwrap_err();
        assert!(matches!(e, ReportError::Duplicate(_)), "{e}");
        let e = load_reports(&[a, b, c], Lang::En).unwrap_err().to_string();
        assert!(
            e.contains("same trainee (\"ann\")") && e.contains("--name"),
            "{e}"
        );
        assert!(matches!(
            identity(Some("a\u{1b}[2J"), Lang::En),
            Err(ReportError::BadName(_))
        ));
        assert_eq!(identity(Some(" ann "), Lang::En).unwrap().trainee, "ann");
    }
}
