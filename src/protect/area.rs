//! The layout shared by the mapped backends (`dontdump`, `secretmem`): one mapping holding a
//! guard page, a work stack, the secret's slot and scratch space, zeroized before it is unmapped.
//!
//! ```text
//! base                                                                     base+len
//! | guard (PROT_NONE) | work stack (grows down) ... | slot | scratch |
//! ```
//!
//! The guard page sits below the stack so that a stack overflow faults instead of silently
//! writing over memory below it; the slot and scratch sit above the stack's top.

use zeroize::Zeroize;

use super::{ProtectError, StoreParts, WorkStack, SCRATCH_LEN, SLOT_LEN, WORK_STACK_LEN};
use crate::model::Span;

/// Offsets and sizes of the parts, all page multiples.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    page: usize,
    stack_len: usize,
    slot_len: usize,
    /// Total length of the mapping.
    pub(super) total: usize,
}

impl Layout {
    pub(super) fn new() -> Self {
        use nix::unistd::{sysconf, SysconfVar};
        let page = sysconf(SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|p| usize::try_from(p).ok())
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096);
        let round = |n: usize| n.div_ceil(page) * page;
        let stack_len = round(WORK_STACK_LEN);
        let slot_len = round(SLOT_LEN);
        let scratch_len = round(SCRATCH_LEN);
        Self {
            page,
            stack_len,
            slot_len,
            total: page + stack_len + slot_len + scratch_len,
        }
    }
}

/// A mapping laid out as above. Owns the mapping: drop zeroizes and unmaps it.
#[derive(Debug)]
pub(super) struct Area {
    base: *mut u8,
    layout: Layout,
}

// SAFETY: `Area` owns its mapping exclusively (like a `Box<[u8]>`); the raw pointer is only
// turned into references through `&self`/`&mut self`, so Rust's borrow rules still apply.
unsafe impl Send for Area {}
// SAFETY: as above; `&Area` gives out no access to the bytes, only the address range.
unsafe impl Sync for Area {}

impl Area {
    /// Takes ownership of a fresh read-write mapping of `layout.total` bytes at `base` and makes
    /// its lowest page the guard.
    ///
    /// # Safety
    /// `base` must be the start of a read-write mapping of exactly `layout.total` bytes that
    /// nothing else uses or unmaps.
    pub(super) unsafe fn adopt(base: *mut u8, layout: Layout) -> Result<Self, ProtectError> {
        let area = Self { base, layout };
        // SAFETY: the first page belongs to our mapping (caller's contract); making it
        // inaccessible only affects memory we own.
        let rc = unsafe { libc::mprotect(base.cast(), layout.page, libc::PROT_NONE) };
        if rc != 0 {
            return Err(ProtectError::Sys {
                op: "mprotect of the work stack's guard page",
                errno: nix::errno::Errno::last(),
            });
        }
        Ok(area)
    }

    pub(super) fn base(&self) -> *mut u8 {
        self.base
    }

    pub(super) fn len(&self) -> usize {
        self.layout.total
    }

    /// Start and length of the read-write part (above the guard page): what `mlock` may lock
    /// (it refuses PROT_NONE pages with ENOMEM).
    pub(super) fn usable_range(&self) -> (*mut u8, usize) {
        let page = self.layout.page;
        (
            self.base.wrapping_add(page),
            self.layout.total.saturating_sub(page),
        )
    }

    /// The read-write part: everything above the guard page.
    fn usable(&mut self) -> &mut [u8] {
        let page = self.layout.page;
        // SAFETY: `[base+page, base+total)` is read-write memory owned by `self` (see `adopt`),
        // and `&mut self` makes this the only reference to it.
        unsafe { std::slice::from_raw_parts_mut(self.base.add(page), self.layout.total - page) }
    }

    /// Writes every usable page once, so that page allocation happens now, at start-up, and not
    /// at some later first touch (for secretmem a failed fault there is a SIGBUS).
    pub(super) fn touch_all(&mut self) {
        let page = self.layout.page;
        for chunk in self.usable().chunks_mut(page) {
            if let Some(first) = chunk.first_mut() {
                // SAFETY: `first` is a valid, exclusive `&mut u8`; volatile so the store to
                // freshly zeroed memory is not optimised away.
                unsafe { std::ptr::write_volatile(first, 0) };
            }
        }
    }

    pub(super) fn region(&self) -> Span {
        let start = self.base as u64;
        Span::new(start, start.saturating_add(self.layout.total as u64))
    }

    pub(super) fn parts(&mut self) -> StoreParts<'_> {
        let l = self.layout;
        let usable = self.usable();
        let (stack, rest) = usable.split_at_mut(l.stack_len);
        let (slot, scratch) = rest.split_at_mut(l.slot_len);
        StoreParts {
            slot: &mut slot[..SLOT_LEN],
            scratch: &mut scratch[..SCRATCH_LEN],
            stack: Some(WorkStack::new(stack)),
        }
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // Volatile zeroing (the `zeroize` crate) of slot, scratch and the stack (which holds
        // whatever processing left behind) before the pages go back to the kernel.
        self.usable().zeroize();
        // SAFETY: we own the mapping (see `adopt`) and no reference into it outlives `self`.
        let rc = unsafe { libc::munmap(self.base.cast(), self.layout.total) };
        if rc != 0 {
            tracing::warn!(
                "munmap of the protected area failed: {}",
                nix::errno::Errno::last()
            );
        }
    }
}
