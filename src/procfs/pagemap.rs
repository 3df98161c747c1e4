//! `/proc/PID/pagemap`: which pages of a range are backed by memory (present or swapped).
//!
//! The dumper uses it to leave never-touched pages of *private anonymous* mappings out of the
//! read and write them as file holes: such pages read as zeros, so the core is identical and its
//! disk use follows the resident size, not the mapped size. Each page has one 64-bit
//! little-endian entry at offset `(addr / PAGE_SIZE) * 8`; bit 63 = present, bit 62 = swapped.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::{proc_path, ProcError};
use crate::memory::PAGE_SIZE;

/// Bit 63 of a pagemap entry: the page is in RAM.
pub const PM_PRESENT: u64 = 1 << 63;
/// Bit 62 of a pagemap entry: the page is in swap.
pub const PM_SWAPPED: u64 = 1 << 62;

/// An open `/proc/PID/pagemap`.
#[derive(Debug)]
pub struct Pagemap {
    pid: i32,
    file: File,
}

/// True when a pagemap entry says the page holds data (in RAM or in swap).
pub fn entry_is_backed(entry: u64) -> bool {
    entry & (PM_PRESENT | PM_SWAPPED) != 0
}

impl Pagemap {
    /// Opens `/proc/PID/pagemap`.
    pub fn open(pid: i32) -> Result<Self, ProcError> {
        let path = proc_path(pid, "pagemap");
        let file = File::open(&path).map_err(|source| ProcError::Io {
            context: format!("opening {}", path.display()),
            source,
        })?;
        Ok(Self { pid, file })
    }

    /// Fills `out` with one flag per page starting at the page containing `addr`: true when the
    /// page is present or swapped. `out` is cleared first and gets `npages` entries.
    pub fn backed_pages(
        &self,
        addr: u64,
        npages: usize,
        out: &mut Vec<bool>,
    ) -> Result<(), ProcError> {
        out.clear();
        let err = |what: &str| ProcError::Parse {
            context: format!("/proc/{}/pagemap at {addr:#x}: {what}", self.pid),
        };
        let offset = (addr / PAGE_SIZE)
            .checked_mul(8)
            .ok_or_else(|| err("offset overflows"))?;
        let len = npages
            .checked_mul(8)
            .ok_or_else(|| err("length overflows"))?;
        let mut raw = vec![0u8; len];
        self.file
            .read_exact_at(&mut raw, offset)
            .map_err(|source| ProcError::Io {
                context: format!("reading /proc/{}/pagemap at {addr:#x}", self.pid),
                source,
            })?;
        out.extend(raw.chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            entry_is_backed(u64::from_le_bytes(b))
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_bits() {
        assert!(entry_is_backed(PM_PRESENT | 1234));
        assert!(entry_is_backed(PM_SWAPPED));
        assert!(!entry_is_backed(0));
        assert!(!entry_is_backed(1 << 55)); // soft-dirty alone means nothing here
    }

    #[test]
    fn touched_page_is_backed_untouched_is_not() {
        let me = std::process::id() as i32;
        let pm = Pagemap::open(me).unwrap();
        let mut v = vec![0u8; 64 * 4096];
        // Touch page 0 only; a fresh large Vec comes from mmap, so page 40 stays untouched.
        v[0] = 1;
        let base = v.as_ptr() as u64;
        let first_full_page = base.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let mut out = Vec::new();
        pm.backed_pages(base, 1, &mut out).unwrap();
        assert_eq!(out, vec![true]);
        pm.backed_pages(first_full_page + 40 * PAGE_SIZE, 1, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        std::hint::black_box(&v);
    }
}
