//! `confidump show`: hex view of a core file or a live process, unreadable bytes as `??`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use super::scan::{use_color, NeedleArgs};
use super::EXIT_OK;
use crate::memory::window::capture;
use crate::model::hex_addr;
use crate::render::hexview;
use crate::runner::show;

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
    let open_live = |pid| crate::memory::live::LiveProcess::open(pid, false);
    let live = args.pid.map(open_live).transpose()?;
    let core = args.source.as_deref().filter(|_| live.is_none());
    let opened = core.map(crate::runner::scan::open_core).transpose()?;
    let source: &dyn crate::memory::MemorySource = match (&live, &opened) {
        (Some(l), _) => l,
        (None, Some(o)) => o,
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
            let live = live.as_ref().zip(args.pid);
            let (hit, window, highlight) = show::around_hit_k(source, live, &needles, k)?;
            head.push_str(&format!(
                "hit {k}: needle {} ({}) at {} in {}\n",
                hit.needle,
                hit.encoding.as_str(),
                hex_addr(hit.vaddr),
                crate::render::text::shown_mapping(&hit.mapping)
            ));
            (window, highlight)
        }
        (None, Some(a)) => (show::at_addr(a, args.len)?, Vec::new()),
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
        if let Some(line) = show::gdb_says(core, source, window) {
            // gdb's words may quote the core's own strings.
            crate::outln!("{}", visible(&line))?;
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
