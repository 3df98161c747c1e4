//! `confidump report`: several `demo --format json` results (one per node) as one matrix with a
//! column per node. See docs/fleet.md for collecting them from a Kubernetes pool. With
//! `--baseline OLD`, what changed from an earlier result of one machine to a newer one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::{EXIT_MISMATCH, EXIT_OK};
use crate::files::input::read_user_text;
use crate::render::sanitize::json_text;
use crate::render::term::use_color;
use crate::render::{baseline, fleet};

const AFTER_HELP: &str = "\
Each FILE is what `confidump demo --format json` printed on one node, alone or inside a
captured log (`kubectl logs` output is fine: the result starts at the first line that opens a
JSON object). The column is named after the file (nodes/aks-sgx-0.json -> aks-sgx-0), or
NAME=FILE names it.

Cells: the node's observation; `✗` it missed that node's expectation, `≠` nodes disagree,
`-` the node did not run that cell. Mismatches are counted from each file's cells, never
taken from its own `mismatches`. Exit status: 0 every node met every expectation, 1 a node
has a mismatch, 2 an error (a file that is not a demo result, or larger than 32 MiB).

--baseline OLD.json NEW.json: what changed since last time on one machine (after a kernel,
firmware or QEMU update). Every cell whose observation differs is marked:
  regression   refused (????), absent or not-found now leaks; ???? became absent; any other
               step down leak < absent < not-found < unreadable; a cell the run requires
               became n/a; an attack now ends in error; a path that could not run now runs
               and misses its expectation
  improvement  a step up that scale; an error gone; a path that now runs as expected
  changed      a cell that is not required no longer runs here; a cell in one result only
The host facts that changed (kernel, firmware, QEMU, …) are printed beside. Exit status: 1
on any regression (with --junit FILE, one failing test case per regression), else 0.
`demo --baseline OLD.json` runs the demo and compares its result the same way.

Examples:
  confidump report results/*.json
  confidump report --problems results/*.json
  confidump report sgx-a=run1.json sgx-b=run2.json --format json
  confidump report --baseline before-update.json after-update.json
  confidump report --baseline old.json new.json --junit changes.xml --format json";

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
    #[arg(long, conflicts_with = "baseline")]
    pub problems: bool,
    /// Compare one result (FILE) with this earlier one: see below.
    #[arg(long, value_name = "OLD.json")]
    pub baseline: Option<PathBuf>,
    /// With --baseline: also write a JUnit XML file, one failing case per regression.
    #[arg(long, value_name = "FILE", requires = "baseline")]
    pub junit: Option<PathBuf>,
    /// Overwrite the --junit file if it exists (a regular file only, never a link).
    #[arg(long, requires = "junit")]
    pub force: bool,
}

/// One result file, as `report` reads it: bounded, regular files only (a FIFO or /dev/zero
/// is refused, not waited on), from a log if need be.
fn read_result(path: &Path) -> anyhow::Result<fleet::NodeResult> {
    let text = read_user_text(
        path,
        crate::runner::demo::RESULT_LIMIT,
        "a demo result file",
    )?;
    fleet::parse_result(&text).map_err(|e| match e {
        // Invalid carries LINE:COL: prefix the file, compiler-style.
        fleet::FleetError::Invalid { .. } => anyhow::anyhow!("{}:{e}", path.display()),
        _ => anyhow::anyhow!("{}: {e}", path.display()),
    })
}

/// Runs `confidump report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if let Some(old) = &args.baseline {
        return run_baseline(&args, old);
    }
    let mut results = Vec::new();
    for (label, path) in crate::runner::nodes::columns(&args.files)? {
        results.push((label, read_result(&path)?));
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

/// `report --baseline OLD NEW`.
fn run_baseline(args: &ReportArgs, old_path: &Path) -> anyhow::Result<ExitCode> {
    let [new_path] = args.files.as_slice() else {
        anyhow::bail!(
            "--baseline OLD.json compares one newer result with it: give exactly one FILE (got {})",
            args.files.len()
        );
    };
    if let Some(p) = &args.junit {
        crate::files::output::check_target(p, args.force)?;
    }
    let new_path = Path::new(new_path);
    let old = read_result(old_path)?;
    let new = read_result(new_path)?;
    let b = baseline::compare(
        &old_path.display().to_string(),
        &old,
        &new_path.display().to_string(),
        &new,
    );
    if let Some(p) = &args.junit {
        crate::files::output::write_file(p, baseline::junit(&b)?.as_bytes(), args.force)?;
    }
    print_baseline(&b, args.format == ReportFormat::Json, false)?;
    Ok(ExitCode::from(if b.regressions == 0 {
        EXIT_OK
    } else {
        EXIT_MISMATCH
    }))
}

fn print_baseline(b: &baseline::Baseline, json: bool, to_stderr: bool) -> anyhow::Result<()> {
    let text = if json {
        let json = serde_json::to_string_pretty(b).context("encoding the comparison")?;
        format!("{}\n", json_text(&json))
    } else {
        baseline::render_text(b, use_color() && !to_stderr)
    };
    if to_stderr {
        eprint!("{text}");
    } else {
        crate::out!("{text}")?;
    }
    Ok(())
}

/// `demo --bundle` and `demo --baseline`: what `demo` does besides its own run, started before
/// it (the bundle's path checked and its trace captured, the baseline read) and finished after.
pub struct DemoExtras {
    bundle: Option<super::doctor::BundleRun>,
    baseline: Option<(PathBuf, fleet::NodeResult)>,
}

impl DemoExtras {
    /// Checks `--bundle`'s path and starts its trace; reads `--baseline`. Call it first.
    pub fn start(
        bundle: Option<&Path>,
        baseline: Option<&Path>,
        force: bool,
    ) -> anyhow::Result<Self> {
        let baseline = match baseline {
            Some(p) => Some((p.to_path_buf(), read_result(p)?)),
            None => None,
        };
        Ok(Self {
            bundle: super::doctor::BundleRun::start(bundle, force)?,
            baseline,
        })
    }

    fn compare(
        &self,
        report: &crate::model::MatrixReport,
    ) -> anyhow::Result<Option<baseline::Baseline>> {
        let Some((path, old)) = &self.baseline else {
            return Ok(None);
        };
        let new = baseline::node_result(report).context("reading this run's result")?;
        Ok(Some(baseline::compare(
            &path.display().to_string(),
            old,
            "this run",
            &new,
        )))
    }

    /// The JUnit suites the demo's file gains: the comparison's, with `--baseline`.
    pub fn junit_suites(
        &self,
        report: &crate::model::MatrixReport,
    ) -> anyhow::Result<Vec<quick_junit::TestSuite>> {
        Ok(self.compare(report)?.iter().map(baseline::suite).collect())
    }

    /// Prints the comparison (after the table; on stderr when stdout holds JSON) and writes the
    /// bundle. Returns false when the comparison found a regression.
    pub fn finish(
        self,
        report: &crate::model::MatrixReport,
        missing: &[(crate::host::Requirement, String)],
        json: bool,
        lang: crate::i18n::Lang,
    ) -> anyhow::Result<bool> {
        let compared = self.compare(report)?;
        if let Some(b) = &compared {
            print_baseline(b, false, json)?;
        }
        if let Some(bundle) = self.bundle {
            bundle.finish(Some((report, missing)), lang)?;
        }
        Ok(compared.map_or(true, |b| b.regressions == 0))
    }
}
