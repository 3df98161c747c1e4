//! The VM victim as `confidump victim --context vm` runs it: boot the guest, announce the
//! host-side ready line, wait for a stop, power the guest off; and `--dry-run`, which prints
//! the QEMU command line instead.

use std::io::Write;
use std::path::PathBuf;

use nix::errno::Errno;

use super::dryrun::DryRun;
use super::{StopOutcome, VmError, VmOptions, VmReady, VmVictim, STARTED_SNAPSHOT};
use crate::victim::announce::{announce, block_stop_signals, AnnounceError};
use crate::victim::{wait_for_stop, Generator, SecretSource, StopReason, VictimError};

/// Everything [`run`] needs.
#[derive(Debug, Clone)]
pub struct VmVictimOptions {
    /// The guest and its victim.
    pub vm: VmOptions,
    /// Where the secret comes from: only a generated canary, made inside the guest.
    pub source: SecretSource,
    /// Also write the ready line here (0600, atomically).
    pub ready_file: Option<PathBuf>,
    /// Also stop at end of stdin.
    pub until_eof: bool,
}

/// The output of `--dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRunFormat {
    /// The program, then one argument per line.
    Text,
    /// The [`DryRun`] as pretty JSON.
    Json,
}

/// Errors of the VM victim.
#[derive(Debug, thiserror::Error)]
pub enum VmVictimError {
    /// A secret that would pass through the host was asked for.
    #[error("--context vm generates the secret inside the guest (it never passes through the host): --secret-file/--secret-stdin/--secret-arg are not available")]
    SecretFromHost,
    /// A generator other than the canary was asked for.
    #[error("--context vm: only --generate canary is supported")]
    OnlyCanary,
    /// The stop signals could not be blocked or read.
    #[error(transparent)]
    Signals(#[from] Errno),
    /// The guest could not be started (or its command line built).
    #[error(transparent)]
    Vm(#[from] VmError),
    /// The ready line could not be announced.
    #[error(transparent)]
    Announce(#[from] AnnounceError),
    /// Waiting for a stop failed.
    #[error(transparent)]
    Wait(#[from] VictimError),
    /// QEMU exited while the victim waited.
    #[error("QEMU exited unexpectedly; last console lines:\n{console}")]
    QemuExited {
        /// The guest console's last lines.
        console: String,
    },
    /// Stdout or stderr could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The dry run could not be written as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The secret sources a VM victim takes: a canary generated inside the guest.
pub fn check_source(source: &SecretSource) -> Result<(), VmVictimError> {
    match source {
        SecretSource::Generate(Generator::Canary) => Ok(()),
        SecretSource::Generate(Generator::Pan) => Err(VmVictimError::OnlyCanary),
        _ => Err(VmVictimError::SecretFromHost),
    }
}

/// Boots the guest, announces the ready line on `out` (and the ready file), says what happens
/// on `log` (stderr), waits for a stop signal (or the end of stdin, or QEMU's exit) and powers
/// the guest off.
pub fn run(
    opts: &VmVictimOptions,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), VmVictimError> {
    check_source(&opts.source)?;
    // Blocked from now on, so that a SIGTERM during boot stops the victim right after the
    // ready line.
    let sfd = block_stop_signals()?;
    let vm = VmVictim::start(&opts.vm)?;
    for note in vm.notes() {
        writeln!(log, "confidump: {note}")?;
    }
    let ready = vm.ready();
    writeln!(log, "confidump: {}", ready_note(ready))?;
    announce(&ready.to_json(), opts.ready_file.as_deref(), out)?;

    let why = match wait_for_stop(&sfd, opts.until_eof, vm.exit_fd())? {
        StopReason::Signal(_) => "signal",
        StopReason::StdinEof => "end of stdin",
        StopReason::Exited => {
            return Err(VmVictimError::QemuExited {
                console: vm.console_tail(),
            })
        }
    };
    tracing::info!(why, "stopping the guest");
    match vm.stop() {
        StopOutcome::PoweredOff => writeln!(log, "confidump: guest powered off ({why})")?,
        StopOutcome::Killed => writeln!(
            log,
            "confidump: guest did not power off in time: QEMU killed"
        )?,
    }
    Ok(())
}

/// What the victim says on stderr when its guest is ready.
pub fn ready_note(ready: &VmReady) -> String {
    format!(
        "guest ready under {} in {:.1} s{} (QEMU pid {}, guest pid {}, kernel {})",
        ready.accel,
        ready.boot_secs,
        if ready.started == STARTED_SNAPSHOT {
            ", restored from the saved booted guest"
        } else {
            ""
        },
        ready.qemu_pid,
        ready.guest_pid,
        ready.guest_kernel.as_deref().unwrap_or("?")
    )
}

/// `--dry-run`: writes the QEMU command line for `opts` to `out` and, as text, what its
/// placeholders stand for and what this host lacks to `log`.
pub fn dry_run(
    opts: &VmOptions,
    format: DryRunFormat,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), VmVictimError> {
    let dry = super::dryrun::dry_run(opts)?;
    write_dry_run(&dry, format, out, log)
}

/// Writes a dry run (see [`dry_run`]).
pub fn write_dry_run(
    dry: &DryRun,
    format: DryRunFormat,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), VmVictimError> {
    match format {
        DryRunFormat::Text => {
            out.write_all(dry.to_lines().as_bytes())?;
            for p in &dry.placeholders {
                writeln!(log, "confidump: {} stands for {}", p.name, p.meaning)?;
            }
            if !dry.missing.is_empty() {
                writeln!(
                    log,
                    "confidump: dry run only: this host lacks {}",
                    dry.missing.join("; ")
                )?;
            }
        }
        DryRunFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(dry)?)?,
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    #[test]
    fn only_a_generated_canary_is_taken() {
        assert!(check_source(&SecretSource::Generate(Generator::Canary)).is_ok());
        assert!(matches!(
            check_source(&SecretSource::Generate(Generator::Pan)),
            Err(VmVictimError::OnlyCanary)
        ));
        for source in [
            SecretSource::Stdin,
            SecretSource::File("/s".into()),
            SecretSource::Arg(Zeroizing::new(b"x".to_vec())),
        ] {
            let e = check_source(&source).unwrap_err();
            assert!(e
                .to_string()
                .starts_with("--context vm generates the secret inside"));
        }
    }

    fn sample() -> DryRun {
        DryRun {
            program: "qemu-system-x86_64".into(),
            args: vec!["-m".into(), "128".into()],
            placeholders: vec![],
            cvm: None,
            missing: vec!["KVM".into(), "OVMF".into()],
        }
    }

    #[test]
    fn text_dry_run_has_the_command_on_out_and_what_is_missing_on_log() {
        let (mut out, mut log) = (Vec::new(), Vec::new());
        write_dry_run(&sample(), DryRunFormat::Text, &mut out, &mut log).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), sample().to_lines());
        assert_eq!(
            String::from_utf8(log).unwrap(),
            "confidump: dry run only: this host lacks KVM; OVMF\n"
        );
    }

    #[test]
    fn json_dry_run_is_one_pretty_object_and_says_nothing_else() {
        let (mut out, mut log) = (Vec::new(), Vec::new());
        write_dry_run(&sample(), DryRunFormat::Json, &mut out, &mut log).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["program"], "qemu-system-x86_64");
        assert_eq!(v["missing"][1], "OVMF");
        assert!(log.is_empty());
    }
}
