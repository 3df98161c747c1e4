//! Training labs: exercises that trainees solve with real tools, checked by hash.
//!
//! An exercise is a TOML file (`demo/labs/*.toml`, built in; more from a directory): a task,
//! hints, the tools allowed, which victim to start, what counts as proof, and the instructor's
//! reference solution as shell steps.
//!
//! # Trust
//! An exercise file is instructor code, not data: `lab solve` runs its `run` steps as shell
//! commands with the lab's privileges (root), and `lab start` passes its `args` to the victim
//! (a `--pg-bindir` of its choosing makes the victim run that directory's `postgres`). So a
//! `--labs-dir` is trusted the way sudo trusts its own files: the directory and every file in
//! it must be owned by the user running confidump (or root, or the user who ran `sudo`) and
//! writable by no one else; anything else is refused before a file is parsed
//! ([`untrusted`]). Two files of the directory naming the same exercise are refused too: one
//! of them would otherwise be ignored without a word. [`state`] keeps each trainee's progress with only a
//! salted hash of each secret, [`launch`] starts and stops the exercise's victims, [`proof`]
//! checks an answer or a submitted core, and [`solve`] runs a reference solution for real.
//!
//! The answer is never stored: `start` generates the secret, hands it to the victim over a
//! pipe, keeps `HMAC-SHA256(salt, SHA-256(secret))` and drops the secret. A VM victim makes its
//! secret inside the guest and tells the host only its SHA-256, so the same record works for
//! every context.

pub mod flow;
pub mod launch;
pub mod progress;
pub mod proof;
pub mod record;
pub mod session;
pub mod solve;
pub mod state;

use std::path::Path;

use serde::Deserialize;

use crate::files::toml_at::{self, TomlError};
use crate::model::Texts;

/// What the trainee must hand in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Goal {
    /// The secret itself (typed, or in a file).
    Answer,
    /// A core dump of the victim that shows the secret cannot be read.
    ProveUnreadable,
    /// Two parts, in any order: a core of the database server's backend that holds the secret
    /// nowhere (the server never had it), and the secret itself, found where it does live.
    ProveAbsentThenAnswer,
}

/// How the victim gets its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretVia {
    /// A pipe (the victim's stdin).
    #[default]
    Stdin,
    /// The command line: the `argv` pitfall.
    Argv,
}

/// Who the victim runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunAs {
    /// root, like the trainee.
    #[default]
    Root,
    /// The unprivileged user (`nobody`): for the same-uid exercise.
    Unprivileged,
}

/// One step of a reference solution.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the step shows, for the room.
    pub say: Texts,
    /// A shell command; `{pid}`, `{work}`, `{exe}`, `{readmem}` and `{user}` are filled in.
    pub run: String,
    /// This step's standard output holds the answer.
    #[serde(default)]
    pub answer: bool,
    /// This file, written by the steps, is the proof to submit.
    #[serde(default)]
    pub proof: Option<String>,
}

/// One exercise, as its file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// Short name (`find-it`).
    pub name: String,
    /// One-line title.
    pub title: Texts,
    /// What to do.
    pub task: Texts,
    /// What counts as done.
    pub goal: Goal,
    /// The tools the trainee is meant to use.
    pub tools: Vec<String>,
    /// Where the victim runs: `process` (default), `vm`, `container`, `service`.
    #[serde(default = "default_context")]
    pub context: String,
    /// `confidump victim --mode` (none for the service context, which takes `--store`).
    #[serde(default)]
    pub mode: String,
    /// How the secret reaches the victim.
    #[serde(default)]
    pub secret: SecretVia,
    /// Who the victim runs as.
    #[serde(default)]
    pub run_as: RunAs,
    /// More `confidump victim` arguments (a container runtime, a database store...).
    #[serde(default)]
    pub args: Vec<String>,
    /// Hints, in the order `hint` gives them.
    pub hints: Vec<Texts>,
    /// The instructor's reference solution.
    pub solution: Vec<Step>,
}

fn default_context() -> String {
    "process".to_string()
}

/// An exercise file that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Bad content, with where: `FILE:LINE:COL: message`.
    #[error(transparent)]
    Invalid(#[from] TomlError),
    /// A file or directory could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The path.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A `--labs-dir` file or directory that others could have written (see the module docs).
    #[error(
        "{file}: {why}: refusing it, since exercise files are code (`lab solve` runs their \
         steps as shell commands, `lab start` passes their args to the victim): it must be \
         owned by you or root and writable by its owner only (chown; chmod go-w)"
    )]
    Untrusted {
        /// The file or directory.
        file: String,
        /// What is wrong with it.
        why: String,
    },
    /// No exercise of that name.
    #[error("no exercise named {name:?} (there are: {valid})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The valid names.
        valid: String,
    },
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "01-find-it.toml",
        include_str!("../../demo/labs/01-find-it.toml"),
    ),
    (
        "02-dontdump.toml",
        include_str!("../../demo/labs/02-dontdump.toml"),
    ),
    ("03-argv.toml", include_str!("../../demo/labs/03-argv.toml")),
    (
        "04-secretmem.toml",
        include_str!("../../demo/labs/04-secretmem.toml"),
    ),
    (
        "05-residue.toml",
        include_str!("../../demo/labs/05-residue.toml"),
    ),
    (
        "06-same-uid.toml",
        include_str!("../../demo/labs/06-same-uid.toml"),
    ),
    ("07-vm.toml", include_str!("../../demo/labs/07-vm.toml")),
    (
        "08-container.toml",
        include_str!("../../demo/labs/08-container.toml"),
    ),
    (
        "09-database.toml",
        include_str!("../../demo/labs/09-database.toml"),
    ),
    (
        "10-database-client.toml",
        include_str!("../../demo/labs/10-database-client.toml"),
    ),
    (
        "11-pod-neighbour.toml",
        include_str!("../../demo/labs/11-pod-neighbour.toml"),
    ),
];

/// Largest exercise file read from a directory.
const MAX_FILE: u64 = 256 * 1024;

/// Parses one exercise file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Exercise, LabError> {
    let invalid = |span: Option<std::ops::Range<usize>>, msg: &str| {
        LabError::Invalid(TomlError::at(file, text, span, msg))
    };
    let ex: Exercise = toml_at::parse(file, text)?;
    let name_ok = !ex.name.is_empty()
        && ex
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(invalid(
            None,
            "name must use only letters, digits, '-' and '_'",
        ));
    }
    if ex.task.ja.is_empty() || ex.title.ja.is_empty() {
        return Err(invalid(None, "title and task need .ja as well as .en"));
    }
    if !["process", "vm", "container", "service"].contains(&ex.context.as_str()) {
        return Err(invalid(
            None,
            "context must be process, vm, container or service",
        ));
    }
    let answers = ex.solution.iter().filter(|s| s.answer).count();
    let proofs = ex.solution.iter().filter(|s| s.proof.is_some()).count();
    let shape_ok = match ex.goal {
        Goal::Answer => answers == 1 && proofs == 0,
        Goal::ProveUnreadable => answers == 0 && proofs == 1,
        Goal::ProveAbsentThenAnswer => answers == 1 && proofs == 1,
    };
    if !shape_ok {
        return Err(invalid(
            None,
            "the solution needs exactly one step with `answer = true` (goal = \"answer\"), one with `proof = \"FILE\"` (goal = \"prove-unreadable\"), or one of each (goal = \"prove-absent-then-answer\")",
        ));
    }
    if ex.goal == Goal::ProveAbsentThenAnswer && ex.context != "service" {
        return Err(invalid(
            None,
            "goal = \"prove-absent-then-answer\" needs context = \"service\": its proof is a core of the database server's backend",
        ));
    }
    Ok(ex)
}

/// The built-in exercises, in order.
pub fn builtin() -> Result<Vec<Exercise>, LabError> {
    BUILTIN
        .iter()
        .map(|(f, t)| parse(&format!("built-in demo/labs/{f}"), t))
        .collect()
}

/// The built-in exercises, then every `*.toml` of `dir` in file-name order (one with a
/// built-in's name replaces it in place). The directory and its files must be trusted (see
/// the module docs), and no two of its files may name the same exercise.
pub fn load(dir: Option<&Path>) -> Result<Vec<Exercise>, LabError> {
    let mut all = builtin()?;
    let Some(dir) = dir else { return Ok(all) };
    let io = |file: &Path| {
        let file = file.display().to_string();
        move |source| LabError::Io { file, source }
    };
    let owners = trusted_owners();
    let dir_meta = std::fs::metadata(dir).map_err(io(dir))?;
    check_trust(dir, &dir_meta, &owners)?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    // Each name the directory defines, and the file that defines it.
    let mut defined: Vec<(String, String)> = Vec::new();
    for f in files {
        let file = f.display().to_string();
        let text = read_trusted(&f, &owners)?;
        let ex = parse(&file, &text)?;
        if let Some((_, other)) = defined.iter().find(|(n, _)| *n == ex.name) {
            let (line, column) = name_position(&text);
            return Err(LabError::Invalid(TomlError {
                file,
                line,
                column,
                message: format!(
                    "exercise name {:?} is already defined by {other}: each file of \
                     --labs-dir needs a name of its own",
                    ex.name
                ),
            }));
        }
        defined.push((ex.name.clone(), file));
        match all.iter_mut().find(|e| e.name == ex.name) {
            Some(slot) => *slot = ex,
            None => all.push(ex),
        }
    }
    Ok(all)
}

/// Where `name = ...` is in an exercise file's text (1-based line and column).
fn name_position(text: &str) -> (usize, usize) {
    #[derive(Deserialize)]
    struct NameAt {
        name: toml::Spanned<String>,
    }
    toml::from_str::<NameAt>(text).map_or((1, 1), |n| toml_at::line_col(text, n.name.span().start))
}

/// The owners a `--labs-dir` may have: the effective user, root, and under `sudo` the user who
/// ran it (who could run anything as root already: trusting their files gives them nothing).
fn trusted_owners() -> Vec<u32> {
    let euid = nix::unistd::geteuid().as_raw();
    let mut owners = vec![euid, 0];
    if euid == 0 {
        if let Some(uid) = std::env::var("SUDO_UID")
            .ok()
            .and_then(|u| u.parse::<u32>().ok())
        {
            owners.push(uid);
        }
    }
    owners
}

/// Why a file or directory with owner `uid` and `mode` cannot be trusted to hold exercises
/// (see the module docs), or `None` when it can: it must be owned by one of `owners`, and
/// writable by neither its group nor others.
pub fn untrusted(uid: u32, mode: u32, owners: &[u32]) -> Option<String> {
    if !owners.contains(&uid) {
        return Some(format!("it is owned by uid {uid}, not by you or root"));
    }
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "its group and everyone",
        (true, false) => "its group",
        (false, true) => "everyone",
        (false, false) => return None,
    };
    Some(format!(
        "it is writable by {who} (mode {:04o})",
        mode & 0o7777
    ))
}

fn check_trust(path: &Path, meta: &std::fs::Metadata, owners: &[u32]) -> Result<(), LabError> {
    use std::os::unix::fs::MetadataExt;
    match untrusted(meta.uid(), meta.mode(), owners) {
        Some(why) => Err(LabError::Untrusted {
            file: path.display().to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// Reads an exercise file of a `--labs-dir`: a regular file of at most [`MAX_FILE`] bytes that
/// [`untrusted`] accepts, checked on the open file itself (what is read is what was checked).
fn read_trusted(path: &Path, owners: &[u32]) -> Result<String, LabError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| LabError::Io {
        file: path.display().to_string(),
        source,
    };
    // O_NONBLOCK: a FIFO planted here must not hang the lab before it is refused.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return Err(io(std::io::Error::other(format!(
            "not a regular file of at most {MAX_FILE} bytes"
        ))));
    }
    check_trust(path, &meta, owners)?;
    let mut text = String::new();
    f.take(MAX_FILE).read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

/// The exercise named `name`.
pub fn find<'a>(all: &'a [Exercise], name: &str) -> Result<&'a Exercise, LabError> {
    all.iter()
        .find(|e| e.name == name)
        .ok_or_else(|| LabError::Unknown {
            name: name.to_string(),
            valid: all
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// What the secret looks like, for the task text.
pub const SECRET_SHAPE: &str = "CONFIDUMP- + 24 hex digits";

/// Whether `answer` holds something shaped like a secret: `CONFIDUMP-` and 24 hex digits
/// (a line pasted whole, with the secret in it, does).
pub fn holds_secret_shape(answer: &str) -> bool {
    const PREFIX: &str = "CONFIDUMP-";
    answer.match_indices(PREFIX).any(|(at, _)| {
        answer.get(at + PREFIX.len()..).is_some_and(|rest| {
            rest.len() >= 24 && rest.bytes().take(24).all(|b| b.is_ascii_hexdigit())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_in_both_languages() {
        let all = builtin().unwrap();
        assert!(all.len() >= 10);
        for e in &all {
            assert!(
                !e.task.ja.is_empty() && !e.title.ja.is_empty(),
                "{}",
                e.name
            );
            assert!(!e.hints.is_empty(), "{} has no hint", e.name);
            for h in &e.hints {
                assert!(!h.ja.is_empty(), "{}: a hint has no Japanese", e.name);
            }
            for s in &e.solution {
                assert!(!s.say.ja.is_empty(), "{}: a step has no Japanese", e.name);
            }
        }
    }

    #[test]
    fn only_files_of_trusted_owners_writable_by_them_alone_are_trusted() {
        let owners = [1000, 0];
        assert_eq!(untrusted(1000, 0o100644, &owners), None);
        assert_eq!(untrusted(0, 0o100600, &owners), None);
        assert_eq!(untrusted(0, 0o040755, &owners), None);
        let e = untrusted(1001, 0o100644, &owners).unwrap();
        assert!(e.contains("owned by uid 1001"), "{e}");
        let e = untrusted(1000, 0o100664, &owners).unwrap();
        assert!(e.contains("writable by its group (mode 0664)"), "{e}");
        let e = untrusted(0, 0o041777, &owners).unwrap();
        assert!(e.contains("its group and everyone"), "{e}");
        assert!(untrusted(0, 0o100646, &owners)
            .unwrap()
            .contains("everyone"));
    }

    #[test]
    fn secret_shaped_answers_are_told_apart() {
        assert!(holds_secret_shape("CONFIDUMP-00112233445566778899aabb"));
        assert!(holds_secret_shape(
            "grep: CONFIDUMP-00112233445566778899AABB\n"
        ));
        assert!(!holds_secret_shape("CONFIDUMP-00112233445566778899aab"));
        assert!(!holds_secret_shape("CONFIDUMP-0011223344556677889Xaabb"));
        assert!(!holds_secret_shape("hello"));
        assert!(!holds_secret_shape("CONFIDUMP-"));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("x.toml", "name = \"a\"\nbogus = 1\n").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("x.toml:"), "{s}");
        let e = parse("x.toml", "name = \"a b\"\ntitle.en=\"t\"\ntitle.ja=\"t\"\ntask.en=\"t\"\ntask.ja=\"t\"\ngoal=\"answer\"\ntools=[]\nmode=\"plain\"\nhints=[]\n[[solution]]\nsay.en=\"s\"\nrun=\"true\"\nanswer=true\n").unwrap_err();
        assert!(e.to_string().contains("name must"), "{e}");
    }
}
