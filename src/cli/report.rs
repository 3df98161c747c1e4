//! `confidump report`: several `demo --format json` results (one per node) as one matrix with a
//! column per node. See docs/fleet.md for collecting them from a Kubernetes pool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::scan::use_color;
use super::{EXIT_MISMATCH, EXIT_OK};
use crate::render::fleet::{self, NodeResult};
use crate::render::sanitize::json_text;

/// The most a result file may hold: a demo result with every view is a few MiB, a captured
/// log around it a little more. A larger file is refused before it is read.
pub const RESULT_LIMIT: u64 = 32 << 20;

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

/// `NAME=FILE` or `FILE` (named after its stem). A `=` inside a path (after a `/`) is part of
/// the path.
fn label_and_path(arg: &str) -> (String, PathBuf) {
    if let Some((name, path)) = arg.split_once('=') {
        if !name.is_empty() && !name.contains('/') {
            return (name.to_string(), PathBuf::from(path));
        }
    }
    let path = PathBuf::from(arg);
    let label = Path::new(arg)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| arg.to_string());
    (label, path)
}

/// Runs `confidump report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let named: Vec<(String, PathBuf)> = args.files.iter().map(|a| label_and_path(a)).collect();
    for (i, (label, _)) in named.iter().enumerate() {
        if named.iter().skip(i + 1).any(|(l, _)| l == label) {
            bail!("two results are named {label:?}: name them apart with NAME=FILE");
        }
    }
    let mut results: Vec<(String, NodeResult)> = Vec::with_capacity(named.len());
    for (label, path) in named {
        // Bounded, regular files only (a FIFO or /dev/zero is refused, not waited on).
        let text = crate::files::input::read_user_text(&path, RESULT_LIMIT, "a demo result file")?;
        let result = fleet::parse_result(&text).map_err(|e| match e {
            // Invalid carries LINE:COL: prefix the file, compiler-style.
            fleet::FleetError::Invalid { .. } => anyhow::anyhow!("{}:{e}", path.display()),
            fleet::FleetError::NoJson | fleet::FleetError::Duplicate { .. } => {
                anyhow::anyhow!("{}: {e}", path.display())
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(
            label_and_path("results/aks-sgx-0.json"),
            (
                "aks-sgx-0".to_string(),
                PathBuf::from("results/aks-sgx-0.json")
            )
        );
        assert_eq!(
            label_and_path("node-a=run.json"),
            ("node-a".to_string(), PathBuf::from("run.json"))
        );
        assert_eq!(
            label_and_path("dir/a=b.json").0,
            "a=b",
            "a = after a slash belongs to the path"
        );
    }
}
