//! `confidump victim`.

use std::process::ExitCode;

/// Options of `confidump victim`.
#[derive(Debug, clap::Args)]
pub struct VictimArgs {}

/// Runs `confidump victim`.
pub fn run(_args: VictimArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
