//! The SGX victim as `confidump victim` starts it: which enclave the options ask for
//! (`--context sgx`, `--debug-enclave`, `--mode sgx-sim`), running it, and `--emit-enclave`.

use std::io::Write;
use std::path::Path;

use super::{emit_enclave, Emitted, SgxError, SgxVictimConfig, SgxVictimKind};
use crate::victim::{Mode, StopReason};

/// Where the victim was asked to run, as far as the SGX victim is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `--context sgx`.
    Sgx,
    /// `--context process` (the default).
    Process,
    /// Any other context.
    Other,
}

/// Errors of the SGX victim.
#[derive(Debug, thiserror::Error)]
pub enum SgxVictimError {
    /// `--context sgx` with a mode other than `plain`.
    #[error("--context sgx takes --mode plain (a production enclave; add --debug-enclave for a debug one)")]
    ContextTakesPlain,
    /// `--mode sgx-sim` in a context other than `process`.
    #[error("--mode sgx-sim runs with --context process")]
    SimTakesProcess,
    /// The enclave could not be built, loaded, run or written.
    #[error(transparent)]
    Sgx(#[from] SgxError),
    /// The summary of `--emit-enclave` could not be written.
    #[error(transparent)]
    Log(#[from] std::io::Error),
}

/// Which enclave `confidump victim` runs for `asked` and `mode` (`debug`: `--debug-enclave`).
pub fn kind(asked: Asked, mode: Mode, debug: bool) -> Result<SgxVictimKind, SgxVictimError> {
    match (asked, mode) {
        (Asked::Process, Mode::SgxSim) => Ok(SgxVictimKind::Sim),
        (Asked::Sgx, Mode::Plain) if debug => Ok(SgxVictimKind::Debug),
        (Asked::Sgx, Mode::Plain) => Ok(SgxVictimKind::Production),
        (Asked::Sgx, _) => Err(SgxVictimError::ContextTakesPlain),
        (_, _) => Err(SgxVictimError::SimTakesProcess),
    }
}

/// Runs the enclave victim until a stop signal (see [`super::run`]); the ready line goes to `out`.
pub fn run(config: &SgxVictimConfig, out: &mut dyn Write) -> Result<StopReason, SgxVictimError> {
    let reason = super::run(config, out)?;
    tracing::info!(?reason, "enclave victim stopped");
    Ok(reason)
}

/// `--emit-enclave DIR`: writes `DIR/enclave.sgxs` and `DIR/enclave.sig` and says so on `log`.
pub fn emit(dir: &Path, debug: bool, log: &mut dyn Write) -> Result<Emitted, SgxVictimError> {
    let e = emit_enclave(dir, debug)?;
    writeln!(log, "confidump: {}", emitted_line(&e))?;
    Ok(e)
}

/// What `--emit-enclave` says it wrote.
pub fn emitted_line(e: &Emitted) -> String {
    format!(
        "wrote {} and {} (MRENCLAVE {}, DEBUG {}, RSA-3072 key generated in {:.1} s)",
        e.sgxs.display(),
        e.sig.display(),
        hex::encode(e.mrenclave),
        if e.debug { "set" } else { "clear" },
        e.keygen_secs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_follows_context_mode_and_debug() {
        use SgxVictimKind::*;
        assert_eq!(kind(Asked::Process, Mode::SgxSim, false).unwrap(), Sim);
        assert_eq!(kind(Asked::Sgx, Mode::Plain, false).unwrap(), Production);
        assert_eq!(kind(Asked::Sgx, Mode::Plain, true).unwrap(), Debug);
    }

    #[test]
    fn kind_refuses_other_pairs_with_the_flags_to_use() {
        for mode in [Mode::SecretMem, Mode::SgxSim] {
            let e = kind(Asked::Sgx, mode, false).unwrap_err();
            assert!(e
                .to_string()
                .starts_with("--context sgx takes --mode plain"));
        }
        let e = kind(Asked::Other, Mode::SgxSim, false).unwrap_err();
        assert_eq!(e.to_string(), "--mode sgx-sim runs with --context process");
    }

    #[test]
    fn emitted_line_names_both_files_and_the_debug_bit() {
        let e = Emitted {
            sgxs: "/d/enclave.sgxs".into(),
            sig: "/d/enclave.sig".into(),
            mrenclave: [0xab; 32],
            debug: true,
            keygen_secs: 1.34,
        };
        let line = emitted_line(&e);
        assert!(line.starts_with("wrote /d/enclave.sgxs and /d/enclave.sig (MRENCLAVE abab"));
        assert!(
            line.ends_with(", DEBUG set, RSA-3072 key generated in 1.3 s)"),
            "{line}"
        );
    }
}
