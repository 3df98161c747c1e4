//! `confidump victim`: a live program that holds one secret in a chosen protection. The
//! victim of each context lives in its folder (`process/`, `sgx/`, `vm/`, `container/`,
//! `service/`) and [`crate::runner::victim`] picks one; this file holds the flags.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use super::choices;

use crate::container::Runtime;
use crate::model::{CvmProfile, VictimMode as Mode};
use crate::runner::victim::{secret_source, VictimRequest};
use crate::scenario::Context;
use crate::service::Store;
use crate::victim::Generator;
use crate::vm::victim::DryRunFormat;
use crate::vm::{guest::Wire, AccelChoice, VmOptions};

/// `--mode`: the modes this build can start, parsed into the one mode enum of [`crate::model`].
pub(super) fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    PossibleValuesParser::new(Mode::RUNNABLE.map(|m| PossibleValue::new(m.as_str()).help(m.help())))
        .try_map(|s| s.parse::<Mode>())
}

/// `--cvm`: the one confidential-VM enum of [`crate::model`], with what each needs.
#[rustfmt::skip]
const CVMS: &[(CvmProfile, &str, &str)] = &[
    (CvmProfile::SevSnp, "sev-snp", "AMD SEV-SNP (QEMU >= 9.1, kvm_amd sev_snp=Y, /dev/sev, OVMF)"),
    (CvmProfile::Tdx, "tdx", "Intel TDX (QEMU >= 10.1, kvm_intel tdx=Y, OVMF)"),
];

/// `--generate`.
#[rustfmt::skip]
const GENERATORS: &[(Generator, &str, &str)] = &[
    (Generator::Canary, "canary", "CONFIDUMP- followed by 24 random hex digits (34 bytes)"),
    (Generator::Pan, "pan", "A random Luhn-valid 16-digit card number starting with 4"),
];

/// `--accel`.
#[rustfmt::skip]
const ACCELS: &[(AccelChoice, &str, &str)] = &[
    (AccelChoice::Auto, "auto", "KVM if /dev/kvm works and the guest gets ready quickly, else TCG"),
    (AccelChoice::Kvm, "kvm", "KVM only"),
    (AccelChoice::Tcg, "tcg", "QEMU's emulator only"),
];

/// `--format` of `--dry-run`.
#[rustfmt::skip]
const FORMATS: &[(DryRunFormat, &str, &str)] = &[
    (DryRunFormat::Text, "text", "The program, then one argument per line"),
    (DryRunFormat::Json, "json", "`{\"program\":…,\"args\":[…],\"placeholders\":[…],\"cvm\":…,\"missing\":[…]}`"),
];

/// `--context`.
#[rustfmt::skip]
const CONTEXTS: &[(Context, &str, &str)] = &[
    (Context::Process, "process", "This process holds the secret"),
    (Context::Vm, "vm", "A Linux guest under QEMU holds it; the host is the attacker"),
    (Context::Sgx, "sgx", "An SGX enclave of confidump's own (needs SGX with flexible launch control)"),
    (Context::Container, "container", "A process in a container on this host holds it; the host's root is the attacker"),
    (Context::Service, "service", "A private PostgreSQL server holds it; this process is its client"),
];

/// `--runtime`.
#[rustfmt::skip]
const RUNTIMES: &[(Runtime, &str, &str)] = &[
    (Runtime::Namespaces, "namespaces", "New pid, mount, uts, ipc and net namespaces made by confidump (no package needed)"),
    (Runtime::Runc, "runc", "The OCI reference runtime, as Docker and Kubernetes use it (apt-get install runc)"),
    (Runtime::Crun, "crun", "The OCI runtime in C (apt-get install crun)"),
];

/// `--store`.
#[rustfmt::skip]
const STORES: &[(Store, &str, &str)] = &[
    (Store::Plaintext, "plaintext", "An ordinary text column: the server's memory and disk hold the secret"),
    (Store::ServerEncrypted, "server-encrypted", "pgp_sym_encrypt in the server, key sent in the SQL: the server sees key and secret"),
    (Store::ClientEncrypted, "client-encrypted", "AES-256-GCM in the client, key never sent: the server holds only ciphertext"),
];

/// Options of `confidump victim`.
#[derive(Debug, clap::Args)]
#[command(after_help = include_str!("victim_help.txt"))]
#[command(group(clap::ArgGroup::new("secret").args(["generate", "secret_file", "secret_stdin", "secret_arg"])))]
pub struct VictimArgs {
    /// Where the secret is kept (required, except with --context service, which takes --store,
    /// and --emit-enclave).
    #[arg(long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// Generate a random secret [default: canary].
    #[arg(long, value_name = "KIND", value_parser = choices(GENERATORS))]
    pub generate: Option<Generator>,
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
    /// Where the victim runs: this process, or inside a QEMU guest attacked from the host.
    #[arg(long, default_value = "process", value_parser = choices(CONTEXTS))]
    pub context: Context,
    /// (vm) Guest kernel image [default: /boot/vmlinuz-$(uname -r), else the one
    /// fetch-guest-kernel.sh fetched (scripts/, or /usr/share/confidump/ when installed)].
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// (vm) CPU accelerator: auto tries KVM for a few seconds, then TCG.
    #[arg(long, default_value = "auto", value_parser = choices(ACCELS))]
    pub accel: AccelChoice,
    /// (vm) Confidential-VM profile (needs the hardware; says what is missing otherwise).
    #[arg(long, value_parser = choices(CVMS))]
    pub cvm: Option<CvmProfile>,
    /// (vm) The guest's victim also sends its secret out once on this channel, as an
    /// application that logs or transmits it would: `console` (the serial port). Memory
    /// encryption does not cover it; the demo's `cvm-shared-io` row shows the host reading it.
    #[arg(long, value_parser = wire_parser())]
    pub wire: Option<Wire>,
    /// (vm) Guest RAM in MiB [default: 128; 256 with --cvm]
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u64>,
    /// (vm) Always boot the guest. By default the first VM victim saves its freshly booted
    /// guest (before any secret exists; ~/.cache/confidump/guest-snapshot, 0600) and later ones
    /// restore it with QEMU's -incoming, much faster than a boot (docs/performance.md), each
    /// with fresh host entropy.
    #[arg(long)]
    pub no_snapshot: bool,
    /// (vm, for tests) Before the victim starts, set Yama's ptrace_scope in the guest to N and
    /// report what the guest's root got from dump's attach and scan's read of another process
    /// (the ready line's "yama_probe"): the guest kernel has Yama where the host may not.
    #[arg(long, value_name = "N", hide = true, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub guest_yama: Option<u8>,
    /// (vm) Seconds the guest may take to become ready before QEMU is killed.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub boot_timeout: u64,
    /// (vm) Run the victim in new pid, mount, uts, ipc and net namespaces inside the guest (a
    /// container in a pod VM, as Kata Containers runs one); its ready line then says
    /// "guest_pid":1.
    #[arg(long)]
    pub guest_container: bool,
    /// (vm) Print the QEMU command line instead of running it (works without the hardware;
    /// per-run files appear as <RUNDIR>/...), then exit 0.
    #[arg(long)]
    pub dry_run: bool,
    /// (vm, --dry-run) Output: the program then one argument per line, or JSON.
    #[arg(long, default_value = "text", requires = "dry_run", value_parser = choices(FORMATS))]
    pub format: DryRunFormat,
    /// (sgx) Set ATTRIBUTES.DEBUG: root's /proc/PID/mem reads of the enclave then return
    /// plaintext (EDBGRD). For the pitfall demo only.
    #[arg(long)]
    pub debug_enclave: bool,
    /// (sgx) Write DIR/enclave.sgxs and DIR/enclave.sig (SIGSTRUCT, fresh RSA-3072 key; DIR
    /// made 0700 if missing) and exit; needs no SGX.
    #[arg(long, value_name = "DIR")]
    pub emit_enclave: Option<PathBuf>,
    /// (container) What makes the container.
    #[arg(long, default_value = "namespaces", value_parser = choices(RUNTIMES))]
    pub runtime: Runtime,
    /// (service) How the database client stores the secret.
    #[arg(long, value_parser = choices(STORES))]
    pub store: Option<Store>,
    /// (service) The pitfall: the server logs every statement with its parameters
    /// (log_statement=all) to files in its data directory, as an ordinary production server
    /// does; the demo's db-server-logged row shows its disk cell leak.
    #[arg(long)]
    pub statement_log: bool,
    /// (service) Directory of PostgreSQL's initdb and postgres [default: PATH, then
    /// /usr/lib/postgresql/*/bin].
    #[arg(long, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,
}

/// `--wire`.
pub(super) fn wire_parser() -> impl TypedValueParser<Value = Wire> {
    PossibleValuesParser::new([PossibleValue::new("console")
        .help("one line on the serial console (port I/O, delivered to the host by QEMU)")])
    .try_map(|s| Wire::parse(&s))
}

/// Runs `confidump victim`: the victim of the context asked for.
pub fn run(mut args: VictimArgs) -> anyhow::Result<ExitCode> {
    let (mut out, mut log) = (std::io::stdout(), std::io::stderr());
    if let Some(dir) = &args.emit_enclave {
        crate::sgx::victim::emit(dir, args.debug_enclave, &mut log)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (arg, file) = (args.secret_arg.take(), args.secret_file.take());
    let request = VictimRequest {
        context: args.context,
        mode: args.mode,
        source: secret_source(arg, file, args.secret_stdin, args.generate),
        ready_file: args.ready_file.take(),
        until_eof: args.until_eof,
        debug_enclave: args.debug_enclave,
        dry_run: args.dry_run.then_some(args.format),
        runtime: args.runtime,
        store: args.store,
        statement_log: args.statement_log,
        pg_bindir: args.pg_bindir.take(),
    };
    let vm = |mode| VmOptions {
        mode,
        kernel: args.kernel.clone(),
        accel: args.accel,
        cvm: args.cvm,
        memory_mib: args.memory,
        boot_timeout: std::time::Duration::from_secs(args.boot_timeout),
        wire: args.wire,
        guest_container: args.guest_container,
        snapshot: !args.no_snapshot,
        guest_yama: args.guest_yama,
    };
    crate::runner::victim::run(request, vm, &mut out, &mut log)?;
    Ok(ExitCode::SUCCESS)
}
