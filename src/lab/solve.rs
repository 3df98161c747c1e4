//! The instructor's reference solution, run for real: each step is a shell command with the
//! exercise's facts filled in, run in a private working directory, its output shown.
//!
//! It gives no credit: `lab solve` starts its own target in a [`Scratch`] state, and the
//! trainee's state only records that the solution was shown ([`mark_shown`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::proof::{self, Outcome, Part, ProofError};
use super::record::want_of;
use super::state::{Record, Running, State, StateError};
use super::{Exercise, Goal, Step};
use crate::model::Texts;

/// A live reader the steps may use (`python3 {readmem} PID`): every readable mapping of
/// `/proc/PID/mem`, searched for the secret's shape; refusals said on stderr. It is what a
/// trainee with python would write, so it is shipped as a file they can read.
pub const READMEM_PY: &str = r#"import errno, os, re, sys
pid = sys.argv[1]
refused_word = os.environ.get('READMEM_REFUSED', 'refused')
def why(e):
    return errno.errorcode.get(e.errno, e.strerror or str(e))
shape = re.compile(rb'CONFIDUMP-[0-9a-f]{24}')
found, refused = set(), []
try:
    maps = open(f'/proc/{pid}/maps').read().splitlines()
    mem = open(f'/proc/{pid}/mem', 'rb', 0)
except OSError as e:
    print(f'{refused_word}: /proc/{pid}/mem: {why(e)}', file=sys.stderr)
    sys.exit(1)
for line in maps:
    f = line.split()
    lo, hi = (int(x, 16) for x in f[0].split('-'))
    name = f[5] if len(f) > 5 else '[anon]'
    if 'r' not in f[1] or name == '[vsyscall]':
        continue
    try:
        mem.seek(lo)
        data = mem.read(hi - lo)
    except OSError as e:
        refused.append(f'{lo:#x}-{hi:#x} {name}: {why(e)}')
        continue
    found.update(m.group().decode() for m in shape.finditer(data))
for r in refused:
    print(f'{refused_word}:', r, file=sys.stderr)
for s in sorted(found):
    print(s)
sys.exit(0 if found else 1)
"#;

/// The values `{name}` stands for in a step.
#[derive(Debug, Clone)]
pub struct Vars {
    /// The process to attack.
    pub pid: i32,
    /// The private working directory.
    pub work: PathBuf,
    /// This confidump.
    pub exe: PathBuf,
    /// The unprivileged user.
    pub user: String,
    /// A database victim's backend (`{backend}`), else the victim.
    pub backend: i32,
}

impl Vars {
    /// The values for `run`'s victim, the working directory `work` and this confidump `exe`.
    pub fn new(run: &Running, work: PathBuf, exe: PathBuf) -> Self {
        Vars {
            pid: run.pid,
            work,
            exe,
            user: super::launch::UNPRIVILEGED.to_string(),
            backend: run.backend.unwrap_or(run.pid),
        }
    }

    /// `template` with `{pid}`, `{work}`, `{exe}`, `{readmem}` and `{user}` filled in; other
    /// braces (a regex's `{24}`) stay.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{pid}", &self.pid.to_string())
            .replace("{work}", &self.work.display().to_string())
            .replace("{exe}", &self.exe.display().to_string())
            .replace("{readmem}", &self.readmem().display().to_string())
            .replace("{user}", &self.user)
            .replace("{backend}", &self.backend.to_string())
    }

    /// Where the live reader is.
    pub fn readmem(&self) -> PathBuf {
        self.work.join("readmem.py")
    }
}

/// What one step did.
#[derive(Debug)]
pub struct StepRun<'a> {
    /// The step.
    pub step: &'a Step,
    /// Its command, filled in.
    pub command: String,
    /// Did it exit 0?
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// What the solution found.
#[derive(Debug, Default)]
pub struct Found {
    /// The answer step's output.
    pub answer: Option<String>,
    /// The proof file.
    pub proof: Option<PathBuf>,
}

/// Runs every step of `ex`'s solution; `show` sees each as it finishes. The live reader says
/// `refused` (the reader's word for it) before each range it could not read.
pub fn run(
    ex: &Exercise,
    vars: &Vars,
    refused: &str,
    show: &mut dyn FnMut(usize, &StepRun<'_>),
) -> std::io::Result<Found> {
    write_readmem(&vars.readmem())?;
    let mut found = Found::default();
    for (i, step) in ex.solution.iter().enumerate() {
        let command = vars.fill(&step.run);
        let out = Command::new("sh")
            .arg("-c")
            // Cores written by the steps hold the secret: private, as ours are.
            .arg(format!("umask 077; {command}"))
            .current_dir(&vars.work)
            .env("READMEM_REFUSED", refused)
            .stdin(Stdio::null())
            .output()?;
        let r = StepRun {
            step,
            command,
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if step.answer {
            found.answer = Some(r.stdout.trim().to_string());
        }
        if let Some(p) = &step.proof {
            found.proof = Some(PathBuf::from(vars.fill(p)));
        }
        show(i, &r);
    }
    Ok(found)
}

/// What the solution found, as it is submitted to `lab check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A file given as proof.
    Proof(PathBuf),
    /// The answer found.
    Answer(String),
}

/// Every part `found` holds, the proof first, each checked against `rec` as `lab check` would
/// check it (for an exercise whose goal is `goal`).
pub fn check_found(
    rec: &Record,
    found: &Found,
    goal: Goal,
) -> Result<Vec<(Submitted, Part, Outcome)>, ProofError> {
    let mut parts = Vec::new();
    if let Some(p) = &found.proof {
        let (part, outcome) = proof::check_file(rec, rec.running.as_ref(), p, want_of(goal))?;
        parts.push((Submitted::Proof(p.clone()), part, outcome));
    }
    if let Some(a) = &found.answer {
        let outcome = proof::check_answer(rec, a);
        parts.push((Submitted::Answer(a.clone()), Part::Answer, outcome));
    }
    Ok(parts)
}

/// The outcome recorded when the solution produced nothing to check.
pub fn nothing_found() -> Outcome {
    Outcome::Rejected(Texts::new(
        "the solution produced nothing",
        "模範解答は何も出力しなかった。",
    ))
}

/// A scratch lab state for one `lab solve`: a state directory of its own, `solve-pPID/lab`
/// inside the trainee's state directory, whose targets are stopped and which is removed when
/// it is dropped. One left by a `lab solve` that was killed (its PID gone) is cleaned up, its
/// target stopped, by the next `lab solve`.
#[derive(Debug)]
pub struct Scratch {
    root: PathBuf,
    dir: PathBuf,
}

impl Scratch {
    /// A fresh scratch state in the trainee's state directory `state_dir`.
    pub fn new(state_dir: &Path) -> Result<Self, StateError> {
        super::state::ensure_dir(state_dir)?;
        sweep_stale(state_dir);
        let root = state_dir.join(format!("solve-p{}", std::process::id()));
        let dir = root.join("lab");
        Ok(Scratch { root, dir })
    }

    /// Its state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        stop_and_remove(&self.root);
    }
}

/// Stops the targets of the scratch state under `root` (its record is there), then removes it.
fn stop_and_remove(root: &Path) {
    if let Err(e) = super::session::reset(&root.join("lab")) {
        tracing::warn!("lab solve: cleaning the scratch state: {e}");
    }
    let _ = std::fs::remove_dir_all(root);
}

/// The scratch states of `lab solve` runs that are gone (killed before they cleaned up).
fn sweep_stale(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let owner = name
            .to_str()
            .and_then(|n| n.strip_prefix("solve-p"))
            .and_then(|p| p.parse::<u32>().ok());
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if let Some(pid) = owner.filter(|_| is_dir) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                stop_and_remove(&e.path());
            }
        }
    }
}

/// Records in the trainee's state (`st`, saved in `dir`) that exercise `name`'s solution was
/// shown, at the first showing; nothing else changes (no attempt, no solve, no unlock).
pub fn mark_shown(dir: &Path, st: &mut State, name: &str) -> Result<(), StateError> {
    let rec = st.exercises.entry(name.to_string()).or_default();
    if rec.shown.is_none() {
        rec.shown = Some(super::state::now());
        st.save(dir)?;
    }
    Ok(())
}

/// The solution's working directory: traversable by the unprivileged user (a step runs the
/// live reader as it), listable by root only; removed with everything in it.
pub fn work_dir(name: &str) -> Result<super::launch::RemoveOnDrop, super::launch::LaunchError> {
    use std::os::unix::fs::PermissionsExt;
    let p = super::launch::private_temp_dir(&format!("confidump-lab-{name}"))?;
    let guard = super::launch::RemoveOnDrop(p);
    std::fs::set_permissions(&guard.0, std::fs::Permissions::from_mode(0o711)).map_err(
        |source| super::launch::LaunchError::Io {
            path: guard.0.clone(),
            source,
        },
    )?;
    Ok(guard)
}

/// Writes the live reader, readable by everyone (the same-uid step runs it as another user).
fn write_readmem(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    f.write_all(READMEM_PY.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_keeps_regex_braces() {
        let v = Vars {
            pid: 42,
            work: PathBuf::from("/w"),
            exe: PathBuf::from("/bin/c"),
            user: "nobody".into(),
            backend: 7,
        };
        assert_eq!(
            v.fill("gcore -o {work}/core {pid}; grep -E 'X{24}' {work}/core.{pid}; python3 {readmem}; {exe} as {user}"),
            "gcore -o /w/core 42; grep -E 'X{24}' /w/core.42; python3 /w/readmem.py; /bin/c as nobody"
        );
    }

    #[test]
    fn nothing_found_checks_nothing_and_a_wrong_answer_is_rejected() {
        let rec = Record::default();
        let none = check_found(&rec, &Found::default(), Goal::Answer).unwrap();
        assert!(none.is_empty());
        let found = Found {
            answer: Some("CONFIDUMP-000000000000000000000000".into()),
            proof: None,
        };
        let parts = check_found(&rec, &found, Goal::Answer).unwrap();
        assert!(matches!(
            parts.as_slice(),
            [(Submitted::Answer(_), Part::Answer, Outcome::Rejected(_))]
        ));
        assert!(matches!(nothing_found(), Outcome::Rejected(_)));
    }

    #[test]
    fn the_work_dir_is_traversable_and_goes_away() {
        use std::os::unix::fs::PermissionsExt;
        let w = work_dir("test").unwrap();
        let mode = std::fs::metadata(&w.0).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o711);
        let path = w.0.clone();
        drop(w);
        assert!(!path.exists());
    }
}
