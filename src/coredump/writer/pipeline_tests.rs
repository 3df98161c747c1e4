//! Tests of the read/write pipeline on fake sources.

use super::*;
use crate::coredump::writer::DATA_START;
use crate::memory::SourceRegion;
use crate::procfs::maps::parse_smaps;

/// Three pages at 0x10000 filled with 0x11, 0x22, 0x33; page 1 refuses every read.
struct Fake;

impl MemorySource for Fake {
    fn describe(&self) -> String {
        "fake".into()
    }
    fn regions(&self) -> &[SourceRegion] {
        &[]
    }
    fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = addr + buf.len() as u64;
        if addr < 0x12000 && end > 0x11000 {
            return Err(ReadError::from_errno(libc::EIO));
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = match (addr + i as u64 - 0x10000) / PAGE_SIZE {
                0 => 0x11,
                1 => 0x22,
                _ => 0x33,
            };
        }
        Ok(())
    }
}

fn mappings() -> Vec<Mapping> {
    parse_smaps(
        "10000-13000 rw-p 00000000 fe:01 7 /x\nVmFlags: rd wr\n\
         20000-21000 rw-p 00000000 fe:01 7 /y\nVmFlags: rd wr dd\n",
        "fixture",
    )
    .unwrap()
}

fn run(policy: Policy) -> (MemoryCopy, Vec<u8>) {
    let f = tempfile::tempfile().unwrap();
    let mut opts = DumpOptions::new("/nonexistent");
    opts.policy = policy;
    opts.chunk_size = 3 * 4096;
    let copy = copy_memory(
        &Fake,
        &mappings(),
        None,
        &f,
        DATA_START,
        &opts,
        0x33,
        &mut |_| {},
    )
    .unwrap();
    f.set_len(copy.data_end).unwrap();
    let mut bytes = vec![0u8; usize::try_from(copy.data_end).unwrap()];
    f.read_exact_at(&mut bytes, 0).unwrap();
    (copy, bytes)
}

#[test]
fn parts_are_the_runs_of_the_chunk() {
    let mut view: Vec<u8> = (0..=9).collect();
    let parts = split_parts(&mut view, 0x1000, &[(1, 3), (3, 4), (7, 10)]);
    let got: Vec<(u64, Vec<u8>)> = parts.iter().map(|(a, b)| (*a, b.to_vec())).collect();
    assert_eq!(
        got,
        vec![
            (0x1001, vec![1, 2]),
            (0x1003, vec![3]),
            (0x1007, vec![7, 8, 9])
        ]
    );
    // Runs past the view are left out (the caller then reads run by run).
    assert_eq!(split_parts(&mut view, 0, &[(2, 4), (8, 11)]).len(), 1);
}

#[test]
fn readable_page_after_unreadable_one_is_kept() {
    let (copy, bytes) = run(Policy::Attacker);
    let s = &copy.segments;
    // The unreadable page gets no segment at all: gdb must not see zeros there.
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(
        (s[0].vaddr, s[0].filesz, s[0].offset),
        (0x10000, 4096, 4096)
    );
    assert!(s.iter().all(|s| s.filesz == s.memsz && s.filesz > 0));
    assert!(!s
        .iter()
        .any(|s| s.vaddr <= 0x11000 && 0x11000 < s.vaddr + s.memsz));
    assert_eq!(
        (s[1].vaddr, s[1].filesz, s[1].offset),
        (0x12000, 4096, 8192)
    );
    assert!(bytes[4096..8192].iter().all(|&b| b == 0x11));
    assert!(bytes[8192..12288].iter().all(|&b| b == 0x33));
    assert_eq!(copy.unreadable.len(), 1);
    assert_eq!(copy.unreadable[0].start, 0x11000);
    assert_eq!(copy.unreadable[0].errno, Some(libc::EIO));
    // The dd mapping is dumped by default.
    assert_eq!((s[2].vaddr, s[2].filesz), (0x20000, 4096));
    assert!(copy.absent.is_empty());
}

#[test]
fn like_gcore_leaves_dd_out_as_absent() {
    let (copy, _) = run(Policy::LikeGcore);
    // Both mappings are left out: no PT_LOAD for either.
    assert!(copy.segments.is_empty(), "{:?}", copy.segments);
    // /x is left out too: a file-backed private mapping never written (filter bit 2).
    assert_eq!(copy.absent.len(), 2);
    assert!(copy.absent[0].reason.contains("bit 2"), "{:?}", copy.absent);
    assert_eq!(copy.absent[1].start, 0x20000);
    assert!(copy.absent[1].reason.contains("MADV_DONTDUMP"));
}

/// 64 pages at 0x100000: page i holds byte i+1, except every 7th page, which is all zeros
/// (read, then left as a hole), and pages 30..=33, which refuse every read. With 4-page
/// chunks the failure straddles a chunk boundary, and several chunks are in flight in the
/// reader/writer pipeline before and after it.
struct Striped;

const BASE: u64 = 0x10_0000;
const PAGES: u64 = 64;

fn striped_byte(page: u64) -> u8 {
    if page % 7 == 0 {
        0
    } else {
        u8::try_from(page + 1).unwrap()
    }
}

impl MemorySource for Striped {
    fn describe(&self) -> String {
        "striped".into()
    }
    fn regions(&self) -> &[SourceRegion] {
        &[]
    }
    fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let (first, last) = (
            (addr - BASE) / PAGE_SIZE,
            (addr + buf.len() as u64 - 1 - BASE) / PAGE_SIZE,
        );
        if first <= 33 && last >= 30 {
            return Err(ReadError::from_errno(libc::EFAULT));
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = striped_byte((addr + i as u64 - BASE) / PAGE_SIZE);
        }
        Ok(())
    }
}

#[test]
fn failed_read_mid_pipeline_leaves_a_complete_core() {
    let maps = parse_smaps(
        &format!(
            "{BASE:x}-{:x} rw-p 00000000 00:00 0 \nVmFlags: rd wr\n",
            BASE + PAGES * PAGE_SIZE
        ),
        "fixture",
    )
    .unwrap();
    let f = tempfile::tempfile().unwrap();
    let mut opts = DumpOptions::new("/nonexistent");
    opts.chunk_size = 4 * 4096;
    let copy = copy_memory(&Striped, &maps, None, &f, DATA_START, &opts, 0, &mut |_| {}).unwrap();
    f.set_len(copy.data_end).unwrap();
    // Two PT_LOADs around the refused pages, none over them.
    let s = &copy.segments;
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!((s[0].vaddr, s[0].memsz), (BASE, 30 * PAGE_SIZE));
    assert_eq!(
        (s[1].vaddr, s[1].memsz),
        (BASE + 34 * PAGE_SIZE, 30 * PAGE_SIZE)
    );
    assert_eq!(copy.unreadable.len(), 1, "{:?}", copy.unreadable);
    let u = &copy.unreadable[0];
    assert_eq!(
        (u.start, u.end, u.errno),
        (
            BASE + 30 * PAGE_SIZE,
            BASE + 34 * PAGE_SIZE,
            Some(libc::EFAULT)
        )
    );
    // Every other page is in the file, at its segment's offset, byte for byte; the zero
    // pages are holes that read back as zeros.
    let mut page = vec![0u8; 4096];
    for seg in s {
        assert_eq!(seg.filesz, seg.memsz);
        for k in 0..seg.memsz / PAGE_SIZE {
            f.read_exact_at(&mut page, seg.offset + k * PAGE_SIZE)
                .unwrap();
            let p = (seg.vaddr - BASE) / PAGE_SIZE + k;
            assert!(page.iter().all(|&b| b == striped_byte(p)), "page {p}");
        }
    }
    // The zero pages were not written: the file has holes (ext4 and tmpfs report them).
    let mut holes = 0;
    for seg in s {
        for k in 0..seg.memsz / PAGE_SIZE {
            let p = (seg.vaddr - BASE) / PAGE_SIZE + k;
            let off = i64::try_from(seg.offset + k * PAGE_SIZE).unwrap();
            // SAFETY: lseek on our own open file; it does not touch memory.
            let at =
                unsafe { libc::lseek(std::os::fd::AsRawFd::as_raw_fd(&f), off, libc::SEEK_DATA) };
            if p % 7 == 0 && at != off {
                holes += 1;
            }
        }
    }
    assert!(holes > 0, "no zero page became a hole");
}

/// (vaddr, memsz, offset, filesz) of each segment.
fn shapes(l: &Layout) -> Vec<(u64, u64, u64, u64)> {
    l.segments
        .iter()
        .map(|s| (s.vaddr, s.memsz, s.offset, s.filesz))
        .collect()
}

#[test]
fn layout_packs_data_and_never_touched_runs_become_zero_tails() {
    let p = PAGE_SIZE;
    let mut l = Layout::new(p);
    // A mapping starting with a never-touched page: a segment with no file bytes.
    l.zeros(0x10000, p, 6);
    assert_eq!(l.data(0x10000 + p, 2 * p, 6).unwrap(), p);
    l.gap(0x10000 + 3 * p, 5 * p, 6).unwrap();
    // Data after a tail opens a new segment; its bytes follow the previous ones in the file.
    assert_eq!(l.data(0x10000 + 8 * p, p, 6).unwrap(), 3 * p);
    // A refused page gets no segment and splits the data around it.
    l.refused(0x10000 + 9 * p, p);
    assert_eq!(l.data(0x10000 + 10 * p, p, 6).unwrap(), 4 * p);
    l.close();
    // The next mapping never continues a segment of the previous one.
    assert_eq!(l.data(0x10000 + 11 * p, p, 4).unwrap(), 5 * p);
    l.close();
    assert_eq!(
        shapes(&l),
        vec![
            (0x10000, p, p, 0),
            (0x10000 + p, 7 * p, p, 2 * p),
            (0x10000 + 8 * p, p, 3 * p, p),
            (0x10000 + 10 * p, p, 4 * p, p),
            (0x10000 + 11 * p, p, 5 * p, p),
        ]
    );
    assert_eq!(l.segments[4].flags, 4);
    assert_eq!(l.data_end, 6 * p);
}

#[test]
fn past_the_pack_limit_short_holes_become_file_holes() {
    let p = PAGE_SIZE;
    let mut l = Layout::new(p);
    let mut addr = 0x10000;
    while l.segments.len() < PACK_LIMIT {
        l.data(addr, p, 6).unwrap();
        l.gap(addr + p, p, 6).unwrap();
        addr += 2 * p;
    }
    l.close();
    let before = l.segments.len();
    let end = l.data_end;
    l.data(addr, p, 6).unwrap();
    l.gap(addr + p, 3 * p, 6).unwrap();
    l.data(addr + 4 * p, p, 6).unwrap();
    l.close();
    // One more segment, not two: the hole is inside its file bytes.
    assert_eq!(l.segments.len(), before + 1);
    let last = l.segments[l.segments.len() - 1];
    assert_eq!(
        (last.vaddr, last.memsz, last.filesz, last.offset),
        (addr, 5 * p, 5 * p, end)
    );
    assert_eq!(l.data_end, end + 5 * p);
    // A hole of a chunk or more (Layout::zeros) is still a tail.
    l.data(addr + 5 * p, p, 6).unwrap();
    l.zeros(addr + 6 * p, 300 * p, 6);
    l.close();
    let last = l.segments[l.segments.len() - 1];
    assert_eq!((last.memsz, last.filesz), (301 * p, p));
}
