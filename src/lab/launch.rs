//! Starting and stopping an exercise's victim.
//!
//! The victim is `confidump victim`, started in a session of its own so that it outlives
//! `lab start` (the trainee attacks it afterwards), with its ready line written to a file the
//! lab reads once and removes. The secret goes in through a pipe (or, for the `argv` pitfall,
//! the command line) and is dropped here as soon as its salted hash is kept.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::state::Running;
use super::{Exercise, RunAs, SecretVia};
use crate::victim::ReadyLine;

/// How long a victim may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a VM victim may take: its guest boots under TCG here, and the first run from a
/// source tree builds the static guest `/init` first (minutes on a small machine).
const VM_READY_TIMEOUT: Duration = Duration::from_secs(900);
/// How long a stopped victim may take to exit before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a stopped victim may wait for its parent to reap it.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a victim did not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Generating the secret failed.
    #[error("generating the secret: {0}")]
    Random(String),
    /// Files of the lab directory.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The unprivileged user is missing.
    #[error("this exercise runs its victim as {user:?}, who is not in /etc/passwd")]
    NoUser {
        /// The login name.
        user: String,
    },
    /// The victim did not come up.
    #[error("the victim did not become ready: {detail}")]
    NotReady {
        /// What it said, or why not.
        detail: String,
    },
}

/// A victim that announced itself.
#[derive(Debug)]
pub struct Started {
    /// Where it runs and what to attack.
    pub running: Running,
    /// SHA-256 of its secret.
    pub digest: [u8; 32],
    /// Stops the victim if a signal ends `lab` before the state file names it.
    unsaved: crate::files::cleanup::Registration,
    /// The victim's stdin: it runs while this stays open, until [`Started::hand_over`].
    stdin: Option<std::process::ChildStdin>,
}

impl Started {
    /// Call once the state file names the victim (from then on `lab reset` stops it): lets it
    /// outlive `lab`. Before that, `lab`'s end (a signal, SIGKILL included) ends the victim.
    pub fn hand_over(self) -> Running {
        if let Some(mut stdin) = self.stdin {
            let mut line = crate::victim::DETACH.to_vec();
            line.push(b'\n');
            // A victim that is gone cannot be handed over; `lab status` will show it stopped.
            let _ = stdin.write_all(&line).and_then(|()| stdin.flush());
        }
        drop(self.unsaved);
        self.running
    }
}

/// The user an unprivileged victim runs as.
pub const UNPRIVILEGED: &str = crate::host::UNPRIVILEGED_USER;

/// Starts the victim of `ex`. `dir` is the lab's private directory (for the ready file and
/// the victim's log).
pub fn start(exe: &Path, ex: &Exercise, dir: &Path) -> Result<Started, LaunchError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LaunchError::Io { path, source }
    };
    // A VM guest, and the database client, make their own secret and announce its hash.
    let secret = if ex.context == "vm" || ex.context == "service" {
        None
    } else {
        Some(
            crate::context::launch::generate_canary()
                .map_err(|e| LaunchError::Random(e.to_string()))?,
        )
    };
    let user = match ex.run_as {
        RunAs::Root => None,
        RunAs::Unprivileged => {
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            let ids = crate::host::user::passwd_lookup(&passwd, UNPRIVILEGED).ok_or_else(|| {
                LaunchError::NoUser {
                    user: UNPRIVILEGED.to_string(),
                }
            })?;
            Some(ids)
        }
    };
    // The ready file's directory must be writable by the victim's user, and by no one else:
    // outside the lab's own (0700) directory, which that user cannot enter.
    let run_dir = private_temp_dir("confidump-lab-run")?;
    let _cleanup = RemoveOnDrop(run_dir.clone());
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&run_dir, Some(uid), Some(gid)).map_err(io(&run_dir))?;
    }
    let ready_path = run_dir.join("ready.json");
    let log_path = dir.join(format!("{}.log", ex.name));
    let log = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&log_path)
            .map_err(io(&log_path))?
    };
    let mut cmd = Command::new(exe);
    cmd.arg("victim");
    if !ex.mode.is_empty() {
        cmd.arg("--mode").arg(&ex.mode);
    }
    if ex.context != "process" {
        cmd.arg("--context").arg(&ex.context);
    }
    // The victim stops when its stdin ends, until `lab` hands it over ([`Started::hand_over`])
    // once the state file names it: a `lab start` killed before that takes its victim along.
    cmd.args(&ex.args)
        .arg("--ready-file")
        .arg(&ready_path)
        .arg("--until-eof");
    match (&secret, ex.secret) {
        (Some(s), SecretVia::Argv) => {
            use std::os::unix::ffi::OsStrExt;
            cmd.arg("--secret-arg")
                .arg(std::ffi::OsStr::from_bytes(s.expose()));
        }
        (Some(_), SecretVia::Stdin) => {
            cmd.arg("--secret-stdin");
        }
        (None, _) => {}
    }
    cmd.current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2),
    // which is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let (mut child, unsaved) = crate::files::cleanup::spawn_child(&mut cmd).map_err(io(exe))?;
    let mut stdin = child.stdin.take();
    if let (Some(stdin), Some(s)) = (stdin.as_mut(), &secret) {
        if ex.secret == SecretVia::Stdin {
            // A failed write shows up below as a victim that never became ready.
            let _ = stdin
                .write_all(s.expose())
                .and_then(|()| stdin.write_all(b"\n"))
                .and_then(|()| stdin.flush());
        }
    }
    let timeout = if ex.context == "vm" {
        VM_READY_TIMEOUT
    } else {
        READY_TIMEOUT
    };
    let deadline = Instant::now() + timeout;
    let line = loop {
        if let Ok(text) = std::fs::read_to_string(&ready_path) {
            if text.ends_with('\n') {
                break text;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(LaunchError::NotReady {
                detail: format!("it exited ({status}): {}", last.trim()),
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LaunchError::NotReady {
                detail: format!("no ready line within {timeout:?}"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let ready = ReadyLine::parse(line.trim()).map_err(|e| LaunchError::NotReady {
        detail: format!("its ready line: {e}"),
    })?;
    let mut digest = [0u8; 32];
    if hex::decode_to_slice(&ready.secret_sha256, &mut digest).is_err() {
        return Err(LaunchError::NotReady {
            detail: "its ready line has no valid secret_sha256".to_string(),
        });
    }
    if let Some(s) = &secret {
        let ours: [u8; 32] = Sha256::digest(s.expose()).into();
        if ours != digest {
            let _ = child.kill();
            return Err(LaunchError::NotReady {
                detail: "it announced a different secret than it was given".to_string(),
            });
        }
    }
    // A database victim names its server processes too.
    let extra: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
    let pid_list = |v: &serde_json::Value| -> Vec<i32> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_i64()?.try_into().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let server = pid_list(&extra["pids"]["server"]);
    let backend = extra["pids"]["backend"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok());
    let victim_pid = i32::try_from(child.id()).unwrap_or(0);
    let victim_start = start_time(victim_pid).unwrap_or(0);
    Ok(Started {
        running: Running {
            victim_pid,
            victim_start,
            boot_id: boot_id(),
            pid: ready.pid,
            region_start: ready.region.start.clone(),
            region_end: ready.region.end.clone(),
            server,
            backend,
        },
        digest,
        unsaved,
        stdin,
    })
}

/// Start time of `pid` (clock ticks since boot), if it exists and has not exited (a zombie
/// has exited: only its parent's wait is missing).
pub fn start_time(pid: i32) -> Option<u64> {
    crate::procfs::status::read_stat(pid, pid)
        .ok()
        .filter(|s| s.state != 'Z' && s.state != 'X')
        .map(|s| s.starttime)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), if the kernel tells it.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Is the victim of `r` still the process the lab started? The state file is only the
/// trainee's to edit, so a PID in it is believed only when every check holds: it started in
/// this boot (when the record says which), at the recorded time, and it is a confidump victim
/// ([`is_victim_process`]). A process the lab did not start is never signalled.
pub fn is_running(r: &Running) -> bool {
    r.victim_pid > 0
        && r.boot_id
            .as_ref()
            .map_or(true, |b| boot_id().as_ref() == Some(b))
        && start_time(r.victim_pid) == Some(r.victim_start)
        && is_victim_process(r.victim_pid)
}

/// Whether `pid` runs `confidump victim`: its command line's first argument is `victim`, and
/// its program is this program's file (the same file, or this path replaced by a rebuild
/// since it started: the kernel then names it `PATH (deleted)`). A process whose program
/// cannot be read (`/proc/PID/exe` needs the rights to trace it) is not one the lab may stop.
pub fn is_victim_process(pid: i32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    if cmdline.split(|&b| b == 0).nth(1) != Some(b"victim".as_slice()) {
        return false;
    }
    let exe = format!("/proc/{pid}/exe");
    let same_file = |a: &std::fs::Metadata, b: &std::fs::Metadata| {
        use std::os::unix::fs::MetadataExt;
        (a.dev(), a.ino()) == (b.dev(), b.ino())
    };
    if let (Ok(theirs), Ok(ours)) = (std::fs::metadata(&exe), std::fs::metadata("/proc/self/exe")) {
        if same_file(&theirs, &ours) {
            return true;
        }
    }
    let (Ok(theirs), Ok(ours)) = (std::fs::read_link(&exe), std::env::current_exe()) else {
        return false;
    };
    use std::os::unix::ffi::OsStrExt;
    theirs
        .as_os_str()
        .as_bytes()
        .strip_suffix(b" (deleted)")
        .is_some_and(|p| p == ours.as_os_str().as_bytes())
}

/// Stops the victim of `r` (SIGTERM, then SIGKILL after a while), if it is still the process
/// the lab started. Returns whether it was running.
pub fn stop(r: &Running) -> bool {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if !is_running(r) {
        return false;
    }
    let pid = Pid::from_raw(r.victim_pid);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while is_running(r) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(25));
    }
    if is_running(r) {
        let _ = kill(pid, Signal::SIGKILL);
        while is_running(r) && Instant::now() < deadline + STOP_TIMEOUT {
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    // An ended victim stays a zombie until its parent reaps it (the lab's starter is gone, so
    // that is init, which may take a second or more), and `kill -0` still finds it then: wait
    // until it is gone, so that "stopped" is true when the lab says it.
    let reaped_by = Instant::now() + REAP_TIMEOUT;
    while exists_since(r.victim_pid, r.victim_start) && Instant::now() < reaped_by {
        std::thread::sleep(Duration::from_millis(25));
    }
    true
}

/// Whether `pid` is still the process that started at `start` (clock ticks after boot), a
/// zombie included.
fn exists_since(pid: i32, start: u64) -> bool {
    crate::procfs::status::read_stat(pid, pid).is_ok_and(|s| s.starttime == start)
}

/// A fresh 0700 working directory in the temporary directory ([`crate::files::workdir`]:
/// removed on a signal, and by a later run if this one is killed).
pub fn private_temp_dir(prefix: &str) -> Result<PathBuf, LaunchError> {
    crate::files::workdir::create(prefix).map_err(|source| LaunchError::Io {
        path: std::env::temp_dir().join(prefix),
        source,
    })
}

/// Removes a directory and everything in it when dropped.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
