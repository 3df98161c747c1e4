//! `confidump demo`.

use std::process::ExitCode;

/// Options of `confidump demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `confidump demo`.
pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
