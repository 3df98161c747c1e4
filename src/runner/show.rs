//! `confidump show` without its flags: which window of memory to show (around a hit of a scan,
//! or at an address), and gdb's own word on the bytes our reader cannot give.

use std::path::Path;

use crate::coredump::{gdbview, parse_hex_addr};
use crate::memory::live::{LiveError, LiveProcess};
use crate::memory::window::{around_hit, capture};
use crate::memory::{MemorySource, RegionKind};
use crate::model::{HexWindow, Hit, Span};
use crate::scan::needles::{NeedleSpec, SpecError};
use crate::scan::{self, Needles, ScanError};

use super::scan::ScanRunError;

/// Largest window shown at once: the view is for eyes, not for extraction.
pub const MAX_LEN: u64 = 64 * 1024;

/// Why no window can be shown.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// The scan found fewer hits.
    #[error("no hit {k}: the scan found {found} hit(s){}", own_copies(*own))]
    NoHit {
        /// The hit asked for.
        k: usize,
        /// Hits found.
        found: usize,
        /// Hits in copies of the program's own text, not the secret.
        own: usize,
    },
    /// `--addr` is not an address.
    #[error("--addr {0}: not an address (0x...)")]
    BadAddr(String),
    /// `--len` is out of range.
    #[error("--len must be 1..={MAX_LEN}")]
    BadLen,
    /// The scan failed.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// Neither a core file nor a process to read.
    #[error("give either a core file or --pid")]
    NoSource,
    /// Neither a hit nor an address to show.
    #[error("give --addr or --hit")]
    NoWindow,
    /// `--hit` without a needle to find it by.
    #[error("--hit needs needle options (--needle, --needle-file or --sha256)")]
    NoNeedles,
    /// The needles could not be built.
    #[error(transparent)]
    Needles(#[from] SpecError),
    /// The core file could not be opened.
    #[error(transparent)]
    Core(#[from] ScanRunError),
    /// The process could not be read, or died while it was.
    #[error(transparent)]
    Live(#[from] LiveError),
}

/// Which bytes `show` shows.
#[derive(Debug)]
pub enum ShowAt<'a> {
    /// Around hit `k` (0-based, address order) of a scan for the needles.
    Hit {
        /// The needle options.
        needles: NeedleSpec<'a>,
        /// The hit.
        k: usize,
    },
    /// `len` bytes at `addr` (`0x…`, or decimal).
    Addr {
        /// As given.
        addr: &'a str,
        /// Bytes to show.
        len: u64,
    },
}

/// What `show` draws: the hit it shows (if it shows one), what was read, the captured view, and
/// gdb's word on the bytes our reader could not give (a core only).
#[derive(Debug)]
pub struct Shown {
    /// The hit, when the window is around one.
    pub hit: Option<Hit>,
    /// The source, described (`core FILE`, `pid N`); not yet made safe for a terminal.
    pub source: String,
    /// The window read.
    pub window: Span,
    /// Its bytes, refused ones as such, the hit highlighted.
    pub view: HexWindow,
    /// [`gdb_says`], for a core.
    pub gdb: Option<String>,
}

/// `confidump show`: reads the window `at` of the core `core` or the live process `pid` (a
/// process is kept as itself: a read that failed because it died is an error, never `??`).
pub fn run(core: Option<&Path>, pid: Option<i32>, at: ShowAt<'_>) -> Result<Shown, ShowError> {
    let live = pid.map(|p| LiveProcess::open(p, false)).transpose()?;
    let opened = core
        .filter(|_| live.is_none())
        .map(super::scan::open_core)
        .transpose()?;
    let source: &dyn MemorySource = match (&live, &opened) {
        (Some(l), _) => l,
        (None, Some(o)) => o,
        (None, None) => return Err(ShowError::NoSource),
    };
    let (hit, window, highlight) = match at {
        ShowAt::Hit { needles, k } => {
            if needles.is_empty() {
                return Err(ShowError::NoNeedles);
            }
            let needles = needles.build()?;
            let (hit, window, highlight) =
                around_hit_k(source, live.as_ref().zip(pid), &needles, k)?;
            (Some(hit), window, highlight)
        }
        ShowAt::Addr { addr, len } => (None, at_addr(addr, len)?, Vec::new()),
    };
    let view = capture(source, "", window, &highlight);
    if let Some(l) = &live {
        // `??` drawn for a process that died mid-read would claim a refusal.
        l.ensure_alive("read")?;
    }
    Ok(Shown {
        hit,
        source: source.describe(),
        window,
        view,
        gdb: core
            .filter(|_| live.is_none())
            .and_then(|c| gdb_says(c, source, window)),
    })
}

fn own_copies(own: usize) -> String {
    if own > 0 {
        format!(" ({own} more in copies of the program's own text, not the secret)")
    } else {
        String::new()
    }
}

/// Hit `k` of a scan of `source` for `needles` (in address order), the window around it (at
/// most [`MAX_LEN`]) and the hit's own span to highlight. For a `live` process, copies of the
/// program's own text (its help's examples) are not hits of the secret.
pub fn around_hit_k(
    source: &dyn MemorySource,
    live: Option<(&LiveProcess, i32)>,
    needles: &Needles,
    k: usize,
) -> Result<(Hit, Span, Vec<Span>), ShowError> {
    let mut report = scan::scan_source(source, needles)?;
    if let Some((l, pid)) = live {
        scan::public::split_own_copies(&mut report, l, &crate::procfs::proc_path(pid, "exe"));
    }
    let own = report.public_hits.iter().filter(|p| p.copy).count();
    let found = report.hits.len();
    let Some(hit) = report.hits.into_iter().nth(k) else {
        return Err(ShowError::NoHit { k, found, own });
    };
    let w = around_hit(hit.vaddr, hit.len);
    let w = Span::new(w.start, w.end.min(w.start.saturating_add(MAX_LEN)));
    let span = Span::new(hit.vaddr, hit.vaddr.saturating_add(hit.len));
    Ok((hit, w, vec![span]))
}

/// The window of `len` bytes at `addr` (`0x…`, or decimal).
pub fn at_addr(addr: &str, len: u64) -> Result<Span, ShowError> {
    let start = parse_hex_addr(addr)
        .or_else(|| addr.parse().ok())
        .ok_or_else(|| ShowError::BadAddr(addr.to_string()))?;
    if len == 0 || len > MAX_LEN {
        return Err(ShowError::BadLen);
    }
    Ok(Span::new(start, start.saturating_add(len)))
}

/// gdb's own answer at the first byte of the window that our reader cannot give (refused or
/// left out), quoted so the `??` is not only our word: `gdb on the same core: x/16xb 0x… →
/// Cannot access memory at address 0x…`. `None` when the window has no such byte.
pub fn gdb_says(core: &std::path::Path, source: &dyn MemorySource, window: Span) -> Option<String> {
    let at = source
        .regions()
        .iter()
        .filter(|r| r.kind != RegionKind::Readable)
        .find(|r| r.span.start < window.end && window.start < r.span.end)
        .map(|r| r.span.start.max(window.start))?;
    let len = (window.end - at).min(16);
    Some(match gdbview::examine(core, None, at, len) {
        Ok(a) => format!("gdb on the same core: {} → {}", a.command, a.line),
        Err(e) => format!("gdb on the same core: not asked ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_lengths_are_checked() {
        assert_eq!(at_addr("0x1000", 16).unwrap(), Span::new(0x1000, 0x1010));
        assert_eq!(at_addr("4096", 1).unwrap(), Span::new(4096, 4097));
        assert_eq!(
            at_addr("zz", 1).unwrap_err().to_string(),
            "--addr zz: not an address (0x...)"
        );
        assert_eq!(
            at_addr("0x1", 0).unwrap_err().to_string(),
            "--len must be 1..=65536"
        );
        let e = ShowError::NoHit {
            k: 3,
            found: 1,
            own: 2,
        };
        assert_eq!(
            e.to_string(),
            "no hit 3: the scan found 1 hit(s) (2 more in copies of the program's own text, not the secret)"
        );
    }
}
