//! `confidump demo`: every scenario attacked along every path, as a matrix.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::{EXIT_MISMATCH, EXIT_OK};
use crate::i18n::Lang;
use crate::model::MatrixReport;
use crate::redact::Redact;
use crate::render::term::use_color;
use crate::render::{self, presenter};
use crate::runner::demo::{self, DemoOptions};
use crate::runner::select::PlatformSource;

const EXAMPLES: &str = "\
Starts one real victim per scenario (this same program, `confidump victim`), each holding a
fresh random canary, and attacks it along every path that applies there, as root would (the
table's columns; the others are n/a with the reason):
  dump        confidump's dump (threads frozen, every mapping copied), then a scan of the core
  gcore       gdb's own gcore, with its defaults
  kernel      the kernel's core dump (SIGQUIT), where core_pattern is a plain file name
  live        a live read (process_vm_readv, /proc/PID/mem); writes no file
  qmp         a victim in a VM: QEMU's dump-guest-memory (the cloud operator's virsh dump)
  same-uid    the live read by a non-root attacker with the victim's uid
  wire        a victim in a VM: what the guest sent out on its serial console
  checkpoint  a victim in an OCI container: CRIU's checkpoint (runc checkpoint)
  disk        a database: its data directory, after CHECKPOINT
  client      a database: root's dump and live read of its client
The attackers get only the secret's SHA-256 and must find it.

Cells: leak (found), unreadable (the read was refused: ????), absent (the tool left the
region out without reading it: proves nothing), not-found (read, and the secret was not in
it), n/a (cannot run here; the reason says why), error (the attack failed).
Scenarios are TOML files (demo/scenarios/*.toml, built in); add your own with --scenario-dir.

Regression runs on confidential hardware: --require names capabilities whose rows must run
(sgx, sev-snp, tdx, memfd_secret, unprivileged-user, container-runtime, postgresql,
cvm-guest, sev-snp-host, tdx-host, runc, crun, sql-enclave; sev-snp, tdx and cvm-guest mean
running inside such a guest); a required row that is n/a is a failure (exit 1; JSON
\"required\": true; a JUnit failure saying what is missing).
--platform NAME (built in: linux, azure-dcsv3, azure-cvm, snp-host, tdx-host; demo/expect/)
or --expect-file FILE adds a platform's required capabilities, rows and cell expectations.

JSON on stdout is what logs keep (a pod's log, a CI job's output): its hex views carry no byte
of a secret (null where the secret was, as --redact makes them) unless --reveal is given.
A JSON --output file is 0600 and keeps them; the text table is for a screen and keeps them too.

Exit status: 0 every cell as expected, 1 a mismatch or a required capability missing, 2 an
error (e.g. a bad scenario or expectation file).

Examples:
  sudo confidump demo
  sudo confidump demo --scenario plain --scenario secretmem
  sudo confidump demo --format json --junit demo.xml --html demo.html
  sudo confidump demo --format json --output demo.json      (0600: the report holds the bytes)
  sudo confidump demo --format json --reveal | jq .         the bytes on stdout too (see below)
  sudo confidump demo --redact --html handout.html          the secrets' bytes drawn as █
  sudo confidump demo --platform azure-dcsv3 --format json --junit node.xml
  sudo confidump demo --require sgx --scenario sgx
  confidump demo --list
  confidump demo --from demo.json --html demo.html          a saved result drawn again
  sudo confidump demo --scenario plain --bundle bug.tgz     a bug report, no secret in it
  sudo confidump demo --baseline last.json --junit ci.xml   what changed since last time
--bundle FILE and --baseline OLD.json: see `confidump doctor --help` and `report --help`.";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DemoFormat {
    /// The matrix as a table, a lesson under each row.
    #[default]
    Text,
    /// The MatrixReport JSON (host, scenarios, cells, mismatches).
    Json,
}

/// Options of `confidump demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct DemoArgs {
    /// Output format (stdout, or --output).
    #[arg(long, value_enum, default_value_t = DemoFormat::Text)]
    pub format: DemoFormat,
    /// Where the report goes; redaction (of the table, JSON, HTML, JUnit and presenter).
    #[command(flatten)]
    pub out: super::ReportOut,
    /// Run only this scenario (repeatable); see --list.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// List the scenarios (name, title, what each needs) and exit.
    #[arg(long)]
    pub list: bool,
    /// Also load the *.toml scenarios of this directory (same name = replaces a built-in).
    #[arg(long, value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
    /// Also write a JUnit XML file (one test case per cell).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a self-contained HTML report (0600: it shows what the attacker saw).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Overwrite the --output, --junit and --html files if they exist (only regular files,
    /// never through a symlink).
    #[arg(long)]
    pub force: bool,
    /// Presenter mode: one scenario at a time, Enter to continue.
    #[arg(long)]
    pub present: bool,
    /// Print only the one-screen summary: a line per scenario, a short cell per attack path,
    /// the legend and the verdict
    #[arg(long, conflicts_with_all = ["details", "present"])]
    pub summary: bool,
    /// Print every cell with where the secret sat and why, then the summary (the default when
    /// the output is not a terminal: a file or a pipe)
    #[arg(long, conflicts_with = "present")]
    pub details: bool,
    /// Language (default: from the locale).
    #[arg(long, value_parser = super::lang_parser(true))]
    pub lang: Option<Lang>,
    /// Capabilities whose rows must run (comma-separated; every name is listed below).
    #[arg(long = "require", value_name = "CAP,...")]
    pub require: Vec<String>,
    /// Run as this platform expects (built in: linux, azure-dcsv3, azure-cvm, snp-host,
    /// tdx-host): its required capabilities, rows and cell expectations.
    #[arg(long, value_name = "NAME", conflicts_with = "expect_file")]
    pub platform: Option<String>,
    /// Like --platform, from an expectation file (TOML, as demo/expect/*.toml).
    #[arg(long, value_name = "FILE")]
    pub expect_file: Option<PathBuf>,
    /// Scenarios run at once (default 4).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub jobs: usize,
    /// Run nothing: draw a result saved with `--format json --output FILE` again (the table,
    /// JSON, --junit, --html). Needs no root.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["list", "scenarios", "scenario_dir", "present", "require", "platform", "expect_file"]
    )]
    pub from: Option<PathBuf>,
    /// Also write a bug-report bundle (.tar.gz, 0600): this run's result and JUnit (redacted,
    /// no memory), doctor's JSON, host facts and the SGX/VM steps' trace; see `doctor --help`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["present", "list"])]
    pub bundle: Option<PathBuf>,
    /// Compare with an earlier result (`--format json --output`): changed cells marked
    /// regression or improvement (exit 1 on a regression); see `report --help`.
    #[arg(long, value_name = "OLD.json", conflicts_with_all = ["present", "list"])]
    pub baseline: Option<PathBuf>,
}

/// Runs `confidump demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let (bundle, baseline) = (args.bundle.as_deref(), args.baseline.as_deref());
    let extras = super::report::DemoExtras::start(bundle, baseline, args.force)?;
    if let Some(path) = &args.from {
        // A saved result drawn again, through the same renderers as a run; its exit status is
        // that run's verdict, its mismatches counted again from its cells.
        check_outputs(&args)?;
        let mut report = demo::load_result(path)?;
        if args.out.redact {
            report.redact();
        }
        print_report(&args, &report)?;
        write_files(&args, &report, &[], &extras)?;
        let json = args.format == DemoFormat::Json;
        let no_regression = extras.finish(&report, &[], json, args.lang.unwrap_or(report.lang))?;
        return Ok(exit(report.mismatches == 0 && no_regression));
    }
    let lang = args.lang.unwrap_or_else(crate::i18n::detect_lang);
    let opts = DemoOptions {
        scenario_dir: args.scenario_dir.as_deref(),
        names: &args.scenarios,
        platform: PlatformSource::from_flags(args.platform.as_deref(), args.expect_file.as_deref()),
        require: &args.require,
        lang,
    };
    if args.list {
        crate::out!("{}", render::list::list(&demo::listed(&opts)?, lang))?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    let again: Vec<String> = std::env::args().skip(1).collect();
    let (selection, exe) = demo::select_rows(&opts, &again)?;
    if args.present && args.out.output.is_some() {
        bail!("--output writes the table or JSON: presenter mode draws on the terminal");
    }
    check_outputs(&args)?;
    // Working directories of demos killed earlier (SIGKILL leaves them): ours, owner gone.
    crate::runner::leftovers::sweep();
    let planned = demo::plan(selection, exe, lang, || super::prepare_static_binary(lang));
    let mut report = if args.present {
        let color = use_color();
        let shown = presenter::run_demo(&planned, lang, args.out.redact, color);
        // The presenter was left before the end: nothing to judge.
        let Some(report) = shown.context("presenter mode")? else {
            eprintln!("confidump: presenter mode ended without a report: nothing to judge");
            return Ok(ExitCode::from(EXIT_OK));
        };
        report
    } else {
        let mut progress = render::progress::Progress::new(std::io::stderr().is_terminal());
        let mut step = |m: &str| progress.step(m);
        let (scenarios, env) = (&planned.scenarios, &planned.env);
        let mut report = demo::run_demo(scenarios, env, lang, args.jobs, &mut step);
        progress.finish();
        // One transform before any rendering: every output below is drawn from it.
        if args.out.redact {
            report.redact();
        }
        report
    };
    // The presenter drew its screens already; the marks still decide the files and the exit.
    let unrowed = demo::judge(&planned, &mut report);
    if !args.present {
        print_report(&args, &report)?;
    }
    for (r, why) in &unrowed {
        let r = r.as_str();
        eprintln!("confidump: required capability {r} is missing: {why}");
    }
    write_files(&args, &report, &unrowed, &extras)?;
    let no_regression = extras.finish(&report, &unrowed, args.format == DemoFormat::Json, lang)?;
    Ok(exit(
        report.mismatches == 0 && unrowed.is_empty() && no_regression,
    ))
}

/// The output paths, checked before the run, not after it.
fn check_outputs(args: &DemoArgs) -> anyhow::Result<()> {
    for path in args.junit.iter().chain(&args.html).chain(&args.out.output) {
        crate::files::output::check_target(path, args.force)?;
    }
    Ok(())
}

/// The report on stdout (or `--output`): the table, or JSON. JSON on stdout is a log line (a
/// pod's log, CI output): without the secret's bytes unless --reveal. The files (HTML 0600)
/// are drawn unchanged.
fn print_report(args: &DemoArgs, report: &MatrixReport) -> anyhow::Result<()> {
    let json = args.format == DemoFormat::Json;
    let shown = demo::for_log(report, json && args.out.target().redacts(true));
    let text = render::output::matrix(&shown, json, view(args), args.out.color())
        .context("encoding the report")?;
    Ok(args.out.emit(&text, args.force)?)
}

/// `--junit` (a missing required capability a failing case, as it fails the run) and `--html`.
/// The text view: as asked; else on a terminal what fits a screen (lessons, then the
/// summary), and for a file or a pipe every cell (nobody scrolls a log).
fn view(args: &DemoArgs) -> render::summary::View {
    use render::summary::View;
    if args.summary {
        View::Summary
    } else if args.details || args.out.output.is_some() || !std::io::stdout().is_terminal() {
        View::Details
    } else {
        View::Overview
    }
}

fn write_files(
    args: &DemoArgs,
    report: &MatrixReport,
    missing: &[(crate::host::Requirement, String)],
    extras: &super::report::DemoExtras,
) -> anyhow::Result<()> {
    if let Some(path) = &args.junit {
        let junit = render::junit::render_with(report, missing, extras.junit_suites(report)?)?;
        args.out.write_file(path, junit.as_bytes(), args.force)?;
    }
    if let Some(path) = &args.html {
        // The page shows what the attacker saw (leaked bytes included): 0600, like a dump
        // (0640 only redacted, with --group-readable).
        let html = render::html::render(report);
        args.out.write_file(path, html.as_bytes(), args.force)?;
    }
    Ok(())
}

fn exit(as_expected: bool) -> ExitCode {
    ExitCode::from(if as_expected { EXIT_OK } else { EXIT_MISMATCH })
}
