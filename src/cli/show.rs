//! `confidump show`.

use std::process::ExitCode;

/// Options of `confidump show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {}

/// Runs `confidump show`.
pub fn run(_args: ShowArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
