//! The process victim as `confidump victim` (`--context process`, the default) runs it: this
//! process holds the secret in the protection its mode names ([`crate::victim::run`]).

use std::io::Write;

use crate::victim::{self, StopReason, VictimConfig, VictimError};

/// Errors of the process victim.
#[derive(Debug, thiserror::Error)]
pub enum ProcessVictimError {
    /// The victim failed (a mode this victim does not run included: `NoSuchMode`).
    #[error(transparent)]
    Victim(#[from] VictimError),
}

/// Runs the victim until a stop signal (or the end of stdin); the ready line goes to `out`.
pub fn run(config: &VictimConfig, out: &mut dyn Write) -> Result<StopReason, ProcessVictimError> {
    let reason = victim::run(config, out)?;
    tracing::info!(?reason, "victim stopped");
    Ok(reason)
}
