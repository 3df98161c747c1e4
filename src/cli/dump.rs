//! `confidump dump`.

use std::process::ExitCode;

/// Options of `confidump dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {}

/// Runs `confidump dump`.
pub fn run(_args: DumpArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
