//! A read buffer placed so that each byte sits at the same offset within a page as the address
//! it is read from.
//!
//! Why: the kernel copies `process_vm_readv` and `pread` data with `rep movsb`, which on this
//! machine (AMD EPYC, 2 vCPUs) runs about three times slower when the destination lies a few
//! bytes past the source modulo 4 KiB. A plain `Vec` of 128 KiB or more comes from `mmap` at a
//! page start plus malloc's 16-byte header: copying a page-aligned source into it fell into
//! exactly that case: the live scan's system time went mostly to that slow copy, and the
//! dump's reads met the same penalty (measurements: docs/performance.md, "Design
//! measurements").
//!
//! The buffer holds victim memory: it is zeroized when dropped.

use zeroize::Zeroizing;

use super::PAGE_SIZE;

/// A heap buffer of up to [`PageBuf::capacity`] bytes, handed out as slices whose address is
/// congruent, modulo [`PAGE_SIZE`], to the address the bytes come from.
pub struct PageBuf {
    raw: Zeroizing<Vec<u8>>,
    cap: usize,
}

impl std::fmt::Debug for PageBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes: they are the victim's memory.
        f.debug_struct("PageBuf").field("cap", &self.cap).finish()
    }
}

impl PageBuf {
    /// A zeroed buffer for reads of up to `cap` bytes (one page more is allocated, to place
    /// them).
    pub fn new(cap: usize) -> Self {
        let page = page();
        Self {
            raw: Zeroizing::new(vec![0u8; cap.saturating_add(page)]),
            cap,
        }
    }

    /// The most bytes one slice holds.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Index in `raw` where bytes read from `addr` begin.
    fn start_for(&self, addr: u64) -> usize {
        let page = page();
        // The address as a number (MSRV 1.80 predates `<*const u8>::addr`).
        let base = self.raw.as_ptr() as usize % page;
        let want = usize::try_from(addr % PAGE_SIZE).unwrap_or(0);
        (want + page - base) % page
    }

    /// `len` bytes (at most [`Self::capacity`]) to read the memory at `addr` into.
    pub fn for_addr_mut(&mut self, addr: u64, len: usize) -> &mut [u8] {
        let s = self.start_for(addr);
        let len = len.min(self.cap);
        &mut self.raw[s..s + len]
    }

    /// The same `len` bytes, as filled by [`Self::for_addr_mut`] for `addr`.
    pub fn for_addr(&self, addr: u64, len: usize) -> &[u8] {
        let s = self.start_for(addr);
        let len = len.min(self.cap);
        &self.raw[s..s + len]
    }
}

fn page() -> usize {
    usize::try_from(PAGE_SIZE).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_the_address_offset_within_a_page() {
        let mut b = PageBuf::new(3 * 4096 + 70);
        for addr in [0x7f00_0000_0000u64, 0x7f00_0000_0fff, 0x1234_5679, 4095, 1] {
            let len = b.capacity();
            let s = b.for_addr_mut(addr, len);
            assert_eq!(s.len(), len);
            assert_eq!(s.as_ptr() as u64 % PAGE_SIZE, addr % PAGE_SIZE);
            s.fill(0xAB);
            s[0] = 1;
            let r = b.for_addr(addr, len);
            assert_eq!((r[0], r[len - 1]), (1, 0xAB));
        }
        // Never more than the capacity.
        assert_eq!(b.for_addr_mut(1, usize::MAX).len(), 3 * 4096 + 70);
    }
}
