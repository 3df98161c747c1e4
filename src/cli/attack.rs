//! `confidump attack`: dump + scan + show, the one command a presenter types.

use std::path::PathBuf;
use std::process::ExitCode;

use super::scan::{expect_exit, ExpectArg, Format, NeedleArgs};
use crate::runner::attack::{self, AttackOptions, AttackPath};

const EXAMPLES: &str = "\
The attacker is root with root's real tools. By default it takes confidump's own dump, which
ignores MADV_DONTDUMP (hygiene is not isolation); --via picks another path.
The report shows the leaked bytes and goes to stdout, which carries them: --output FILE
writes it 0600 instead; --redact draws the secret's bytes as █ (verdict unchanged).
JSON on stdout (--format json) goes to logs: it is redacted unless --reveal is given.

Examples:
  confidump attack 4242 --sha256 9f2c...            the hash from the victim's ready line
  confidump attack 4242 --needle CONFIDUMP-         a known prefix
  confidump attack 4242 --sha256 9f2c... --via live --expect no-leak   a gate: only a refused
                                                      read passes (what gcore leaves out fails it)
  confidump attack 4242 --sha256 9f2c... --redact --output attack.txt
  confidump attack QEMU_PID --sha256 9f2c... --via qmp --qmp /tmp/confidump-vm-…/qmp.sock
Exit status: 0 ok, 1 verdict differs from --expect, 2 bad input or error.";

/// How to get at the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ViaArg {
    /// confidump's dump: every mapping, MADV_DONTDUMP ones included.
    Dump,
    /// confidump's dump following gdb's gcore rules (coredump_filter, MADV_DONTDUMP).
    LikeGcore,
    /// gdb's own gcore.
    Gcore,
    /// Read the live process (process_vm_readv, /proc/PID/mem); writes no file.
    Live,
    /// PID is QEMU's: ask it for the guest's memory over QMP (dump-guest-memory), as a cloud
    /// operator would (virsh dump --memory-only). Needs --qmp.
    Qmp,
}

/// Options of `confidump attack`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct AttackArgs {
    /// The victim's PID.
    pub pid: i32,
    /// What to look for.
    #[command(flatten)]
    pub needles: NeedleArgs,
    /// Attack path.
    #[arg(long, value_enum, default_value_t = ViaArg::Dump)]
    pub via: ViaArg,
    /// QEMU's QMP socket, for --via qmp (the "qmp" field of `victim --context vm`'s ready line).
    #[arg(long, value_name = "SOCKET", required_if_eq("via", "qmp"))]
    pub qmp: Option<PathBuf>,
    /// Keep the core at this path (0600; not overwritten) instead of deleting it.
    #[arg(long, value_name = "FILE")]
    pub keep: Option<PathBuf>,
    /// Output format: the presenter's view, or the scan report JSON (stdout, or --output).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where the report goes; redaction.
    #[command(flatten)]
    pub out: super::ReportOut,
    /// Overwrite the --output file if it exists (a regular file only, never through a link).
    #[arg(long)]
    pub force: bool,
    /// Exit 1 unless the verdict is this.
    #[arg(long, value_enum)]
    pub expect: Option<ExpectArg>,
}

/// Runs `confidump attack`.
pub fn run(args: AttackArgs) -> anyhow::Result<ExitCode> {
    let path = match args.via {
        ViaArg::Dump => AttackPath::Dump,
        ViaArg::LikeGcore => AttackPath::LikeGcore,
        ViaArg::Gcore => AttackPath::Gcore,
        ViaArg::Live => AttackPath::Live,
        ViaArg::Qmp => AttackPath::Qmp,
    };
    let json = args.format == Format::Json;
    let opts = AttackOptions {
        pid: args.pid,
        path,
        keep: args.keep.as_deref(),
        qmp: args.qmp.as_deref(),
        out: args.out.target(),
        force: args.force,
        json,
    };
    let a = attack::run(&opts, &args.needles.spec())?;
    let text = crate::render::output::attack(&a, json, args.out.color())?;
    args.needles.warn_weak();
    args.out.emit(&text, args.force)?;
    Ok(expect_exit(args.expect, &a.report))
}
