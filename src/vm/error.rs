//! The errors of the VM context, each a sentence naming the step and the path.

use std::path::{Path, PathBuf};

use super::cpio;

/// Errors of the VM context.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// No QEMU.
    #[error("needs QEMU: apt-get install qemu-system-x86 ({what})")]
    QemuMissing {
        /// What was looked for.
        what: crate::host::ProbeError,
    },
    /// No guest kernel.
    #[error("needs a guest kernel ({what}): run {fetch} or pass --kernel")]
    KernelMissing {
        /// What was looked for.
        what: KernelLookup,
        /// The one command that fetches one ([`crate::host::HostFacts::fetch_kernel`]).
        fetch: String,
    },
    /// The mode makes no sense inside a guest.
    #[error("mode {0} is not supported in a VM (use plain or secretmem, or dontdump)")]
    Mode(&'static str),
    /// KVM was asked for but cannot be used.
    #[error("--accel kvm: /dev/kvm cannot be opened read-write: {0}")]
    Kvm(crate::host::ProbeError),
    /// A confidential-VM profile lacks hardware or software.
    #[error("{0}")]
    CvmUnavailable(String),
    /// No static init.
    #[error(transparent)]
    Init(#[from] crate::isolate::init::InitError),
    /// Building the initramfs failed.
    #[error(transparent)]
    Cpio(#[from] cpio::CpioError),
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
    /// A file of ours (the initramfs) could not be created or published.
    #[error(transparent)]
    Output(#[from] crate::coredump::output::OutputError),
    /// QEMU could not be started.
    #[error("starting {qemu}: {source}")]
    Spawn {
        /// The binary.
        qemu: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// QEMU ended before the guest was ready.
    #[error("QEMU ({accel}) exited before the guest was ready; QEMU said: {stderr}; last console lines:\n{console}")]
    Exited {
        /// Accelerator.
        accel: &'static str,
        /// QEMU's stderr, last lines.
        stderr: String,
        /// The console, last lines.
        console: String,
    },
    /// The guest did not become ready in time; QEMU was killed.
    #[error("the guest ({accel}) was not ready after {secs} s; QEMU was killed; last console lines:\n{console}")]
    BootTimeout {
        /// Accelerator.
        accel: &'static str,
        /// The timeout.
        secs: u64,
        /// QEMU's stderr so far, last lines (` | `-joined; a nested KVM guest's MSR error).
        stderr: String,
        /// The console, last lines.
        console: String,
    },
    /// The guest reported an error instead of a ready line, or could not be brought to one.
    #[error("the guest failed: {0}")]
    Guest(#[from] GuestFailure),
}

/// Where a guest kernel was looked for, and why it was not there.
#[derive(Debug, thiserror::Error)]
pub enum KernelLookup {
    /// The kernel named with `--kernel` does not open.
    #[error("{}: {source}", .path.display())]
    Named {
        /// The kernel named.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No kernel was named and the host has none ([`crate::host::HostFacts::guest_kernel`]).
    #[error(transparent)]
    Host(crate::host::ProbeError),
}

/// How a guest failed to become ready (what follows `the guest failed: `).
#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    /// The guest said so on its console, or its ready line was not one.
    #[error(transparent)]
    Console(#[from] super::guest::ConsoleError),
    /// No start line could be made for it.
    #[error(transparent)]
    StartLine(#[from] super::start::StartError),
    /// The start line could not be written to the guest's console.
    #[error("sending the start line: {0}")]
    Send(#[source] std::io::Error),
    /// The console ended without a ready line.
    #[error("no ready line")]
    NoReadyLine,
    /// No accelerator was tried.
    #[error("no boot attempt")]
    NoAttempt,
    /// A guest meant to wait for its start line started a victim on its own.
    #[error("the guest's victim started before the host named it")]
    StartedEarly,
    /// QEMU could not be asked whether the restored guest runs.
    #[error("restoring the saved guest: {0}")]
    Restore(#[source] super::qmp::QmpError),
    /// The restored guest is in a state other than running.
    #[error("restoring the saved guest: QEMU is {0}, not running")]
    NotRunning(String),
}

pub(super) fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VmError {
    let path = path.to_path_buf();
    move |source| VmError::Io { what, path, source }
}
