//! The enclave victim: the same protocol as the other victims (see `crate::victim`), with the
//! secret kept by an enclave instead of a store.
//!
//! 1. Block every signal (stop signals are read from a signalfd, as the other victims do).
//! 2. Build, measure and sign the image; load it (SGX) or lay it out in ordinary memory
//!    (`sgx-sim`).
//! 3. Take the secret into a host staging store (`memfd_secret`, else the dontdump store),
//!    hash it there on the store's own stack, pass it into the enclave once (`store`), and
//!    drop the store, which zeroizes and unmaps it: the host keeps no copy, on heap or stack.
//! 4. Call `use` once, print the ready line (the region is the enclave's range), then `use`
//!    once per tick until a stop signal (or end of stdin).

use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::code::{CMD_STORE, CMD_USE, MAX_SECRET};
use super::layout::EnclaveImage;
use super::loader::Enclave;
use super::sim::SimEnclave;
use super::{measure, sign, SgxError};
use crate::host::vdso;
use crate::model::Span;
use crate::protect::{run_on, Protection, SecretStore, StoreParts, MAX_SECRET_LEN};
use crate::victim::fill::{self, FillError};
use crate::victim::{ReadyLine, SecretSource, StopReason, TICK};

/// Which enclave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgxVictimKind {
    /// A production enclave on SGX hardware (ATTRIBUTES.DEBUG clear).
    Production,
    /// A debug enclave (ATTRIBUTES.DEBUG set): the kernel serves root's reads with EDBGRD.
    Debug,
    /// The image in ordinary memory, as an SDK's simulation mode lays it out.
    Sim,
}

impl SgxVictimKind {
    /// The mode in the ready line.
    pub fn as_str(&self) -> &'static str {
        match self {
            SgxVictimKind::Production => "sgx",
            SgxVictimKind::Debug => "sgx-debug",
            SgxVictimKind::Sim => "sgx-sim",
        }
    }
}

/// Everything [`run`] needs.
#[derive(Debug, Clone)]
pub struct SgxVictimConfig {
    /// Which enclave.
    pub kind: SgxVictimKind,
    /// Where the secret comes from.
    pub source: SecretSource,
    /// Also write the ready line here (0600, atomically).
    pub ready_file: Option<PathBuf>,
    /// Also stop at end of stdin.
    pub until_eof: bool,
}

enum Backend {
    Hardware(Enclave),
    Sim(SimEnclave),
}

impl Backend {
    fn call(&mut self, cmd: u64, rsi: u64, rdx: u64, status: &mut u64) -> Result<(), SgxError> {
        match self {
            Backend::Hardware(e) => e.call(cmd, rsi, rdx, status),
            Backend::Sim(s) => s.call(cmd, rsi, rdx, status),
        }
    }
    fn region(&self) -> Span {
        match self {
            Backend::Hardware(e) => e.region(),
            Backend::Sim(s) => s.region(),
        }
    }
}

/// Starts the enclave victim and runs it until a stop signal (see the module docs). On a host
/// without SGX (and not `Sim`) it fails with [`SgxError::NotAvailable`] before doing anything.
pub fn run(config: &SgxVictimConfig, out: &mut dyn Write) -> Result<StopReason, SgxError> {
    let enter = if config.kind == SgxVictimKind::Sim {
        None
    } else {
        if let Some(reason) = super::facts::unavailable_reason(&super::facts::prerequisites()) {
            return Err(SgxError::NotAvailable(reason));
        }
        Some(vdso::find_enter()?)
    };
    let mut blocked = SigSet::all();
    blocked.remove(Signal::SIGQUIT);
    blocked.thread_block().map_err(|errno| SgxError::Sys {
        op: "blocking all signals",
        errno,
    })?;
    let mut stop_set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        stop_set.add(s);
    }
    let sfd =
        SignalFd::with_flags(&stop_set, SfdFlags::SFD_CLOEXEC).map_err(|errno| SgxError::Sys {
            op: "signalfd",
            errno,
        })?;

    let image = EnclaveImage::build(config.kind == SgxVictimKind::Debug);
    let mut backend = match enter {
        Some(enter) => {
            let sgxs = measure::sgxs_bytes(&image)?;
            let mrenclave = measure::mrenclave_of_sgxs(&sgxs)?;
            let key = sign::SigningKey::generate()?;
            let sig = sign::sign(&image, mrenclave, &key)?;
            tracing::info!(mrenclave = %hex::encode(mrenclave), debug = image.is_debug(), "loading the enclave");
            Backend::Hardware(Enclave::load(&image, &sig, enter)?)
        }
        None => Backend::Sim(SimEnclave::load(&image)?),
    };
    let region = backend.region();

    let Some((digest, len)) = pass_secret_in(config, &mut backend, &sfd)? else {
        // A stop signal arrived while waiting for the secret: report it.
        let reason = wait_until(&sfd, false, Instant::now())?;
        return Ok(reason.unwrap_or(StopReason::Signal(Signal::SIGTERM)));
    };

    let mut uses = 0u64;
    backend.call(CMD_USE, 0, 0, &mut uses)?;
    if uses != 1 {
        return Err(SgxError::Refused("use"));
    }
    let line = ReadyLine::new(
        i32::try_from(std::process::id()).unwrap_or(i32::MAX),
        config.kind.as_str(),
        &digest,
        len,
        region,
    )
    .to_json();
    if let Some(path) = &config.ready_file {
        crate::victim::write_ready_file(path, &line)?;
    }
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(SgxError::Stdout)?;

    let mut next = Instant::now() + TICK;
    loop {
        if let Some(reason) = wait_until(&sfd, config.until_eof, next)? {
            tracing::info!(uses, "stopping the enclave victim");
            return Ok(reason);
        }
        if Instant::now() >= next {
            backend.call(CMD_USE, 0, 0, &mut uses)?;
            tracing::debug!(uses, "the enclave used the secret");
            next += TICK;
        }
    }
}

/// Fills a staging store, hashes the secret there, passes it into the enclave and drops the
/// store (zeroized, unmapped). None when a stop signal came first.
fn pass_secret_in(
    config: &SgxVictimConfig,
    backend: &mut Backend,
    sfd: &SignalFd,
) -> Result<Option<([u8; 32], usize)>, SgxError> {
    let mut store = match SecretStore::new(Protection::SecretMem) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("staging the secret in a dontdump store: {e}");
            SecretStore::new(Protection::DontDump)?
        }
    };
    let file = match &config.source {
        // As the host victim does: a regular file, no larger than a secret and its newline
        // (a FIFO would block, /dev/zero never end).
        SecretSource::File(path) => Some(
            crate::files::input::open_user_file(
                path,
                u64::try_from(crate::protect::MAX_SECRET_LEN + 1).unwrap_or(u64::MAX),
                "a secret file",
            )
            .map_err(|e| SgxError::Secret(format!("cannot open the secret file: {e}")))?,
        ),
        _ => None,
    };
    let StoreParts {
        slot,
        scratch,
        mut stack,
    } = store.parts();
    let stdin = std::io::stdin();
    let (stdin_fd, sfd_fd) = (stdin.as_fd(), sfd.as_fd());
    let source = &config.source;
    let filled = run_on(stack.as_mut(), || {
        crate::victim::fill_slot(source, file.as_ref(), slot, stdin_fd, sfd_fd)
    })?;
    drop(file);
    let len = match filled {
        Ok(len) => len,
        Err(FillError::Interrupted) => return Ok(None),
        Err(e) => return Err(SgxError::Secret(fill_message(e, source))),
    };
    if len > MAX_SECRET {
        return Err(SgxError::Secret(format!(
            "the secret is longer than the enclave's {MAX_SECRET} bytes"
        )));
    }
    let secret = slot
        .get(..len)
        .ok_or(SgxError::Secret("secret length".into()))?;
    let digest = run_on(stack.as_mut(), || {
        let out = scratch.first_chunk_mut::<32>()?;
        fill::sha256_into(secret, out);
        Some(*out)
    })?
    .ok_or(SgxError::Secret("scratch too small".into()))?;
    // The enclave reads the bytes straight from the store; only their address and length
    // pass through registers.
    let mut status = 0u64;
    backend.call(CMD_STORE, secret.as_ptr() as u64, len as u64, &mut status)?;
    if status != len as u64 {
        return Err(SgxError::Refused("the secret (store)"));
    }
    // Zeroized and unmapped here: the only copy left is the enclave's.
    drop(store);
    Ok(Some((digest, len)))
}

fn fill_message(e: FillError, source: &SecretSource) -> String {
    let from = source.describe();
    match e {
        FillError::Empty => format!("the secret from {from} is empty"),
        FillError::TooLong => {
            format!("the secret from {from} is longer than {MAX_SECRET_LEN} bytes")
        }
        FillError::Read(errno) => format!("cannot read the secret from {from}: {errno}"),
        FillError::Random => "the OS random source (getrandom) failed".to_string(),
        FillError::SlotTooSmall | FillError::Interrupted => {
            format!("internal error filling the secret ({e:?})")
        }
    }
}

/// Waits for a stop signal, end of stdin (with `until_eof`) or `deadline`, whichever first.
fn wait_until(
    sfd: &SignalFd,
    until_eof: bool,
    deadline: Instant,
) -> Result<Option<StopReason>, SgxError> {
    let stdin = std::io::stdin();
    let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
    if until_eof {
        fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(errno) => return Err(SgxError::Sys { op: "poll", errno }),
    }
    let ready = |i: usize| {
        fds.get(i)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty())
    };
    if ready(0) {
        if let Ok(Some(info)) = sfd.read_signal() {
            let signal = i32::try_from(info.ssi_signo)
                .ok()
                .and_then(|n| Signal::try_from(n).ok())
                .unwrap_or(Signal::SIGTERM);
            return Ok(Some(StopReason::Signal(signal)));
        }
    }
    if until_eof && ready(1) {
        let mut buf = zeroize::Zeroizing::new([0u8; 512]);
        match nix::unistd::read(libc::STDIN_FILENO, &mut buf[..]) {
            Ok(0) => return Ok(Some(StopReason::StdinEof)),
            Ok(_) | Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => return Ok(Some(StopReason::StdinEof)),
        }
    }
    Ok(None)
}
