//! A private PostgreSQL instance, started and stopped by confidump itself.
//!
//! Rules this file keeps:
//! - The instance lives in a fresh private directory `BASE/confidump-pg.PID.TAG` (mode 0700,
//!   created with `mkdir`, so an existing name or a planted symlink makes it fail): `data/` is
//!   the cluster, the Unix socket sits beside it, and nothing listens on TCP
//!   (`listen_addresses=''`).
//! - The server runs as an unprivileged user (postgres refuses root): `nobody` by default when
//!   confidump is root, else confidump's own user.
//! - Nothing outlives confidump. The postmaster is our direct child with
//!   `PR_SET_PDEATHSIG=SIGKILL`, so it dies with the thread that started it, even on SIGKILL; its
//!   children (the backends) exit on their own when their postmaster dies. [`PgInstance::stop`]
//!   (and `Drop`) shut the server down and remove the directory. A directory left by a killed
//!   run is found by the next run ([`sweep_stale`]): its owner's pid is gone, or the lock file
//!   the owner held is free.
//! - Every process of the instance has the data directory as its working directory: that is
//!   how leftovers are recognised ([`processes_in`]), never by a process name.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use super::leftovers::kill_processes_in;
pub use super::leftovers::{processes_in, sweep_stale};
pub use super::programs::{PgBinaries, RunAs};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The port in the socket's name (`.s.PGSQL.5432`): no TCP port is opened, and each instance has
/// its own socket directory, so every instance can use the default.
pub const PORT: u16 = 5432;
/// The database superuser initdb creates.
pub const DB_USER: &str = "confidump";
/// Prefix of every instance directory under the base directory.
pub const DIR_PREFIX: &str = "confidump-pg.";
pub(super) const LOCK_NAME: &str = "confidump.lock";
const LOG_NAME: &str = "server.log";

/// Errors of the instance lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// No PostgreSQL server programs were found.
    #[error("PostgreSQL is not installed: no initdb and postgres in {searched}; install the `postgresql` package (apt-get install postgresql, or scripts/setup.sh)")]
    NotInstalled {
        /// Where we looked.
        searched: String,
    },
    /// The user to run the server as is unusable.
    #[error("cannot run PostgreSQL as user {name:?}: {reason}")]
    User {
        /// The user name.
        name: String,
        /// Why not.
        reason: String,
    },
    /// A file system step failed.
    #[error("cannot {what} {path}")]
    Io {
        /// The step.
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// initdb failed.
    #[error("initdb failed ({status}):\n{output}")]
    Initdb {
        /// Its exit status.
        status: String,
        /// The end of what it printed.
        output: String,
    },
    /// The server exited or never accepted connections.
    #[error("the PostgreSQL server did not start: {reason}; last log lines:\n{log}")]
    Start {
        /// What happened.
        reason: String,
        /// The end of the server log.
        log: String,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstanceError {
    let path = path.to_path_buf();
    move |source| InstanceError::Io { what, path, source }
}

/// Options of [`PgInstance::start`].
#[derive(Debug, Clone)]
pub struct InstanceOptions {
    /// Where the server programs are (default: searched, see [`PgBinaries::find`]).
    pub bindir: Option<PathBuf>,
    /// Where the instance directory is made (default: the temporary directory).
    pub base_dir: Option<PathBuf>,
    /// User to run the server as when confidump is root (default `nobody`).
    pub user: Option<String>,
    /// How long initdb plus the server's start may take.
    pub start_timeout: Duration,
    /// The pitfall: the server logs every statement with its parameters to files in its data
    /// directory ([`STATEMENT_LOG_SETTINGS`]), as an ordinary production setting does.
    pub statement_log: bool,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        Self {
            bindir: None,
            base_dir: None,
            user: None,
            start_timeout: Duration::from_secs(60),
            statement_log: false,
        }
    }
}

/// How [`PgInstance::stop`] ended the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// It shut down on SIGINT (fast shutdown: sessions closed, a shutdown checkpoint).
    Fast,
    /// It needed SIGQUIT (immediate shutdown).
    Immediate,
    /// It had to be SIGKILLed.
    Killed,
    /// It had already exited.
    AlreadyExited,
}

/// A running private PostgreSQL instance. Dropping it stops the server and removes its
/// directory; [`PgInstance::stop`] does the same and says how.
pub struct PgInstance {
    postmaster: Option<Child>,
    run_dir: PathBuf,
    data_dir: PathBuf,
    user: RunAs,
    version: Option<String>,
    /// Held (flock) for as long as the instance exists: a free lock marks a stale directory.
    _lock: Flock<File>,
    /// What happened on the way that a user may want to know (stale directories removed).
    notes: Vec<String>,
    /// The server's logging settings (`-c`, after [`SERVER_SETTINGS`]): [`NO_STATEMENT_LOG`],
    /// or [`STATEMENT_LOG_SETTINGS`].
    logging: &'static [&'static str],
}

impl std::fmt::Debug for PgInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgInstance")
            .field("postmaster", &self.postmaster_pid())
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

impl PgInstance {
    /// Sweeps stale directories, makes a fresh one, runs initdb as the unprivileged user and
    /// starts the server; returns once it accepts connections on its Unix socket. Must be
    /// called from a thread that outlives the instance (the server dies with that thread).
    pub fn start(opts: &InstanceOptions) -> Result<Self, InstanceError> {
        let bins = PgBinaries::find(opts.bindir.as_deref())?;
        let user = RunAs::resolve(opts.user.as_deref())?;
        let base = opts.base_dir.clone().unwrap_or_else(std::env::temp_dir);
        // The real path: leftovers are recognised by their working directory, which the kernel
        // reports with symlinks resolved.
        let base = std::fs::canonicalize(&base).map_err(io_err("resolve", &base))?;
        let deadline = Instant::now() + opts.start_timeout;
        let mut notes = sweep_stale(&base);

        let tag = {
            let mut b = [0u8; 4];
            getrandom::getrandom(&mut b).map_err(|e| InstanceError::Io {
                what: "get random bytes for",
                path: base.clone(),
                source: std::io::Error::other(e),
            })?;
            hex::encode(b)
        };
        let run_dir = base.join(format!("{DIR_PREFIX}{}.{tag}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&run_dir)
            .map_err(io_err("create the private directory", &run_dir))?;
        // From here on the directory is ours: take the lock (under a temporary name, so that a
        // sweeper never sees an unlocked lock file of a live run), then hand it to the user.
        let lock = match take_lock(&run_dir) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&run_dir);
                return Err(e);
            }
        };
        let mut inst = Self {
            postmaster: None,
            data_dir: run_dir.join("data"),
            run_dir,
            user,
            version: bins.version(),
            _lock: lock,
            notes: Vec::new(),
            logging: if opts.statement_log {
                STATEMENT_LOG_SETTINGS
            } else {
                NO_STATEMENT_LOG
            },
        };
        // Errors from here on drop `inst`, which removes the directory.
        inst.prepare_dir(&base)?;
        inst.initdb(&bins)?;
        inst.spawn_server(&bins)?;
        inst.wait_ready(deadline)?;
        inst.notes.append(&mut notes);
        Ok(inst)
    }

    fn prepare_dir(&self, base: &Path) -> Result<(), InstanceError> {
        if !self.user.switch {
            return Ok(());
        }
        // The server's user must reach its directory: every ancestor must let others search.
        for dir in base.ancestors() {
            let m = std::fs::metadata(dir).map_err(io_err("inspect", dir))?;
            if m.mode() & 0o001 == 0 && m.uid() != self.user.uid.as_raw() {
                return Err(InstanceError::User {
                    name: self.user.name.clone(),
                    reason: format!(
                        "it cannot enter {} (mode {:o}); choose another base directory",
                        dir.display(),
                        m.mode() & 0o7777
                    ),
                });
            }
        }
        nix::unistd::chown(&self.run_dir, Some(self.user.uid), Some(self.user.gid)).map_err(|e| {
            InstanceError::Io {
                what: "hand over",
                path: self.run_dir.clone(),
                source: std::io::Error::from(e),
            }
        })
    }

    fn initdb(&self, bins: &PgBinaries) -> Result<(), InstanceError> {
        let out = self
            .user
            .command(&bins.initdb, &self.run_dir)
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", DB_USER, "-A", "trust", "-E", "UTF8", "--no-locale"])
            .args(["--no-sync", "--no-instructions"])
            .env("LC_ALL", "C")
            .output()
            .map_err(io_err("run", &bins.initdb))?;
        if out.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Err(InstanceError::Initdb {
            status: out.status.to_string(),
            output: tail(&text, 12),
        })
    }

    fn spawn_server(&mut self, bins: &PgBinaries) -> Result<(), InstanceError> {
        let log_path = self.run_dir.join(LOG_NAME);
        let log = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&log_path)
            .map_err(io_err("create", &log_path))?;
        let child = self
            .user
            .command(&bins.postgres, &self.run_dir)
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-k")
            .arg(&self.run_dir)
            .arg("-p")
            .arg(PORT.to_string())
            .args(
                SERVER_SETTINGS
                    .iter()
                    .chain(self.logging)
                    .flat_map(|s| ["-c", s]),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(io_err("start", &bins.postgres))?;
        self.postmaster = Some(child);
        Ok(())
    }

    fn wait_ready(&mut self, deadline: Instant) -> Result<(), InstanceError> {
        loop {
            if let Some(child) = self.postmaster.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.postmaster = None;
                    return Err(self.start_error(format!("the server exited ({status})")));
                }
            }
            match self.connect() {
                Ok(_client) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(self.start_error(format!("no connection in time (last: {e})")))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn start_error(&self, reason: String) -> InstanceError {
        // Only ever called before any secret reached the server: the log holds none.
        let mut log = String::new();
        if let Ok(mut f) = File::open(self.run_dir.join(LOG_NAME)) {
            let _ = f.read_to_string(&mut log);
        }
        InstanceError::Start {
            reason,
            log: tail(&log, 12),
        }
    }

    /// A new client connection over the Unix socket.
    pub fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host_path(&self.run_dir)
            .port(PORT)
            .user(DB_USER)
            .dbname("postgres")
            .application_name("confidump")
            .connect(postgres::NoTls)
    }

    /// The postmaster's pid (`None` once it is gone).
    pub fn postmaster_pid(&self) -> Option<i32> {
        self.postmaster
            .as_ref()
            .and_then(|c| i32::try_from(c.id()).ok())
    }

    /// The postmaster, then every other process of the instance (checkpointer, background
    /// writer, WAL writer, the client backends ...), by pid.
    pub fn server_pids(&self) -> Vec<i32> {
        let mut pids = processes_in(&self.data_dir);
        pids.sort_unstable();
        if let Some(pm) = self.postmaster_pid() {
            pids.retain(|&p| p != pm);
            pids.insert(0, pm);
        }
        pids
    }

    /// [`Self::server_pids`] without other connections' backends: the processes that live as
    /// long as the instance serves the connection whose backend is `client_backend`. The
    /// readiness probe's backend (or an early, refused attempt's) may still be exiting when
    /// the list is made; attacked later, it would die mid-read and its cell would be an error
    /// that says nothing about the server.
    pub fn server_pids_serving(&self, client_backend: i32) -> Vec<i32> {
        let mut pids = self.server_pids();
        pids.retain(|&p| p == client_backend || !another_connection(p));
        pids
    }

    /// The cluster directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The private directory holding the cluster and the socket.
    pub fn socket_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The user the server runs as.
    pub fn user(&self) -> &RunAs {
        &self.user
    }

    /// `postgres --version`'s text.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Things worth telling the user (stale directories removed on the way).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// True once the postmaster has exited (it is reaped).
    pub fn exited(&mut self) -> bool {
        match self.postmaster.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => false,
            Some(Ok(Some(_))) | Some(Err(_)) | None => true,
        }
    }

    /// Shuts the server down (SIGINT, then SIGQUIT, then SIGKILL), waits for every process of
    /// the instance to be gone, and removes the directory.
    pub fn stop(mut self) -> Result<StopOutcome, InstanceError> {
        let outcome = self.shutdown();
        self.remove().map(|()| outcome)
    }

    fn shutdown(&mut self) -> StopOutcome {
        let Some(mut child) = self.postmaster.take() else {
            return StopOutcome::AlreadyExited;
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
        let steps = [
            (Signal::SIGINT, Duration::from_secs(15), StopOutcome::Fast),
            (
                Signal::SIGQUIT,
                Duration::from_secs(5),
                StopOutcome::Immediate,
            ),
            (Signal::SIGKILL, Duration::from_secs(5), StopOutcome::Killed),
        ];
        let mut outcome = StopOutcome::AlreadyExited;
        for (signal, wait, what) in steps {
            if !matches!(child.try_wait(), Ok(None)) {
                break;
            }
            let _ = kill(pid, signal);
            outcome = what;
            let until = Instant::now() + wait;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = child.wait();
        // Backends leave before their postmaster on a normal shutdown; after SIGKILL they
        // notice its death on their own. Make sure either way.
        kill_processes_in(&self.data_dir, Duration::from_secs(5));
        outcome
    }

    fn remove(&mut self) -> Result<(), InstanceError> {
        match std::fs::remove_dir_all(&self.run_dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(InstanceError::Io {
                what: "remove",
                path: self.run_dir.clone(),
                source: e,
            }),
        }
    }
}

impl Drop for PgInstance {
    fn drop(&mut self) {
        let outcome = self.shutdown();
        if let Err(e) = self.remove() {
            tracing::warn!(error = %e, "removing the PostgreSQL directory");
        }
        tracing::debug!(?outcome, "PostgreSQL instance dropped");
    }
}

/// Server settings: a small, private, Unix-socket-only server that never writes a statement
/// (which may carry a key) to its log.
const SERVER_SETTINGS: &[&str] = &[
    "listen_addresses=",
    "unix_socket_permissions=0700",
    "max_connections=10",
    "shared_buffers=16MB",
    // Dynamic shared memory as files in the data directory (removed with it), not in /dev/shm
    // (which a SIGKILLed server would leave behind).
    "dynamic_shared_memory_type=mmap",
    // Durability is not the point; the data files still hold what the server wrote.
    "fsync=off",
    // A server that lives for seconds needs no autovacuum launcher and no logical replication
    // launcher: two processes fewer for every attack to go through, neither of which ever
    // reads a user table in that time. The postmaster, checkpointer, background writer, WAL
    // writer and the client's backend remain.
    "autovacuum=off",
    "max_logical_replication_workers=0",
    "log_min_messages=warning",
];

/// The logging that keeps secrets off the disk: no log files, and no failing statement (which
/// may carry a key) in the server's stderr either.
const NO_STATEMENT_LOG: &[&str] = &["logging_collector=off", "log_min_error_statement=panic"];

/// The logging an ordinary production server has: every statement, with its bind parameters,
/// in log files under the data directory (`log/`, mode 0600; removed with the directory). The
/// pitfall the `db-server-logged` row shows on its `disk` cell.
const STATEMENT_LOG_SETTINGS: &[&str] = &[
    "logging_collector=on",
    "log_directory=log",
    "log_file_mode=0600",
    "log_statement=all",
];

/// Whether `pid` is (or was: it is gone) the backend of a client connection: PostgreSQL titles
/// such a process `postgres: USER DB [local] …` (Unix socket; this server listens on nothing
/// else), its own processes `postgres: checkpointer` and the like.
fn another_connection(pid: i32) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(title) => title.windows(7).any(|w| w == b"[local]"),
        Err(_) => true,
    }
}

fn take_lock(run_dir: &Path) -> Result<Flock<File>, InstanceError> {
    let tmp = run_dir.join(".lock.tmp");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(io_err("create the lock file", &tmp))?;
    let f =
        Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| InstanceError::Io {
            what: "lock",
            path: tmp.clone(),
            source: std::io::Error::from(e),
        })?;
    let fin = run_dir.join(LOCK_NAME);
    std::fs::rename(&tmp, &fin).map_err(io_err("rename the lock file to", &fin))?;
    Ok(f)
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
