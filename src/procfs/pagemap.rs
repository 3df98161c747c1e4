//! `/proc/PID/pagemap`: which pages of a range are backed by memory (present or swapped).
//!
//! The dumper uses it to leave never-touched pages of *private anonymous* mappings out of the
//! read and write them as file holes: such pages read as zeros, so the core is identical and its
//! disk use follows the resident size, not the mapped size. Each page has one 64-bit
//! little-endian entry at offset `(addr / PAGE_SIZE) * 8`; bit 63 = present, bit 62 = swapped,
//! bits 0-54 = page frame number (shown to root only).
//!
//! A page that was only *read* (by the program, or by gcore through `/proc/PID/mem`) is mapped
//! to the kernel's shared zero page: present, yet all zeros. With root's view of PFNs those are
//! recognised too ([`ZeroPages`]), so a process that gcore has already dumped once stays cheap
//! to dump.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use super::PAGE_SIZE;
use super::{proc_path, ProcError};

/// Bit 63 of a pagemap entry: the page is in RAM.
pub const PM_PRESENT: u64 = 1 << 63;
/// Bit 62 of a pagemap entry: the page is in swap.
pub const PM_SWAPPED: u64 = 1 << 62;

/// Bits 0-54 of a pagemap entry: the page frame number (0 unless the reader has
/// CAP_SYS_ADMIN).
pub const PM_PFN_MASK: u64 = (1 << 55) - 1;
/// Number of 4 KiB frames in the huge zero page (2 MiB).
const HUGE_ZERO_FRAMES: u64 = 512;

/// The frame numbers of the kernel's shared zero pages, learnt by reading a fresh anonymous
/// page (and a fresh 2 MiB-aligned one, for the transparent huge zero page) in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZeroPages {
    small: Option<u64>,
    huge: Option<u64>,
}

impl ZeroPages {
    /// Finds the zero pages' PFNs; fields stay `None` where they cannot be learnt (no root,
    /// no THP): then nothing is treated as a zero page, which is merely slower.
    pub fn detect() -> Self {
        let Ok(own) = File::open("/proc/self/pagemap") else {
            return Self::default();
        };
        let small = read_zero_pfn(&own, 4096, 0);
        // 4 MiB so that a 2 MiB-aligned 2 MiB block lies inside.
        let huge = read_zero_pfn(&own, 4 << 20, 2 << 20)
            .filter(|&pfn| Some(pfn) != small && pfn % HUGE_ZERO_FRAMES == 0);
        Self { small, huge }
    }

    /// True when `entry` maps one of the shared zero pages.
    pub fn is_zero(&self, entry: u64) -> bool {
        present_pfn(entry).is_some_and(|pfn| {
            self.small == Some(pfn)
                || self
                    .huge
                    .is_some_and(|h| pfn >= h && pfn < h + HUGE_ZERO_FRAMES)
        })
    }
}

/// Maps `len` bytes of fresh anonymous memory, reads one byte at the first `align`-aligned
/// address (a read fault maps a zero page), and returns that page's PFN from `own` pagemap.
fn read_zero_pfn(own: &File, len: usize, align: usize) -> Option<u64> {
    // SAFETY: a fresh private anonymous mapping, owned here and unmapped before returning;
    // no Rust reference to it escapes.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return None;
    }
    let start = base as usize;
    let at = if align > 1 {
        start.div_ceil(align) * align
    } else {
        start
    };
    let pfn = (|| {
        if align > 1 {
            // SAFETY: advice on a range inside our own mapping; failure only means no THP.
            unsafe { libc::madvise(at as *mut libc::c_void, align, libc::MADV_HUGEPAGE) };
        }
        // SAFETY: `at` lies inside the readable mapping made above (at + 1 <= start + len).
        let _ = unsafe { std::ptr::read_volatile(at as *const u8) };
        let mut raw = [0u8; 8];
        let page = usize::try_from(PAGE_SIZE).ok()?;
        let off = u64::try_from(at / page).ok()?.checked_mul(8)?;
        own.read_exact_at(&mut raw, off).ok()?;
        let e = u64::from_le_bytes(raw);
        present_pfn(e)
    })();
    // SAFETY: unmapping exactly the mapping made above.
    unsafe { libc::munmap(base, len) };
    pfn
}

/// An open `/proc/PID/pagemap`.
#[derive(Debug)]
pub struct Pagemap {
    pid: i32,
    file: File,
    zero: ZeroPages,
    /// False once `PAGEMAP_SCAN` failed (a kernel before 6.7): entries are read instead.
    scan_works: AtomicBool,
}

/// True when a pagemap entry says the page holds data (in RAM or in swap).
pub fn entry_is_backed(entry: u64) -> bool {
    entry & (PM_PRESENT | PM_SWAPPED) != 0
}

/// The page frame number of a present page, when the kernel shows it (root sees PFNs; others
/// get 0, which is no frame).
pub fn present_pfn(entry: u64) -> Option<u64> {
    let pfn = entry & PM_PFN_MASK;
    (entry & PM_PRESENT != 0 && pfn != 0).then_some(pfn)
}

impl Pagemap {
    /// Opens `/proc/PID/pagemap`.
    pub fn open(pid: i32) -> Result<Self, ProcError> {
        let path = proc_path(pid, "pagemap");
        let file = File::open(&path).map_err(|source| ProcError::Io {
            context: format!("opening {}", path.display()),
            source,
        })?;
        Ok(Self {
            pid,
            file,
            zero: ZeroPages::detect(),
            scan_works: AtomicBool::new(true),
        })
    }

    /// Fills `out` with one flag per page starting at the page containing `addr`: true when the
    /// page may hold data (present, other than a shared zero page, or swapped); false when it
    /// reads as zeros. `out` is cleared first and gets `npages` entries.
    pub fn backed_pages(
        &self,
        addr: u64,
        npages: usize,
        out: &mut Vec<bool>,
    ) -> Result<(), ProcError> {
        if self.scan_works.load(Ordering::Relaxed) {
            match self.scan_backed(addr, npages, out) {
                Ok(()) => return Ok(()),
                // Older kernels (before 6.7) do not know the ioctl: read the entries.
                Err(_) => self.scan_works.store(false, Ordering::Relaxed),
            }
        }
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
            let e = u64::from_le_bytes(b);
            entry_is_backed(e) && !self.zero.is_zero(e)
        }));
        Ok(())
    }
}

/// `PAGEMAP_SCAN` (Linux 6.7, `include/uapi/linux/fs.h`): `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: libc::c_ulong =
    (3 << 30) | ((PM_SCAN_ARG_SIZE as libc::c_ulong) << 16) | (0x66 << 8) | 16;
const PM_SCAN_ARG_SIZE: usize = std::mem::size_of::<PmScanArg>();
/// Page categories of `PAGEMAP_SCAN`.
const PAGE_IS_PRESENT: u64 = 1 << 3;
const PAGE_IS_SWAPPED: u64 = 1 << 4;
const PAGE_IS_PFNZERO: u64 = 1 << 5;
/// Regions returned per `PAGEMAP_SCAN` call.
const SCAN_REGIONS: usize = 512;

/// `struct pm_scan_arg`.
#[repr(C)]
#[derive(Default)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// `struct page_region`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

impl Pagemap {
    /// [`Pagemap::backed_pages`] through `PAGEMAP_SCAN`: the kernel walks the page tables and
    /// returns only the ranges of backed pages (present or swapped, not the shared zero
    /// page), instead of 8 bytes per page that this process then decodes. For 64 GiB mapped
    /// that was 128 MiB of entries per dump.
    fn scan_backed(&self, addr: u64, npages: usize, out: &mut Vec<bool>) -> std::io::Result<()> {
        let start = addr / PAGE_SIZE * PAGE_SIZE;
        let end = (npages as u64)
            .checked_mul(PAGE_SIZE)
            .and_then(|n| start.checked_add(n))
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        out.clear();
        out.resize(npages, false);
        let mut regions = [PageRegion::default(); SCAN_REGIONS];
        let mut at = start;
        while at < end {
            let mut arg = PmScanArg {
                size: PM_SCAN_ARG_SIZE as u64,
                start: at,
                end,
                vec: regions.as_mut_ptr() as u64,
                vec_len: SCAN_REGIONS as u64,
                // Pages that are present or swapped, and not the shared zero page.
                category_inverted: PAGE_IS_PFNZERO,
                category_mask: PAGE_IS_PFNZERO,
                category_anyof_mask: PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                return_mask: PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                ..PmScanArg::default()
            };
            // SAFETY: PAGEMAP_SCAN reads `arg` and writes at most `vec_len` page_region
            // structs into `regions`, which lives until after the call; both are repr(C)
            // copies of the kernel's structs.
            let n = unsafe {
                libc::ioctl(
                    std::os::fd::AsRawFd::as_raw_fd(&self.file),
                    PAGEMAP_SCAN,
                    &mut arg as *mut PmScanArg,
                )
            };
            let n = usize::try_from(n).map_err(|_| std::io::Error::last_os_error())?;
            for r in regions.iter().take(n.min(SCAN_REGIONS)) {
                let s = r.start.max(start);
                let e = r.end.min(end);
                if s >= e {
                    continue;
                }
                let i = usize::try_from((s - start) / PAGE_SIZE).unwrap_or(npages);
                let j = usize::try_from((e - start).div_ceil(PAGE_SIZE)).unwrap_or(npages);
                if let Some(flags) = out.get_mut(i..j.min(npages)) {
                    flags.fill(true);
                }
            }
            // The kernel says how far it walked; no progress would loop forever.
            if arg.walk_end <= at || arg.walk_end > end {
                if arg.walk_end == end {
                    break;
                }
                return Err(std::io::Error::from_raw_os_error(libc::EIO));
            }
            at = arg.walk_end;
        }
        Ok(())
    }
}

/// Pages of pagemap read per batch: 64 Ki entries (512 KiB) cover 256 MiB of address space,
/// so a 64 GiB mapping costs 256 reads, and a never-touched range is skipped without a read of
/// its memory or a system call per page or per chunk.
pub const BATCH_PAGES: usize = 64 * 1024;

/// Where, in `backed` (flags of consecutive pages), the first run of at least `min_pages`
/// unbacked pages begins, not counting a run at index 0: a chunk starting with a hole is the
/// caller's to skip; one that meets a long hole later ends there, so the next can skip it.
pub fn long_hole_start(backed: &[bool], min_pages: usize) -> Option<usize> {
    let mut run = 0usize;
    for (i, &b) in backed.iter().enumerate() {
        run = if b { 0 } else { run + 1 };
        if run >= min_pages && i + 1 > run {
            return Some(i + 1 - run);
        }
    }
    None
}

/// Backed-page flags of one mapping, read ahead from `/proc/PID/pagemap` in batches of
/// [`BATCH_PAGES`].
#[derive(Debug)]
pub struct BackedWindow<'a> {
    pm: &'a Pagemap,
    /// Address of the first flag.
    start: u64,
    flags: Vec<bool>,
}

impl<'a> BackedWindow<'a> {
    /// An empty window over `pm`.
    pub fn new(pm: &'a Pagemap) -> Self {
        Self {
            pm,
            start: 0,
            flags: Vec::new(),
        }
    }

    /// Flags of the `npages` pages from `addr` (page aligned), reading ahead up to `end` (the
    /// end of the mapping) when they are not in the window yet.
    pub fn get(&mut self, addr: u64, npages: usize, end: u64) -> Result<&[bool], ProcError> {
        let have = self.start <= addr
            && (addr - self.start) / PAGE_SIZE + npages as u64 <= self.flags.len() as u64;
        if !have {
            let to_end = usize::try_from(end.saturating_sub(addr).div_ceil(PAGE_SIZE))
                .unwrap_or(BATCH_PAGES);
            let count = npages.max(to_end.min(BATCH_PAGES));
            self.pm.backed_pages(addr, count, &mut self.flags)?;
            self.start = addr;
        }
        let first = usize::try_from((addr - self.start) / PAGE_SIZE).unwrap_or(0);
        Ok(self.flags.get(first..first + npages).unwrap_or(&[]))
    }

    /// How many pages from `addr` on, up to `end`, are not backed (read as zeros).
    pub fn hole_pages(&mut self, addr: u64, end: u64) -> Result<u64, ProcError> {
        let mut at = addr;
        while at < end {
            let flags = self.ahead(at, end)?;
            match flags.iter().position(|&b| b) {
                Some(i) => return Ok((at - addr) / PAGE_SIZE + i as u64),
                None if flags.is_empty() => break,
                None => at += flags.len() as u64 * PAGE_SIZE,
            }
        }
        Ok((at.min(end) - addr).div_ceil(PAGE_SIZE))
    }

    /// The flags from `addr` to the end of the window (refilled from `addr` when it does not
    /// hold `addr`).
    fn ahead(&mut self, addr: u64, end: u64) -> Result<&[bool], ProcError> {
        let held = self.start <= addr && (addr - self.start) / PAGE_SIZE < self.flags.len() as u64;
        if !held {
            return self
                .get(addr, 1, end)
                .map(|_| ())
                .and_then(|()| self.ahead_held(addr));
        }
        self.ahead_held(addr)
    }

    fn ahead_held(&self, addr: u64) -> Result<&[bool], ProcError> {
        let first = usize::try_from((addr - self.start) / PAGE_SIZE).unwrap_or(usize::MAX);
        Ok(self.flags.get(first..).unwrap_or(&[]))
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

    #[test]
    fn window_finds_holes_across_batches() {
        let me = std::process::id() as i32;
        let pm = Pagemap::open(me).unwrap();
        // More than one batch of address space, touched at two pages only.
        let pages = BATCH_PAGES + 100;
        let len = pages * 4096;
        // SAFETY: a fresh private anonymous mapping used only here and unmapped at the end.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let at = base as u64;
        let touched = [3usize, BATCH_PAGES + 50];
        for &p in &touched {
            // SAFETY: inside the mapping made above.
            unsafe { std::ptr::write_volatile((base as *mut u8).add(p * 4096), 1) };
        }
        let end = at + len as u64;
        let mut w = BackedWindow::new(&pm);
        assert_eq!(w.hole_pages(at, end).unwrap(), 3);
        assert_eq!(w.get(at + 3 * PAGE_SIZE, 1, end).unwrap(), &[true]);
        let next = at + 4 * PAGE_SIZE;
        assert_eq!(
            w.hole_pages(next, end).unwrap(),
            (BATCH_PAGES + 50 - 4) as u64
        );
        let after = at + (BATCH_PAGES as u64 + 51) * PAGE_SIZE;
        assert_eq!(w.hole_pages(after, end).unwrap(), 49);
        // SAFETY: unmapping exactly the mapping made above.
        unsafe { libc::munmap(base, len) };
    }

    #[test]
    fn scan_ioctl_agrees_with_the_entries() {
        let me = std::process::id() as i32;
        let pm = Pagemap::open(me).unwrap();
        let len = 600 * 4096;
        // SAFETY: a fresh private anonymous mapping used only here and unmapped at the end.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        // SAFETY: advice on our own mapping (4 KiB pages, so one write backs one page).
        unsafe { libc::madvise(base, len, libc::MADV_NOHUGEPAGE) };
        for p in [3usize, 10, 11, 599] {
            // SAFETY: inside the mapping made above.
            unsafe { std::ptr::write_volatile((base as *mut u8).add(p * 4096), 1) };
        }
        // SAFETY: inside the mapping; a read maps the shared zero page.
        let _ = unsafe { std::ptr::read_volatile((base as *const u8).add(20 * 4096)) };
        let mut by_scan = Vec::new();
        match pm.scan_backed(base as u64, 600, &mut by_scan) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("PAGEMAP_SCAN not available ({e}): skipped");
                // SAFETY: unmapping exactly the mapping made above.
                unsafe { libc::munmap(base, len) };
                return;
            }
        }
        pm.scan_works.store(false, Ordering::Relaxed);
        let mut by_entries = Vec::new();
        pm.backed_pages(base as u64, 600, &mut by_entries).unwrap();
        // SAFETY: unmapping exactly the mapping made above.
        unsafe { libc::munmap(base, len) };
        let set = |v: &[bool]| -> Vec<usize> { (0..v.len()).filter(|&i| v[i]).collect() };
        assert_eq!(set(&by_scan), vec![3, 10, 11, 599]);
        if pm.zero.small.is_some() {
            assert_eq!(set(&by_entries), set(&by_scan));
        }
    }

    #[test]
    fn a_read_only_page_is_a_zero_page() {
        let z = ZeroPages::detect();
        let Some(small) = z.small else {
            eprintln!("PFNs not visible (not root?): skipped");
            return;
        };
        assert!(z.is_zero(PM_PRESENT | small));
        assert!(!z.is_zero(small)); // not present
        assert!(!z.is_zero(PM_PRESENT | (small + 1)));
    }

    #[test]
    fn a_chunk_ends_where_a_long_hole_begins() {
        let hole = |at: usize, len: usize, total: usize| -> Vec<bool> {
            (0..total).map(|i| !(at..at + len).contains(&i)).collect()
        };
        // A hole at the very start is the caller's to skip, not a place to cut.
        assert_eq!(long_hole_start(&hole(0, 200, 256), 16), None);
        assert_eq!(long_hole_start(&hole(1, 255, 256), 16), Some(1));
        assert_eq!(long_hole_start(&hole(10, 16, 256), 16), Some(10));
        // Shorter holes are walked with the data around them.
        assert_eq!(long_hole_start(&hole(10, 15, 256), 16), None);
        assert_eq!(long_hole_start(&[true; 256], 16), None);
    }
}
