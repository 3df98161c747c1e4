//! Why a fact of this host is missing ([`ProbeError`]): what was looked for, or the error the
//! probe met, each a sentence that doctor and the `n/a` reasons quote as they are.
//!
//! The facts are plain data that every reader shares and tests copy and change, so the error
//! is `Clone` (an I/O error is held in an `Arc`) and compares by what it says.

use std::path::PathBuf;
use std::sync::Arc;

use super::qemu::QEMU_BINARY;

/// Why a fact of this host is missing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    /// A device did not open as it must (`/dev/kvm`, `/dev/sgx_enclave`, read-write).
    #[error("{source}")]
    Open {
        /// The device.
        path: &'static str,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// A `memfd_secret` store could not be created or mapped: the store's error, hint included.
    #[error("{0}")]
    MemfdSecret(Arc<crate::protect::ProtectError>),
    /// `$CONFIDUMP_QEMU` names no executable file (an explicit override never falls back).
    #[error("$CONFIDUMP_QEMU={} is not an executable file", .0.display())]
    QemuOverride(PathBuf),
    /// No QEMU on `PATH`.
    #[error("no executable {QEMU_BINARY} on PATH")]
    NoQemu,
    /// No guest kernel: neither the host's nor a fetched one (in `cache`).
    #[error(
        "no readable /boot/vmlinuz-$(uname -r), nothing in {}",
        .cache.as_ref().map_or_else(
            || "~/.cache/confidump/guest-kernel".to_string(),
            |d| d.display().to_string()
        )
    )]
    NoGuestKernel {
        /// Where a fetched kernel would be ([`super::qemu::kernel_cache_dir`]).
        cache: Option<PathBuf>,
    },
    /// PostgreSQL's server programs are not together in one directory.
    #[error("no initdb, pg_ctl and postgres together on PATH or in /usr/lib/postgresql/*/bin")]
    NoPostgres,
    /// A reason given as text: a fake host's (tests change one fact at a time), built with
    /// `"…".into()`.
    #[error("{0}")]
    Said(String),
}

impl ProbeError {
    /// `path` did not open: `source` says why.
    pub fn open(path: &'static str, source: std::io::Error) -> Self {
        ProbeError::Open {
            path,
            source: Arc::new(source),
        }
    }
}

/// Two reasons are the same when they say the same thing (an I/O error has no equality).
impl PartialEq for ProbeError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for ProbeError {}

impl From<&str> for ProbeError {
    fn from(text: &str) -> Self {
        ProbeError::Said(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_before() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            ProbeError::open("/dev/kvm", e).to_string(),
            "No such file or directory (os error 2)"
        );
        assert_eq!(
            ProbeError::NoQemu.to_string(),
            "no executable qemu-system-x86_64 on PATH"
        );
        assert_eq!(
            ProbeError::QemuOverride("/x/qemu".into()).to_string(),
            "$CONFIDUMP_QEMU=/x/qemu is not an executable file"
        );
        assert_eq!(
            ProbeError::NoGuestKernel {
                cache: Some("/c/guest-kernel".into())
            }
            .to_string(),
            "no readable /boot/vmlinuz-$(uname -r), nothing in /c/guest-kernel"
        );
        assert_eq!(
            ProbeError::from("ENOENT"),
            ProbeError::Said("ENOENT".into())
        );
    }
}
