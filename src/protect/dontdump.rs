//! Hygiene, not isolation: an anonymous mapping with `MADV_DONTDUMP` and `mlock`, in a process
//! made non-dumpable (`PR_SET_DUMPABLE=0`).
//!
//! What it stops: kernel core dumps (none written), gdb's default `gcore` (skips `dd`
//! mappings), swap. What it does not stop: root reading `/proc/PID/mem`, `process_vm_readv`,
//! or `gcore -a`. Because processing runs on the mapping's own work stack, a dump that honours
//! `dd` finds nothing anywhere else either; that is the lesson of this mode.

use nix::errno::Errno;

use super::area::{Area, Layout};
use super::{memlock_limits, ProtectError, StoreParts};
use crate::model::Span;

/// A `MADV_DONTDUMP` + `mlock` mapping.
#[derive(Debug)]
pub struct DontDumpStore {
    area: Area,
}

impl DontDumpStore {
    /// Maps, flags and locks the area, and marks the whole process non-dumpable.
    pub fn new() -> Result<Self, ProtectError> {
        let layout = Layout::new();
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(ProtectError::Sys {
                op: "mmap of the dontdump area",
                errno: Errno::last(),
            });
        }
        // SAFETY: `ptr` is the start of the read-write mapping of `layout.total` bytes just
        // created, used by nothing else. From here on `area`'s drop unmaps it on any error.
        let mut area = unsafe { Area::adopt(ptr.cast(), layout)? };
        // SAFETY: advice on our own mapping only.
        let rc = unsafe { libc::madvise(area.base().cast(), area.len(), libc::MADV_DONTDUMP) };
        if rc != 0 {
            return Err(ProtectError::Sys {
                op: "madvise(MADV_DONTDUMP)",
                errno: Errno::last(),
            });
        }
        // The guard page is not locked: it has no page to lock, and mlock refuses PROT_NONE.
        let (start, len) = area.usable_range();
        // SAFETY: locking part of our own mapping; it also faults every page in now.
        let rc = unsafe { libc::mlock(start.cast(), len) };
        if rc != 0 {
            let errno = Errno::last();
            let (soft, hard) = memlock_limits();
            return Err(ProtectError::MemlockLimit {
                op: "mlock",
                len,
                errno,
                soft,
                hard,
            });
        }
        area.touch_all();
        nix::sys::prctl::set_dumpable(false).map_err(|errno| ProtectError::Sys {
            op: "prctl(PR_SET_DUMPABLE, 0)",
            errno,
        })?;
        Ok(Self { area })
    }

    /// The whole mapping.
    pub fn region(&self) -> Span {
        self.area.region()
    }

    /// Slot, scratch and the work stack, all inside the mapping.
    pub fn parts(&mut self) -> StoreParts<'_> {
        self.area.parts()
    }
}
