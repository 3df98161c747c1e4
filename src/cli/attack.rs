//! `confidump attack`.

use std::process::ExitCode;

/// Options of `confidump attack`.
#[derive(Debug, clap::Args)]
pub struct AttackArgs {}

/// Runs `confidump attack`.
pub fn run(_args: AttackArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
