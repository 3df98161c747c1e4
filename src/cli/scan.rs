//! `confidump scan`: search a core file or a live process for secrets.
//!
//! [`NeedleArgs`] holds the needle options shared with `show` (and `attack`): flatten it into a
//! command and call [`NeedleArgs::build`].

use std::io::IsTerminal;

use crate::render::progress::Transfer;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{EXIT_MISMATCH, EXIT_OK};
use crate::render;
use crate::runner::{self, scan::ScanCommand, scan::Target};
use crate::scan::gate::{self, Expect, Gate};
use crate::scan::needles::NeedleSpec;
use crate::scan::{Needles, Shape};

const SCAN_EXAMPLES: &str = "\
Needle numbering (the `needle` field of each hit): 0-based, in this order: every --needle in
the order given, then the lines of each --needle-file, then every --sha256.
Each needle is searched raw, as UTF-16LE, as hex (both cases) and as base64 (all alignments).

Detectors (--detect) find secrets without being told them: Luhn-valid card numbers (issuer
prefix and length consistent, usual groupings), PEM private-key blocks, JWTs (header decodes
to JSON with an alg field), AWS access key ids (AKIA/ASIA/ABIA/ACCA) and CONFIDUMP- canaries.
Previews are shortened (card: first 6 and last 4 digits); in JSON on stdout, which goes to
logs, they are removed altogether unless --reveal is given. A detection is a secret found in
memory, so it makes the verdict `leak` just as a hit does. --detect alone (no needles) is valid.
A finding whose bytes are those of the world-readable file it is mapped from, unchanged (the
self-test keys in libgnutls.so that QEMU maps), is a public constant: it is listed apart
(`public_detections`, `public_hits` in JSON) and never makes a leak.

Examples:
  confidump scan victim.core --needle hunter2
  confidump scan victim.core --detect
  confidump scan --pid 1234 --detect --format json
  confidump scan --pid 1234 --needle-file secrets.txt --format json
  confidump scan --dir /tmp/confidump-pg.1234.ab12cd34/data --sha256 9f86d08... --shape canary
  confidump scan core.4321 --sha256 9f86d08...  --shape canary --expect no-leak
Exit status: 0 ok, 1 verdict differs from --expect, 2 bad input or usage.";

/// The shape of a secret given by its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShapeArg {
    /// `CONFIDUMP-` followed by 24 lowercase hex digits.
    Canary,
    /// Exactly 16 ASCII digits, Luhn-valid (a card number).
    Pan,
}

/// Needle options, shared by `scan`, `show` and `attack`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NeedleArgs {
    /// A text to look for (repeatable). Never logged. Needles are numbered from 0: --needle
    /// values in order, then --needle-file lines, then --sha256 values.
    #[arg(long = "needle", value_name = "TEXT")]
    pub needles: Vec<String>,
    /// A file with one needle per line (empty lines ignored), read as a secret (repeatable).
    #[arg(long = "needle-file", value_name = "PATH")]
    pub needle_files: Vec<PathBuf>,
    /// SHA-256 (hex) of a secret known only by its hash (repeatable): candidates of the
    /// --shape (default: both shapes) are hashed and compared.
    #[arg(long = "sha256", value_name = "HEX")]
    pub sha256: Vec<String>,
    /// Shape of the --sha256 secrets (default: any).
    #[arg(long, value_enum, requires = "sha256")]
    pub shape: Option<ShapeArg>,
}

impl NeedleArgs {
    /// The needles as the library takes them.
    pub fn spec(&self) -> NeedleSpec<'_> {
        NeedleSpec {
            texts: &self.needles,
            files: &self.needle_files,
            sha256: &self.sha256,
            shape: match self.shape {
                Some(ShapeArg::Canary) => Shape::Canary,
                Some(ShapeArg::Pan) => Shape::Pan,
                None => Shape::Any,
            },
        }
    }

    /// True when no needle option was given.
    /// The needles, numbered as documented: `--needle`s, then file lines, then `--sha256`s.
    pub fn build(&self) -> anyhow::Result<Needles> {
        Ok(self.spec().build()?)
    }

    /// Says, after a scan, which `--needle`s may match unrelated bytes too.
    pub fn warn_weak(&self) {
        for w in runner::scan::weak_warnings(&self.spec()) {
            eprintln!("confidump: warning: {w}");
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Verdict line, then hits and unreadable ranges.
    #[default]
    Text,
    /// The ScanReport JSON contract.
    Json,
}

/// The verdict `--expect` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpectArg {
    /// At least one hit.
    Leak,
    /// No hit.
    NoLeak,
}

/// The exit code for `report` under `--expect`: 1 when the verdict differs, or when a
/// `no-leak` gate rests on ranges left out without being read (said on stderr), else 0.
pub fn expect_exit(expect: Option<ExpectArg>, report: &crate::model::ScanReport) -> ExitCode {
    let expect = expect.map(|e| match e {
        ExpectArg::Leak => Expect::Leak,
        ExpectArg::NoLeak => Expect::NoLeak,
    });
    match gate::judge(expect, report) {
        Gate::Met => ExitCode::from(EXIT_OK),
        Gate::Differs => ExitCode::from(EXIT_MISMATCH),
        Gate::Unproven(u) => {
            eprintln!("confidump: {u}");
            ExitCode::from(EXIT_MISMATCH)
        }
    }
}

/// Options of `confidump scan`.
#[derive(Debug, clap::Args)]
#[command(after_help = SCAN_EXAMPLES)]
pub struct ScanArgs {
    /// ELF core file to scan (ours, gdb's gcore, the kernel's, QEMU's dump-guest-memory).
    #[arg(
        value_name = "CORE",
        required_unless_present_any = ["pid", "dir"],
        conflicts_with = "pid"
    )]
    pub core: Option<PathBuf>,
    /// Scan a live process instead (read through process_vm_readv and /proc/PID/mem).
    #[arg(long)]
    pub pid: Option<i32>,
    /// Scan the files under a directory instead (what a stolen disk or backup gives away,
    /// e.g. a database's data directory); hits name the file and the offset in it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["core", "pid"])]
    pub dir: Option<PathBuf>,
    /// What to look for.
    #[command(flatten)]
    pub needles: NeedleArgs,
    /// Also run the detectors (card numbers, PEM private keys, JWTs, AWS key ids, canaries):
    /// secrets found without being told them. Their findings make the verdict `leak` too.
    #[arg(long)]
    pub detect: bool,
    /// Output format (stdout, or --output).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 1 unless the verdict is this (hits and detections both count as a leak).
    #[arg(long, value_enum)]
    pub expect: Option<ExpectArg>,
    /// Where the report goes; redaction.
    #[command(flatten)]
    pub out: super::ReportOut,
    /// Overwrite the --output file if it exists (a regular file only, never through a link).
    #[arg(long)]
    pub force: bool,
}

/// Colour when stdout is a terminal and `NO_COLOR` is unset.
/// Runs `confidump scan`.
pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let json = args.format == Format::Json;
    // A bar for long scans, on a terminal, never in JSON mode.
    let mut bar = Transfer::new(std::io::stderr().is_terminal() && !json, "scanning");
    let cmd = ScanCommand {
        needles: args.needles.spec(),
        detect: args.detect,
        target: match (args.pid, &args.dir, &args.core) {
            (Some(pid), _, _) => Some(Target::Pid(pid)),
            (None, Some(dir), _) => Some(Target::Dir(dir)),
            (None, None, Some(core)) => Some(Target::Core(core)),
            (None, None, None) => None,
        },
        out: args.out.target(),
        force: args.force,
        json,
    };
    let report = runner::scan::run(&cmd, &mut |done, total| bar.update(done, total))?;
    bar.finish();
    let text = render::output::scan(&report, json, args.out.color())?;
    args.needles.warn_weak();
    args.out.emit(&text, args.force)?;
    Ok(expect_exit(args.expect, &report))
}

/// Options of the hidden `confidump scan-child`.
#[derive(Debug, clap::Args)]
pub struct ScanChildArgs {
    /// The process to read.
    #[arg(long)]
    pub pid: i32,
    /// What to look for.
    #[command(flatten)]
    pub needles: NeedleArgs,
}

/// Runs `confidump scan-child`: what `scan --pid PID --format json` does, for a parent that
/// needs the outcome as data. A refused open is a [`crate::model::ChildScan::Refused`] with its errno, not an
/// error message to search. Exits 0 whenever it could print the object.
pub fn run_child(args: ScanChildArgs) -> anyhow::Result<ExitCode> {
    let needles = args.needles.build()?;
    let result = runner::scan::scan_child(args.pid, &needles);
    crate::outln!("{}", serde_json::to_string(&result)?)?;
    Ok(ExitCode::from(EXIT_OK))
}
