//! `confidump scan`.

use std::process::ExitCode;

/// Options of `confidump scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {}

/// Runs `confidump scan`.
pub fn run(_args: ScanArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
