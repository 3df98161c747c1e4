//! `confidump show`: hex view of a core file or a live process, unreadable bytes as `??`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::scan::{open_source, use_color, NeedleArgs};
use super::EXIT_OK;
use crate::coredump::{gdbview, parse_hex_addr};
use crate::memory::window::{around_hit, capture};
use crate::memory::RegionKind;
use crate::model::{hex_addr, Span};
use crate::render::hexview;
use crate::scan;

/// Largest window shown at once: the view is for eyes, not for extraction.
const MAX_LEN: u64 = 64 * 1024;

const SHOW_EXAMPLES: &str = "\
Examples:
  confidump show victim.core --addr 0x7f0000001000
  confidump show --pid 1234 --addr 0x55d0c1a2b2a0 --len 64
  confidump show victim.core --hit 0 --needle hunter2     64 bytes around hit 0, highlighted";

/// Options of `confidump show`.
#[derive(Debug, clap::Args)]
#[command(after_help = SHOW_EXAMPLES)]
pub struct ShowArgs {
    /// Core file to read.
    #[arg(
        value_name = "SOURCE",
        required_unless_present = "pid",
        conflicts_with = "pid"
    )]
    pub source: Option<PathBuf>,
    /// Read a live process instead.
    #[arg(long)]
    pub pid: Option<i32>,
    /// First address to show (0x...).
    #[arg(long, required_unless_present = "hit", conflicts_with = "hit")]
    pub addr: Option<String>,
    /// Bytes to show (at most 65536).
    #[arg(long, default_value_t = 256)]
    pub len: u64,
    /// Scan with the needle options, then show the bytes around hit K (0-based, address order).
    #[arg(long, value_name = "K")]
    pub hit: Option<usize>,
    /// Needles for --hit.
    #[command(flatten)]
    pub needles: NeedleArgs,
}

/// Runs `confidump show`.
pub fn run(args: ShowArgs) -> anyhow::Result<ExitCode> {
    // A live process is kept as itself: a read that failed because it died is not "refused".
    let live = match args.pid {
        Some(pid) => Some(crate::memory::live::LiveProcess::open(pid, false)?),
        None => None,
    };
    let opened = match &live {
        Some(_) => None,
        None => Some(open_source(args.source.as_ref(), None)?),
    };
    let source: &dyn crate::memory::MemorySource = match (&live, &opened) {
        (Some(l), _) => l,
        (None, Some(o)) => o.as_ref(),
        (None, None) => bail!("give either a core file or --pid"),
    };
    let color = use_color();
    // Nothing is printed before the read is known to describe a live process.
    let mut head = String::new();
    let (window, highlight) = match (args.hit, &args.addr) {
        (Some(k), _) => {
            if args.needles.is_empty() {
                bail!("--hit needs needle options (--needle, --needle-file or --sha256)");
            }
            let needles = args.needles.build()?;
            let mut report = scan::scan_source(source, &needles)?;
            // Copies of the program's own text (its help's examples) are not hits of the secret.
            if let (Some(l), Some(pid)) = (&live, args.pid) {
                scan::public::split_own_copies(
                    &mut report,
                    l,
                    &crate::procfs::proc_path(pid, "exe"),
                );
            }
            let own = report.public_hits.iter().filter(|p| p.copy).count();
            let Some(hit) = report.hits.get(k) else {
                let also = if own > 0 {
                    format!(" ({own} more in copies of the program's own text, not the secret)")
                } else {
                    String::new()
                };
                bail!(
                    "no hit {k}: the scan found {} hit(s){also}",
                    report.hits.len()
                );
            };
            head.push_str(&format!(
                "hit {k}: needle {} ({}) at {} in {}\n",
                hit.needle,
                hit.encoding.as_str(),
                hex_addr(hit.vaddr),
                crate::render::text::shown_mapping(&hit.mapping)
            ));
            let w = around_hit(hit.vaddr, hit.len);
            let w = Span::new(w.start, w.end.min(w.start.saturating_add(MAX_LEN)));
            let span = Span::new(hit.vaddr, hit.vaddr.saturating_add(hit.len));
            (w, vec![span])
        }
        (None, Some(a)) => {
            let addr = parse_hex_addr(a)
                .or_else(|| a.parse().ok())
                .with_context(|| format!("--addr {a}: not an address (0x...)"))?;
            if args.len == 0 || args.len > MAX_LEN {
                bail!("--len must be 1..={MAX_LEN}");
            }
            (Span::new(addr, addr.saturating_add(args.len)), Vec::new())
        }
        (None, None) => bail!("give --addr or --hit"),
    };
    use crate::render::sanitize::visible;
    let view = capture(source, "", window, &highlight);
    if let Some(l) = &live {
        // `??` drawn for a process that died mid-read would claim a refusal.
        l.ensure_alive("read")?;
    }
    crate::out!("{head}")?;
    crate::outln!(
        "{}: {} bytes at {}",
        visible(&source.describe()),
        window.len(),
        hex_addr(window.start)
    )?;
    crate::out!("{}", hexview::render(&view, color))?;
    if let Some(core) = &args.source {
        if let Some(line) = gdb_says(core, source, window) {
            // gdb's words may quote the core's own strings.
            crate::outln!("{}", visible(&line))?;
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// gdb's own answer at the first byte of the window that our reader cannot give (refused or
/// left out), quoted so the `??` is not only our word: `gdb on the same core: x/16xb 0x… →
/// Cannot access memory at address 0x…`. `None` when the window has no such byte.
fn gdb_says(
    core: &std::path::Path,
    source: &dyn crate::memory::MemorySource,
    window: Span,
) -> Option<String> {
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
