//! `confidump show`: hex view of a core file or a live process, unreadable bytes as `??`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use super::scan::NeedleArgs;
use super::EXIT_OK;
use crate::model::hex_addr;
use crate::render::hexview;
use crate::render::sanitize::visible;
use crate::render::term::use_color;
use crate::runner::show::{self, ShowAt};

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
    let at = match (args.hit, &args.addr) {
        (Some(k), _) => ShowAt::Hit {
            needles: args.needles.spec(),
            k,
        },
        (None, Some(addr)) => ShowAt::Addr {
            addr,
            len: args.len,
        },
        (None, None) => bail!("give --addr or --hit"),
    };
    let shown = show::run(args.source.as_deref(), args.pid, at)?;
    // Nothing is printed before the read is known to describe a live process.
    if let Some(hit) = &shown.hit {
        crate::outln!(
            "hit {}: needle {} ({}) at {} in {}",
            args.hit.unwrap_or_default(),
            hit.needle,
            hit.encoding.as_str(),
            hex_addr(hit.vaddr),
            crate::render::text::shown_mapping(&hit.mapping)
        )?;
    }
    crate::outln!(
        "{}: {} bytes at {}",
        visible(&shown.source),
        shown.window.len(),
        hex_addr(shown.window.start)
    )?;
    crate::out!("{}", hexview::render(&shown.view, use_color()))?;
    if let Some(line) = &shown.gdb {
        // gdb's words may quote the core's own strings.
        crate::outln!("{}", visible(line))?;
    }
    Ok(ExitCode::from(EXIT_OK))
}
