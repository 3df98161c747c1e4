//! Detectors over any [`crate::memory::MemorySource`]: needles in several encodings and
//! secret shapes confirmed by hash.
//!
//! The scanner produces a [`ScanReport`]; renderers (`crate::render`) consume it and never
//! search themselves. It reads each run of adjacent readable regions in chunks of
//! [`ScanOptions::chunk_size`] bytes plus an overlap of the longest pattern, so a match that
//! straddles a chunk, a page or a region boundary is found exactly once: a match belongs to
//! the chunk where it starts. Reads that fail go through [`crate::memory::read_pagewise`] and
//! what stays unreadable is reported, never silently skipped. One worker per core
//! (`worker.rs`) takes the next chunk, reads it and searches it; the chunks are cut
//! (`reader.rs`) so as to leave out the pages a live process never populated
//! (`/proc/PID/pagemap`): they read as zeros, are counted in
//! [`ScanReport::bytes_unpopulated`] and never in `bytes_scanned`.
//!
//! With [`Needles::enable_detectors`] the same pass also runs the [`detect`] detectors (card
//! numbers, PEM keys, JWTs, AWS key ids, canaries) over each chunk; the overlap then grows to
//! [`detect::MAX_LEN`] and a look-behind of [`detect::LOOK_BEHIND`] bytes is read, but the
//! needle search itself still stops where a needle starting in the chunk could end.
//!
//! ```no_run
//! use confidump::memory::live::LiveProcess;
//! use confidump::scan::{scan_source, Needles};
//! use confidump::secret::Secret;
//!
//! let src = LiveProcess::open(1234, false).unwrap();
//! let mut needles = Needles::new();
//! needles.add_bytes(Secret::new(b"hunter2".to_vec()));
//! let report = scan_source(&src, &needles).unwrap();
//! println!("{}", report.verdict.as_str());
//! ```

pub mod detect;
mod engine;
pub mod gate;
pub mod needles;
pub mod public;
mod reader;
mod worker;

use crate::memory::{MemorySource, RegionKind, PAGE_SIZE};
use crate::model::{Absent, PublicConstant, ScanReport, Span, Unreadable, Verdict};
use engine::Engine;
pub use needles::{luhn_valid, Needles, Shape};

/// Errors of the scanner.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The needles could not be compiled into one automaton (far too many or too long).
    #[error("building the search automaton: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

/// Tuning knobs.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Bytes read and searched at a time (rounded up to whole pages). When a reader thread
    /// handed each chunk to a searching thread, small chunks meant many hand-offs (futex
    /// wake-ups, context switches), and those cost more than the search. Since each worker
    /// reads and searches its own chunks (no hand-off), sizes from 256 KiB to 4 MiB take the
    /// same wall time within the noise, and 1 MiB takes the least CPU time; smaller chunks
    /// cost more system calls, larger ones fall out of the cache. Teddy stays fast: the
    /// buffer was just written by the kernel's copy, not faulted in page by page as a huge
    /// mmap is. One buffer per worker: ~2 MiB of RSS on two cores.
    /// (measurements: docs/performance.md, "Design measurements")
    pub chunk_size: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            chunk_size: 1 << 20,
        }
    }
}

/// Hits (and, apart, detections) listed in a report; more are counted, not kept. A 1-byte
/// needle in a 1 GiB core can match hundreds of millions of times: listing them all would take
/// gigabytes of memory and of output, and nobody reads past the first screens.
pub const MAX_FINDINGS: usize = 10_000;

/// Workers reading and searching at once (one per core, up to this): each holds one buffer.
///
/// Workers that each read and search (`worker.rs`) replaced a reader thread feeding a
/// searching thread: they are faster on a quiet and on a loaded machine alike, and almost
/// never switch context. When other work takes both cores, no design helps: the scan then
/// runs on what CPU it gets, and its own CPU per GiB (the search, and `process_vm_readv`
/// with its page pinning) is the floor, whatever the chunk size or worker count.
/// (measurements: docs/performance.md, "Design measurements")
const MAX_WORKERS: usize = 4;

/// Scans with the default options: the entry point for the orchestrator.
pub fn scan_source(source: &dyn MemorySource, needles: &Needles) -> Result<ScanReport, ScanError> {
    scan(source, needles, &ScanOptions::default())
}

/// Scans every readable region of `source` for `needles`.
pub fn scan<S: MemorySource + Sync + ?Sized>(
    source: &S,
    needles: &Needles,
    opts: &ScanOptions,
) -> Result<ScanReport, ScanError> {
    scan_with_progress(source, needles, opts, &mut |_, _| {})
}

/// [`scan`], calling `progress(done, total)` with the bytes of readable regions gone through
/// after each chunk (for a progress bar; the scanner itself never draws).
pub fn scan_with_progress<S: MemorySource + Sync + ?Sized>(
    source: &S,
    needles: &Needles,
    opts: &ScanOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ScanReport, ScanError> {
    let engine = Engine::new(needles)?;
    let detectors = if needles.detectors_enabled() {
        Some(detect::Detectors::new()?)
    } else {
        None
    };
    // Whole pages, so a never-populated page is wholly inside a chunk or wholly skipped. A
    // small source gets smaller chunks: the three buffers in flight stay under its own size
    // (memory follows the input, never a fixed megabytes for a kilobyte core).
    let regions = source.regions();
    let runs = readable_runs(regions);
    let total: u64 = runs.iter().map(|r| r.end - r.start).sum();
    let chunk = (opts.chunk_size as u64)
        .min((total / 4).max(64 << 10))
        .max(PAGE_SIZE)
        .div_ceil(PAGE_SIZE)
        * PAGE_SIZE;
    // One more byte than the longest pattern: a digit run must see the byte after it.
    let needle_reach = engine.max_len + 1;
    // Detectors need more on both sides: the longest block they report (a PEM key) after the
    // owned range, and some left context before it. Only the detectors look that far; the
    // needle search stops at `needle_reach`, so the extra bytes cost one read, not a search.
    let (overlap, behind) = match &detectors {
        Some(_) => (needle_reach.max(detect::MAX_LEN + 1), detect::LOOK_BEHIND),
        None => (needle_reach, 1),
    };
    let (overlap, behind) = (overlap as u64, behind as u64);
    let plan = reader::Plan {
        chunk,
        overlap,
        behind,
        skip_holes: !engine.matches_zeros(),
    };
    let shared = worker::Shared {
        source,
        engine: &engine,
        detectors: detectors.as_ref(),
        cutter: std::sync::Mutex::new(reader::Cutter::new(source, &runs, &plan)),
        done: std::sync::atomic::AtomicU64::new(0),
        needle_reach,
        skip_holes: plan.skip_holes,
        zero_edges: (plan.skip_holes && detectors.is_none()).then_some(needle_reach as u64),
        cap: usize::try_from(chunk + overlap + behind).unwrap_or(usize::MAX),
    };
    // Up to MAX_WORKERS workers, one per core and never more than there are chunks, each
    // reading and searching its own chunks (`worker.rs`): memory stays one buffer per worker
    // whatever the source's size. This thread is one of them, and the one that reports
    // progress.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS)
        .min(usize::try_from(total.div_ceil(chunk)).unwrap_or(usize::MAX))
        .max(1);
    let tally = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers)
            .map(|_| scope.spawn(|| worker::work(&shared, &mut |_| {})))
            .collect();
        let mut tally = worker::work(&shared, &mut |done| progress(done, total));
        for h in helpers {
            match h.join() {
                Ok(t) => tally.merge(t),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        tally
    });
    let skipped_at_end = shared
        .cutter
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .skipped_at_end();
    // The last chunks may have been another worker's: report where all of them ended.
    let done = shared.done.load(std::sync::atomic::Ordering::Relaxed);
    progress(done + skipped_at_end, total);
    let worker::Tally {
        mut hits,
        mut detections,
        mut hits_more,
        mut detections_more,
        failed,
        bytes_scanned,
        unpopulated,
    } = tally;
    let unpopulated = unpopulated + skipped_at_end;

    detections.sort_by_key(|d| (d.vaddr, d.kind));
    detections.dedup_by(|x, y| x.vaddr == y.vaddr && x.kind == y.kind);
    hits.sort_by(|x, y| {
        (x.vaddr, x.needle, x.encoding.as_str()).cmp(&(y.vaddr, y.needle, y.encoding.as_str()))
    });
    hits.dedup_by(|x, y| x.vaddr == y.vaddr && x.needle == y.needle && x.encoding == y.encoding);
    // Each worker kept its lowest MAX_FINDINGS: the lowest overall are listed, the rest
    // counted.
    if hits.len() > MAX_FINDINGS {
        hits_more += (hits.len() - MAX_FINDINGS) as u64;
        hits.truncate(MAX_FINDINGS);
    }
    if detections.len() > MAX_FINDINGS {
        detections_more += (detections.len() - MAX_FINDINGS) as u64;
        detections.truncate(MAX_FINDINGS);
    }

    // Bytes that a world-readable file holds unchanged are public constants, not leaks.
    let mut check = public::PublicCheck::new();
    let (hits, public_hits) = split_public(hits, &mut check, |h| (h.vaddr, h.len), source);
    let (detections, public_detections) =
        split_public(detections, &mut check, |d| (d.vaddr, d.len), source);

    let mut unreadable: Vec<Unreadable> = Vec::new();
    let mut absent: Vec<Absent> = Vec::new();
    for r in regions {
        match &r.kind {
            RegionKind::Unreadable(reason) => unreadable.push(Unreadable {
                start: r.span.start,
                end: r.span.end,
                reason: reason.clone(),
                mapping: r.name.clone(),
            }),
            RegionKind::Absent(reason) => absent.push(Absent {
                start: r.span.start,
                end: r.span.end,
                reason: reason.clone(),
                mapping: r.name.clone(),
            }),
            RegionKind::Readable => {}
        }
    }
    for (span, reason) in failed {
        unreadable.push(Unreadable {
            start: span.start,
            end: span.end,
            reason,
            mapping: source
                .region_at(span.start)
                .map(|r| r.name.clone())
                .unwrap_or_default(),
        });
    }
    unreadable.sort_by_key(|u| (u.start, u.end));
    unreadable.dedup_by(|cur, prev| {
        let join =
            prev.end == cur.start && prev.reason == cur.reason && prev.mapping == cur.mapping;
        if join {
            prev.end = cur.end;
        }
        join
    });
    absent.sort_by_key(|u| (u.start, u.end));
    absent.dedup_by(|cur, prev| {
        let join =
            prev.end == cur.start && prev.reason == cur.reason && prev.mapping == cur.mapping;
        if join {
            prev.end = cur.end;
        }
        join
    });

    Ok(ScanReport {
        source: source.describe(),
        bytes_scanned,
        bytes_unpopulated: unpopulated,
        regions: regions.len(),
        // A detection is a secret found in memory just as a hit is: both make a leak. Findings
        // past the listing cap were never checked against the files on disk (only listed ones
        // can be shown to be public constants), so they count as leaks too.
        verdict: if hits.is_empty()
            && detections.is_empty()
            && hits_more == 0
            && detections_more == 0
        {
            Verdict::NoLeak
        } else {
            Verdict::Leak
        },
        hits,
        hits_more,
        unreadable,
        absent,
        detections,
        detections_more,
        public_hits,
        public_detections,
    })
}

/// Splits findings into secrets and public constants ([`public`]).
fn split_public<T, S: MemorySource + ?Sized>(
    found: Vec<T>,
    check: &mut public::PublicCheck,
    at: impl Fn(&T) -> (u64, u64),
    source: &S,
) -> (Vec<T>, Vec<PublicConstant<T>>) {
    let mut secret = Vec::with_capacity(found.len());
    let mut public = Vec::new();
    for f in found {
        let (vaddr, len) = at(&f);
        match check.origin(source, vaddr, len) {
            Some(o) => public.push(PublicConstant {
                finding: f,
                file: o.file,
                file_offset: o.file_offset,
                copy: false,
            }),
            None => secret.push(f),
        }
    }
    (secret, public)
}

/// Runs of adjacent readable regions: a match may straddle two mappings that touch.
fn readable_runs(regions: &[crate::memory::SourceRegion]) -> Vec<Span> {
    let mut runs: Vec<Span> = Vec::new();
    for r in regions.iter().filter(|r| r.kind == RegionKind::Readable) {
        match runs.last_mut() {
            Some(last) if last.end == r.span.start => last.end = r.span.end,
            _ => runs.push(r.span),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::needles::sha256;
    use super::*;
    use crate::memory::{ReadError, SourceRegion};
    use crate::model::Encoding;
    use crate::secret::Secret;

    /// An in-memory source: one readable region, optionally with an unreadable page.
    struct Mem {
        base: u64,
        data: Vec<u8>,
        bad_page: Option<u64>,
        regions: Vec<SourceRegion>,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl Mem {
        fn new(base: u64, data: Vec<u8>, bad_page: Option<u64>) -> Self {
            let regions = vec![SourceRegion {
                span: Span::new(base, base + data.len() as u64),
                name: "[heap]".into(),
                kind: RegionKind::Readable,
                offset: Some(base),
            }];
            Self {
                base,
                data,
                bad_page,
                regions,
                reads: Default::default(),
            }
        }
    }

    impl MemorySource for Mem {
        fn describe(&self) -> String {
            "test memory".into()
        }
        fn regions(&self) -> &[SourceRegion] {
            &self.regions
        }
        fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(p) = self.bad_page {
                if addr < p + 4096 && p < addr + buf.len() as u64 {
                    return Err(ReadError::from_errno(libc::EIO));
                }
            }
            let off = (addr - self.base) as usize;
            buf.copy_from_slice(&self.data[off..off + buf.len()]);
            Ok(())
        }
    }

    fn needles(list: &[&[u8]]) -> Needles {
        let mut n = Needles::new();
        for b in list {
            n.add_bytes(Secret::new(b.to_vec()));
        }
        n
    }

    #[test]
    fn straddling_match_found_once_and_encodings() {
        let mut data = vec![b'.'; 3 * 4096];
        let needle = b"hunter2-straddle";
        data[4096 - 5..4096 - 5 + needle.len()].copy_from_slice(needle);
        data[6000..6000 + 8].copy_from_slice(b"68756e74");
        let hex_upper = hex::encode_upper(needle);
        data[7000..7000 + 32].copy_from_slice(hex_upper.as_bytes());
        let u16 = needles::utf16le(needle);
        data[8000..8000 + u16.len()].copy_from_slice(&u16);
        let src = Mem::new(0x10000, data, None);
        let report = scan(&src, &needles(&[needle]), &ScanOptions { chunk_size: 4096 }).unwrap();
        let raw: Vec<_> = report
            .hits
            .iter()
            .filter(|h| h.encoding == Encoding::Raw)
            .collect();
        assert_eq!(raw.len(), 1);
        assert_eq!(raw[0].vaddr, 0x10000 + 4096 - 5);
        assert_eq!(raw[0].mapping, "[heap]");
        assert!(report
            .hits
            .iter()
            .any(|h| h.encoding == Encoding::Hex && h.vaddr == 0x10000 + 7000));
        assert!(report
            .hits
            .iter()
            .any(|h| h.encoding == Encoding::Utf16le && h.vaddr == 0x10000 + 8000));
        assert_eq!(report.bytes_scanned, 3 * 4096);
        assert_eq!(report.verdict, Verdict::Leak);
    }

    #[test]
    fn unreadable_page_reported_and_not_matched() {
        let mut data = vec![0u8; 3 * 4096];
        data[100..106].copy_from_slice(b"secret");
        let src = Mem::new(0x10000, data, Some(0x11000));
        let report = scan(&src, &needles(&[b"secret"]), &ScanOptions::default()).unwrap();
        assert_eq!(report.hits.len(), 1);
        assert_eq!(report.unreadable.len(), 1);
        assert_eq!(report.unreadable[0].start, 0x11000);
        assert_eq!(report.unreadable[0].end, 0x12000);
        assert!(report.unreadable[0].reason.starts_with("EIO"));
        assert_eq!(report.bytes_scanned, 2 * 4096);
    }

    #[test]
    fn shapes_confirmed_by_hash() {
        let canary = b"CONFIDUMP-0123456789abcdef01234567";
        let pan = b"4111111111111111";
        let mut data = vec![b'x'; 8192];
        data[4090..4090 + canary.len()].copy_from_slice(canary);
        data[5001..5017].copy_from_slice(pan);
        // A longer digit run holding the same 16 digits must not count.
        data[6000..6017].copy_from_slice(b"41111111111111119");
        let mut n = Needles::new();
        n.add_bytes(Secret::new(b"unrelated".to_vec()));
        n.add_hash(Shape::Canary, sha256(canary));
        n.add_hash(Shape::Pan, sha256(pan));
        let src = Mem::new(0, data, None);
        let r = scan(&src, &n, &ScanOptions { chunk_size: 4096 }).unwrap();
        let got: Vec<_> = r.hits.iter().map(|h| (h.needle, h.vaddr)).collect();
        assert_eq!(got, vec![(1, 4090), (2, 5001)]);
    }

    #[test]
    fn one_byte_needle_is_counted_past_the_cap_not_listed() {
        let data = vec![b'x'; 64 * 1024];
        let src = Mem::new(0x10000, data, None);
        let report = scan(&src, &needles(&[b"x"]), &ScanOptions::default()).unwrap();
        assert_eq!(report.hits.len(), MAX_FINDINGS);
        assert_eq!(report.hits.len() as u64 + report.hits_more, 64 * 1024);
        assert_eq!(report.verdict, Verdict::Leak);
    }

    #[test]
    fn many_chunks_on_several_workers_find_each_match_once() {
        // 64 chunks of one page (two workers or more on any machine with two cores), a
        // needle straddling every chunk boundary, one page unreadable.
        let pages = 64u64;
        let mut data = vec![b'.'; (pages * 4096) as usize];
        let needle = b"straddler-needle";
        for p in 1..pages {
            let at = (p * 4096 - 7) as usize;
            data[at..at + needle.len()].copy_from_slice(needle);
        }
        let src = Mem::new(0x10000, data, Some(0x10000 + 20 * 4096));
        let r = scan(&src, &needles(&[needle]), &ScanOptions { chunk_size: 4096 }).unwrap();
        let raw: Vec<u64> = r
            .hits
            .iter()
            .filter(|h| h.encoding == Encoding::Raw)
            .map(|h| h.vaddr)
            .collect();
        // The two needles touching the unreadable page are no hits.
        let want: Vec<u64> = (1..pages)
            .filter(|&p| p != 20 && p != 21)
            .map(|p| 0x10000 + p * 4096 - 7)
            .collect();
        assert_eq!(raw, want);
        assert_eq!(r.bytes_scanned, (pages - 1) * 4096);
        assert_eq!(r.unreadable.len(), 1);
        assert_eq!(r.unreadable[0].start, 0x10000 + 20 * 4096);
    }

    #[test]
    fn the_cap_lists_the_lowest_addresses_whichever_worker_found_them() {
        let data = vec![b'x'; 64 * 1024];
        let src = Mem::new(0x10000, data, None);
        let r = scan(&src, &needles(&[b"x"]), &ScanOptions { chunk_size: 4096 }).unwrap();
        assert_eq!(r.hits.len() as u64 + r.hits_more, 64 * 1024);
        let want: Vec<u64> = (0..MAX_FINDINGS as u64).map(|i| 0x10000 + i).collect();
        let got: Vec<u64> = r.hits.iter().map(|h| h.vaddr).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_failing_mapping_in_a_run_is_read_page_by_page_alone() {
        // Three adjacent mappings in one chunk: 8 pages, 1 unreadable page, 8 pages.
        let base = 0x10000u64;
        let mut data = vec![b'.'; 17 * 4096];
        data[4096 - 3..4096 + 3].copy_from_slice(b"secret");
        data[16 * 4096..16 * 4096 + 6].copy_from_slice(b"secret");
        let mut src = Mem::new(base, data, Some(base + 8 * 4096));
        src.regions = [("[a]", 0, 8), ("[vvar]", 8, 9), ("[b]", 9, 17)]
            .iter()
            .map(|&(name, s, e)| SourceRegion {
                span: Span::new(base + s * 4096, base + e * 4096),
                name: name.into(),
                kind: RegionKind::Readable,
                offset: None,
            })
            .collect();
        let report = scan(&src, &needles(&[b"secret"]), &ScanOptions::default()).unwrap();
        let raw: Vec<u64> = report.hits.iter().map(|h| h.vaddr).collect();
        assert_eq!(raw, vec![base + 4096 - 3, base + 16 * 4096]);
        assert_eq!(report.unreadable.len(), 1);
        let u = &report.unreadable[0];
        assert_eq!((u.start, u.end), (base + 8 * 4096, base + 9 * 4096));
        assert_eq!(u.mapping, "[vvar]");
        // The chunk, then each mapping, then the failing one's page: not 17 pages one by one.
        assert!(src.reads.load(std::sync::atomic::Ordering::Relaxed) <= 6);
    }
}
