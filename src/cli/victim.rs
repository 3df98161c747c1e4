//! `confidump victim`: a live program that holds one secret in a chosen protection.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::victim::{self, Generator, Mode, SecretSource, VictimConfig};

const AFTER_HELP: &str = "\
Prints one JSON line when ready:
  {\"event\":\"ready\",\"pid\":N,\"mode\":\"…\",\"secret_sha256\":\"…\",\"secret_len\":N,\
\"region\":{\"start\":\"0x…\",\"end\":\"0x…\"}}
then uses the secret (HMAC-SHA256 over a counter) once a second until SIGTERM/SIGINT/SIGHUP,
or end of stdin with --until-eof. Exits 0 after zeroizing the secret.

Examples:
  confidump victim --mode secretmem
  printf 'hunter2-hunter2\\n' | confidump victim --mode dontdump --secret-stdin --until-eof
  confidump victim --mode plain --generate pan --ready-file /tmp/victim.ready

Pitfall modes, for training: residue (well stored, badly used), undumpable (PR_SET_DUMPABLE=0
alone), and --secret-arg (a secret on the command line).";

/// Options of `confidump victim`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
#[command(group(clap::ArgGroup::new("secret").args(["generate", "secret_file", "secret_stdin", "secret_arg"])))]
pub struct VictimArgs {
    /// Where the secret is kept.
    #[arg(long, value_enum)]
    pub mode: ModeArg,
    /// Generate a random secret [default: canary].
    #[arg(long, value_enum, value_name = "KIND")]
    pub generate: Option<GenerateArg>,
    /// Read the secret from this file (one trailing newline is dropped).
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// Read the secret from stdin, up to the first newline.
    #[arg(long)]
    pub secret_stdin: bool,
    /// PITFALL DEMO ONLY: take the secret from the command line. It is copied into the
    /// store, but argv stays readable on [stack] and in /proc/PID/cmdline: never do this.
    #[arg(long, value_name = "SECRET")]
    pub secret_arg: Option<String>,
    /// Also write the ready line to this file (mode 0600, appears atomically).
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// Also stop when stdin reaches its end.
    #[arg(long)]
    pub until_eof: bool,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// Ordinary heap, ordinary stack: any dump or live read finds it.
    Plain,
    /// MADV_DONTDUMP + mlock + non-dumpable, processed inside: dumps skip it, live reads do not.
    Dontdump,
    /// memfd_secret, processed inside: the kernel refuses every read of it.
    Secretmem,
    /// Pitfall: memfd_secret storage but processed on the ordinary stack/heap: fragments leak.
    Residue,
    /// Pitfall: ordinary heap + PR_SET_DUMPABLE=0: stops a same-uid attacker, not root.
    Undumpable,
}

/// `--generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GenerateArg {
    /// CONFIDUMP- followed by 24 random hex digits (34 bytes).
    Canary,
    /// A random Luhn-valid 16-digit card number starting with 4.
    Pan,
}

/// Runs `confidump victim`.
pub fn run(args: VictimArgs) -> anyhow::Result<ExitCode> {
    let mode = match args.mode {
        ModeArg::Plain => Mode::Plain,
        ModeArg::Dontdump => Mode::DontDump,
        ModeArg::Secretmem => Mode::SecretMem,
        ModeArg::Residue => Mode::Residue,
        ModeArg::Undumpable => Mode::Undumpable,
    };
    let source = if let Some(arg) = args.secret_arg {
        // The parsed copy is moved into a zeroizing buffer; argv itself stays (the pitfall).
        SecretSource::Arg(zeroize::Zeroizing::new(arg.into_bytes()))
    } else if let Some(path) = args.secret_file {
        SecretSource::File(path)
    } else if args.secret_stdin {
        SecretSource::Stdin
    } else {
        SecretSource::Generate(match args.generate {
            Some(GenerateArg::Pan) => Generator::Pan,
            Some(GenerateArg::Canary) | None => Generator::Canary,
        })
    };
    let config = VictimConfig {
        mode,
        source,
        ready_file: args.ready_file,
        until_eof: args.until_eof,
    };
    let reason = victim::run(&config, &mut std::io::stdout())?;
    tracing::info!(?reason, "victim stopped");
    Ok(ExitCode::SUCCESS)
}
