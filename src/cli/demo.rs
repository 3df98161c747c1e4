//! `confidump demo`: plain memory and memfd_secret memory, one root attacker, side by side.

use std::process::ExitCode;

use anyhow::Context;

use super::scan::use_color;
use super::{EXIT_MISMATCH, EXIT_OK};
use crate::runner::demo;

const EXAMPLES: &str = "\
Starts two victims (this same program, `confidump victim`), each holding a random canary:
one in ordinary heap memory, one in memfd_secret memory (a kernel-enforced stand-in for an
enclave). Dumps each as root would, scans the dumps for the secret by its hash, and prints the
results side by side. Exit status: 0 every outcome as expected, 1 a mismatch, 2 an error.

Example:
  sudo confidump demo";

/// Options of `confidump demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct DemoArgs {}

/// Runs `confidump demo`.
pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding this program to start the victims")?;
    let cols = demo::run_demo(&exe)?;
    print!("{}", demo::render(&cols, use_color()));
    let ok = cols.iter().all(demo::Column::met);
    Ok(ExitCode::from(if ok { EXIT_OK } else { EXIT_MISMATCH }))
}
