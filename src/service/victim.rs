//! The service victim as `confidump victim --context service` runs it: start a private
//! PostgreSQL, store a fresh canary as its client, announce the ready line, wait for a stop,
//! then stop the server and remove its directory.

use std::io::Write;
use std::path::PathBuf;

use nix::errno::Errno;

use super::{ServiceError, ServiceOptions, ServiceReady, ServiceVictim, StopOutcome, Store};
use crate::victim::announce::{announce, block_stop_signals, AnnounceError};
use crate::victim::{wait_for_stop, Generator, Mode, SecretSource, StopReason, VictimError};

/// Everything [`run`] needs, as `confidump victim` was given it ([`check`] says what is
/// missing or does not apply).
#[derive(Debug, Clone)]
pub struct ServiceVictimOptions {
    /// Where the secret comes from: only a canary, generated in the client.
    pub source: SecretSource,
    /// A victim mode: does not apply (the store says how the secret is kept).
    pub mode: Option<Mode>,
    /// How the client stores the secret (required).
    pub store: Option<Store>,
    /// PostgreSQL's bin directory; `None`: PATH, then `/usr/lib/postgresql/*/bin`.
    pub bindir: Option<PathBuf>,
    /// The server logs every statement with its parameters (the pitfall).
    pub statement_log: bool,
    /// Also write the ready line here (0600, atomically).
    pub ready_file: Option<PathBuf>,
    /// Also stop at end of stdin.
    pub until_eof: bool,
}

/// Errors of the service victim.
#[derive(Debug, thiserror::Error)]
pub enum ServiceVictimError {
    /// A secret from outside the client was asked for.
    #[error("--context service generates a fresh canary in the client: --secret-file/--secret-stdin/--secret-arg are not available")]
    SecretFromOutside,
    /// A generator other than the canary was asked for.
    #[error("--context service: only --generate canary is supported")]
    OnlyCanary,
    /// A victim mode was given.
    #[error("--context service takes --store, not --mode")]
    ModeGiven,
    /// No store was given.
    #[error("--context service needs --store plaintext|server-encrypted|client-encrypted")]
    NoStore,
    /// The stop signals could not be blocked or read.
    #[error(transparent)]
    Signals(#[from] Errno),
    /// The server or its client failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The ready line could not be announced.
    #[error(transparent)]
    Announce(#[from] AnnounceError),
    /// Waiting for a stop failed.
    #[error(transparent)]
    Wait(#[from] VictimError),
    /// The server exited while the victim waited.
    #[error("the PostgreSQL server exited unexpectedly")]
    ServerExited,
    /// Stderr could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The options [`run`] starts the server with, or what is wrong with `opts`.
pub fn check(opts: &ServiceVictimOptions) -> Result<ServiceOptions, ServiceVictimError> {
    match opts.source {
        SecretSource::Generate(Generator::Canary) => {}
        SecretSource::Generate(Generator::Pan) => return Err(ServiceVictimError::OnlyCanary),
        _ => return Err(ServiceVictimError::SecretFromOutside),
    }
    if opts.mode.is_some() {
        return Err(ServiceVictimError::ModeGiven);
    }
    let store = opts.store.ok_or(ServiceVictimError::NoStore)?;
    let mut service = ServiceOptions::new(store);
    service.instance.bindir.clone_from(&opts.bindir);
    service.instance.statement_log = opts.statement_log;
    Ok(service)
}

/// Starts the server and its client, announces the ready line on `out` (and the ready file),
/// says what happens on `log` (stderr), waits for a stop signal (or the end of stdin, or the
/// server's exit), then stops the server and removes its directory.
pub fn run(
    opts: &ServiceVictimOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), ServiceVictimError> {
    let service = check(opts)?;
    // Blocked before the server starts (its children get an empty mask from std), so that a
    // stop signal during the start is acted on right after the ready line.
    let sfd = block_stop_signals()?;
    let svc = ServiceVictim::start(&service)?;
    for note in svc.notes() {
        writeln!(log, "confidump: {note}")?;
    }
    let ready = svc.ready();
    writeln!(log, "confidump: {}", ready_note(ready))?;
    announce(&ready.to_json(), opts.ready_file.as_deref(), out)?;

    // A server that dies under us ends the wait too (its postmaster's pidfd).
    let why = match wait_for_stop(&sfd, opts.until_eof, svc.exit_fd())? {
        StopReason::Signal(_) => "signal",
        StopReason::StdinEof => "end of stdin",
        StopReason::Exited => {
            drop(svc);
            return Err(ServiceVictimError::ServerExited);
        }
    };
    let t = std::time::Instant::now();
    let how = match svc.stop()? {
        StopOutcome::Fast => "shut down",
        StopOutcome::Immediate => "shut down (immediate)",
        StopOutcome::Killed => "did not shut down in time: killed",
        StopOutcome::AlreadyExited => "had already exited",
    };
    writeln!(
        log,
        "confidump: PostgreSQL {how} and removed in {:.1} s ({why})",
        t.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// What the victim says on stderr when its server and client are ready.
pub fn ready_note(ready: &ServiceReady) -> String {
    format!(
        "{} ready in {:.1} s as user {} (postmaster pid {}, client backend pid {}, data {})",
        ready.server_version.as_deref().unwrap_or("PostgreSQL"),
        ready.start_secs,
        ready.server_user,
        ready.pids.server.first().copied().unwrap_or(0),
        ready.pids.backend,
        ready.data_dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ServiceVictimOptions {
        ServiceVictimOptions {
            source: SecretSource::Generate(Generator::Canary),
            mode: None,
            store: Some(Store::ClientEncrypted),
            bindir: Some("/opt/pg/bin".into()),
            statement_log: true,
            ready_file: None,
            until_eof: false,
        }
    }

    #[test]
    fn check_hands_store_bindir_and_statement_log_to_the_server() {
        let s = check(&opts()).unwrap();
        assert_eq!(s.store, Store::ClientEncrypted);
        assert_eq!(s.instance.bindir.as_deref(), Some("/opt/pg/bin".as_ref()));
        assert!(s.instance.statement_log);
    }

    #[test]
    fn check_refuses_what_does_not_apply_in_order() {
        let mut o = opts();
        o.store = None;
        assert!(matches!(check(&o), Err(ServiceVictimError::NoStore)));
        o.mode = Some(Mode::Plain);
        assert!(matches!(check(&o), Err(ServiceVictimError::ModeGiven)));
        o.source = SecretSource::Generate(Generator::Pan);
        assert!(matches!(check(&o), Err(ServiceVictimError::OnlyCanary)));
        o.source = SecretSource::Stdin;
        assert!(matches!(
            check(&o),
            Err(ServiceVictimError::SecretFromOutside)
        ));
    }
}
