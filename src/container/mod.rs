//! The container context: the victim runs inside a container on this host, and the attacker
//! is the host's root, as the node's operator (or anyone who owns the node) is.
//!
//! [`ContainerVictim::start`] runs the ordinary victim (`confidump victim --mode …`) in one of
//! three runtimes:
//!
//! - [`Runtime::Namespaces`]: new pid, mount, uts, ipc and net namespaces made with `clone(2)`
//!   ([`crate::isolate::namespaces`]); the victim is PID 1 inside, with its own `/proc`. No extra package.
//! - [`Runtime::Runc`] / [`Runtime::Crun`]: a real OCI runtime, as Docker, containerd and
//!   Kubernetes use it. [`oci`] writes a minimal bundle (a root filesystem holding only a static
//!   confidump, the same binary the VM guest runs as `/init`, and a `config.json`) and runs
//!   `runc run` / `crun run` on it.
//!
//! The victim's own ready line comes out of the container on a pipe; [`ContainerReady`] is the
//! host-side line: the same keys, `pid` replaced by the host PID (what the attacker dumps), plus
//! `"context":"container"` and `"container":{"runtime","id","pid_in_container"}`.
//!
//! Lifetime. The victim's stdin is a pipe whose only writer is this process (the *lifeline*),
//! and the victim runs with `--until-eof`: when we stop it, drop it, or die in any way (even by
//! SIGKILL), the pipe closes and the victim zeroizes its secret and exits; `runc run` then
//! deletes its container. [`ContainerVictim`]'s `Drop` waits for that, kills what is left,
//! deletes the container and removes the private directory (bundle). Whatever a killed run
//! could not remove (a bundle, a container left in the runtime's state) is removed by the next
//! start ([`cleanup::remove_stale`]).

pub mod cleanup;
pub mod criu;
pub mod facts;
pub(crate) mod launch;
pub mod oci;
pub mod runner;
pub mod victim;

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::victim::{Generator, Mode, ReadyLine};

/// Where the container comes from: one of the scenario values every layer shares
/// ([`crate::model::Runtime`]).
pub use crate::model::Runtime;
pub use launch::StderrTail;

/// How long the victim may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped victim may take to exit before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How the victim inside gets its secret.
#[derive(Debug, Clone)]
pub enum SecretDelivery {
    /// Generated inside the container (the host learns only its hash).
    Generate(Generator),
    /// Written by us on the victim's stdin, followed by a newline (what the demo runner does:
    /// it knows the secret it searches for).
    Bytes(Zeroizing<Vec<u8>>),
    /// Our own stdin, relayed to the victim's (`confidump victim --secret-stdin`). The relay
    /// buffer is zeroized after every chunk.
    Stdin,
    /// A file on the host: the victim reads it in place (namespaces) or through a read-only
    /// bind mount at [`oci::SECRET_MOUNT`] (OCI), as Kubernetes mounts secrets.
    File(PathBuf),
    /// Pitfall: on the victim's command line (it stays in its argv, readable by the host).
    Arg(Zeroizing<Vec<u8>>),
}

/// Everything [`ContainerVictim::start`] needs.
#[derive(Debug, Clone)]
pub struct ContainerOptions {
    /// Which runtime.
    pub runtime: Runtime,
    /// The victim mode inside.
    pub mode: Mode,
    /// How the secret gets in.
    pub secret: SecretDelivery,
    /// Stop the victim when our stdin ends (`--until-eof`; only with [`SecretDelivery::Stdin`]
    /// or when nothing else reads our stdin).
    pub until_eof: bool,
    /// Raise `RLIMIT_CORE` in the container so that a kernel core dump can be written (into
    /// [`ContainerVictim::core_dir`]).
    pub allow_core: bool,
    /// The confidump binary to run for [`Runtime::Namespaces`] (default: the running one).
    /// OCI runtimes always use the static binary ([`crate::isolate::init::static_init`]).
    pub exe: Option<PathBuf>,
    /// How long the victim may take to get ready.
    pub ready_timeout: Duration,
}

impl ContainerOptions {
    /// Defaults: a generated canary, no core, [`READY_TIMEOUT`].
    pub fn new(runtime: Runtime, mode: Mode) -> Self {
        Self {
            runtime,
            mode,
            secret: SecretDelivery::Generate(Generator::Canary),
            until_eof: false,
            allow_core: false,
            exe: None,
            ready_timeout: READY_TIMEOUT,
        }
    }
}

/// Errors of the container context.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The OCI runtime is not installed.
    #[error("not available on this host: needs {program} (apt-get install {package})")]
    RuntimeMissing {
        /// The program looked for.
        program: &'static str,
        /// The package to install.
        package: &'static str,
    },
    /// The runtime is installed but refuses to run containers on this host.
    #[error("{0}")]
    RuntimeUnusable(String),
    /// Making namespaces needs privileges we lack.
    #[error("creating namespaces needs root (CAP_SYS_ADMIN): {0}")]
    NotPermitted(nix::errno::Errno),
    /// The mode makes no sense here.
    #[error("mode {0} is not supported in a container")]
    Mode(&'static str),
    /// No static confidump for the container's root filesystem.
    #[error(transparent)]
    Init(#[from] crate::isolate::init::InitError),
    /// A file or directory step failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The step.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{what}: {errno}")]
    Sys {
        /// The step.
        what: &'static str,
        /// What the kernel said.
        errno: nix::errno::Errno,
    },
    /// The runtime or the victim could not be started.
    #[error("starting {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The victim (or the runtime) ended before the ready line.
    #[error("the {runtime} container exited before the victim was ready{status}; its last messages:\n{stderr}")]
    Exited {
        /// The runtime.
        runtime: &'static str,
        /// `: exit status …` when known.
        status: String,
        /// The last lines on stderr (runtime and victim).
        stderr: String,
    },
    /// The victim did not print its ready line in time.
    #[error("the {runtime} container's victim was not ready after {secs} s; its last messages:\n{stderr}")]
    ReadyTimeout {
        /// The runtime.
        runtime: &'static str,
        /// The timeout.
        secs: u64,
        /// The last lines on stderr.
        stderr: String,
    },
    /// The victim's line is not a ready line.
    #[error("the container's victim printed {line:?}, not a ready line: {source}")]
    Ready {
        /// The line (a victim's ready line holds no secret).
        line: String,
        /// Why.
        source: crate::victim::ReadyError,
    },
    /// The host PID of the container's process could not be established.
    #[error("cannot find the host PID of the {runtime} container's process: {why}")]
    HostPid {
        /// The runtime.
        runtime: &'static str,
        /// Why.
        why: String,
    },
}

impl From<crate::isolate::namespaces::NamespaceError> for ContainerError {
    fn from(e: crate::isolate::namespaces::NamespaceError) -> Self {
        use crate::isolate::namespaces::NamespaceError;
        match e {
            NamespaceError::NotPermitted(errno) => ContainerError::NotPermitted(errno),
            NamespaceError::Sys { what, errno } => ContainerError::Sys { what, errno },
        }
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ContainerError {
    let path = path.to_path_buf();
    move |source| ContainerError::Io { what, path, source }
}

/// `"container": {…}` in the ready line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// `namespaces`, `runc` or `crun`.
    pub runtime: String,
    /// The container id (the runtime's, or ours for namespaces).
    pub id: String,
    /// The victim's PID inside the container's pid namespace (1: it is the container's init).
    pub pid_in_container: i32,
}

/// The host-side ready line of a container victim: the victim's keys with `pid` = the host
/// PID, plus `context` and `container`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerReady {
    /// `event`, `pid` (host PID), `mode`, `secret_sha256`, `secret_len`, `region`.
    #[serde(flatten)]
    pub ready: ReadyLine,
    /// Always `container`.
    pub context: String,
    /// Runtime, id, PID inside.
    pub container: ContainerInfo,
}

impl ContainerReady {
    /// The line as printed: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// How [`ContainerVictim::stop`] ended the victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The victim stopped when asked (end of its stdin) and zeroized its secret.
    Stopped,
    /// It had already exited (killed or failed) before we asked.
    AlreadyExited,
    /// It did not stop in [`STOP_TIMEOUT`] and was killed.
    Killed,
}

/// The process that waits for the victim: our clone child (namespaces) or the runtime.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// The victim itself is our child.
    Direct(nix::unistd::Pid),
    /// `runc run` / `crun run` is our child; the victim is its child.
    Runtime(std::process::Child),
}

/// A running container victim. Dropping it stops the victim, deletes the container and
/// removes the bundle (see the module docs).
pub struct ContainerVictim {
    ready: ContainerReady,
    runtime: Runtime,
    /// Our end of the victim's stdin: dropping it stops the victim.
    lifeline: Arc<Mutex<Option<File>>>,
    waiter: Option<Waiter>,
    /// A pidfd of the waiter (readable when it has exited).
    exit_fd: Option<OwnedFd>,
    /// The private directory: bundle (OCI) or working directory (namespaces).
    dir: PathBuf,
    stderr: StderrTail,
    /// The runtime binary (OCI).
    program: Option<PathBuf>,
}

impl std::fmt::Debug for ContainerVictim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerVictim")
            .field("ready", &self.ready)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl ContainerVictim {
    /// Starts the victim in a container and waits for its ready line (see the module docs).
    pub fn start(opts: &ContainerOptions) -> Result<ContainerVictim, ContainerError> {
        launch::start(opts)
    }

    /// The host-side ready line.
    pub fn ready(&self) -> &ContainerReady {
        &self.ready
    }

    /// The victim's ready line with `pid` = the host PID.
    pub fn ready_line(&self) -> &ReadyLine {
        &self.ready.ready
    }

    /// The victim's PID on the host: what the attacker dumps and reads.
    pub fn host_pid(&self) -> i32 {
        self.ready.ready.pid
    }

    /// The victim's PID inside the container.
    pub fn pid_in_container(&self) -> i32 {
        self.ready.container.pid_in_container
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.ready.container.id
    }

    /// The runtime.
    pub fn runtime(&self) -> Runtime {
        self.runtime
    }

    /// The private directory: the OCI bundle, or the namespaces victim's working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a kernel core dump of the victim lands, seen from the host (the victim's working
    /// directory: the bundle's root filesystem for OCI).
    pub fn core_dir(&self) -> PathBuf {
        match self.runtime {
            Runtime::Namespaces => self.dir.clone(),
            Runtime::Runc | Runtime::Crun => self.dir.join(oci::ROOTFS),
        }
    }

    /// Readable (for `poll`) once the victim (namespaces) or the runtime (OCI) has exited.
    pub fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        self.exit_fd.as_ref().map(|f| f.as_fd())
    }

    /// The last lines the runtime and the victim wrote on stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr.text()
    }

    /// A shared handle on our end of the victim's stdin, for a relay of our own stdin: write
    /// to it, or take it out and drop it to stop the victim.
    pub fn lifeline(&self) -> Arc<Mutex<Option<File>>> {
        Arc::clone(&self.lifeline)
    }

    /// Stops the victim (closes its stdin: it zeroizes its secret and exits), waits up to
    /// [`STOP_TIMEOUT`], kills it after that; then deletes the container and the bundle.
    pub fn stop(mut self) -> StopOutcome {
        self.shutdown(STOP_TIMEOUT)
    }

    fn shutdown(&mut self, timeout: Duration) -> StopOutcome {
        let Some(waiter) = self.waiter.take() else {
            return StopOutcome::AlreadyExited;
        };
        let outcome = launch::stop(
            waiter,
            &self.lifeline,
            self.host_pid(),
            self.exit_fd.take(),
            timeout,
        );
        if let Some(program) = &self.program {
            oci::delete(program, self.id());
        }
        cleanup::remove_dir(&self.dir);
        outcome
    }
}

impl Drop for ContainerVictim {
    fn drop(&mut self) {
        self.shutdown(STOP_TIMEOUT);
    }
}
