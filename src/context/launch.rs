//! The victim-process launcher: a child process on this host (this same executable, `victim`
//! subcommand), shared by the contexts whose victim is such a process (process, sgx,
//! container; service starts one with its own [`Launch`]).
//!
//! The runner generates each secret itself (a canary: `CONFIDUMP-` + 24 random hex digits) and
//! hands it over on stdin, or on the command line in the scenario that shows that pitfall, so
//! it knows the secret and its SHA-256 while the attackers are given only the hash. A victim is
//! stopped (SIGTERM, then SIGKILL) when its guard drops, whatever happens in between. Its
//! working directory is private and is where the kernel writes its core.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::env::RunEnv;
use super::{chain, KernelCore, KernelCoreError, Plan, Ready, RunningVictim, StartError, Target};
use crate::files::workdir::DirGuard;
use crate::model::AttackKind;
use crate::procfs::maps::read_maps;
use crate::scan::needles::sha256;
use crate::scenario::{RunAs, Scenario, SecretVia};
use crate::secret::Secret;
use crate::victim::fill::{FillError, CANARY_LEN};
use crate::victim::ReadyLine;

/// The `confidump victim --mode` value of `s`'s victim; `n/a` when no victim has that mode.
pub fn victim_mode(s: &Scenario, env: &RunEnv) -> Result<&'static str, StartError> {
    s.spec
        .mode
        .victim_arg()
        .ok_or_else(|| StartError::Unavailable(env.t("plan.no-victim-for-mode")))
}

/// gdb's gcore runs unless this host lacks it.
pub fn gcore_plan(env: &RunEnv) -> Plan {
    match env.gcore_missing() {
        Some(reason) => Plan::host_lacks(reason),
        None => Plan::Run,
    }
}

/// Starts `exe victim --mode MODE EXTRA...` for `s` and waits for its ready line: the process
/// context, and the contexts whose victim is a host process too (an SGX enclave's).
pub fn start_victim(
    s: &Scenario,
    env: &RunEnv,
    on_step: &mut dyn FnMut(&str),
    mode: &str,
    extra: &[&str],
) -> Result<Box<dyn RunningVictim>, StartError> {
    Ok(Box::new(spawn_victim(s, env, on_step, mode, extra)?))
}

/// [`start_victim`]'s running victim, for a context that wraps it (a container's victim is a
/// host process too, attacked by its host PID, with its own plan).
pub fn spawn_victim(
    s: &Scenario,
    env: &RunEnv,
    on_step: &mut dyn FnMut(&str),
    mode: &str,
    extra: &[&str],
) -> Result<RunningProcess, StartError> {
    let name = s.name();
    let failed = StartError::Failed;
    let secret = generate_canary().map_err(|e| failed(format!("generating the secret: {e}")))?;
    let user = match (s.spec.run_as, &env.unprivileged) {
        (RunAs::Unprivileged, Ok(u)) => Some(u.clone()),
        _ => None,
    };
    // The victim's working directory: where the kernel writes its core. Private to the
    // victim's user; removed (with any core) when the victim is dropped.
    let dir = DirGuard::create("confidump-demo")
        .map_err(|e| failed(format!("creating a private directory: {e}")))?;
    if let Some(u) = &user {
        std::os::unix::fs::chown(dir.path(), Some(u.uid), Some(u.gid))
            .map_err(|e| failed(format!("chown {} to {}: {e}", dir.path().display(), u.name)))?;
    }
    let label = std::iter::once(mode)
        .chain(extra.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    on_step(&format!("{name}: starting the victim ({label})"));
    let launch = Launch {
        mode: Some(mode),
        extra,
        secret: Some(&secret),
        via: s.spec.secret,
        user: user.as_ref().map(|u| (u.uid, u.gid)),
        core_dir: Some(dir.path()),
    };
    let victim = VictimProcess::spawn(&env.exe, &launch).map_err(|e| failed(chain(&e)))?;
    let pid = victim.pid();
    let region = victim
        .ready
        .region_span()
        .map_err(|e| failed(format!("the victim's ready line: {e}")))?;
    // Read while the victim runs; an unreadable maps file only costs names, never a verdict.
    let maps = read_maps(pid).unwrap_or_default();
    let ready = Ready {
        targets: vec![Target {
            of: None,
            pid,
            region: Some(region),
            maps,
        }],
        secret_sha256: sha256(secret.expose()),
        secret: Some(secret),
        qmp: None,
        user,
        wire: None,
        client: None,
        service: None,
        pod: None,
    };
    Ok(RunningProcess {
        victim,
        dir,
        ready,
        run_as: s.spec.run_as,
    })
}

/// A running process victim, with its private directory (removed after it stops: the
/// victim field drops first).
pub struct RunningProcess {
    /// The victim process.
    pub victim: VictimProcess,
    dir: DirGuard,
    /// What its ready line told.
    pub ready: Ready,
    run_as: RunAs,
}

impl RunningVictim for RunningProcess {
    fn ready(&self) -> &Ready {
        &self.ready
    }

    fn plan(&self, attack: AttackKind, env: &RunEnv) -> Plan {
        match attack {
            AttackKind::Dump | AttackKind::Live => Plan::Run,
            AttackKind::Gcore => gcore_plan(env),
            AttackKind::Kernel => match env.kernel_unusable() {
                Some(reason) => Plan::host_lacks(reason),
                None => Plan::Run,
            },
            AttackKind::Qmp
            | AttackKind::Checkpoint
            | AttackKind::Disk
            | AttackKind::Client
            | AttackKind::Pod
            | AttackKind::Wire => super::only_for(attack, env),
            AttackKind::SameUid if self.run_as != RunAs::Unprivileged => {
                Plan::by_design(env.t("plan.same-uid.root"))
            }
            AttackKind::SameUid => match &self.ready.user {
                Some(_) => Plan::Run,
                None => Plan::host_lacks(env.unprivileged_missing().unwrap_or_default()),
            },
        }
    }

    fn quit_with_core(&mut self) -> Result<KernelCore, KernelCoreError> {
        let status = self.victim.quit_with_core()?;
        // Only the victim writes in its private directory, so whatever file is there is its
        // core, whatever name core_pattern gives it (`core`, `core.PID`).
        let core = std::fs::read_dir(self.dir.path()).ok().and_then(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.is_file())
        });
        Ok(KernelCore {
            status: describe_status(&status),
            core,
        })
    }

    fn stop(self: Box<Self>, _on_step: &mut dyn FnMut(&str)) {
        drop(self);
    }
}

/// How long a victim may take to print its ready line (a database server's initdb included,
/// on a loaded host).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a victim may take to stop after SIGTERM (or to dump core after SIGQUIT).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of starting and stopping a process victim.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
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
pub fn generate_canary() -> Result<Secret, FillError> {
    // The victim's own maker (it fills its secret's slot in place), into a buffer that is
    // zeroized once the secret has its copy.
    let mut slot = zeroize::Zeroizing::new(vec![0u8; CANARY_LEN]);
    let n = crate::victim::fill::generate_canary(&mut slot)?;
    Ok(Secret::new(slot[..n].to_vec()))
}

/// How to start one victim.
#[derive(Debug)]
pub struct Launch<'a> {
    /// `victim --mode` value (`None`: a victim without one, `--context service`).
    pub mode: Option<&'a str>,
    /// More `victim` arguments (`--context sgx --debug-enclave`).
    pub extra: &'a [&'a str],
    /// The secret it gets (`None`: it makes its own and announces only its hash).
    pub secret: Option<&'a Secret>,
    /// How it gets it.
    pub via: SecretVia,
    /// Run as this (uid, gid) instead of ours.
    pub user: Option<(u32, u32)>,
    /// Working directory, where a kernel core dump lands; RLIMIT_CORE is raised for it.
    pub core_dir: Option<&'a Path>,
}

/// A running victim; stopped and reaped on drop.
pub struct VictimProcess {
    child: Child,
    reaped: bool,
    /// Kills the victim if a signal ends the run; dropped before it is reaped.
    registration: Option<crate::files::cleanup::Registration>,
    /// What it announced.
    pub ready: ReadyLine,
    /// The ready line as printed: a context's own keys (`pids`, `data_dir`) are read from it.
    pub line: String,
}

impl VictimProcess {
    /// Starts `exe victim --mode MODE`, hands it its secret, and waits for its ready line.
    pub fn spawn(exe: &Path, launch: &Launch<'_>) -> Result<Self, ProcessError> {
        let mode = launch
            .mode
            .map_or_else(|| launch.extra.join(" "), str::to_string);
        let mut cmd = Command::new(exe);
        cmd.arg("victim");
        if let Some(m) = launch.mode {
            cmd.args(["--mode", m]);
        }
        cmd.args(launch.extra);
        match (launch.via, launch.secret) {
            (_, None) => {}
            (SecretVia::Stdin, Some(_)) => {
                cmd.arg("--secret-stdin");
            }
            // The pitfall this scenario demonstrates: the secret in argv.
            (SecretVia::Argv, Some(secret)) => {
                cmd.arg("--secret-arg")
                    .arg(std::ffi::OsStr::from_bytes(secret.expose()));
            }
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = launch.user {
            // std drops privileges in the child before exec: setgroups(0), setgid, setuid.
            cmd.uid(uid).gid(gid);
        }
        // SAFETY: the closure runs in the forked child before exec and only calls prctl and
        // getppid, async-signal-safe system calls; it allocates nothing.
        unsafe {
            cmd.pre_exec(crate::files::cleanup::die_with_parent());
        }
        if let Some(dir) = launch.core_dir {
            cmd.current_dir(dir);
            // SAFETY: the closure runs in the forked child before exec and only calls
            // signal, getrlimit and setrlimit, which are async-signal-safe system calls; it
            // allocates nothing and touches no lock.
            unsafe {
                cmd.pre_exec(prepare_kernel_core);
            }
        }
        let (mut child, registration) =
            crate::files::cleanup::spawn_child(&mut cmd).map_err(|source| ProcessError::Spawn {
                mode: mode.clone(),
                source,
            })?;
        let registration = Some(registration);
        if let (Some(mut stdin), Some(secret)) = (child.stdin.take(), launch.secret) {
            if launch.via == SecretVia::Stdin {
                // A failed write shows up below as a victim that never became ready.
                let _ = stdin
                    .write_all(secret.expose())
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
                    line,
                };
                let wrong = launch
                    .secret
                    .is_some_and(|s| v.ready.secret_sha256 != hex::encode(sha256(s.expose())));
                if wrong {
                    return Err(ProcessError::WrongSecret { mode });
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
                Err(ProcessError::NotReady { mode, detail })
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
    pub fn quit_with_core(&mut self) -> Result<ExitStatus, ProcessError> {
        let pid = self.pid();
        // It is about to be reaped: forget it first (PR_SET_PDEATHSIG still covers it).
        self.registration = None;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGQUIT,
        )
        .map_err(|e| ProcessError::Stop {
            pid,
            detail: format!("SIGQUIT: {e}"),
        })?;
        let status = self
            .wait_for(STOP_TIMEOUT)
            .ok_or_else(|| ProcessError::Stop {
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
        // SIGTERM lets it zeroize and exit 0; SIGKILL if it does not within the timeout. The
        // signal goes to our child, which is not the announced PID for a container victim
        // (that is the container's init, seen from the host): the child stops the container.
        let Ok(child) = i32::try_from(self.child.id()) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if self.wait_for(STOP_TIMEOUT).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Makes the victim one the kernel dumps on SIGQUIT: SIGQUIT at its default action, RLIMIT_CORE
/// raised as far as allowed (runs in the child, between fork and exec).
fn prepare_kernel_core() -> std::io::Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
    // The kernel path's SIGQUIT must act: a run started in the background of a script (`demo &`)
    // inherits SIGQUIT ignored (POSIX ignores it for asynchronous commands), and an ignored
    // disposition survives exec, so the victim would never dump.
    // SAFETY: installing the default disposition runs no code of ours; signal(2) is
    // async-signal-safe.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGQUIT,
            nix::sys::signal::SigHandler::SigDfl,
        )
    }
    .map_err(std::io::Error::from)?;
    if setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        // Not privileged to raise the hard limit: the soft one can go up to it.
        let (_, hard) = getrlimit(Resource::RLIMIT_CORE).map_err(std::io::Error::from)?;
        setrlimit(Resource::RLIMIT_CORE, hard, hard).map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// The kernel's verdict on a victim that got SIGQUIT, in words.
pub fn describe_status(st: &ExitStatus) -> String {
    match (st.signal(), st.core_dumped()) {
        (Some(sig), true) => format!("killed by signal {sig}, core dumped"),
        (Some(sig), false) => format!("killed by signal {sig}, no core dumped"),
        (None, _) => format!("exited with {}", st.code().unwrap_or(-1)),
    }
}
