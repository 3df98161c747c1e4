//! `confidump victim`: a live program that holds one secret in a chosen protection.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::model::{CvmProfile, VictimMode as Mode};
use crate::victim::{self, Generator, SecretSource, VictimConfig};

/// `--mode`: the modes this build can start, parsed into the one mode enum of [`crate::model`].
fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    PossibleValuesParser::new(Mode::RUNNABLE.map(|m| PossibleValue::new(m.as_str()).help(m.help())))
        .try_map(|s| s.parse::<Mode>())
}

/// `--cvm`: the one confidential-VM enum of [`crate::model`], with what each needs.
fn cvm_parser() -> impl TypedValueParser<Value = CvmProfile> {
    PossibleValuesParser::new(CvmProfile::ALL.map(|c| {
        PossibleValue::new(c.as_str()).help(match c {
            CvmProfile::SevSnp => "AMD SEV-SNP (QEMU >= 9.1, kvm_amd sev_snp=Y, /dev/sev, OVMF)",
            CvmProfile::Tdx => "Intel TDX (QEMU >= 10.1, kvm_intel tdx=Y, OVMF)",
        })
    }))
    .try_map(|s| s.parse::<CvmProfile>())
}

const AFTER_HELP: &str = "\
Prints one JSON line when ready:
  {\"event\":\"ready\",\"pid\":N,\"mode\":\"…\",\"secret_sha256\":\"…\",\"secret_len\":N,\
\"region\":{\"start\":\"0x…\",\"end\":\"0x…\"}}
then uses the secret (HMAC-SHA256 over a counter) once a second until SIGTERM/SIGINT/SIGHUP,
or end of stdin with --until-eof. Exits 0 after zeroizing the secret.

Examples:
  confidump victim --mode secretmem
  { printf 'hunter2-hunter2\\n'; cat; } | confidump victim --mode dontdump --secret-stdin --until-eof
      (runs until Ctrl-D: `cat` keeps the pipe open; a bare printf would end it at once)
  confidump victim --mode plain --generate pan --ready-file /tmp/victim.ready

Pitfall modes, for training: residue (well stored, badly used), undumpable (PR_SET_DUMPABLE=0
alone), and --secret-arg (a secret on the command line).

--context vm runs the victim inside a minimal Linux guest under QEMU (the secret is generated
in the guest; the host learns its hash). The ready line then also has \"context\":\"vm\",
\"qemu_pid\", \"qmp\" (socket), \"accel\", \"guest_pid\", \"guest_phys\" (guest-physical page of
each page of the region), \"started\" (boot, or snapshot: restored from the booted guest the
first VM victim saved; --no-snapshot always boots); \"pid\" is QEMU's pid. Attack it from the host:
  confidump victim --context vm --mode secretmem --accel tcg --ready-file /tmp/vm.ready
  confidump dump QEMU_PID -o qemu.core && confidump scan qemu.core --sha256 HEX --shape canary
  confidump scan --pid QEMU_PID --sha256 HEX --shape canary
Guest kernel: --kernel, else /boot/vmlinuz-$(uname -r), else the one fetch-guest-kernel.sh put
in ~/.cache/confidump (scripts/ in the source, /usr/share/confidump/ when installed).

--dry-run prints the QEMU command line instead (works on any host; per-run files show as
<RUNDIR>/..., and stderr says what this host lacks to run it):
  confidump victim --context vm --mode plain --cvm sev-snp --dry-run
  confidump victim --context vm --mode plain --cvm tdx --dry-run --format json
--context sgx runs the secret inside an SGX enclave confidump builds, measures and signs at run
time (no SDK), loaded through /dev/sgx_enclave; --mode plain is a production enclave, add
--debug-enclave for a debug one (whose memory root reads in plaintext). Without SGX it exits 2
saying what is missing. --mode sgx-sim lays the same enclave out in ordinary memory, as SDK
simulation modes do (runs anywhere, protects nothing). --emit-enclave DIR writes
DIR/enclave.sgxs and DIR/enclave.sig (SIGSTRUCT) and exits, on any machine:
  confidump victim --context sgx --mode plain --ready-file /tmp/sgx.ready
  confidump victim --mode sgx-sim
  confidump victim --emit-enclave /tmp/enclave --debug-enclave
--context container runs the victim inside a container on this host (root needed): new
namespaces made by confidump (--runtime namespaces, the default) or a real OCI runtime (runc,
crun) on a bundle holding a static confidump. The ready line adds \"context\":\"container\" and
\"container\":{\"runtime\",\"id\",\"pid_in_container\"}; \"pid\" is the host PID, what the host's
root attacks. The container and its bundle are removed when the victim stops:
  confidump victim --context container --runtime runc --mode plain --ready-file /tmp/c.ready
  confidump scan --pid HOST_PID --sha256 HEX --shape canary
--context service starts a private PostgreSQL server (initdb as an unprivileged user, Unix
socket only, removed on exit) and makes this process its client: it stores a fresh canary
with --store plaintext|server-encrypted|client-encrypted and reads it back. The ready line then
also has \"context\":\"service\", \"store\", \"pids\":{\"server\":[postmaster, ...],\"client\":N,
\"backend\":N} and \"data_dir\"; \"pid\" is the client (this process). Attack every pid, and the disk:
  confidump victim --context service --store server-encrypted --ready-file /tmp/db.ready
  confidump scan --pid BACKEND_PID --sha256 HEX --shape canary
  confidump scan --dir DATA_DIR --sha256 HEX --shape canary";

/// Options of `confidump victim`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
#[command(group(clap::ArgGroup::new("secret").args(["generate", "secret_file", "secret_stdin", "secret_arg"])))]
pub struct VictimArgs {
    /// Where the secret is kept (required, except with --context service, which takes --store,
    /// and --emit-enclave).
    #[arg(long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
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
    /// Where the victim runs: this process, or inside a QEMU guest attacked from the host.
    #[arg(long, value_enum, default_value = "process")]
    pub context: ContextArg,
    /// (vm) Guest kernel image [default: /boot/vmlinuz-$(uname -r), else the one
    /// fetch-guest-kernel.sh fetched (scripts/, or /usr/share/confidump/ when installed)].
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// (vm) CPU accelerator: auto tries KVM for a few seconds, then TCG.
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelArg,
    /// (vm) Confidential-VM profile (needs the hardware; says what is missing otherwise).
    #[arg(long, value_parser = cvm_parser())]
    pub cvm: Option<CvmProfile>,
    /// (vm) The guest's victim also sends its secret out once on this channel, as an
    /// application that logs or transmits it would: `console` (the serial port). Memory
    /// encryption does not cover it; the demo's `cvm-shared-io` row shows the host reading it.
    #[arg(long, value_parser = wire_parser())]
    pub wire: Option<crate::vm::guest::Wire>,
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
    #[arg(long, value_enum, default_value = "text", requires = "dry_run")]
    pub format: DryRunFormat,
    /// (sgx) Set ATTRIBUTES.DEBUG: root's /proc/PID/mem reads of the enclave then return
    /// plaintext (EDBGRD). For the pitfall demo only.
    #[arg(long)]
    pub debug_enclave: bool,
    /// (sgx) Write DIR/enclave.sgxs and DIR/enclave.sig (SIGSTRUCT, fresh RSA-3072 key) and
    /// exit; needs no SGX.
    #[arg(long, value_name = "DIR")]
    pub emit_enclave: Option<PathBuf>,
    /// (container) What makes the container.
    #[arg(long, value_enum, default_value = "namespaces")]
    pub runtime: RuntimeArg,
    /// (service) How the database client stores the secret.
    #[arg(long, value_enum)]
    pub store: Option<StoreArg>,
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

/// `--format` of `--dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRunFormat {
    /// The program, then one argument per line.
    Text,
    /// `{"program":…,"args":[…],"placeholders":[…],"cvm":…,"missing":[…]}`.
    Json,
}

/// `--runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeArg {
    /// New pid, mount, uts, ipc and net namespaces made by confidump (no package needed).
    Namespaces,
    /// The OCI reference runtime, as Docker and Kubernetes use it (apt-get install runc).
    Runc,
    /// The OCI runtime in C (apt-get install crun).
    Crun,
}

/// `--store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreArg {
    /// An ordinary text column: the server's memory and disk hold the secret.
    Plaintext,
    /// pgp_sym_encrypt in the server, key sent in the SQL: the server sees key and secret.
    ServerEncrypted,
    /// AES-256-GCM in the client, key never sent: the server holds only ciphertext.
    ClientEncrypted,
}

/// `--context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContextArg {
    /// This process holds the secret.
    Process,
    /// A Linux guest under QEMU holds it; the host is the attacker.
    Vm,
    /// An SGX enclave of confidump's own (needs SGX with flexible launch control).
    Sgx,
    /// A process in a container on this host holds it; the host's root is the attacker.
    Container,
    /// A private PostgreSQL server holds it; this process is its client.
    Service,
}

/// `--accel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccelArg {
    /// KVM if /dev/kvm works and the guest gets ready quickly, else TCG.
    Auto,
    /// KVM only.
    Kvm,
    /// QEMU's emulator only.
    Tcg,
}

/// Options of the hidden `confidump guest-init` (PID 1 inside a confidump guest).
#[derive(Debug, clap::Args)]
pub struct GuestInitArgs {
    /// The victim mode.
    #[arg(long, value_parser = mode_parser(), required_unless_present = "await_start")]
    pub mode: Option<Mode>,
    /// Wait for the host's start line on the console (it names the mode; see vm::start).
    #[arg(long = "await", conflicts_with_all = ["mode", "container", "in_container", "wire"])]
    pub await_start: bool,
    /// Run the victim in new pid, mount, uts, ipc and net namespaces (a pod VM's container).
    #[arg(long)]
    pub container: bool,
    /// Be that victim: PID 1 of the container's namespaces, started by guest-init.
    #[arg(long, hide = true)]
    pub in_container: bool,
    /// Also send the secret out on this channel once.
    #[arg(long, value_parser = wire_parser())]
    pub wire: Option<crate::vm::guest::Wire>,
}

fn wire_parser() -> impl TypedValueParser<Value = crate::vm::guest::Wire> {
    PossibleValuesParser::new([PossibleValue::new("console")
        .help("one line on the serial console (port I/O, delivered to the host by QEMU)")])
    .try_map(|s| crate::vm::guest::Wire::parse(&s))
}

/// `--generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GenerateArg {
    /// CONFIDUMP- followed by 24 random hex digits (34 bytes).
    Canary,
    /// A random Luhn-valid 16-digit card number starting with 4.
    Pan,
}

/// Runs `confidump guest-init` (PID 1 of a guest; never returns on success: it powers off).
pub fn run_guest_init(args: GuestInitArgs) -> anyhow::Result<ExitCode> {
    match args.mode {
        None => crate::vm::guest::run_init_awaiting()?,
        Some(mode) if args.in_container => crate::vm::guest::run_contained(mode, args.wire)?,
        Some(mode) => crate::vm::guest::run_init(mode, args.container, args.wire)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `confidump victim`.
pub fn run(mut args: VictimArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.emit_enclave {
        return emit_enclave(dir, args.debug_enclave);
    }
    if args.context == ContextArg::Service {
        return run_service(args);
    }
    if args.store.is_some() || args.statement_log {
        anyhow::bail!("--store and --statement-log apply to --context service only");
    }
    let Some(mode) = args.mode else {
        anyhow::bail!("--mode is required (except with --context service, or --emit-enclave)");
    };
    if args.debug_enclave && args.context != ContextArg::Sgx {
        anyhow::bail!("--debug-enclave needs --context sgx (or --emit-enclave)");
    }
    if args.context == ContextArg::Sgx || mode == Mode::SgxSim {
        return run_sgx(args, mode);
    }
    if args.dry_run {
        return run_dry(&args, mode);
    }
    if matches!(args.context, ContextArg::Vm | ContextArg::Container) {
        // Started by a demo or a lab, this finds what the run already prepared.
        super::prepare_static_binary(crate::i18n::detect_lang());
    }
    if args.context == ContextArg::Vm {
        return run_vm(args, mode);
    }
    if args.context == ContextArg::Container {
        return super::victim_container::run(args, mode);
    }
    let source = secret_source(&mut args);
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

fn vm_options(args: &VictimArgs, mode: Mode) -> crate::vm::VmOptions {
    use crate::vm::{AccelChoice, VmOptions};
    VmOptions {
        mode,
        kernel: args.kernel.clone(),
        accel: match args.accel {
            AccelArg::Auto => AccelChoice::Auto,
            AccelArg::Kvm => AccelChoice::Kvm,
            AccelArg::Tcg => AccelChoice::Tcg,
        },
        cvm: args.cvm,
        memory_mib: args.memory,
        boot_timeout: std::time::Duration::from_secs(args.boot_timeout),
        wire: args.wire,
        guest_container: args.guest_container,
        snapshot: !args.no_snapshot,
        guest_yama: args.guest_yama,
    }
}

/// `--dry-run`: print the QEMU command line and what this host lacks to run it; exit 0.
fn run_dry(args: &VictimArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    if args.context != ContextArg::Vm {
        anyhow::bail!("--dry-run shows a QEMU command line: it needs --context vm");
    }
    let dry = crate::vm::dryrun::dry_run(&vm_options(args, mode))?;
    let mut stdout = std::io::stdout().lock();
    match args.format {
        DryRunFormat::Text => {
            stdout.write_all(dry.to_lines().as_bytes())?;
            for p in &dry.placeholders {
                eprintln!("confidump: {} stands for {}", p.name, p.meaning);
            }
            if !dry.missing.is_empty() {
                eprintln!(
                    "confidump: dry run only: this host lacks {}",
                    dry.missing.join("; ")
                );
            }
        }
        DryRunFormat::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&dry)?)?,
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `--emit-enclave DIR`.
fn emit_enclave(dir: &std::path::Path, debug: bool) -> anyhow::Result<ExitCode> {
    let e = crate::sgx::emit_enclave(dir, debug)?;
    eprintln!(
        "confidump: wrote {} and {} (MRENCLAVE {}, DEBUG {}, RSA-3072 key generated in {:.1} s)",
        e.sgxs.display(),
        e.sig.display(),
        hex::encode(e.mrenclave),
        if e.debug { "set" } else { "clear" },
        e.keygen_secs
    );
    Ok(ExitCode::SUCCESS)
}

/// `--context sgx` (`--mode plain`) and `--mode sgx-sim`.
fn run_sgx(mut args: VictimArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    use crate::sgx::{SgxVictimConfig, SgxVictimKind};
    let kind = match (args.context, mode) {
        (ContextArg::Process, Mode::SgxSim) => SgxVictimKind::Sim,
        (ContextArg::Sgx, Mode::Plain) if args.debug_enclave => SgxVictimKind::Debug,
        (ContextArg::Sgx, Mode::Plain) => SgxVictimKind::Production,
        (ContextArg::Sgx, _) => {
            anyhow::bail!("--context sgx takes --mode plain (a production enclave; add --debug-enclave for a debug one)")
        }
        (_, _) => anyhow::bail!("--mode sgx-sim runs with --context process"),
    };
    let config = SgxVictimConfig {
        kind,
        source: secret_source(&mut args),
        ready_file: args.ready_file,
        until_eof: args.until_eof,
    };
    let reason = crate::sgx::run(&config, &mut std::io::stdout())?;
    tracing::info!(?reason, "enclave victim stopped");
    Ok(ExitCode::SUCCESS)
}

fn secret_source(args: &mut VictimArgs) -> SecretSource {
    if let Some(arg) = args.secret_arg.take() {
        // The parsed copy is moved into a zeroizing buffer; argv itself stays (the pitfall).
        SecretSource::Arg(zeroize::Zeroizing::new(arg.into_bytes()))
    } else if let Some(path) = &args.secret_file {
        SecretSource::File(path.clone())
    } else if args.secret_stdin {
        SecretSource::Stdin
    } else {
        SecretSource::Generate(match args.generate {
            Some(GenerateArg::Pan) => Generator::Pan,
            Some(GenerateArg::Canary) | None => Generator::Canary,
        })
    }
}

/// `--context vm`: boot the guest, print the host-side ready line, wait for a stop, power off.
fn run_vm(args: VictimArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    use anyhow::bail;
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};

    use crate::vm::{StopOutcome, VmVictim};

    if args.secret_file.is_some() || args.secret_stdin || args.secret_arg.is_some() {
        bail!("--context vm generates the secret inside the guest (it never passes through the host): --secret-file/--secret-stdin/--secret-arg are not available");
    }
    if matches!(args.generate, Some(GenerateArg::Pan)) {
        bail!("--context vm: only --generate canary is supported");
    }
    // Stop signals are read from a signalfd once the guest is up; blocked from now on so that
    // a SIGTERM during boot is not lost (it stops the victim right after the ready line).
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)?;

    let opts = vm_options(&args, mode);
    let vm = VmVictim::start(&opts)?;
    for note in vm.notes() {
        eprintln!("confidump: {note}");
    }
    let ready = vm.ready();
    eprintln!(
        "confidump: guest ready under {} in {:.1} s{} (QEMU pid {}, guest pid {}, kernel {})",
        ready.accel,
        ready.boot_secs,
        if ready.started == crate::vm::STARTED_SNAPSHOT {
            ", restored from the saved booted guest"
        } else {
            ""
        },
        ready.qemu_pid,
        ready.guest_pid,
        ready.guest_kernel.as_deref().unwrap_or("?")
    );
    announce(&ready.to_json(), args.ready_file.as_deref())?;

    let why = match victim::wait_for_stop(&sfd, args.until_eof, vm.exit_fd())? {
        victim::StopReason::Signal(_) => "signal",
        victim::StopReason::StdinEof => "end of stdin",
        victim::StopReason::Exited => bail!(
            "QEMU exited unexpectedly; last console lines:\n{}",
            vm.console_tail()
        ),
    };
    tracing::info!(why, "stopping the guest");
    match vm.stop() {
        StopOutcome::PoweredOff => eprintln!("confidump: guest powered off ({why})"),
        StopOutcome::Killed => eprintln!("confidump: guest did not power off in time: QEMU killed"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `--context service`: start PostgreSQL, store the secret as a client, print the ready line,
/// wait for a stop, stop the server and remove its directory.
fn run_service(args: VictimArgs) -> anyhow::Result<ExitCode> {
    use anyhow::bail;
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};

    use crate::service::{ServiceOptions, ServiceVictim, StopOutcome, Store};

    if args.secret_file.is_some() || args.secret_stdin || args.secret_arg.is_some() {
        bail!("--context service generates a fresh canary in the client: --secret-file/--secret-stdin/--secret-arg are not available");
    }
    if matches!(args.generate, Some(GenerateArg::Pan)) {
        bail!("--context service: only --generate canary is supported");
    }
    if args.mode.is_some() {
        bail!("--context service takes --store, not --mode");
    }
    let Some(store) = args.store else {
        bail!("--context service needs --store plaintext|server-encrypted|client-encrypted");
    };
    // Blocked before the server starts (its children get an empty mask from std), so that a
    // stop signal during the start is acted on right after the ready line.
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)?;

    let mut opts = ServiceOptions::new(match store {
        StoreArg::Plaintext => Store::Plaintext,
        StoreArg::ServerEncrypted => Store::ServerEncrypted,
        StoreArg::ClientEncrypted => Store::ClientEncrypted,
    });
    opts.instance.bindir = args.pg_bindir;
    opts.instance.statement_log = args.statement_log;
    let svc = ServiceVictim::start(&opts)?;
    for note in svc.notes() {
        eprintln!("confidump: {note}");
    }
    let ready = svc.ready();
    eprintln!(
        "confidump: {} ready in {:.1} s as user {} (postmaster pid {}, client backend pid {}, data {})",
        ready.server_version.as_deref().unwrap_or("PostgreSQL"),
        ready.start_secs,
        ready.server_user,
        ready.pids.server.first().copied().unwrap_or(0),
        ready.pids.backend,
        ready.data_dir.display()
    );
    announce(&ready.to_json(), args.ready_file.as_deref())?;

    // A server that dies under us ends the wait too (its postmaster's pidfd).
    let why = match victim::wait_for_stop(&sfd, args.until_eof, svc.exit_fd())? {
        victim::StopReason::Signal(_) => "signal",
        victim::StopReason::StdinEof => "end of stdin",
        victim::StopReason::Exited => {
            drop(svc);
            bail!("the PostgreSQL server exited unexpectedly");
        }
    };
    let t = std::time::Instant::now();
    let outcome = svc.stop()?;
    let how = match outcome {
        StopOutcome::Fast => "shut down",
        StopOutcome::Immediate => "shut down (immediate)",
        StopOutcome::Killed => "did not shut down in time: killed",
        StopOutcome::AlreadyExited => "had already exited",
    };
    eprintln!(
        "confidump: PostgreSQL {how} and removed in {:.1} s ({why})",
        t.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Announces a context's ready line: to the `--ready-file` (0600, never over another file) and
/// on stdout, where the caller waits for it.
pub(super) fn announce(line: &str, ready_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(path) = ready_file {
        victim::write_ready_file(path, line)?;
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}
