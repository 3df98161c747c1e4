//! The freeze-and-read pipeline: memory is read chunk by chunk (never-touched pages skipped
//! through the pagemap, failed reads retried page by page) and handed to a writer thread that
//! writes each chunk's data pages and leaves zero pages as holes; what it produced becomes
//! the PT_LOADs, the unreadable list and the absent list.
//!
//! # Write strategy, and what each choice bought (issue 13; measurements: docs/performance.md,
//! "Design measurements")
//! * **Reads overlap writes on both cores**: this thread reads (process_vm_readv), the writer
//!   thread writes, through a two-slot queue of 1 MiB buffers (three in flight, so RSS stays
//!   ~9 MB whatever the size). Kept: it is what makes the dense dump cost about one write of
//!   the data rather than a read plus a write.
//! * **Sparse memory costs what is resident**: the backed pages of a chunk are read with one
//!   `process_vm_readv` (many ranges), packed into the buffer after earlier chunks' pages,
//!   and a buffer goes to the writer only when full; `/proc/PID/pagemap` is asked through
//!   `PAGEMAP_SCAN` (ranges, not 8 bytes a page). A sparse dump took half the time; the
//!   hand-offs of one buffer per chunk were half of it, the ioctl alone changed nothing
//!   measurable.
//! * **Data pages packed, never-touched runs as zero tails** ([`Layout`], note version 2):
//!   a never-touched run no longer leaves a hole between the data pages in the file, it
//!   lengthens a PT_LOAD past its `p_filesz`. The isolated pages had each been one write into
//!   a hole, and ext4 allocates a folio and an extent per such write: isolated 4 KiB
//!   `pwrite`s took about five times as long as the same bytes packed in 1 MiB writes. The
//!   sparse dump took less than half the time; the file's length and disk use now both
//!   follow what is resident. gdb loads the tens of thousands of program headers in under a
//!   second. Kept.
//! * **Page-placed buffers** ([`PageBuf`]): the kernel copies into a buffer at the offset
//!   within a page the source has; a `Vec` 16 bytes past a page start made `process_vm_readv`
//!   about three times slower (see `memory/pagebuf.rs`; it more than halved the live scan's
//!   system time). Kept.
//! * **Zero pages are holes**, never-touched pages are not even read (pagemap): the sparse
//!   curve follows what is resident (disk use = resident size), and all-zero pages we did read
//!   cost a compare, not a write. Kept.
//! * **Block size**: 1 MiB chunks. With page-placed buffers, 256 KiB and 1 MiB dump alike,
//!   4 MiB is much slower (a 4 MiB buffer no longer stays in cache between the read and the
//!   write); with `dd`, 8 MiB blocks wrote no faster than 1 MiB, so larger buffers only cost
//!   RSS. Kept at 1 MiB.
//! * **fallocate preallocation**: no faster than the plain write, and preallocating would
//!   turn holes into allocated blocks (sparse disk use would follow the address space). Not
//!   used.
//! * **O_DIRECT**: `dd oflag=direct` beat the buffered write only because the machine was
//!   loaded with other writers (page-cache writeback throttling); on a quiet machine a
//!   buffered write lands in the page cache faster, and direct I/O is bound by the disk. It
//!   would also need aligned buffers and bypass the cache a scan right after the dump reads
//!   from. Not used; bench.sh's `dd` floor is the buffered write.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

use super::{io_err, DumpError, DumpOptions, MissingRange, Progress};
use crate::coredump::policy::{gcore_decision, Policy};

/// Why a userfaultfd-registered mapping (`um`/`uw` in smaps) is not in the core.
pub const USERFAULTFD_REASON: &str = "registered with userfaultfd: its missing pages come from the process's own handler, stopped during the dump, so reading would wait for ever: not read";
use crate::memory::pagebuf::PageBuf;
use crate::memory::{read_pagewise, MemorySource, ReadError, PAGE_SIZE};
use crate::procfs::maps::Mapping;
use crate::procfs::pagemap::{long_hole_start, BackedWindow, Pagemap};

/// Never-touched runs of this many pages or more are skipped in one step (a zero tail, no
/// page walked; the skip was for holes of a whole chunk before): a dump of a mostly
/// untouched, large address space no longer walks the untouched pages. What still grows with
/// the address space is the kernel's: its walks of the page tables for smaps and for
/// `PAGEMAP_SCAN` (measurements: docs/performance.md, "Design measurements").
const SKIP_PAGES: u64 = 16;

/// A PT_LOAD being built: its first `filesz` bytes are in the file from `offset`, the rest of
/// its `memsz` (the tail) are never-touched pages, zeros with no bytes in the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment {
    pub(super) vaddr: u64,
    pub(super) memsz: u64,
    pub(super) offset: u64,
    pub(super) filesz: u64,
    pub(super) flags: u32,
}

/// Segments past which short never-touched runs become file holes again ([`Layout::gap`]):
/// every segment is a program header (56 bytes) in the core and a region or two in every
/// reader's list (~140 bytes each in the scan), so their number must not follow the address
/// space. 100 000 segments are 5.6 MB of headers; a victim touching one page in 16 of 4 GiB
/// needs 65 536.
pub(super) const PACK_LIMIT: usize = 100_000;

/// The PT_LOADs as the pages come, in address order, and where the next data page goes in
/// the file. Data pages are packed one after the other; a never-touched run only lengthens
/// the open segment's zero tail (`p_memsz > p_filesz`), so the next data page after it opens
/// a new segment. A refused run closes the open segment and gets none (see "Unreadable is
/// not zero" in the module above).
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) segments: Vec<Segment>,
    /// The open run: a segment (readable) or a refused run (`false`, never pushed).
    open: Option<(Segment, bool)>,
    pub(super) data_end: u64,
}

impl Layout {
    pub(super) fn new(data_start: u64) -> Self {
        Self {
            segments: Vec::new(),
            open: None,
            data_end: data_start,
        }
    }

    /// `len` bytes of data at `addr`: returns their file offset.
    pub(super) fn data(&mut self, addr: u64, len: u64, flags: u32) -> Result<u64, DumpError> {
        let off = self.data_end;
        match &mut self.open {
            // Only a segment without a tail grows: its file bytes must stay contiguous.
            Some((s, true)) if s.filesz == s.memsz && s.vaddr + s.memsz == addr => {
                s.filesz += len;
                s.memsz += len;
            }
            _ => self.reopen(addr, len, off, len, flags, true),
        }
        self.data_end = off
            .checked_add(len)
            .ok_or(DumpError::Overflow("memory data"))?;
        Ok(off)
    }

    /// `len` bytes of never-touched zeros at `addr`: no file bytes.
    pub(super) fn zeros(&mut self, addr: u64, len: u64, flags: u32) {
        match &mut self.open {
            Some((s, true)) if s.vaddr + s.memsz == addr => s.memsz += len,
            _ => self.reopen(addr, len, self.data_end, 0, flags, true),
        }
    }

    /// True until the layout holds [`PACK_LIMIT`] segments.
    pub(super) fn packing(&self) -> bool {
        self.segments.len() < PACK_LIMIT
    }

    /// A never-touched run inside a chunk: a zero tail, as [`Layout::zeros`], until the layout
    /// holds [`PACK_LIMIT`] segments; from then on a file hole inside the open segment's bytes
    /// when it has no tail (no new segment, no new program header).
    pub(super) fn gap(&mut self, addr: u64, len: u64, flags: u32) -> Result<(), DumpError> {
        let untailed = matches!(&self.open,
            Some((s, true)) if s.filesz == s.memsz && s.vaddr + s.memsz == addr);
        if !self.packing() && untailed {
            // As data that is never written: the bytes stay a hole in the file.
            return self.data(addr, len, flags).map(|_| ());
        }
        self.zeros(addr, len, flags);
        Ok(())
    }

    /// `len` refused bytes at `addr`: no segment.
    pub(super) fn refused(&mut self, addr: u64, len: u64) {
        match &mut self.open {
            Some((s, false)) if s.vaddr + s.memsz == addr => s.memsz += len,
            _ => self.reopen(addr, len, 0, 0, 0, false),
        }
    }

    /// Ends the open run (at a mapping's end: segments never span two mappings).
    pub(super) fn close(&mut self) {
        if let Some((s, true)) = self.open.take() {
            self.segments.push(s);
        }
    }

    fn reopen(&mut self, vaddr: u64, memsz: u64, offset: u64, filesz: u64, flags: u32, ok: bool) {
        self.close();
        let seg = Segment {
            vaddr,
            memsz,
            offset,
            filesz,
            flags,
        };
        self.open = Some((seg, ok));
    }
}

/// What the memory copy produced.
#[derive(Debug, Default)]
pub(super) struct MemoryCopy {
    pub(super) segments: Vec<Segment>,
    pub(super) unreadable: Vec<MissingRange>,
    pub(super) absent: Vec<MissingRange>,
    pub(super) data_end: u64,
}

pub(super) fn segment_flags(m: &Mapping) -> u32 {
    // PF_X = 1, PF_W = 2, PF_R = 4.
    u32::from(m.exec) | (u32::from(m.write) << 1) | (u32::from(m.read) << 2)
}

/// One buffer handed to the writer thread: `len` bytes of it (placed as for address `addr`,
/// 0 when it packs the backed pages of several chunks), and the runs of it to write, each as
/// (offset in those bytes, length, offset in file).
pub(super) struct Job {
    pub(super) buf: PageBuf,
    pub(super) addr: u64,
    pub(super) len: usize,
    pub(super) runs: Vec<(usize, usize, u64)>,
}

/// The writer thread: writes each job's runs, skipping all-zero pages (they stay holes, which
/// read back as the same zeros), and hands the buffer back for reuse.
pub(super) fn writer_loop(
    file: &File,
    jobs: Receiver<Job>,
    give_back: Sender<PageBuf>,
) -> std::io::Result<()> {
    let page = usize::try_from(PAGE_SIZE).unwrap_or(4096);
    for job in jobs {
        let chunk = job.buf.for_addr(job.addr, job.len);
        for &(start, len, file_off) in &job.runs {
            let Some(data) = chunk.get(start..start.saturating_add(len)) else {
                continue;
            };
            // Coalesce non-zero pages into as few writes as possible.
            let mut run_start: Option<usize> = None;
            let mut i = 0usize;
            while i <= data.len() {
                let is_data = data
                    .get(i..(i + page).min(data.len()))
                    .is_some_and(|p| !p.is_empty() && p.iter().any(|&b| b != 0));
                match (is_data, run_start) {
                    (true, None) => run_start = Some(i),
                    (false, Some(s)) => {
                        file.write_all_at(&data[s..i], file_off + s as u64)?;
                        run_start = None;
                    }
                    _ => {}
                }
                if i == data.len() {
                    break;
                }
                i = (i + page).min(data.len());
            }
        }
        // The reader may have finished already; a closed return queue is fine.
        let _ = give_back.send(job.buf);
    }
    Ok(())
}

/// The `(address, bytes)` parts of `view` (the chunk read from `addr`) for `runs` (sorted,
/// disjoint offset ranges), for [`MemorySource::read_parts_at`].
pub(super) fn split_parts<'b>(
    view: &'b mut [u8],
    addr: u64,
    runs: &[(usize, usize)],
) -> Vec<(u64, &'b mut [u8])> {
    let mut parts = Vec::with_capacity(runs.len());
    let mut rest = view;
    let mut at = 0usize;
    for &(s, e) in runs {
        let (Some(skip), Some(len)) = (s.checked_sub(at), e.checked_sub(s)) else {
            break;
        };
        if skip.saturating_add(len) > rest.len() {
            break;
        }
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(skip);
        let (part, tail) = tail.split_at_mut(len);
        parts.push((addr + s as u64, part));
        rest = tail;
        at = e;
    }
    parts
}

/// Page states inside a chunk.
#[derive(Clone)]
pub(super) enum PageState {
    Data,
    /// Never touched (private anonymous): zeros, not read, written as a hole.
    Hole,
    Bad(ReadError),
}

/// Copies the memory of `mappings`, read from `src`, into `file` from `data_start` on
/// (the writer's `DATA_START` for a whole dump). Generic over the source so the page-by-page logic can
/// be tested on a fake one.
#[allow(clippy::too_many_arguments)]
pub(super) fn copy_memory<S: MemorySource + Sync + ?Sized>(
    src: &S,
    mappings: &[Mapping],
    pagemap: Option<&Pagemap>,
    file: &File,
    data_start: u64,
    opts: &DumpOptions,
    filter: u32,
    progress: &mut dyn FnMut(Progress),
) -> Result<MemoryCopy, DumpError> {
    let page = usize::try_from(PAGE_SIZE).unwrap_or(4096);
    let chunk = (opts.chunk_size / page).max(1) * page;
    let total: u64 = mappings.iter().map(|m| m.span.len()).sum();
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = sync_channel::<Job>(2);
        let (buf_tx, buf_rx) = channel::<PageBuf>();
        for _ in 0..3 {
            let _ = buf_tx.send(PageBuf::new(chunk));
        }
        let writer = scope.spawn(move || writer_loop(file, job_rx, buf_tx));
        let read = read_all(
            src, mappings, opts, filter, pagemap, chunk, total, data_start, &job_tx, &buf_rx,
            progress,
        );
        drop(job_tx);
        let written = writer.join().map_err(|_| DumpError::Io {
            context: "writing memory".into(),
            source: std::io::Error::other("writer thread failed"),
        })?;
        // A writer error explains a reader's "queue closed", so report it first.
        written.map_err(|source| io_err("writing memory to the core", source))?;
        read
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn read_all<S: MemorySource + ?Sized>(
    live: &S,
    mappings: &[Mapping],
    opts: &DumpOptions,
    filter: u32,
    pagemap: Option<&Pagemap>,
    chunk: usize,
    total: u64,
    data_start: u64,
    jobs: &std::sync::mpsc::SyncSender<Job>,
    buffers: &Receiver<PageBuf>,
    progress: &mut dyn FnMut(Progress),
) -> Result<MemoryCopy, DumpError> {
    let page = usize::try_from(PAGE_SIZE).unwrap_or(4096);
    let mut copy = MemoryCopy::default();
    let mut layout = Layout::new(data_start);
    let queue_closed = || DumpError::Io {
        context: "writing memory".into(),
        source: std::io::Error::other("writer stopped"),
    };
    let mut done = 0u64;
    let mut backed: Vec<bool> = Vec::new();
    let mut pending: Option<Pending> = None;
    let send = |job: Pending| {
        let len = job.buf.capacity();
        jobs.send(Job {
            buf: job.buf,
            addr: 0,
            len,
            runs: job.runs,
        })
        .map_err(|_| queue_closed())
    };
    for m in mappings {
        let flags = segment_flags(m);
        let name = m.display_name().to_string();
        if m.has_flag("um") || m.has_flag("uw") {
            // A missing page of a userfaultfd range is filled by the process's own handler
            // thread, which is stopped while we copy: a read would wait for ever (and the
            // process with it). Left out, and said so: absence proves nothing.
            copy.absent.push(MissingRange {
                start: m.span.start,
                end: m.span.end,
                errno: None,
                reason: USERFAULTFD_REASON.to_string(),
                mapping: name,
            });
            done = done.saturating_add(m.span.len());
            progress(Progress { done, total });
            continue;
        }
        if opts.policy == Policy::LikeGcore {
            let elf = || {
                let mut magic = [0u8; 4];
                live.read_exact_at(m.span.start, &mut magic).is_ok() && magic == *b"\x7fELF"
            };
            if let Err(reason) = gcore_decision(m, filter, elf) {
                // No PT_LOAD: the note's absent list is where readers learn about it.
                copy.absent.push(MissingRange {
                    start: m.span.start,
                    end: m.span.end,
                    errno: None,
                    reason: reason.to_string(),
                    mapping: name,
                });
                done = done.saturating_add(m.span.len());
                progress(Progress { done, total });
                continue;
            }
        }
        let sparse = m.is_private_anonymous();
        let mut window = pagemap.filter(|_| sparse).map(BackedWindow::new);
        let mut addr = m.span.start;
        while addr < m.span.end {
            // A never-touched range of a chunk or more: a hole, skipped in one step (no read,
            // no buffer, no write), however much address space it spans.
            let hole = match window.as_mut() {
                Some(w) => w.hole_pages(addr, m.span.end).unwrap_or(0) * PAGE_SIZE,
                None => 0,
            };
            let hole = hole.min(m.span.end - addr);
            // Past PACK_LIMIT segments only holes of a chunk or more are skipped (each skip
            // can open a segment).
            let skip_min = if layout.packing() {
                SKIP_PAGES * PAGE_SIZE
            } else {
                chunk as u64
            };
            if hole >= skip_min || (hole > 0 && addr + hole == m.span.end) {
                layout.zeros(addr, hole, flags);
                addr += hole;
                done = done.saturating_add(hole);
                progress(Progress { done, total });
                continue;
            }
            let mut n = usize::try_from((m.span.end - addr).min(chunk as u64)).unwrap_or(chunk);
            let mut npages = n.div_ceil(page);
            let all_backed = match window.as_mut() {
                Some(w) => match w.get(addr, npages, m.span.end) {
                    Ok(flags) => {
                        backed.clear();
                        backed.extend_from_slice(flags);
                        false
                    }
                    Err(_) => true,
                },
                None => true,
            };
            // The chunk ends where a hole worth skipping begins: the next turn skips it in
            // one step instead of walking its pages here.
            let cut = long_hole_start(&backed, SKIP_PAGES as usize)
                .filter(|_| !all_backed && layout.packing());
            if let Some(cut) = cut {
                npages = cut;
                n = cut * page;
                backed.truncate(cut);
            }
            let mut states = vec![PageState::Data; npages];
            // The runs of backed pages, read together in one call (a sparse chunk holds many
            // short runs: one process_vm_readv instead of one per run); when that fails, each
            // run is read on its own and a failed run retried page by page.
            let mut backed_runs: Vec<(usize, usize)> = Vec::new();
            let mut p = 0usize;
            while p < npages {
                let is_backed = |i: usize| all_backed || backed.get(i).copied().unwrap_or(true);
                if !is_backed(p) {
                    states[p] = PageState::Hole;
                    p += 1;
                    continue;
                }
                let mut q = p;
                while q < npages && is_backed(q) {
                    q += 1;
                }
                backed_runs.push((p * page, (q * page).min(n)));
                p = q;
            }
            // The backed pages are packed into the buffer after those of earlier chunks, and
            // the buffer goes to the writer only when full (or at the end): a sparse victim
            // with one page per MiB is one hand-off per buffer, not one per chunk (at 64 GiB
            // mapped the futex wake-ups of 65 536 hand-offs were half the dump's time).
            let need: usize = backed_runs
                .iter()
                .map(|&(b0, b1)| (b1 - b0).div_ceil(page) * page)
                .sum();
            if let Some(job) = pending.take_if(|j| j.used + need > j.buf.capacity()) {
                send(job)?;
            }
            let job = match pending.as_mut() {
                Some(job) => job,
                None => pending.insert(Pending {
                    buf: buffers.recv().map_err(|_| queue_closed())?,
                    used: 0,
                    runs: Vec::new(),
                }),
            };
            let cap = job.buf.capacity();
            // Page aligned: each page lands at the offset within a page it is read from.
            let view = job.buf.for_addr_mut(0, cap);
            let mut dests: Vec<(usize, usize)> = Vec::with_capacity(backed_runs.len());
            let mut at = job.used;
            for &(b0, b1) in &backed_runs {
                dests.push((at, at + (b1 - b0)));
                at += (b1 - b0).div_ceil(page) * page;
            }
            if at > cap {
                // Cannot happen (a chunk is at most one buffer): refuse rather than overrun.
                return Err(DumpError::Overflow("read buffer"));
            }
            let together = backed_runs.len() > 1 && {
                let mut parts = split_parts(view, 0, &dests);
                for (part, &(b0, _)) in parts.iter_mut().zip(&backed_runs) {
                    part.0 = addr + b0 as u64;
                }
                parts.len() == backed_runs.len() && live.read_parts_at(&mut parts).is_ok()
            };
            if !together {
                for (&(b0, _), &(d0, d1)) in backed_runs.iter().zip(&dests) {
                    let run_addr = addr + b0 as u64;
                    for (span, err) in read_pagewise(live, run_addr, &mut view[d0..d1]) {
                        let first = usize::try_from((span.start - addr) / PAGE_SIZE).unwrap_or(0);
                        let last =
                            usize::try_from((span.end - addr).div_ceil(PAGE_SIZE)).unwrap_or(0);
                        for st in states.iter_mut().take(last.min(npages)).skip(first) {
                            *st = PageState::Bad(err.clone());
                        }
                    }
                }
            }
            // Where each backed page sits in the buffer.
            let mut buf_off = vec![usize::MAX; npages];
            for (&(b0, b1), &(d0, _)) in backed_runs.iter().zip(&dests) {
                for (k, o) in buf_off
                    .iter_mut()
                    .enumerate()
                    .take(b1.div_ceil(page))
                    .skip(b0 / page)
                {
                    *o = d0 + (k * page - b0);
                }
            }
            job.used = at;
            // Turn page states into segments, unreadable ranges and write runs.
            let runs = &mut job.runs;
            for (i, st) in states.iter().enumerate() {
                let page_addr = addr + (i * page) as u64;
                let len = page.min(n - i * page);
                let len64 = len as u64;
                match st {
                    PageState::Bad(err) => {
                        layout.refused(page_addr, len64);
                        match copy.unreadable.last_mut() {
                            Some(last)
                                if last.end == page_addr
                                    && last.errno == err.errno
                                    && last.mapping == name =>
                            {
                                last.end = page_addr + len64
                            }
                            _ => copy.unreadable.push(MissingRange {
                                start: page_addr,
                                end: page_addr + len64,
                                errno: err.errno,
                                reason: err.reason.clone(),
                                mapping: name.clone(),
                            }),
                        }
                    }
                    PageState::Hole => layout.gap(page_addr, len64, flags)?,
                    PageState::Data => {
                        let file_off = layout.data(page_addr, len64, flags)?;
                        let o = buf_off[i];
                        match runs.last_mut() {
                            Some((s, l, off)) if *s + *l == o && *off + *l as u64 == file_off => {
                                *l += len
                            }
                            _ => runs.push((o, len, file_off)),
                        }
                    }
                }
            }
            addr += n as u64;
            done = done.saturating_add(n as u64);
            progress(Progress { done, total });
        }
        layout.close();
    }
    if let Some(job) = pending.take() {
        send(job)?;
    }
    copy.segments = layout.segments;
    copy.data_end = layout.data_end;
    Ok(copy)
}

/// A buffer being filled with the backed pages of one chunk or more, before it goes to the
/// writer: `used` bytes taken, `runs` to write (offset in the buffer, length, file offset).
struct Pending {
    buf: PageBuf,
    used: usize,
    runs: Vec<(usize, usize, u64)>,
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
