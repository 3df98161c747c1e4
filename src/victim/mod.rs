//! The victim: a live program that holds one secret in a chosen protection and keeps using it.
//!
//! [`run`] puts the secret straight into a [`SecretStore`] (generated there, or read there with
//! raw `read(2)`), hashes it, prints a [`ReadyLine`], and then has a worker thread compute an
//! HMAC-SHA256 keyed by the secret once a second until SIGTERM/SIGINT/SIGHUP (or end of stdin
//! with `until_eof`). Then it stops the worker and zeroizes the store.
//!
//! Where the secret is *stored* ([`Protection`]) and where it is *processed* ([`Workplace`])
//! are separate choices; a [`Mode`] picks both. In the protected modes every piece of code that
//! touches the secret runs on a stack inside the protected mapping, so no fragment of it lands
//! on an ordinary stack or heap. That is only sound if no signal is ever delivered while on that
//! stack, so [`run`] blocks every signal first, in the thread that later spawns the worker (which
//! inherits the mask), and takes its stop signals from a `signalfd`.

pub mod announce;
pub mod fill;
mod ready;

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use zeroize::Zeroizing;

use crate::protect::{run_on, ProtectError, Protection, SecretStore, StoreParts, WorkStack};
use crate::protect::{MAX_SECRET_LEN, SCRATCH_LEN};

pub(crate) mod lines;

pub use fill::{CANARY_LEN, CANARY_PREFIX, PAN_LEN, PAN_PREFIX};
pub use ready::{parse_hex_addr, write_ready_file, ReadyError, ReadyLine, ReadyRegion};

use fill::{FillError, Until};

/// Puts the secret from `source` into `slot` (run it on the store's work stack): generated in
/// place, read from stdin (until a newline; `stop_fd` interrupts the wait) or from `file`
/// (opened by the caller whenever the source is a file), or copied from bytes handed over.
/// The process victim and the SGX host share it.
pub(crate) fn fill_slot(
    source: &SecretSource,
    file: Option<&std::fs::File>,
    slot: &mut [u8],
    stdin_fd: BorrowedFd<'_>,
    stop_fd: BorrowedFd<'_>,
) -> Result<usize, FillError> {
    match (source, file) {
        (SecretSource::Generate(Generator::Canary), _) => fill::generate_canary(slot),
        (SecretSource::Generate(Generator::Pan), _) => fill::generate_pan(slot),
        (SecretSource::Stdin, _) => {
            fill::read_secret(stdin_fd, slot, Until::Newline, Some(stop_fd))
        }
        (SecretSource::File(_), Some(f)) => fill::read_secret(f.as_fd(), slot, Until::Eof, None),
        (SecretSource::Arg(bytes) | SecretSource::Given(bytes), _) => {
            fill::copy_secret(bytes, slot)
        }
        // Opened by the caller whenever the source is a file; EBADF if that ever changed.
        (SecretSource::File(_), None) => Err(FillError::Read(Errno::EBADF)),
    }
}

/// How often the worker uses the secret.
pub const TICK: Duration = Duration::from_secs(1);

/// A victim mode: where the secret is stored and where it is processed (one enum, in
/// [`crate::model`]; what each mode means for this victim is below).
pub use crate::model::VictimMode as Mode;

impl Mode {
    /// Where the secret is stored; `None` for a mode this victim does not run (`sgx`, `sgx-sim`:
    /// [`crate::sgx`] runs those).
    pub fn protection(&self) -> Option<Protection> {
        match self {
            Mode::Plain => Some(Protection::Plain),
            Mode::DontDump => Some(Protection::DontDump),
            Mode::SecretMem | Mode::Residue => Some(Protection::SecretMem),
            Mode::Undumpable => Some(Protection::Plain),
            Mode::Sgx | Mode::SgxSim => None,
        }
    }
    /// Where the secret is processed.
    pub fn workplace(&self) -> Workplace {
        match self {
            Mode::Residue => Workplace::Ordinary,
            // Plain has no protected stack: `Store` then means the ordinary stack anyway.
            _ => Workplace::Store,
        }
    }
}

/// Where code that uses the secret runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workplace {
    /// On the store's own work stack and scratch (the caller's stack for plain).
    Store,
    /// On the thread's ordinary stack with a heap scratch buffer, whatever the store: the
    /// "residue" pitfall, where fragments of a well-stored secret leak while it is used.
    Ordinary,
}

/// A generated secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generator {
    /// `CONFIDUMP-` + 24 random lowercase hex digits (34 bytes).
    Canary,
    /// A random Luhn-valid 16-digit card number starting with 4.
    Pan,
}

/// Where the secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Generated inside the store.
    Generate(Generator),
    /// The content of a file, less one trailing newline.
    File(PathBuf),
    /// Standard input up to the first newline (or end of input).
    Stdin,
    /// Pitfall: the command line. The bytes are copied into the store and the parsed copy is
    /// wiped, but the kernel's copy of argv stays on `[stack]` (and in /proc/PID/cmdline).
    Arg(Zeroizing<Vec<u8>>),
    /// Bytes the caller made and handed over in memory (a guest's init that also sent them out
    /// on its console: the `cvm-shared-io` pitfall). Copied into the store like `Arg`.
    Given(Zeroizing<Vec<u8>>),
}

impl SecretSource {
    /// Where the secret comes from, for messages (never the secret).
    pub(crate) fn describe(&self) -> String {
        match self {
            SecretSource::Generate(_) => "the generator".to_string(),
            SecretSource::File(p) => format!("file {}", p.display()),
            SecretSource::Stdin => "stdin".to_string(),
            SecretSource::Arg(_) => "the command line".to_string(),
            SecretSource::Given(_) => "the bytes handed over".to_string(),
        }
    }
}

/// Everything [`run`] needs.
#[derive(Debug, Clone)]
pub struct VictimConfig {
    /// Storage and processing.
    pub mode: Mode,
    /// Where the secret comes from.
    pub source: SecretSource,
    /// Also write the ready line to this file (0600, atomically).
    pub ready_file: Option<PathBuf>,
    /// Also stop at end of stdin.
    pub until_eof: bool,
}

/// Why the victim stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A stop signal arrived.
    Signal(Signal),
    /// Standard input reached its end (`until_eof`).
    StdinEof,
    /// The process the caller watched (QEMU, for a victim inside a VM) exited.
    Exited,
}

/// Errors of the victim.
#[derive(Debug, thiserror::Error)]
pub enum VictimError {
    /// Blocking signals or creating the signalfd failed.
    #[error("cannot set up signal handling ({what}): {errno}")]
    Signals {
        /// The step that failed.
        what: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// The secret file cannot be opened, is not a regular file, or is too large.
    #[error("secret file: {0}")]
    SecretFile(#[from] crate::files::input::InputError),
    /// The store could not be set up.
    #[error(transparent)]
    Protect(#[from] ProtectError),
    /// The secret is empty.
    #[error("the secret from {from} is empty")]
    EmptySecret {
        /// Where it came from.
        from: String,
    },
    /// The secret is too long.
    #[error("the secret from {from} is longer than {max} bytes")]
    SecretTooLong {
        /// Where it came from.
        from: String,
        /// The limit.
        max: usize,
    },
    /// Reading the secret failed.
    #[error("cannot read the secret from {from}: {errno}")]
    ReadSecret {
        /// Where it came from.
        from: String,
        /// What the kernel said.
        errno: Errno,
    },
    /// The OS random source failed.
    #[error("the OS random source (getrandom) failed")]
    Random,
    /// An internal invariant did not hold (a bug).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The ready line could not be printed.
    #[error("cannot print the ready line")]
    Stdout(#[source] std::io::Error),
    /// The ready file could not be written.
    #[error(transparent)]
    Ready(#[from] ReadyError),
    /// The worker thread could not be started.
    #[error("cannot start the worker thread")]
    Spawn(#[source] std::io::Error),
    /// This build has no victim for the mode (`sgx` needs an SGX launcher).
    #[error("this build of confidump has no {0} victim to start")]
    NoSuchMode(&'static str),
    /// Waiting for a stop signal failed.
    #[error("waiting for a stop signal failed: {0}")]
    Wait(Errno),
    /// The worker thread failed.
    #[error("the worker thread failed: {0}")]
    Worker(&'static str),
}

/// The signals that stop the victim. SIGUSR1 is how the worker wakes the main thread when it
/// fails.
const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
];

/// Runs the victim until a stop signal (or end of stdin): see the module docs. The ready line
/// goes to `out`, which is flushed.
pub fn run(config: &VictimConfig, out: &mut dyn Write) -> Result<StopReason, VictimError> {
    // First of all, before any protected work and before any thread is spawned (threads inherit
    // the mask): no signal may ever be delivered on a protected stack. glibc keeps its two
    // internal signals unblockable; we never trigger them (no setuid, no thread cancellation).
    // SIGQUIT stays deliverable: its default action (a kernel core dump, the attack path that
    // needs it) runs no code of ours, so nothing is ever pushed onto a protected stack.
    // Its default action, too: a shell's background job (`cmd &` without job control) and
    // `nohup`-like launchers start us with SIGQUIT ignored, and the kernel's core would never
    // be written (the attacker waiting for it would wait in vain).
    // SAFETY: SIG_DFL installs no handler of ours; no other thread exists yet.
    unsafe { nix::sys::signal::signal(Signal::SIGQUIT, nix::sys::signal::SigHandler::SigDfl) }
        .map_err(|errno| VictimError::Signals {
            what: "restoring SIGQUIT's default action",
            errno,
        })?;
    let mut blocked = SigSet::all();
    blocked.remove(Signal::SIGQUIT);
    blocked
        .thread_block()
        .map_err(|errno| VictimError::Signals {
            what: "blocking all signals",
            errno,
        })?;
    let mut stop_set = SigSet::empty();
    for s in STOP_SIGNALS {
        stop_set.add(s);
    }
    let sfd = SignalFd::with_flags(&stop_set, SfdFlags::SFD_CLOEXEC).map_err(|errno| {
        VictimError::Signals {
            what: "signalfd",
            errno,
        }
    })?;

    let file = match &config.source {
        // The one reader of user-named files: a regular file (a FIFO would block, /dev/zero
        // never end), no larger than a secret and its newline. The bytes are read below,
        // straight into the store.
        SecretSource::File(path) => Some(crate::files::input::open_user_file(
            path,
            u64::try_from(crate::protect::MAX_SECRET_LEN + 1).unwrap_or(u64::MAX),
            "a secret file",
        )?),
        _ => None,
    };

    let protection = config
        .mode
        .protection()
        .ok_or(VictimError::NoSuchMode(config.mode.as_str()))?;
    let mut store = SecretStore::new(protection)?;
    if config.mode == Mode::Undumpable {
        nix::sys::prctl::set_dumpable(false).map_err(|errno| VictimError::Signals {
            what: "prctl(PR_SET_DUMPABLE, 0)",
            errno,
        })?;
    }
    let region = store.region();
    tracing::info!(
        mode = config.mode.as_str(),
        start = %crate::model::hex_addr(region.start),
        end = %crate::model::hex_addr(region.end),
        "secret store ready"
    );
    let StoreParts {
        slot,
        scratch: store_scratch,
        stack: store_stack,
    } = store.parts();
    // Kept alive for the whole run when processing happens on ordinary memory.
    let mut ordinary_scratch = Zeroizing::new(Vec::new());
    let (mut stack, scratch): (Option<WorkStack<'_>>, &mut [u8]) = match config.mode.workplace() {
        Workplace::Store => (store_stack, store_scratch),
        Workplace::Ordinary => {
            ordinary_scratch.resize(SCRATCH_LEN, 0);
            (None, &mut ordinary_scratch[..])
        }
    };

    // Fill the slot, on the work stack: random bytes and the bytes read land in the slot itself.
    let stdin = std::io::stdin();
    let (stdin_fd, sfd_fd) = (stdin.as_fd(), sfd.as_fd());
    let source = &config.source;
    let filled = run_on(stack.as_mut(), || {
        fill_slot(source, file.as_ref(), slot, stdin_fd, sfd_fd)
    })?;
    drop(file);
    let len = match filled {
        Ok(len) => len,
        // A stop signal while waiting for the secret: stop as usual, there is nothing to wipe
        // (read_secret did) and no worker yet.
        Err(FillError::Interrupted) => return wait_for_stop(&sfd, false, None),
        Err(e) => return Err(fill_error(e, source)),
    };
    let secret: &[u8] = slot
        .get(..len)
        .ok_or(VictimError::Internal("secret length"))?;

    // The digest is public (it is printed), so returning it to the ordinary stack is fine; the
    // hashing itself, which reads the secret, runs on the work stack.
    let digest = run_on(stack.as_mut(), || {
        let out = scratch.first_chunk_mut::<32>()?;
        fill::sha256_into(secret, out);
        Some(*out)
    })?
    .ok_or(VictimError::Internal("scratch too small"))?;

    let line = ReadyLine::new(
        i32::try_from(std::process::id()).unwrap_or(i32::MAX),
        config.mode.as_str(),
        &digest,
        len,
        region,
    )
    .to_json();
    let stop = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        let stop = &stop;
        // The worker starts before the ready line goes out, so that whoever reacts to the line
        // finds the victim with all its threads (tests and gdb count them).
        // It has also used the secret once before the line goes out: "ready" means the secret
        // is held *and* in use, so an attacker reacting at once sees what using it leaves.
        let (used_tx, used_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let worker = std::thread::Builder::new()
            .name("confidump-worker".to_string())
            .spawn_scoped(s, move || {
                worker_loop(stop, stack, secret, scratch, used_tx)
            })
            .map_err(VictimError::Spawn)?;
        // An error here means the worker ended before its first use: its own error, reported
        // when it is joined below, says why.
        let reason = match used_rx.recv() {
            Ok(()) => announce(config, &line, out)
                .and_then(|()| wait_for_stop(&sfd, config.until_eof, None)),
            Err(_) => Err(VictimError::Worker("stopped before using the secret")),
        };
        stop.store(true, Ordering::SeqCst);
        worker.thread().unpark();
        let ticks = worker
            .join()
            .map_err(|_| VictimError::Worker("panicked"))??;
        tracing::info!(ticks, "worker stopped");
        reason
    });
    // `store` drops here (after the worker is joined): the mapping is zeroized and unmapped.
    drop(store);
    result
}

/// Publishes the ready line: the file first (whoever reads the stdout line may look for the file
/// right away), then stdout, flushed.
fn announce(config: &VictimConfig, line: &str, out: &mut dyn Write) -> Result<(), VictimError> {
    if let Some(path) = &config.ready_file {
        write_ready_file(path, line)?;
    }
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(VictimError::Stdout)
}

fn fill_error(e: FillError, source: &SecretSource) -> VictimError {
    match e {
        FillError::Empty => VictimError::EmptySecret {
            from: source.describe(),
        },
        FillError::TooLong => VictimError::SecretTooLong {
            from: source.describe(),
            max: MAX_SECRET_LEN,
        },
        FillError::Read(errno) => VictimError::ReadSecret {
            from: source.describe(),
            errno,
        },
        FillError::Random => VictimError::Random,
        FillError::SlotTooSmall => VictimError::Internal("secret slot too small"),
        FillError::Interrupted => VictimError::Internal("interrupted read reported as an error"),
    }
}

/// Uses the secret once per [`TICK`] until told to stop. Returns the number of ticks.
fn worker_loop(
    stop: &AtomicBool,
    mut stack: Option<WorkStack<'_>>,
    secret: &[u8],
    scratch: &mut [u8],
    used: std::sync::mpsc::SyncSender<()>,
) -> Result<u64, VictimError> {
    let result = (|| {
        let mut counter: u64 = 0;
        while !stop.load(Ordering::SeqCst) {
            // Work the way ordinary code does: take a working copy of the key into the scratch
            // buffer and compute with that. The same code runs in every mode; only where the
            // scratch lives differs. Inside the protected mapping the copy stays protected; in
            // ordinary heap (the `residue` pitfall) it is residue any dump picks up.
            let ok = run_on(stack.as_mut(), || {
                match scratch.split_first_chunk_mut::<32>() {
                    Some((out, rest)) => match rest.get_mut(..secret.len()) {
                        Some(work) => {
                            work.copy_from_slice(secret);
                            fill::hmac_tick(work, counter, out)
                        }
                        None => fill::hmac_tick(secret, counter, out),
                    },
                    None => false,
                }
            })?;
            if !ok {
                return Err(VictimError::Worker("HMAC computation failed"));
            }
            counter += 1;
            if counter == 1 {
                // The receiver waits for exactly this one message; it may be gone if the main
                // thread already failed, which is fine.
                let _ = used.try_send(());
            }
            tracing::debug!(tick = counter, "used the secret");
            let deadline = Instant::now() + TICK;
            while !stop.load(Ordering::SeqCst) {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                std::thread::park_timeout(deadline - now);
            }
        }
        Ok(counter)
    })();
    if result.is_err() {
        // Wake the main thread, which waits on the signalfd.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGUSR1);
    }
    result
}

/// Blocks until a stop signal arrives on `sfd`, or, with `until_eof`, stdin ends, or `exited`
/// (a pidfd: QEMU, a container's victim or runtime, a database's postmaster) becomes
/// readable. The one stop-wait loop: the process victim and the VM, container and service
/// victims (`victim --context …`) all wait here.
///
/// With `until_eof`, a line [`DETACH`] on stdin releases the victim from its stdin: it then
/// runs until a signal. That is the hand-over of a starter that must not take the victim with
/// it when it ends normally, but must when it is killed first (`lab start`: SIGKILLed before
/// its state file names the victim, nobody else could stop it).
pub fn wait_for_stop(
    sfd: &SignalFd,
    until_eof: bool,
    exited: Option<BorrowedFd<'_>>,
) -> Result<StopReason, VictimError> {
    let stdin = std::io::stdin();
    let mut watch_stdin = until_eof;
    loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if watch_stdin {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        if let Some(fd) = exited {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(VictimError::Wait(e)),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        if ready(0) {
            if let Some(info) = sfd.read_signal().map_err(VictimError::Wait)? {
                let signal = i32::try_from(info.ssi_signo)
                    .ok()
                    .and_then(|n| Signal::try_from(n).ok())
                    .unwrap_or(Signal::SIGTERM);
                if signal == Signal::SIGUSR1 {
                    // The worker's wake-up: its error is reported by the join.
                    tracing::debug!("worker asked to stop");
                }
                tracing::info!(signal = %signal, "stopping");
                return Ok(StopReason::Signal(signal));
            }
        }
        // Where the pidfd sits in `fds`: after stdin's entry, when stdin is watched.
        let exited_slot = 1 + usize::from(watch_stdin);
        if watch_stdin && ready(1) {
            match read_stdin() {
                StdinRead::End => {
                    tracing::info!("stdin closed, stopping");
                    return Ok(StopReason::StdinEof);
                }
                StdinRead::Detach => {
                    tracing::info!("detached from stdin: running until a signal");
                    watch_stdin = false;
                }
                StdinRead::Data => {}
            }
        }
        if exited.is_some() && ready(exited_slot) {
            return Ok(StopReason::Exited);
        }
    }
}

/// The line on stdin that releases a `--until-eof` victim from its stdin (see
/// [`wait_for_stop`]).
pub const DETACH: &[u8] = b"detach";

/// What one read of stdin brought.
enum StdinRead {
    /// End of input (or a stdin that will never deliver it).
    End,
    /// A [`DETACH`] line.
    Detach,
    /// Anything else, discarded.
    Data,
}

/// True when `bytes` hold a line that is exactly [`DETACH`].
pub fn has_detach_line(bytes: &[u8]) -> bool {
    bytes.split(|&b| b == b'\n').any(|l| l == DETACH)
}

/// Reads and discards what stdin has.
fn read_stdin() -> StdinRead {
    // Anything after the secret's line is not the secret, but wipe it anyway.
    let mut buf = Zeroizing::new([0u8; 512]);
    match nix::unistd::read(libc::STDIN_FILENO, &mut buf[..]) {
        Ok(0) => StdinRead::End,
        Ok(n) if has_detach_line(buf.get(..n).unwrap_or(&[])) => StdinRead::Detach,
        Ok(_) | Err(Errno::EINTR | Errno::EAGAIN) => StdinRead::Data,
        // A broken stdin will never deliver the end we wait for: treat it as the end.
        Err(_) => StdinRead::End,
    }
}
