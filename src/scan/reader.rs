//! Reading for the scan: cuts the readable runs into chunks ([`Cutter`], shared by the
//! workers of `worker.rs`), reads each into a worker's [`PageBuf`] ([`read_cut`]), and leaves
//! out what a live process never populated.
//!
//! Never-populated pages of private anonymous mappings (per `/proc/PID/pagemap`, the dump's own
//! [`BackedWindow`]) read as zeros, so they are not read: inside a chunk they are filled with
//! zeros (a `memset`, not a copy from the victim), and a hole of a quarter of a chunk or more
//! ([`Plan::min_hole`]) ends the chunk and is skipped whole, however much address space it
//! spans. Shorter holes stay in the chunk as zeros (the needle search leaves out their inside:
//! `worker.rs`): when every chunk was a hand-off between two threads, a victim with one page
//! touched in 16 (the benchmark's sparse ballast) cut into one chunk per page, and the
//! hand-offs cost far more than the search (measurements: docs/performance.md, "Design
//! measurements"). Skipping stops [`Plan::overlap`] bytes (rounded down to a page) before the
//! hole's end, so the chunk that owns the hole's last bytes sees them as the zeros they are: a
//! match that begins in the hole and ends in the data after it is still found. Only a pattern
//! of zeros alone could lie wholly inside the skipped part; with such a pattern nothing is
//! skipped ([`Plan::skip_holes`]).

use crate::memory::pagebuf::PageBuf;
use crate::memory::{read_pagewise, MemorySource, ReadError, PAGE_SIZE};
use crate::model::Span;
use crate::procfs::pagemap::{long_hole_start, BackedWindow};

/// Never fewer pages than this in a hole worth skipping.
pub(super) const SKIP_PAGES: u64 = 8;

/// How chunks are cut.
pub(super) struct Plan {
    /// Bytes owned by one chunk at most (a multiple of the page size).
    pub(super) chunk: u64,
    /// Bytes read past the owned range, so a match starting in it is seen whole.
    pub(super) overlap: u64,
    /// Bytes read before the owned range (left context).
    pub(super) behind: u64,
    /// False when some pattern is all zeros: then a hole must be searched like data.
    pub(super) skip_holes: bool,
}

impl Plan {
    /// Pages of a hole worth skipping: a quarter of a chunk (below that, a new chunk, a
    /// queue hand-off, costs more than searching the zeros), at least [`SKIP_PAGES`], and
    /// more than the overlap kept.
    fn min_hole(&self) -> u64 {
        (self.chunk / PAGE_SIZE / 4)
            .max(SKIP_PAGES)
            .max(self.overlap.div_ceil(PAGE_SIZE) + 2)
    }
}

/// One chunk to read, as cut by [`Cutter::next`]: the owned range `a..b`, the bytes to read
/// (`buf_start..buf_end`: the owned range with its look-behind and overlap), and the
/// never-populated bytes skipped unread since the previous chunk.
pub(super) struct Cut {
    pub(super) a: u64,
    pub(super) b: u64,
    pub(super) buf_start: u64,
    pub(super) buf_end: u64,
    pub(super) skipped: u64,
    /// The cutter's pagemap says every page of `buf_start..buf_end` holds data: read it in one
    /// piece without asking the pagemap again.
    pub(super) dense: bool,
}

/// What [`read_cut`] put in the buffer: `len` bytes from the cut's `buf_start`, the pages that
/// could not be read, and the bytes of `a..b` that were never populated (zeros, not read).
pub(super) struct Filled {
    pub(super) len: usize,
    pub(super) bad: Vec<(Span, ReadError)>,
    pub(super) unpopulated: u64,
    /// The never-populated spans of the buffer (zero-filled, not read), in address order.
    pub(super) zeros: Vec<Span>,
}

/// Cuts the readable runs into chunks, in address order, skipping long holes. One cutter is
/// shared (behind a lock) by every worker: cutting is cheap (the pagemap is read in batches of
/// 256 MiB of address space), reading and searching are not.
pub(super) struct Cutter<'s, S: ?Sized> {
    source: &'s S,
    runs: &'s [Span],
    plan: &'s Plan,
    /// The run being cut, and where in it the next chunk starts.
    run: usize,
    a: u64,
    window: Option<BackedWindow<'s>>,
    /// Skipped bytes travel with the next chunk; what is left after the last one is
    /// [`Cutter::skipped_at_end`].
    skipped: u64,
}

impl<'s, S: MemorySource + ?Sized> Cutter<'s, S> {
    pub(super) fn new(source: &'s S, runs: &'s [Span], plan: &'s Plan) -> Self {
        Self {
            source,
            runs,
            plan,
            run: 0,
            a: runs.first().map_or(0, |r| r.start),
            window: None,
            skipped: 0,
        }
    }

    /// The next chunk, or `None` when every run has been cut.
    pub(super) fn next(&mut self) -> Option<Cut> {
        let plan = self.plan;
        loop {
            let run = *self.runs.get(self.run)?;
            let a = self.a.max(run.start);
            if a >= run.end {
                self.run += 1;
                if let Some(r) = self.runs.get(self.run) {
                    self.a = r.start;
                }
                continue;
            }
            let mut b = a.saturating_add(plan.chunk).min(run.end);
            if plan.skip_holes {
                if let Some(skip_to) = skip_hole(self.source, &mut self.window, a, run.end, plan) {
                    self.skipped += skip_to - a;
                    self.a = skip_to;
                    continue;
                }
                b = hole_ahead(self.source, &mut self.window, a, b, plan.min_hole()).unwrap_or(b);
            }
            self.a = b;
            // Look-behind so a digit run's start (and a detection's left context) is known.
            let buf_start = a.saturating_sub(plan.behind).max(run.start);
            let buf_end = b.saturating_add(plan.overlap).min(run.end);
            return Some(Cut {
                a,
                b,
                buf_start,
                buf_end,
                skipped: std::mem::take(&mut self.skipped),
                dense: self.all_backed(buf_start, buf_end),
            });
        }
    }

    /// True when `s..e` lies in one private anonymous mapping and the pagemap (the window this
    /// cutter has just read for the chunk's holes) says all its pages hold data. Without it,
    /// each worker read the pagemap again for its own chunks: three `PAGEMAP_SCAN` walks of
    /// every page with two workers instead of one, a visible share of a live scan's time
    /// (measurements: docs/performance.md, "Design measurements").
    fn all_backed(&mut self, s: u64, e: u64) -> bool {
        let Some((pm, map_end)) = self.source.unpopulated_zeros(s) else {
            return false;
        };
        if e > map_end {
            return false;
        }
        let w = self.window.get_or_insert_with(|| BackedWindow::new(pm));
        let first = s / PAGE_SIZE * PAGE_SIZE;
        let Ok(n) = usize::try_from((e - first).div_ceil(PAGE_SIZE)) else {
            return false;
        };
        w.get(first, n, map_end)
            .is_ok_and(|f| f.len() == n && f.iter().all(|&backed| backed))
    }

    /// Never-populated bytes skipped after the last chunk.
    pub(super) fn skipped_at_end(&self) -> u64 {
        self.skipped
    }
}

/// Reads `cut` into `buf` (at most its capacity); `window` is the caller's own pagemap cache.
/// Never-populated spans are zero-filled; with `zero_edges` = `Some(r)`, a span inside the
/// owned range only in its first and last `r` bytes (see [`zero_span`]).
pub(super) fn read_cut<'s, S: MemorySource + ?Sized>(
    source: &'s S,
    window: &mut Option<BackedWindow<'s>>,
    cut: &Cut,
    buf: &mut PageBuf,
    zero_edges: Option<u64>,
) -> Filled {
    let len = usize::try_from(cut.buf_end - cut.buf_start)
        .unwrap_or(0)
        .min(buf.capacity());
    let mut bad = Vec::new();
    let mut zeros = Vec::new();
    let dst = buf.for_addr_mut(cut.buf_start, len);
    if cut.dense {
        let end = cut.buf_start.saturating_add(dst.len() as u64);
        read_into(source, cut.buf_start, cut.buf_start, end, dst, &mut bad);
    } else {
        fill(source, window, cut.buf_start, dst, &mut bad, &mut zeros);
        for z in &zeros {
            zero_span(
                dst,
                cut.buf_start,
                *z,
                zero_edges.map(|r| (cut.a, cut.b, r)),
            );
        }
    }
    let unpopulated = zeros
        .iter()
        .map(|z: &Span| z.end.min(cut.b).saturating_sub(z.start.max(cut.a)))
        .sum();
    Filled {
        len,
        bad,
        unpopulated,
        zeros,
    }
}

/// When `a` (page aligned) starts a hole of at least [`Plan::min_hole`] pages, where the next
/// chunk should start: at the end of the run, or `overlap` bytes (rounded down to a page)
/// before the hole's end.
fn skip_hole<'s, S: MemorySource + ?Sized>(
    source: &'s S,
    window: &mut Option<BackedWindow<'s>>,
    a: u64,
    run_end: u64,
    plan: &Plan,
) -> Option<u64> {
    let (pm, map_end) = source.unpopulated_zeros(a)?;
    let w = window.get_or_insert_with(|| BackedWindow::new(pm));
    let end = map_end.min(run_end);
    let hole = w.hole_pages(a, end).ok()?.saturating_mul(PAGE_SIZE);
    if hole < plan.min_hole() * PAGE_SIZE {
        return None;
    }
    let hole_end = a.saturating_add(hole).min(end);
    if hole_end >= run_end {
        return Some(run_end);
    }
    let to = hole_end.saturating_sub(plan.overlap) / PAGE_SIZE * PAGE_SIZE;
    (to > a).then_some(to)
}

/// The start of the first hole of at least `min_hole` pages after `a` and before `b`,
/// inside the mapping at `a`: the chunk ends there, so the next one can skip it.
fn hole_ahead<'s, S: MemorySource + ?Sized>(
    source: &'s S,
    window: &mut Option<BackedWindow<'s>>,
    a: u64,
    b: u64,
    min_hole: u64,
) -> Option<u64> {
    let (pm, map_end) = source.unpopulated_zeros(a)?;
    let w = window.get_or_insert_with(|| BackedWindow::new(pm));
    let end = b.min(map_end);
    let npages = usize::try_from((end - a).div_ceil(PAGE_SIZE)).ok()?;
    let flags = w.get(a, npages, map_end).ok()?;
    let first = long_hole_start(flags, usize::try_from(min_hole).ok()?)?;
    Some(a + first as u64 * PAGE_SIZE)
}

/// Writes the zeros that the never-populated span `z` reads as into `dst` (which holds the
/// memory from `start`). With `edges` = `(a, b, r)`, a span lying inside the owned range
/// `a..b` and longer than `2r` gets its first and last `r` bytes only: the needle search
/// (`worker.rs`, `needle_windows`) reads no further into a span longer than its reach `r`,
/// and nothing else reads the chunk (`r` is only given when no detector runs). The rest of
/// the buffer keeps earlier chunks' bytes, never searched.
///
/// Why: once the search skipped the zeros, a `memset` of every never-populated page dominated
/// sparse scans; writing only the edges the search reads makes a sparse scan cost what is
/// populated, and leaves dense scans as they were (measurements: docs/performance.md, "Design
/// measurements").
fn zero_span(dst: &mut [u8], start: u64, z: Span, edges: Option<(u64, u64, u64)>) {
    let parts = match edges {
        Some((a, b, r)) if z.start >= a && z.end <= b && z.end - z.start > r.saturating_mul(2) => {
            [(z.start, z.start + r), (z.end - r, z.end)]
        }
        _ => [(z.start, z.end), (z.end, z.end)],
    };
    for (s, e) in parts {
        if let Some(d) = slice_of(dst, start, s, e) {
            d.fill(0);
        }
    }
}

/// Fills `dst` with the memory from `start`: pieces of private anonymous mappings page by page
/// as the pagemap says (backed pages read, never-populated ones listed in `zeros`, for the
/// caller to zero-fill), everything else read directly. Unreadable pages are zeroed and listed in `bad`.
fn fill<'s, S: MemorySource + ?Sized>(
    source: &'s S,
    window: &mut Option<BackedWindow<'s>>,
    start: u64,
    dst: &mut [u8],
    bad: &mut Vec<(Span, ReadError)>,
    zeros: &mut Vec<Span>,
) {
    let end = start.saturating_add(dst.len() as u64);
    let mut x = start;
    while x < end {
        let sparse = source.unpopulated_zeros(x);
        let Some((pm, map_end)) = sparse else {
            // Up to the next mapping whose holes can be told apart (or the end): one read.
            let mut y = x;
            while y < end && source.unpopulated_zeros(y).is_none() {
                y = match source.region_at(y) {
                    Some(r) => r.span.end.min(end),
                    None => end,
                };
            }
            read_into(source, start, x, y, dst, bad);
            x = y;
            continue;
        };
        let piece_end = map_end.min(end);
        let first_page = x / PAGE_SIZE * PAGE_SIZE;
        let npages = usize::try_from((piece_end - first_page).div_ceil(PAGE_SIZE)).unwrap_or(0);
        let w = window.get_or_insert_with(|| BackedWindow::new(pm));
        let flags: Vec<bool> = match w.get(first_page, npages, map_end) {
            Ok(f) if f.len() == npages => f.to_vec(),
            // The pagemap could not tell: read it all.
            _ => vec![true; npages],
        };
        let mut backed_runs: Vec<(u64, u64)> = Vec::new();
        let mut p = 0usize;
        while p < npages {
            let backed = flags[p];
            let mut q = p;
            while q < npages && flags[q] == backed {
                q += 1;
            }
            let s = (first_page + p as u64 * PAGE_SIZE).max(x);
            let e = (first_page + q as u64 * PAGE_SIZE).min(piece_end);
            if backed {
                backed_runs.push((s, e));
            } else {
                // Zero-filled by the caller (`zero_span`).
                zeros.push(Span::new(s, e));
            }
            p = q;
        }
        // The backed runs in one call (a sparse piece has many short ones); when that fails,
        // run by run, each retried page by page.
        if !(backed_runs.len() > 1 && read_together(source, start, dst, &backed_runs)) {
            for &(s, e) in &backed_runs {
                read_into(source, start, s, e, dst, bad);
            }
        }
        x = piece_end;
    }
}

/// Reads `s..e` into its place in `dst` (which holds the memory from `start`). When the whole
/// read fails, region by region, and only a region that fails too page by page: a chunk
/// spanning a run of small mappings with `[vvar]` among them (every live process's last chunk)
/// took one read per page of the run, with the other worker idle (far fewer reads now). Too
/// small to show in the wall time (measurements: docs/performance.md, "Design measurements"),
/// but each unreadable mapping is now reported under its own name (`[vvar]`, `[vvar_vclock]`),
/// as the dump does.
fn read_into<S: MemorySource + ?Sized>(
    source: &S,
    start: u64,
    s: u64,
    e: u64,
    dst: &mut [u8],
    bad: &mut Vec<(Span, ReadError)>,
) {
    let Some(d) = slice_of(dst, start, s, e) else {
        return;
    };
    if source.read_exact_at(s, d).is_ok() {
        return;
    }
    let mut x = s;
    while x < e {
        let y = source
            .region_at(x)
            .map_or(e, |r| r.span.end.min(e))
            .max(x + 1);
        if let Some(d) = slice_of(dst, start, x, y) {
            bad.extend(read_pagewise(source, x, d));
        }
        x = y;
    }
}

/// Reads the sorted, disjoint `runs` into their places in `dst` with one
/// [`MemorySource::read_parts_at`]; false when any byte failed (nothing is known then).
fn read_together<S: MemorySource + ?Sized>(
    source: &S,
    start: u64,
    dst: &mut [u8],
    runs: &[(u64, u64)],
) -> bool {
    let mut parts: Vec<(u64, &mut [u8])> = Vec::with_capacity(runs.len());
    let mut rest = dst;
    let mut at = start;
    for &(s, e) in runs {
        let (Some(skip), Some(len)) = (s.checked_sub(at), e.checked_sub(s)) else {
            return false;
        };
        let (Ok(skip), Ok(len)) = (usize::try_from(skip), usize::try_from(len)) else {
            return false;
        };
        if skip.saturating_add(len) > rest.len() {
            return false;
        }
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(skip);
        let (part, tail) = tail.split_at_mut(len);
        parts.push((s, part));
        rest = tail;
        at = e;
    }
    source.read_parts_at(&mut parts).is_ok()
}

fn slice_of(dst: &mut [u8], start: u64, s: u64, e: u64) -> Option<&mut [u8]> {
    let i = usize::try_from(s.checked_sub(start)?).ok()?;
    let j = usize::try_from(e.checked_sub(start)?).ok()?;
    dst.get_mut(i..j)
}
