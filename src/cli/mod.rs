//! Command-line interface: clap definitions, one file per subcommand. Each subcommand's `run`
//! returns the process exit code: 0 ok, 1 expectation not met, 2 error.

pub mod attack;
pub mod demo;
pub mod doctor;
pub mod dump;
pub mod generate;
pub mod guest_init;
pub mod lab;
pub mod report;
pub mod scan;
pub mod show;
pub mod victim;

use crate::i18n::Lang;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};

use crate::files::output::OutputError;
use crate::files::report::{EmitError, ReportTarget};

/// Exit code: the run worked and every expectation held.
pub const EXIT_OK: u8 = 0;
/// Exit code: the run worked but an expectation (`--expect`) was not met.
pub const EXIT_MISMATCH: u8 = 1;
/// Exit code: bad input, bad usage, or a failure.
pub const EXIT_ERROR: u8 = 2;

/// confidump: what does a memory dump of a running program give away?
#[derive(Debug, Parser)]
#[command(name = "confidump", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  confidump demo                                  every scenario x every attack path, side by side
  confidump demo --present --lang ja              one scenario at a time, for a room (Enter to go on)
  confidump doctor                                what this host can demonstrate, and why not the rest
  confidump victim --mode secretmem               a victim holding a secret (prints a ready line)
  confidump victim --context vm --mode plain      the same victim inside a QEMU guest
  confidump attack PID --sha256 HEX               dump + scan + show, as root would
  confidump dump PID -o victim.core               a gcore-style core that gdb loads
  confidump scan victim.core --detect             find card numbers, keys, tokens without being told
  confidump show victim.core --addr 0x7f0000001000
  confidump lab start find-it                     a training exercise: find the secret yourself
  confidump report nodes/*.json                   several nodes' demo results, a column per node";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a victim that holds one secret in a chosen protection.
    Victim(victim::VictimArgs),
    /// Write a gcore-style ELF core dump of a live process.
    Dump(dump::DumpArgs),
    /// Search a core file or a live process for secrets.
    Scan(scan::ScanArgs),
    /// Hex view of memory, with unreadable bytes drawn as `??`.
    Show(show::ShowArgs),
    /// Dump, scan and show in one step: the command a presenter types.
    Attack(attack::AttackArgs),
    /// Every scenario x every attack path, side by side: the main show, and a CI check.
    Demo(demo::DemoArgs),
    /// What this host can demonstrate (memfd_secret, ptrace, gdb, QEMU, SGX, SEV-SNP, TDX).
    Doctor(doctor::DoctorArgs),
    /// Training labs: exercises that trainees solve with real tools, checked by hash.
    Lab(lab::LabArgs),
    /// Several nodes' `demo --format json` results as one matrix, a column per node.
    Report(report::ReportArgs),
    /// Internal: PID 1 of a confidump guest (the kernel starts `/init guest-init --mode M`).
    #[command(hide = true)]
    GuestInit(guest_init::GuestInitArgs),
    /// Internal: `scan --pid` for the demo's same-uid attacker; prints a `ChildScan` JSON object.
    #[command(hide = true)]
    ScanChild(scan::ScanChildArgs),
    /// Internal: man pages and shell completions for a package (`generate man DIR`,
    /// `generate completions bash|zsh|fish`; scripts/package.sh).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
}

/// Where a report goes, and whether it keeps the secret's bytes: `--output`, `--redact`,
/// `--reveal` (shared by `demo`, `attack` and `scan`; see [`crate::files::report`]).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReportOut {
    /// Write the report (text or JSON) to FILE instead of stdout: created 0600, never through
    /// a link, never replacing anything but a regular file, and that only with --force.
    /// The report carries the leaked bytes (hex views, detector previews); a 0600 --output
    /// file keeps them, and so does text on stdout (for a screen: a shell's `> file` is 0644,
    /// prefer --output or --redact). JSON on stdout is redacted unless --reveal is given.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Take the secret's bytes out of every output (table, JSON, HTML, JUnit, views): drawn
    /// as █ (null in JSON), verdicts unchanged. For reports that leave the room.
    #[arg(long, conflicts_with = "reveal")]
    pub redact: bool,
    /// Keep the secret's bytes in JSON written to stdout (redacted there by default: stdout
    /// JSON goes to logs). Not needed with --output, whose 0600 file keeps them.
    #[arg(long)]
    pub reveal: bool,
    /// Write the report files (--output, and demo's --junit and --html) 0640 instead of 0600,
    /// for their group: a Kubernetes pod's fsGroup, so that another container of the pod can
    /// read them. Needs --redact: a file others can read holds no secret.
    #[arg(long, requires = "redact")]
    pub group_readable: bool,
}

impl ReportOut {
    /// The flags as the library takes them ([`ReportTarget`]: the policy lives there).
    pub fn target(&self) -> ReportTarget<'_> {
        ReportTarget {
            output: self.output.as_deref(),
            redact: self.redact,
            reveal: self.reveal,
            group_readable: self.group_readable,
        }
    }

    /// Colours only on a terminal, and never in a file.
    pub fn color(&self) -> bool {
        self.output.is_none() && crate::render::term::use_color()
    }

    /// See [`ReportTarget::write_file`].
    pub fn write_file(&self, path: &Path, bytes: &[u8], force: bool) -> Result<(), OutputError> {
        self.target().write_file(path, bytes, force)
    }

    /// See [`ReportTarget::emit`].
    pub fn emit(&self, text: &str, force: bool) -> Result<(), EmitError> {
        self.target().emit(text, force)
    }
}

/// `--lang`'s parser: `en` or `ja`, into a [`Lang`]. `described` names each language in the
/// long help (`demo`, `doctor`); `lab` lists the bare values.
pub(crate) fn lang_parser(described: bool) -> impl clap::builder::TypedValueParser<Value = Lang> {
    let names = [(Lang::En, "English"), (Lang::Ja, "Japanese")];
    PossibleValuesParser::new(names.map(|(lang, name)| {
        let value = PossibleValue::new(lang.as_str());
        if described {
            value.help(name)
        } else {
            value
        }
    }))
    .try_map(|s| s.parse::<Lang>())
}

/// A value parser over `(value, name, help)`: the possible values that `--help` lists, each
/// parsed straight into the library's own type.
pub(crate) fn choices<T: Copy + Send + Sync + 'static>(
    list: &'static [(T, &'static str, &'static str)],
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(
        list.iter()
            .map(|&(_, n, help)| PossibleValue::new(n).help(help)),
    )
    .try_map(move |s| {
        list.iter()
            .find(|c| c.1 == s)
            .map(|c| c.0)
            .ok_or("unknown value")
    })
}

/// Finds (or, run from its source tree, builds) the static confidump that VM guests and
/// containers run, before any victim starts: see [`crate::isolate::init::prepare_saying`].
pub(crate) fn prepare_static_binary(lang: Lang) {
    crate::isolate::init::prepare_saying(lang, |line| eprintln!("confidump: {line}"));
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Attacker commands remove what they made when a signal ends them. Victims handle their
    // own signals (a signalfd), so they do not get the cleanup thread.
    if !matches!(cli.command, Command::Victim(_) | Command::GuestInit(_)) {
        crate::files::cleanup::install().context("installing the signal cleanup")?;
    }
    match cli.command {
        Command::Victim(a) => victim::run(a),
        Command::Dump(a) => dump::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Show(a) => show::run(a),
        Command::Attack(a) => attack::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Lab(a) => lab::run(a),
        Command::Report(a) => report::run(a),
        Command::GuestInit(a) => guest_init::run_guest_init(a),
        Command::ScanChild(a) => scan::run_child(a),
        Command::Generate(a) => generate::run(a),
    }
}
