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
        what: String,
    },
    /// No guest kernel.
    #[error("needs a guest kernel ({what}): run {fetch} or pass --kernel")]
    KernelMissing {
        /// What was looked for.
        what: String,
        /// The one command that fetches one ([`crate::host::HostFacts::fetch_kernel`]).
        fetch: String,
    },
    /// The mode makes no sense inside a guest.
    #[error("mode {0} is not supported in a VM (use plain or secretmem, or dontdump)")]
    Mode(&'static str),
    /// KVM was asked for but cannot be used.
    #[error("--accel kvm: /dev/kvm cannot be opened read-write: {0}")]
    Kvm(String),
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
    /// The guest reported an error instead of a ready line.
    #[error("the guest failed: {0}")]
    Guest(String),
}

pub(super) fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VmError {
    let path = path.to_path_buf();
    move |source| VmError::Io { what, path, source }
}
