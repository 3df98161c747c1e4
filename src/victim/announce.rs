//! What the victim of every context (`confidump victim --context …`) does around its start:
//! block its stop signals before starting anything, and announce its ready line once the
//! victim is up. One place, so that the vm, container and service victims cannot drift.

use std::io::Write;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::{write_ready_file, ReadyError};

/// Errors of [`announce`].
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    /// The ready file could not be written.
    #[error(transparent)]
    Ready(#[from] ReadyError),
    /// Stdout could not be written.
    #[error(transparent)]
    Stdout(#[from] std::io::Error),
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread and returns a signalfd that reads them.
/// Called before the victim's server, guest or container starts, so that a stop signal that
/// arrives during the start is not lost: it stops the victim right after the ready line.
/// Children started later get an empty mask from std.
pub fn block_stop_signals() -> Result<SignalFd, Errno> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)
}

/// Announces a context's ready line: to `ready_file` (0600, never over another file) and on
/// `out` (stdout, where the caller waits for it), flushed.
pub fn announce(
    line: &str,
    ready_file: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), AnnounceError> {
    if let Some(path) = ready_file {
        write_ready_file(path, line)?;
    }
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announce_writes_the_line_to_out_and_to_the_ready_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        let mut out = Vec::new();
        announce("{\"event\":\"ready\"}", Some(&path), &mut out).unwrap();
        assert_eq!(out, b"{\"event\":\"ready\"}\n");
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written.trim_end(), "{\"event\":\"ready\"}");
    }

    #[test]
    fn announce_never_writes_over_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        std::fs::write(&path, "theirs").unwrap();
        let mut out = Vec::new();
        assert!(announce("line", Some(&path), &mut out).is_err());
        assert!(
            out.is_empty(),
            "nothing announced when the ready file failed"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "theirs");
    }
}
