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
alone), and --secret-arg (a secret on the command line).

--context vm runs the victim inside a minimal Linux guest under QEMU (the secret is generated
in the guest; the host learns its hash). The ready line then also has \"context\":\"vm\",
\"qemu_pid\", \"qmp\" (socket), \"accel\", \"guest_pid\", \"guest_phys\" (guest-physical page of
each page of the region); \"pid\" is QEMU's pid. Attack it from the host:
  confidump victim --context vm --mode secretmem --accel tcg --ready-file /tmp/vm.ready
  confidump dump QEMU_PID -o qemu.core && confidump scan qemu.core --sha256 HEX --shape canary
  confidump scan --pid QEMU_PID --sha256 HEX --shape canary
Guest kernel: --kernel, else /boot/vmlinuz-$(uname -r), else scripts/fetch-guest-kernel.sh's.

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
    /// Where the secret is kept (required, except with --context service, which takes --store).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
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
    /// scripts/fetch-guest-kernel.sh fetched].
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// (vm) CPU accelerator: auto tries KVM for a few seconds, then TCG.
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelArg,
    /// (vm) Confidential-VM profile (needs the hardware; says what is missing otherwise).
    #[arg(long, value_enum)]
    pub cvm: Option<CvmArg>,
    /// (vm) Guest RAM in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub memory: u64,
    /// (vm) Seconds the guest may take to become ready before QEMU is killed.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub boot_timeout: u64,
    /// (service) How the database client stores the secret.
    #[arg(long, value_enum)]
    pub store: Option<StoreArg>,
    /// (service) Directory of PostgreSQL's initdb and postgres [default: PATH, then
    /// /usr/lib/postgresql/*/bin].
    #[arg(long, value_name = "DIR")]
    pub pg_bindir: Option<PathBuf>,
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

/// `--cvm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CvmArg {
    /// AMD SEV-SNP (QEMU >= 9.1, kvm_amd sev_snp=Y, /dev/sev, OVMF).
    SevSnp,
    /// Intel TDX (QEMU >= 10.1, kvm_intel tdx=Y, OVMF).
    Tdx,
}

/// Options of the hidden `confidump guest-init` (PID 1 inside a confidump guest).
#[derive(Debug, clap::Args)]
pub struct GuestInitArgs {
    /// The victim mode.
    #[arg(long, value_enum)]
    pub mode: ModeArg,
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

fn mode_of(arg: ModeArg) -> Mode {
    match arg {
        ModeArg::Plain => Mode::Plain,
        ModeArg::Dontdump => Mode::DontDump,
        ModeArg::Secretmem => Mode::SecretMem,
        ModeArg::Residue => Mode::Residue,
        ModeArg::Undumpable => Mode::Undumpable,
    }
}

/// Runs `confidump guest-init` (PID 1 of a guest; never returns on success: it powers off).
pub fn run_guest_init(args: GuestInitArgs) -> anyhow::Result<ExitCode> {
    crate::vm::guest::run_init(mode_of(args.mode))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `confidump victim`.
pub fn run(args: VictimArgs) -> anyhow::Result<ExitCode> {
    if args.context == ContextArg::Service {
        return run_service(args);
    }
    if args.store.is_some() {
        anyhow::bail!("--store applies to --context service only");
    }
    let Some(mode) = args.mode.map(mode_of) else {
        anyhow::bail!("--mode is required (except with --context service)");
    };
    if args.context == ContextArg::Vm {
        return run_vm(args, mode);
    }
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

/// `--context vm`: boot the guest, print the host-side ready line, wait for a stop, power off.
fn run_vm(args: VictimArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    use anyhow::bail;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use std::io::Write;
    use std::os::fd::AsFd;

    use crate::vm::{AccelChoice, CvmProfile, StopOutcome, VmOptions, VmVictim};

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

    let opts = VmOptions {
        mode,
        kernel: args.kernel,
        accel: match args.accel {
            AccelArg::Auto => AccelChoice::Auto,
            AccelArg::Kvm => AccelChoice::Kvm,
            AccelArg::Tcg => AccelChoice::Tcg,
        },
        cvm: args.cvm.map(|c| match c {
            CvmArg::SevSnp => CvmProfile::SevSnp,
            CvmArg::Tdx => CvmProfile::Tdx,
        }),
        memory_mib: args.memory,
        boot_timeout: std::time::Duration::from_secs(args.boot_timeout),
    };
    let vm = VmVictim::start(&opts)?;
    for note in vm.notes() {
        eprintln!("confidump: {note}");
    }
    let ready = vm.ready();
    eprintln!(
        "confidump: guest ready under {} in {:.1} s (QEMU pid {}, guest pid {}, kernel {})",
        ready.accel,
        ready.boot_secs,
        ready.qemu_pid,
        ready.guest_pid,
        ready.guest_kernel.as_deref().unwrap_or("?")
    );
    let line = ready.to_json();
    if let Some(path) = &args.ready_file {
        victim::write_ready_file(path, &line)?;
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;

    let stdin = std::io::stdin();
    let why = loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let exit_fd = vm.exit_fd();
        if let Some(fd) = exit_fd {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        if args.until_eof {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => bail!("waiting for a stop signal: {e}"),
        }
        let fired = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        if fired(0) {
            let _ = sfd.read_signal();
            break "signal";
        }
        let mut i = 1;
        if exit_fd.is_some() {
            if fired(i) {
                bail!(
                    "QEMU exited unexpectedly; last console lines:\n{}",
                    vm.console_tail()
                );
            }
            i += 1;
        }
        if args.until_eof && fired(i) {
            let mut buf = [0u8; 512];
            if !matches!(nix::unistd::read(libc::STDIN_FILENO, &mut buf), Ok(n) if n > 0) {
                break "end of stdin";
            }
        }
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
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use std::io::Write;
    use std::os::fd::AsFd;

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
    let mut svc = ServiceVictim::start(&opts)?;
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
    let line = ready.to_json();
    if let Some(path) = &args.ready_file {
        victim::write_ready_file(path, &line)?;
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;

    let stdin = std::io::stdin();
    let why = loop {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if args.until_eof {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // Wakes once a second to notice a server that died under us.
        match poll(&mut fds, PollTimeout::from(1000u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => bail!("waiting for a stop signal: {e}"),
        }
        let fired = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        if fired(0) {
            let _ = sfd.read_signal();
            break "signal";
        }
        if args.until_eof && fired(1) {
            let mut buf = [0u8; 512];
            if !matches!(nix::unistd::read(libc::STDIN_FILENO, &mut buf), Ok(n) if n > 0) {
                break "end of stdin";
            }
        }
        if svc.server_exited() {
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
