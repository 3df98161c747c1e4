//! Victim-side secret stores: ordinary heap, hygiene flags, `memfd_secret`.
//!
//! A store answers three questions, and keeps them separate on purpose:
//!
//! * where the secret's bytes live (its *slot*, inside [`SecretStore::region`]);
//! * where scratch results of processing may be written (hashes, random bytes);
//! * on which stack the processing runs (a [`WorkStack`] inside the protected mapping, or
//!   none: the caller's own stack).
//!
//! [`SecretStore::parts`] hands out all three as disjoint borrows. A victim that wants to show a
//! pitfall (a `memfd_secret` store whose secret is processed on an ordinary stack) just ignores
//! the store's stack and scratch and uses ordinary ones: storage and processing are independent.
//!
//! Backends:
//!
//! | [`Protection`] | memory | what it stops |
//! |---|---|---|
//! | `Plain` | the ordinary heap | nothing |
//! | `DontDump` | `mmap` + `MADV_DONTDUMP` + `mlock`, process made non-dumpable | core dumps and gdb's default `gcore`; not a live read by root |
//! | `SecretMem` | `memfd_secret(2)` | every read through the kernel (`/proc/PID/mem`, `process_vm_readv`, dumps) |

mod area;
mod dontdump;
mod plain;
mod secretmem;
mod stack;

use crate::model::Span;

pub use dontdump::DontDumpStore;
pub use plain::PlainStore;
pub use secretmem::SecretMemStore;
pub use stack::{run_on, WorkStack};

/// Largest secret a store holds, in bytes.
pub const MAX_SECRET_LEN: usize = 4096;

/// Bytes of the slot that holds the secret. Larger than [`MAX_SECRET_LEN`] so that a reader can
/// pull in a trailing newline, or one byte too many, and still tell "too long" from "just fits"
/// without the extra bytes ever landing outside the store.
pub const SLOT_LEN: usize = MAX_SECRET_LEN + 64;

/// Bytes of scratch space for results of processing (digests, random bytes).
pub const SCRATCH_LEN: usize = 4096;

/// Bytes of the work stack in the mapped backends. SHA-256 and HMAC need a few KiB; debug builds
/// of them much more, hence the margin.
pub const WORK_STACK_LEN: usize = 256 * 1024;

/// Errors of the secret stores.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    /// The kernel does not offer `memfd_secret(2)`.
    #[error("memfd_secret is not available (ENOSYS): {detail}")]
    SecretMemUnavailable {
        /// Why, as far as it can be told from this side.
        detail: String,
    },
    /// Locking memory failed, most likely on RLIMIT_MEMLOCK.
    #[error(
        "{op} of {len} bytes failed ({errno}): locked memory counts against RLIMIT_MEMLOCK \
         (now soft {soft}, hard {hard}); raise it (`ulimit -l`) or run with CAP_IPC_LOCK"
    )]
    MemlockLimit {
        /// The call that failed.
        op: &'static str,
        /// Bytes asked for.
        len: usize,
        /// What the kernel said.
        errno: nix::errno::Errno,
        /// Current soft limit, as text (`unlimited` or bytes).
        soft: String,
        /// Current hard limit, as text.
        hard: String,
    },
    /// Another system call failed.
    #[error("{op} failed: {errno}")]
    Sys {
        /// The call that failed, with context.
        op: &'static str,
        /// What the kernel said.
        errno: nix::errno::Errno,
    },
    /// Code run on a work stack panicked; the panic was caught before it could unwind off the
    /// switched stack (which would be undefined behaviour).
    #[error("processing on the protected stack panicked")]
    WorkPanicked,
}

/// Which kind of memory holds the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protection {
    /// Ordinary heap memory.
    Plain,
    /// `MADV_DONTDUMP` + `mlock` + `PR_SET_DUMPABLE=0`: hygiene, not isolation.
    DontDump,
    /// `memfd_secret(2)`: pages removed from the kernel's direct map.
    SecretMem,
}

impl Protection {
    /// The name used on the command line and in the ready line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protection::Plain => "plain",
            Protection::DontDump => "dontdump",
            Protection::SecretMem => "secretmem",
        }
    }
}

/// Disjoint borrows of a store's parts, so that the secret can be read while scratch results
/// are written and the stack is in use, all at once. `Debug` shows sizes, never bytes.
pub struct StoreParts<'a> {
    /// The secret's slot, [`SLOT_LEN`] bytes; the secret is a prefix of it.
    pub slot: &'a mut [u8],
    /// Scratch space, [`SCRATCH_LEN`] bytes, in the same kind of memory as the slot.
    pub scratch: &'a mut [u8],
    /// A stack in the same kind of memory, or `None` (plain): run on the caller's stack.
    pub stack: Option<WorkStack<'a>>,
}

impl std::fmt::Debug for StoreParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreParts")
            .field(
                "slot",
                &format_args!("[REDACTED; {} bytes]", self.slot.len()),
            )
            .field("scratch", &format_args!("[{} bytes]", self.scratch.len()))
            .field("stack", &self.stack)
            .finish()
    }
}

/// A secret store of any backend.
#[derive(Debug)]
pub enum SecretStore {
    /// See [`PlainStore`].
    Plain(PlainStore),
    /// See [`DontDumpStore`].
    DontDump(DontDumpStore),
    /// See [`SecretMemStore`].
    SecretMem(SecretMemStore),
}

impl SecretStore {
    /// Creates an empty (zeroed) store of the given kind.
    pub fn new(protection: Protection) -> Result<Self, ProtectError> {
        Ok(match protection {
            Protection::Plain => SecretStore::Plain(PlainStore::new()),
            Protection::DontDump => SecretStore::DontDump(DontDumpStore::new()?),
            Protection::SecretMem => SecretStore::SecretMem(SecretMemStore::new()?),
        })
    }

    /// Which backend this is.
    pub fn protection(&self) -> Protection {
        match self {
            SecretStore::Plain(_) => Protection::Plain,
            SecretStore::DontDump(_) => Protection::DontDump,
            SecretStore::SecretMem(_) => Protection::SecretMem,
        }
    }

    /// The address range holding the secret: the whole mapping for the mapped backends (what
    /// an attacker sees in `/proc/PID/maps`), the slot's allocation for plain.
    pub fn region(&self) -> Span {
        match self {
            SecretStore::Plain(s) => s.region(),
            SecretStore::DontDump(s) => s.region(),
            SecretStore::SecretMem(s) => s.region(),
        }
    }

    /// Slot, scratch and work stack, borrowed together.
    pub fn parts(&mut self) -> StoreParts<'_> {
        match self {
            SecretStore::Plain(s) => s.parts(),
            SecretStore::DontDump(s) => s.parts(),
            SecretStore::SecretMem(s) => s.parts(),
        }
    }
}

/// Current RLIMIT_MEMLOCK as text, for error messages.
fn memlock_limits() -> (String, String) {
    use nix::sys::resource::{getrlimit, Resource};
    let show = |v: u64| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            format!("{v} bytes")
        }
    };
    match getrlimit(Resource::RLIMIT_MEMLOCK) {
        Ok((soft, hard)) => (show(soft), show(hard)),
        Err(_) => ("unknown".to_string(), "unknown".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_or_skip(p: Protection) -> Option<SecretStore> {
        match SecretStore::new(p) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("skipping {}: {e}", p.as_str());
                None
            }
        }
    }

    #[test]
    fn work_runs_on_a_stack_inside_the_region() {
        for p in [Protection::DontDump, Protection::SecretMem] {
            let Some(mut store) = store_or_skip(p) else {
                continue;
            };
            assert_eq!(store.protection(), p);
            let region = store.region();
            let parts = store.parts();
            assert_eq!(parts.slot.len(), SLOT_LEN);
            assert_eq!(parts.scratch.len(), SCRATCH_LEN);
            assert!(region.contains(parts.slot.as_ptr() as u64));
            assert!(region.contains(parts.scratch.as_ptr() as u64));
            let mut stack = parts.stack.unwrap();
            let sp = stack.run(|| psm::stack_pointer() as u64).unwrap();
            assert!(region.contains(sp), "{}: sp {sp:#x} {region:?}", p.as_str());
            // A panic is caught before it can unwind off the switched stack.
            assert!(matches!(
                stack.run(|| panic!("boom")),
                Err(ProtectError::WorkPanicked)
            ));
        }
    }

    #[test]
    fn plain_has_no_work_stack_and_redacts_debug() {
        let mut store = SecretStore::new(Protection::Plain).unwrap();
        let region = store.region();
        let parts = store.parts();
        parts.slot[..7].copy_from_slice(b"hunter2");
        assert!(region.contains(parts.slot.as_ptr() as u64));
        let shown = format!("{parts:?}");
        assert!(!shown.contains("104"), "{shown}"); // 'h' as a number
        assert!(shown.contains("REDACTED"));
        assert!(parts.stack.is_none());
        assert_eq!(run_on(None, || 7).unwrap(), 7);
    }
}
