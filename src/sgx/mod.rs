//! The SGX context: a real enclave of confidump's own, built, measured and signed at run time,
//! loaded through the kernel's driver, with no SDK.
//!
//! | file | job |
//! |---|---|
//! | `code`     | the code page: hand-written x86-64 (`store` copies the secret in, `use` checksums it, EEXIT) |
//! | `layout`   | the image: TCS, SSA frame, code page, data pages; page types and permissions |
//! | `measure`  | the SGXS stream and MRENCLAVE (`sgxs` crate) |
//! | `sign`     | SIGSTRUCT with a fresh RSA-3072 (e = 3) key, Q1/Q2 (`sgxs` + `rsa`) |
//! | `emit`     | `--emit-enclave DIR`: `enclave.sgxs` + `enclave.sig`, checkable anywhere |
//! | `uapi`     | the kernel's `asm/sgx.h`: ioctl structs and numbers, `struct sgx_enclave_run` |
//! | `vdso`     | finding `__vdso_sgx_enter_enclave` in the vDSO (goblin) |
//! | `loader`   | `/dev/sgx_enclave`: ECREATE, EADD+EEXTEND, EINIT, mmap, EENTER through the vDSO |
//! | `sim`      | the same image in ordinary memory, as an SDK's simulation mode runs it |
//! | `run`      | the victim: secret in once, host copy wiped, `use` once a second, ready line |
//! | `expectations` | what each attack path should give on SGX hardware, with the kernel lines |
//!
//! On a host without SGX everything up to and including the SIGSTRUCT is built and can be
//! checked (`--emit-enclave`, the tests); loading says "not available on this host: needs SGX
//! (...)" with the missing pieces: what the host needs is probed and judged, one prerequisite at a
//! time, by [`crate::host::sgx`], the words doctor and the runner print too.

pub mod code;
pub mod emit;
pub mod expectations;
pub mod facts;
pub mod layout;
pub mod loader;
pub mod measure;
pub mod run;
pub mod runner;
pub mod sign;
pub mod sim;
pub mod uapi;
pub mod victim;

pub use emit::{emit_enclave, Emitted};
pub use layout::EnclaveImage;
pub use run::{run, SgxVictimConfig, SgxVictimKind};

use nix::errno::Errno;

/// Errors of the SGX context.
#[derive(Debug, thiserror::Error)]
pub enum SgxError {
    /// The host lacks SGX; the text is [`super::facts::unavailable_reason`]'s.
    #[error("{0}")]
    NotAvailable(String),
    /// Building or measuring the image failed (a bug: the image is fixed).
    #[error("enclave image: {0}")]
    Image(String),
    /// Generating the key or signing failed.
    #[error("SIGSTRUCT: {0}")]
    Sign(String),
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op} failed: {errno}")]
    Sys {
        /// The call, with context.
        op: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// EINIT refused the enclave.
    #[error("EINIT refused the enclave: {name} ({code})")]
    Init {
        /// The SGX error code.
        code: i32,
        /// Its name.
        name: &'static str,
    },
    /// The vDSO lookup failed.
    #[error(transparent)]
    Vdso(#[from] crate::host::vdso::VdsoError),
    /// Entering the enclave failed or it did not exit normally.
    #[error("enclave call: {0}")]
    Enter(String),
    /// The enclave refused a command (status word).
    #[error("the enclave refused {0}")]
    Refused(&'static str),
    /// The host-side secret store failed.
    #[error(transparent)]
    Protect(#[from] crate::protect::ProtectError),
    /// Getting the secret failed.
    #[error("{0}")]
    Secret(String),
    /// The ready line could not be written.
    #[error(transparent)]
    Ready(#[from] crate::victim::ReadyError),
    /// Printing the ready line failed.
    #[error("cannot print the ready line")]
    Stdout(#[source] std::io::Error),
}
