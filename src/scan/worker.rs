//! The scan's workers: each takes the next chunk from the shared [`Cutter`], reads it into its
//! own buffer and searches it there, so the search runs over bytes the same core has just
//! written (still in its cache) and no chunk is ever handed from one thread to another.
//!
//! Why not a reader thread feeding a searching thread: the search is faster than the read
//! (measurements: docs/performance.md, "Design measurements"), so the searcher waited on the
//! reader at every chunk, and a wake-up on a vCPU that has gone idle costs a trip through the
//! hypervisor; when the other vCPU was busy with someone else's work, the reader and the
//! searcher took turns on one core. Workers that each read and search never wait for one
//! another: on two free cores the read and the search are split between both, on one core they
//! run back to back with nothing in between.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::detect::Detectors;
use super::engine::Engine;
use super::reader::{self, Cutter};
use super::MAX_FINDINGS;
use crate::memory::pagebuf::PageBuf;
use crate::memory::MemorySource;
use crate::model::{Detection, Hit, Span};

/// What every worker reads from.
pub(super) struct Shared<'a, S: ?Sized> {
    pub(super) source: &'a S,
    pub(super) engine: &'a Engine,
    pub(super) detectors: Option<&'a Detectors>,
    pub(super) cutter: Mutex<Cutter<'a, S>>,
    /// Bytes of readable regions gone through (searched, or skipped as never populated).
    pub(super) done: AtomicU64,
    /// How far past a chunk's owned end a needle starting in it can reach.
    pub(super) needle_reach: usize,
    /// No pattern is all zeros: never-populated spans need no needle search (the cutter
    /// skips long ones on the same condition).
    pub(super) skip_holes: bool,
    /// `Some(needle_reach)` when the needle search is all that reads a chunk (no detectors)
    /// and it leaves out the inside of never-populated spans (`skip_holes`): then only their
    /// edges are zero-filled (`reader::zero_span`).
    pub(super) zero_edges: Option<u64>,
    /// Bytes of each worker's buffer.
    pub(super) cap: usize,
}

/// What one worker found. Each keeps at most [`MAX_FINDINGS`] hits and detections, the
/// lowest addresses it saw (it takes chunks in address order), so the lowest ones overall
/// are among the merged lists.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) hits: Vec<Hit>,
    pub(super) detections: Vec<Detection>,
    pub(super) hits_more: u64,
    pub(super) detections_more: u64,
    pub(super) failed: Vec<(Span, String)>,
    pub(super) bytes_scanned: u64,
    pub(super) unpopulated: u64,
}

impl Tally {
    /// Adds another worker's tally to this one (lists unsorted, uncapped).
    pub(super) fn merge(&mut self, other: Tally) {
        self.hits.extend(other.hits);
        self.detections.extend(other.detections);
        self.hits_more += other.hits_more;
        self.detections_more += other.detections_more;
        self.failed.extend(other.failed);
        self.bytes_scanned += other.bytes_scanned;
        self.unpopulated += other.unpopulated;
    }
}

/// Takes chunks until none is left; `progress` gets the bytes done by all workers after each
/// of this one's chunks.
pub(super) fn work<S: MemorySource + Sync + ?Sized>(
    shared: &Shared<'_, S>,
    progress: &mut dyn FnMut(u64),
) -> Tally {
    let source = shared.source;
    let mut t = Tally::default();
    let mut buf = PageBuf::new(shared.cap);
    let mut window = None;
    let (mut found, mut dfound, mut cands) = (Vec::new(), Vec::new(), Vec::new());
    let mut windows = Vec::new();
    let locate = |vaddr: u64| match source.region_at(vaddr) {
        Some(r) => (
            r.name.clone(),
            r.offset.map_or(vaddr, |o| o + (vaddr - r.span.start)),
        ),
        None => (String::new(), vaddr),
    };
    loop {
        // A worker that panicked holding the lock left the cutter whole (it only moves
        // forward): carry on with it.
        let cut = shared
            .cutter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next();
        let Some(cut) = cut else { break };
        let filled = reader::read_cut(source, &mut window, &cut, &mut buf, shared.zero_edges);
        let (a, b, buf_start) = (cut.a, cut.b, cut.buf_start);
        let bad = &filled.bad;
        t.unpopulated += filled.unpopulated + cut.skipped;
        let data = buf.for_addr(buf_start, filled.len);
        let mut owned_bad = 0u64;
        for (span, err) in bad {
            let s = span.start.max(a);
            let e = span.end.min(b);
            if s < e {
                owned_bad += e - s;
                t.failed.push((Span::new(s, e), err.reason.clone()));
            }
        }
        t.bytes_scanned += ((b - a) - owned_bad).saturating_sub(filled.unpopulated);
        let owned = usize::try_from(a - buf_start).unwrap_or(0)
            ..usize::try_from(b - buf_start).unwrap_or(0);
        // Zeros standing in for unreadable pages are not data.
        let overlaps_bad = |span: Span| {
            bad.iter()
                .any(|(s, _)| s.start < span.end && span.start < s.end)
        };
        found.clear();
        let needle_end = owned
            .end
            .saturating_add(shared.needle_reach)
            .min(data.len());
        if shared.skip_holes {
            needle_windows(
                &filled.zeros,
                buf_start,
                owned.clone(),
                shared.needle_reach,
                &mut windows,
            );
        } else {
            windows.clear();
            windows.push(owned.clone());
        }
        for w in windows.drain(..) {
            let end = w.end.saturating_add(shared.needle_reach).min(needle_end);
            shared
                .engine
                .search(&data[..end], w, &mut found, &mut cands);
        }
        // A finding at `idx` is kept unless an unreadable page lies under it or `kept` reached
        // the cap (then `more` counts it): its address, mapping and offset.
        let admit = |idx: usize, len: usize, kept: usize, more: &mut u64| {
            let vaddr = buf_start + idx as u64;
            if overlaps_bad(Span::new(vaddr, vaddr + len as u64)) {
                return None;
            }
            if kept >= MAX_FINDINGS {
                *more += 1;
                return None;
            }
            let (mapping, offset) = locate(vaddr);
            Some((vaddr, mapping, offset))
        };
        // In address order, so the cap keeps the lowest.
        found.sort_by_key(|f| f.idx);
        for f in found.drain(..) {
            let Some((vaddr, mapping, offset)) =
                admit(f.idx, f.len, t.hits.len(), &mut t.hits_more)
            else {
                continue;
            };
            t.hits.push(Hit {
                needle: f.needle,
                encoding: f.encoding,
                vaddr,
                len: f.len as u64,
                mapping,
                offset,
            });
        }
        if let Some(d) = shared.detectors {
            dfound.clear();
            d.search(data, owned, &mut dfound);
            dfound.sort_by_key(|f| f.idx);
            for f in dfound.drain(..) {
                let Some((vaddr, mapping, offset)) =
                    admit(f.idx, f.len, t.detections.len(), &mut t.detections_more)
                else {
                    continue;
                };
                t.detections.push(Detection {
                    kind: f.kind,
                    vaddr,
                    len: f.len as u64,
                    mapping,
                    offset,
                    preview: f.preview,
                });
            }
        }
        let step = cut.skipped + (b - a);
        progress(shared.done.fetch_add(step, Ordering::Relaxed) + step);
    }
    t
}

/// The parts of `owned` (indices into a buffer holding the memory from `buf_start`) that the
/// needle search must cover: all of it but the inside of the never-populated spans `zeros`,
/// which hold zeros alone, where no match of a pattern that is not all zeros fits. The part
/// after such a span starts `reach` bytes before the span's end, so a needle that begins in
/// the zeros (one with leading NULs) and ends in the data is still found; a needle that
/// begins in the data and runs into the zeros is found too (the search reads past a part's
/// end, into the zeros really in the buffer).
///
/// Why: a sparse victim (the benchmark's ballast with one page touched in 16) has holes too
/// short to skip, and each was searched as zeros: 4 GiB searched for 256 MiB of data. Leaving
/// them out makes a sparse scan several times faster and leaves dense scans as they were
/// (measurements: docs/performance.md, "Design measurements"). The zeros are still written into
/// the buffer (a `memset` of a chunk that stays in cache): the detectors and a needle running
/// into a hole read them.
fn needle_windows(
    zeros: &[Span],
    buf_start: u64,
    owned: Range<usize>,
    reach: usize,
    out: &mut Vec<Range<usize>>,
) {
    out.clear();
    let mut at = owned.start;
    for z in zeros {
        let (Ok(zs), Ok(ze)) = (
            usize::try_from(z.start.saturating_sub(buf_start)),
            usize::try_from(z.end.saturating_sub(buf_start)),
        ) else {
            continue;
        };
        let (zs, ze) = (zs.max(at), ze.min(owned.end));
        // Only a span longer than a needle's reach leaves something out.
        if ze <= zs || ze - zs <= reach {
            continue;
        }
        if zs > at {
            out.push(at..zs);
        }
        at = ze - reach;
    }
    if at < owned.end {
        out.push(at..owned.end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::live::LiveProcess;
    use crate::memory::{ReadError, RegionKind, SourceRegion};
    use crate::model::Encoding;
    use crate::procfs::pagemap::Pagemap;
    use crate::scan::{scan, Needles, ScanOptions};
    use crate::secret::Secret;

    /// One mapping of this test process, read live.
    struct One<'a> {
        live: &'a LiveProcess,
        regions: Vec<SourceRegion>,
    }

    impl MemorySource for One<'_> {
        fn describe(&self) -> String {
            "one mapping of this process".into()
        }
        fn regions(&self) -> &[SourceRegion] {
            &self.regions
        }
        fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            self.live.read_exact_at(addr, buf)
        }
        fn unpopulated_zeros(&self, addr: u64) -> Option<(&Pagemap, u64)> {
            self.live.unpopulated_zeros(addr)
        }
    }

    /// A fresh private anonymous mapping of `pages` 4 KiB pages (no huge pages).
    fn fresh(pages: usize) -> *mut libc::c_void {
        // SAFETY: a fresh private anonymous mapping; callers unmap it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages * 4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: advice on the mapping made above (4 KiB pages: one write backs one page).
        unsafe { libc::madvise(p, pages * 4096, libc::MADV_NOHUGEPAGE) };
        p
    }

    fn one_region(live: &LiveProcess, base: u64, len: u64) -> One<'_> {
        One {
            live,
            regions: vec![SourceRegion {
                span: Span::new(base, base + len),
                name: "[test]".into(),
                kind: RegionKind::Readable,
                offset: None,
            }],
        }
    }

    #[test]
    fn windows_leave_out_the_inside_of_long_zero_spans_only() {
        let base = 0x1000u64;
        let z = |s: u64, e: u64| Span::new(base + s, base + e);
        let mut w = Vec::new();
        needle_windows(&[], base, 0..100, 8, &mut w);
        assert_eq!(w, vec![0..100]);
        // A long span in the middle: cut out but for `reach` bytes before its end.
        needle_windows(&[z(20, 60)], base, 0..100, 8, &mut w);
        assert_eq!(w, vec![0..20, 52..100]);
        // Short spans (not longer than reach) stay searched.
        needle_windows(&[z(20, 28), z(40, 45)], base, 0..100, 8, &mut w);
        assert_eq!(w, vec![0..100]);
        // Spans at both ends, and spans reaching outside the owned range (clipped to it: a
        // needle starting in its last `reach` bytes may run into the overlap).
        needle_windows(&[z(0, 30), z(70, 200)], base, 10..100, 8, &mut w);
        assert_eq!(w, vec![22..70, 92..100]);
        // All zeros: only the last `reach` bytes, where a needle could run past the end.
        needle_windows(&[z(0, 100)], base, 0..100, 8, &mut w);
        assert_eq!(w, vec![92..100]);
    }

    /// Short holes of a live mapping (this test process's own) inside one chunk are left out
    /// of the needle search, and a needle that begins in such a hole (leading NULs) or ends
    /// in one is still found, each once.
    #[test]
    fn needles_at_the_edges_of_short_holes_are_found() {
        let len = 64 * 4096;
        let p = fresh(64);
        let base = p as u64;
        // Page 0 ends with the start of `tail`, page 7 starts with the end of `lead`;
        // pages 1-6 (a hole too short to end the chunk) and 8-63 are never touched.
        let lead: &[u8] = b"\0\0\0\0LEADZERO-needle";
        let tail: &[u8] = b"TAILNEE\0\0\0\0\0";
        // SAFETY: both writes lie inside the mapping made above.
        unsafe {
            std::ptr::copy_nonoverlapping(tail.as_ptr(), (p as *mut u8).add(4096 - 7), 7);
            std::ptr::copy_nonoverlapping(lead[4..].as_ptr(), (p as *mut u8).add(7 * 4096), 15);
        }
        let live = LiveProcess::open(std::process::id() as i32, false).unwrap();
        let src = one_region(&live, base, len as u64);
        let mut n = Needles::new();
        n.add_bytes(Secret::new(lead.to_vec()));
        n.add_bytes(Secret::new(tail.to_vec()));
        let r = scan(&src, &n, &ScanOptions::default()).unwrap();
        // SAFETY: unmapping exactly the mapping made above.
        unsafe { libc::munmap(p, len) };
        if r.bytes_unpopulated == 0 {
            eprintln!("the pagemap could not be read: skipped");
            return;
        }
        let raw: Vec<(usize, u64)> = r
            .hits
            .iter()
            .filter(|h| h.encoding == Encoding::Raw)
            .map(|h| (h.needle, h.vaddr))
            .collect();
        assert_eq!(raw, vec![(1, base + 4096 - 7), (0, base + 7 * 4096 - 4)]);
        assert_eq!(r.bytes_scanned, 2 * 4096);
    }

    /// The inside of a short hole is neither zero-filled nor searched: the buffer there still
    /// holds an earlier chunk's bytes (here: needles every 64 bytes), and none of them may
    /// become a hit. Seven chunks of needles, then one with a 7-page hole (too short to end
    /// a chunk), so the last chunk's buffer has held needles before.
    #[test]
    fn an_earlier_chunks_bytes_in_a_hole_are_never_hits() {
        const NEEDLE: &[u8] = b"STALE-NEEDLE-q7";
        let pages = 8 * 16;
        let len = pages * 4096;
        let p = fresh(pages);
        let base = p as u64;
        // Touched: pages 0..112 (7 chunks), 112, and 120..128; pages 113..120 never.
        let touched = |pg: usize| pg <= 112 || pg >= 120;
        let mut want = Vec::new();
        for pg in (0..pages).filter(|&pg| touched(pg)) {
            for off in (0..4096).step_by(64) {
                let at = pg * 4096 + off;
                // SAFETY: inside the mapping made above.
                unsafe {
                    std::ptr::copy_nonoverlapping(NEEDLE.as_ptr(), (p as *mut u8).add(at), 15)
                };
                want.push(base + at as u64);
            }
        }
        let live = LiveProcess::open(std::process::id() as i32, false).unwrap();
        let src = one_region(&live, base, len as u64);
        let mut n = Needles::new();
        n.add_bytes(Secret::new(NEEDLE.to_vec()));
        let r = scan(&src, &n, &ScanOptions::default()).unwrap();
        // SAFETY: unmapping exactly the mapping made above.
        unsafe { libc::munmap(p, len) };
        if r.bytes_unpopulated == 0 {
            eprintln!("the pagemap could not be read: skipped");
            return;
        }
        assert_eq!(r.bytes_unpopulated, 7 * 4096);
        let got: Vec<u64> = r
            .hits
            .iter()
            .filter(|h| h.encoding == Encoding::Raw)
            .map(|h| h.vaddr)
            .collect();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "a hit inside the hole or one missing");
    }
}
