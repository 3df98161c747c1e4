//! The container victim as `confidump victim --context container` runs it: start the victim
//! in a container, announce the host-side ready line, wait for a stop signal (or the end of
//! stdin), then stop it and remove the container and its bundle.

use std::io::Write;
use std::path::PathBuf;

use nix::errno::Errno;

use super::{ContainerError, ContainerOptions, ContainerVictim, Runtime, SecretDelivery};
use super::{ContainerReady, StopOutcome};
use crate::victim::announce::{announce, block_stop_signals, AnnounceError};
use crate::victim::{wait_for_stop, Mode, SecretSource, StopReason, VictimError};

/// Everything [`run`] needs.
#[derive(Debug, Clone)]
pub struct ContainerVictimOptions {
    /// What makes the container.
    pub runtime: Runtime,
    /// The victim mode inside it.
    pub mode: Mode,
    /// Where the secret comes from ([`delivery`] says how it reaches the victim).
    pub source: SecretSource,
    /// Also write the ready line here (0600, atomically).
    pub ready_file: Option<PathBuf>,
    /// Also stop at end of stdin (relayed: the victim's stdin is closed at ours' end).
    pub until_eof: bool,
}

/// Errors of the container victim.
#[derive(Debug, thiserror::Error)]
pub enum ContainerVictimError {
    /// The stop signals could not be blocked or read.
    #[error(transparent)]
    Signals(#[from] Errno),
    /// The container could not be started.
    #[error("starting the victim in a {runtime} container")]
    Start {
        /// The runtime's name.
        runtime: &'static str,
        /// The cause.
        source: ContainerError,
    },
    /// The ready line could not be announced.
    #[error(transparent)]
    Announce(#[from] AnnounceError),
    /// Waiting for a stop failed.
    #[error(transparent)]
    Wait(#[from] VictimError),
    /// The victim exited while we waited, and not because we closed its stdin.
    #[error("the container's victim exited unexpectedly; its last messages:\n{tail}")]
    VictimExited {
        /// The last lines the runtime and the victim wrote on stderr.
        tail: String,
    },
    /// Stderr could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How a secret from `source` reaches the victim inside the container.
pub fn delivery(source: &SecretSource) -> SecretDelivery {
    match source {
        SecretSource::Generate(g) => SecretDelivery::Generate(*g),
        SecretSource::File(path) => SecretDelivery::File(path.clone()),
        SecretSource::Stdin => SecretDelivery::Stdin,
        SecretSource::Arg(bytes) => SecretDelivery::Arg(bytes.clone()),
        SecretSource::Given(bytes) => SecretDelivery::Bytes(bytes.clone()),
    }
}

/// Starts the container, announces the ready line on `out` (and the ready file), says what
/// happens on `log` (stderr), waits for a stop, then stops and removes the container.
pub fn run(
    opts: &ContainerVictimOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), ContainerVictimError> {
    let runtime = opts.runtime;
    // Blocked from now on, so that a stop signal arriving while the container starts is not
    // lost (it stops the victim right after the ready line).
    let sfd = block_stop_signals()?;
    let mut start = ContainerOptions::new(runtime, opts.mode);
    start.secret = delivery(&opts.source);
    start.until_eof = opts.until_eof;
    let ctr = ContainerVictim::start(&start).map_err(|source| ContainerVictimError::Start {
        runtime: runtime.as_str(),
        source,
    })?;
    let ready = ctr.ready();
    writeln!(log, "confidump: {}", ready_note(runtime, ready))?;
    announce(&ready.to_json(), opts.ready_file.as_deref(), out)?;

    // Our stdin is the relay's (--until-eof closes the victim's stdin at its end), so only a
    // signal or the victim's exit ends the wait.
    let why = match wait_for_stop(&sfd, false, ctr.exit_fd())? {
        StopReason::Signal(_) => "signal",
        StopReason::StdinEof | StopReason::Exited => {
            let closed_by_us = ctr.lifeline().lock().map(|l| l.is_none()).unwrap_or(false);
            if closed_by_us {
                "end of stdin"
            } else {
                let tail = ctr.stderr_tail();
                drop(ctr);
                return Err(ContainerVictimError::VictimExited { tail });
            }
        }
    };
    tracing::info!(why, "stopping the container");
    match ctr.stop() {
        StopOutcome::Stopped | StopOutcome::AlreadyExited => {
            writeln!(log, "confidump: container stopped and removed ({why})")?
        }
        StopOutcome::Killed => writeln!(
            log,
            "confidump: the victim did not stop in time: killed; container removed"
        )?,
    }
    Ok(())
}

/// What the victim says on stderr when the container's victim is ready.
pub fn ready_note(runtime: Runtime, ready: &ContainerReady) -> String {
    format!(
        "victim ready in {} container {} (host pid {}, pid {} inside)",
        runtime.as_str(),
        ready.container.id,
        ready.ready.pid,
        ready.container.pid_in_container
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::victim::Generator;
    use zeroize::Zeroizing;

    #[test]
    fn each_source_has_its_delivery() {
        assert!(matches!(
            delivery(&SecretSource::Generate(Generator::Pan)),
            SecretDelivery::Generate(Generator::Pan)
        ));
        assert!(matches!(
            delivery(&SecretSource::File("/s".into())),
            SecretDelivery::File(p) if p == std::path::Path::new("/s")
        ));
        assert!(matches!(
            delivery(&SecretSource::Stdin),
            SecretDelivery::Stdin
        ));
        assert!(matches!(
            delivery(&SecretSource::Arg(Zeroizing::new(b"a".to_vec()))),
            SecretDelivery::Arg(b) if b.as_slice() == b"a"
        ));
        assert!(matches!(
            delivery(&SecretSource::Given(Zeroizing::new(b"g".to_vec()))),
            SecretDelivery::Bytes(b) if b.as_slice() == b"g"
        ));
    }
}
