//! `confidump demo`: the victims it starts and the report it assembles.
//!
//! Victims are real child processes (this same executable, `victim` subcommand). The runner
//! generates each secret itself (a canary: `CONFIDUMP-` + 24 random hex digits) and hands it
//! over on stdin, or on the command line in the scenario that shows that pitfall, so it knows
//! the secret and its SHA-256 while the attackers are given only the hash. A victim is stopped
//! (SIGTERM, then SIGKILL) when its guard drops, whatever happens in between.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::matrix::{self, RunEnv, Scenario};
use super::scenario::{AttackKind, SecretVia};
use crate::model::{HostInfo, MatrixReport};
use crate::scan::needles::{sha256, CANARY_HEX_LEN, CANARY_PREFIX};
use crate::secret::Secret;
use crate::victim::ReadyLine;

/// How long a victim may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a victim may take to stop after SIGTERM (or to dump core after SIGQUIT).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of starting and stopping victims.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The victim could not be started.
    #[error("starting the {mode} victim: {source}")]
    Spawn {
        /// Which mode.
        mode: String,
        /// Why.
        source: std::io::Error,
    },
    /// The victim exited or stalled before it was ready.
    #[error("the {mode} victim did not become ready: {detail}")]
    NotReady {
        /// Which mode.
        mode: String,
        /// What happened (its error message when it printed one).
        detail: String,
    },
    /// The victim announced a hash that is not the one of the secret it was given.
    #[error("the {mode} victim announced a SHA-256 that is not its secret's")]
    WrongSecret {
        /// Which mode.
        mode: String,
    },
    /// Signalling or waiting for the victim failed.
    #[error("stopping the victim (pid {pid}): {detail}")]
    Stop {
        /// The victim.
        pid: i32,
        /// What failed.
        detail: String,
    },
}

/// A fresh canary: `CONFIDUMP-` + 24 random lowercase hex digits, the shape the scanner's
/// hash search recognises.
pub fn generate_canary() -> Result<Secret, getrandom::Error> {
    let mut random = zeroize::Zeroizing::new([0u8; CANARY_HEX_LEN / 2]);
    getrandom::getrandom(random.as_mut())?;
    let mut bytes = Vec::with_capacity(CANARY_PREFIX.len() + CANARY_HEX_LEN);
    bytes.extend_from_slice(CANARY_PREFIX);
    bytes.extend_from_slice(hex::encode(random.as_ref()).as_bytes());
    Ok(Secret::new(bytes))
}

/// How to start one victim.
#[derive(Debug)]
pub struct Launch<'a> {
    /// `victim --mode` value.
    pub mode: &'a str,
    /// The secret it gets.
    pub secret: &'a Secret,
    /// How it gets it.
    pub via: SecretVia,
    /// Run as this (uid, gid) instead of ours.
    pub user: Option<(u32, u32)>,
    /// Working directory, where a kernel core dump lands; RLIMIT_CORE is raised for it.
    pub core_dir: Option<&'a Path>,
}

/// A running victim; stopped and reaped on drop, killed on a signal (see
/// [`crate::files::cleanup`]) and by the kernel when the thread that started it dies
/// (`PR_SET_PDEATHSIG`), so it never outlives the demo, even one killed by SIGKILL.
pub struct VictimProcess {
    child: Child,
    reaped: bool,
    /// Kills the victim if a signal ends the run; dropped before it is reaped.
    registration: Option<crate::files::cleanup::Registration>,
    /// What it announced.
    pub ready: ReadyLine,
}

impl VictimProcess {
    /// Starts `exe victim --mode MODE`, hands it its secret, and waits for its ready line.
    pub fn spawn(exe: &Path, launch: &Launch<'_>) -> Result<Self, DemoError> {
        let mode = launch.mode.to_string();
        let mut cmd = Command::new(exe);
        cmd.args(["victim", "--mode", launch.mode]);
        match launch.via {
            SecretVia::Stdin => {
                cmd.arg("--secret-stdin");
            }
            // The pitfall this scenario demonstrates: the secret in argv.
            SecretVia::Argv => {
                cmd.arg("--secret-arg")
                    .arg(std::ffi::OsStr::from_bytes(launch.secret.expose()));
            }
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = launch.user {
            // std drops privileges in the child before exec: setgroups(0), setgid, setuid.
            cmd.uid(uid).gid(gid);
        }
        // SAFETY: the closure runs in the forked child before exec and only calls prctl,
        // getppid and kill, async-signal-safe system calls; it allocates nothing.
        unsafe {
            cmd.pre_exec(die_with_parent(std::process::id()));
        }
        if let Some(dir) = launch.core_dir {
            cmd.current_dir(dir);
            // SAFETY: the closure runs in the forked child before exec and only calls
            // getrlimit/setrlimit, which are async-signal-safe system calls; it allocates
            // nothing and touches no lock.
            unsafe {
                cmd.pre_exec(raise_core_limit);
            }
        }
        let mut child = cmd.spawn().map_err(|source| DemoError::Spawn {
            mode: mode.clone(),
            source,
        })?;
        let registration = i32::try_from(child.id())
            .ok()
            .map(crate::files::cleanup::register_child);
        if let Some(mut stdin) = child.stdin.take() {
            if launch.via == SecretVia::Stdin {
                // A failed write shows up below as a victim that never became ready.
                let _ = stdin
                    .write_all(launch.secret.expose())
                    .and_then(|()| stdin.write_all(b"\n"))
                    .and_then(|()| stdin.flush());
            }
        }
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        // A thread reads the line so the wait can time out; it ends when the pipe closes.
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(READY_TIMEOUT).unwrap_or_default();
        match ReadyLine::parse(&line) {
            Ok(ready) => {
                let v = Self {
                    child,
                    reaped: false,
                    registration,
                    ready,
                };
                if v.ready.secret_sha256 != hex::encode(sha256(launch.secret.expose())) {
                    return Err(DemoError::WrongSecret { mode });
                }
                Ok(v)
            }
            Err(_) => {
                drop(registration);
                let _ = child.kill();
                let detail = match child.wait_with_output() {
                    Ok(o) if !o.stderr.is_empty() => {
                        String::from_utf8_lossy(&o.stderr).trim().to_string()
                    }
                    _ if line.is_empty() => format!("no ready line within {READY_TIMEOUT:?}"),
                    _ => "its ready line did not parse".to_string(),
                };
                Err(DemoError::NotReady { mode, detail })
            }
        }
    }

    /// The victim's PID.
    pub fn pid(&self) -> i32 {
        self.ready.pid
    }

    /// Sends SIGQUIT (its default action: a kernel core dump, then death) and waits for the
    /// victim to be gone. Returns its wait status: `core_dumped()` tells whether the kernel
    /// wrote a core.
    pub fn quit_with_core(&mut self) -> Result<ExitStatus, DemoError> {
        let pid = self.pid();
        // It is about to be reaped: forget it first (PR_SET_PDEATHSIG still covers it).
        self.registration = None;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGQUIT,
        )
        .map_err(|e| DemoError::Stop {
            pid,
            detail: format!("SIGQUIT: {e}"),
        })?;
        let status = self.wait_for(STOP_TIMEOUT).ok_or_else(|| DemoError::Stop {
            pid,
            detail: format!("still running {STOP_TIMEOUT:?} after SIGQUIT"),
        })?;
        Ok(status)
    }

    fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.reaped = true;
                return Some(st);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for VictimProcess {
    fn drop(&mut self) {
        // Forgotten before it is reaped: a recycled PID must never be killed. Until it is
        // reaped, PR_SET_PDEATHSIG still covers it.
        self.registration = None;
        if self.reaped {
            return;
        }
        // SIGTERM lets it zeroize and exit 0; SIGKILL if it does not within the timeout.
        let pid = nix::unistd::Pid::from_raw(self.ready.pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if self.wait_for(STOP_TIMEOUT).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// For `pre_exec`: the child gets SIGKILL when the thread that spawned it dies (after any uid
/// change, which would clear the setting: std applies `uid`/`gid` before the closures), and
/// dies at once if its parent is already gone.
fn die_with_parent(parent: u32) -> impl FnMut() -> std::io::Result<()> {
    move || {
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only; getppid cannot fail.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would signal us.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(1);
            }
        }
        Ok(())
    }
}

/// Raises RLIMIT_CORE as far as allowed (runs in the child, between fork and exec).
fn raise_core_limit() -> std::io::Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
    if setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        // Not privileged to raise the hard limit: the soft one can go up to it.
        let (_, hard) = getrlimit(Resource::RLIMIT_CORE).map_err(std::io::Error::from)?;
        setrlimit(Resource::RLIMIT_CORE, hard, hard).map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// Facts about this host for the report.
pub fn host_info(env: &RunEnv) -> HostInfo {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    HostInfo {
        kernel: read("/proc/sys/kernel/osrelease"),
        hostname: read("/proc/sys/kernel/hostname"),
        uid: {
            use std::os::unix::fs::MetadataExt;
            // /proc/self belongs to the effective uid of the process looking at it.
            std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
        },
        memfd_secret: env.memfd_secret.is_ok(),
        gcore: env.gcore.is_some(),
        core_pattern: env.core_pattern.clone(),
        confidump: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Runs `scenarios` (concurrently, `jobs` at a time) and assembles the report. Rows that cannot
/// run here say why through `info.unavailable`, as [`matrix::for_host`] sets it.
pub fn run_demo(
    scenarios: &[Scenario],
    env: &RunEnv,
    lang: &str,
    jobs: usize,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> MatrixReport {
    let started = Instant::now();
    let rows = matrix::run_matrix(scenarios, env, jobs, on_step);
    let cells: Vec<_> = rows.into_iter().flatten().collect();
    let mismatches = crate::model::count_mismatches(&cells);
    MatrixReport {
        host: host_info(env),
        lang: lang.to_string(),
        scenarios: scenarios.iter().map(|s| s.info.clone()).collect(),
        attacks: AttackKind::ALL
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        cells,
        mismatches,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// The kernel's verdict on a victim that got SIGQUIT, in words.
pub fn describe_status(st: &ExitStatus) -> String {
    match (st.signal(), st.core_dumped()) {
        (Some(sig), true) => format!("killed by signal {sig}, core dumped"),
        (Some(sig), false) => format!("killed by signal {sig}, no core dumped"),
        (None, _) => format!("exited with {}", st.code().unwrap_or(-1)),
    }
}
