//! `confidump report`: several `demo --format json` results (one per node) as one matrix with a
//! column per node. See docs/fleet.md for collecting them from a Kubernetes pool.

use std::process::ExitCode;

use anyhow::Context;

use super::{EXIT_MISMATCH, EXIT_OK};
use crate::files::input::read_user_text;
use crate::render::fleet;
use crate::render::sanitize::json_text;
use crate::render::term::use_color;

const AFTER_HELP: &str = "\
Each FILE is what `confidump demo --format json` printed on one node, alone or inside a
captured log (`kubectl logs` output is fine: the result starts at the first line that opens a
JSON object). The column is named after the file (nodes/aks-sgx-0.json -> aks-sgx-0), or
NAME=FILE names it.

Cells: the node's observation; `✗` it missed that node's expectation, `≠` nodes disagree,
`-` the node did not run that cell. Mismatches are counted from each file's cells, never
taken from its own `mismatches`. Exit status: 0 every node met every expectation, 1 a node
has a mismatch, 2 an error (a file that is not a demo result, or larger than 32 MiB).

Examples:
  confidump report results/*.json
  confidump report --problems results/*.json
  confidump report sgx-a=run1.json sgx-b=run2.json --format json";

/// Output of `confidump report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// A table: node facts, then one line per scenario and attack path.
    #[default]
    Text,
    /// `{"nodes":[…],"rows":[{"scenario","attack","nodes":{LABEL:{expected,observed,reason}}}],"mismatches":N}`.
    Json,
}

/// Options of `confidump report`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct ReportArgs {
    /// Demo results (`demo --format json`), one per node; NAME=FILE names the column.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Only rows where a node missed its expectation or nodes disagree (text output).
    #[arg(long)]
    pub problems: bool,
}

/// Runs `confidump report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let mut results = Vec::new();
    for (label, path) in crate::runner::nodes::columns(&args.files)? {
        // Bounded, regular files only (a FIFO or /dev/zero is refused, not waited on).
        let text = read_user_text(
            &path,
            crate::runner::demo::RESULT_LIMIT,
            "a demo result file",
        )?;
        let result = fleet::parse_result(&text).map_err(|e| match e {
            // Invalid carries LINE:COL: prefix the file, compiler-style.
            fleet::FleetError::Invalid { .. } => anyhow::anyhow!("{}:{e}", path.display()),
            _ => anyhow::anyhow!("{}: {e}", path.display()),
        })?;
        results.push((label, result));
    }
    let merged = fleet::merge(results);
    // The exit status is decided before anything is printed: a reader that stops early
    // (`| head`) does not change it.
    match args.format {
        ReportFormat::Text => {
            crate::out!(
                "{}",
                fleet::render_text(&merged, args.problems, use_color())
            )?;
        }
        ReportFormat::Json => {
            let json = serde_json::to_string_pretty(&merged).context("encoding the report")?;
            crate::outln!("{}", json_text(&json))?;
        }
    }
    Ok(ExitCode::from(if merged.mismatches == 0 {
        EXIT_OK
    } else {
        EXIT_MISMATCH
    }))
}
