//! The VM context: the victim runs inside a real Linux guest under QEMU, and the attacker is
//! the host, as a cloud operator could be.
//!
//! [`VmVictim::start`] finds QEMU and a guest kernel, builds an initramfs ([`cpio`]) whose
//! `/init` is a static confidump ([`crate::isolate::init`]), boots it (KVM, falling back to TCG when a nested
//! KVM guest never gets ready), and waits for the guest's ready line on the serial console
//! ([`guest`]). The secret is generated inside the guest; the host learns only its SHA-256,
//! its length and where it sits (guest-virtual and guest-physical). The host-side attacks are
//! the ordinary ones on QEMU's process (`confidump dump QEMU_PID`, `scan --pid QEMU_PID`) and
//! QMP `dump-guest-memory` ([`qmp::dump_guest_memory`]). [`cvm`] holds the SEV-SNP and TDX
//! profiles, which need hardware this kind of host lacks.
//!
//! QEMU never outlives us: it runs in its own process group with `PR_SET_PDEATHSIG(SIGKILL)`
//! (tied to the *thread* that started it: start the VM from a thread that lives as long as
//! the VM), and [`VmVictim`]'s `Drop` kills the group.

pub mod cpio;
pub mod cvm;
pub mod dryrun;
pub mod guest;
mod launch;
pub mod probe;
pub mod qemu;
pub mod qmp;
pub mod snapshot;
pub mod start;
pub mod victim;

use std::collections::VecDeque;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::victim::lines::tail_text;
use launch::{key_args, launch, qemu_identity};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::coredump::output::OutputFile;
use crate::victim::{Mode, ReadyLine};
pub use cvm::CvmProfile;
pub use guest::GuestReady;
pub use qemu::Accel;

/// How long a KVM attempt may take before `--accel auto` gives up on it and uses TCG: a
/// nested KVM guest here hangs right after decompression, while a working one is ready well
/// within it (measurements: docs/performance.md, "Design measurements").
pub const KVM_TRY_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a stopped guest may take to power off before QEMU is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// `--accel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccelChoice {
    /// KVM when `/dev/kvm` is usable and the guest gets ready in [`KVM_TRY_TIMEOUT`], else TCG.
    Auto,
    /// KVM only.
    Kvm,
    /// TCG only.
    Tcg,
}

/// Everything [`VmVictim::start`] needs.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// The victim mode inside the guest.
    pub mode: Mode,
    /// The guest kernel; `None`: [`qemu::default_kernel`].
    pub kernel: Option<PathBuf>,
    /// How to run the guest's CPU.
    pub accel: AccelChoice,
    /// A confidential-VM profile.
    pub cvm: Option<CvmProfile>,
    /// Guest RAM in MiB; `None`: [`VmOptions::memory`]'s default.
    pub memory_mib: Option<u64>,
    /// How long the guest may take to become ready (per attempt, TCG).
    pub boot_timeout: Duration,
    /// A channel the guest's victim also sends its secret out on (`cvm-shared-io`).
    pub wire: Option<guest::Wire>,
    /// The guest runs its victim in new pid, mount, uts, ipc and net namespaces (a container
    /// in a pod VM, as Kata Containers runs one).
    pub guest_container: bool,
    /// Start from a saved booted guest when there is one, and save one after a boot
    /// ([`snapshot`]); `false`: always boot.
    pub snapshot: bool,
    /// Run the guest-side Yama probe with this `ptrace_scope` first ([`probe`]).
    pub guest_yama: Option<u8>,
}

impl VmOptions {
    /// Defaults: `auto` accel, 60 s boot timeout, the default kernel, no CVM, snapshots, the
    /// default memory ([`VmOptions::memory`]).
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            kernel: None,
            accel: AccelChoice::Auto,
            cvm: None,
            memory_mib: None,
            boot_timeout: Duration::from_secs(60),
            wire: None,
            guest_container: false,
            snapshot: true,
            guest_yama: None,
        }
    }
}

impl VmOptions {
    /// Guest RAM in MiB: as given, else 128 MiB (the kernel, the 8 MiB initramfs and a victim
    /// fit, and every dump of the guest stays small), or 256 MiB for a confidential VM (OVMF,
    /// and the bounce buffers SEV and TDX guests reserve for device I/O).
    pub fn memory(&self) -> u64 {
        self.memory_mib
            .unwrap_or(if self.cvm.is_some() { 256 } else { 128 })
    }
}

/// Errors of the VM context.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// No QEMU.
    #[error("needs QEMU: apt-get install qemu-system-x86 ({what})")]
    QemuMissing {
        /// What was looked for.
        what: String,
    },
    /// No guest kernel.
    #[error("needs a guest kernel ({what}): run {fetch} or pass --kernel")]
    KernelMissing {
        /// What was looked for.
        what: String,
        /// The one command that fetches one ([`crate::host::HostFacts::fetch_kernel`]).
        fetch: String,
    },
    /// The mode makes no sense inside a guest.
    #[error("mode {0} is not supported in a VM (use plain or secretmem, or dontdump)")]
    Mode(&'static str),
    /// KVM was asked for but cannot be used.
    #[error("--accel kvm: /dev/kvm cannot be opened read-write: {0}")]
    Kvm(String),
    /// A confidential-VM profile lacks hardware or software.
    #[error("{0}")]
    CvmUnavailable(String),
    /// No static init.
    #[error(transparent)]
    Init(#[from] crate::isolate::init::InitError),
    /// Building the initramfs failed.
    #[error(transparent)]
    Cpio(#[from] cpio::CpioError),
    /// A file or directory step failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The step.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of ours (the initramfs) could not be created or published.
    #[error(transparent)]
    Output(#[from] crate::coredump::output::OutputError),
    /// QEMU could not be started.
    #[error("starting {qemu}: {source}")]
    Spawn {
        /// The binary.
        qemu: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// QEMU ended before the guest was ready.
    #[error("QEMU ({accel}) exited before the guest was ready; QEMU said: {stderr}; last console lines:\n{console}")]
    Exited {
        /// Accelerator.
        accel: &'static str,
        /// QEMU's stderr, last lines.
        stderr: String,
        /// The console, last lines.
        console: String,
    },
    /// The guest did not become ready in time; QEMU was killed.
    #[error("the guest ({accel}) was not ready after {secs} s; QEMU was killed; last console lines:\n{console}")]
    BootTimeout {
        /// Accelerator.
        accel: &'static str,
        /// The timeout.
        secs: u64,
        /// QEMU's stderr so far, last lines (` | `-joined; a nested KVM guest's MSR error).
        stderr: String,
        /// The console, last lines.
        console: String,
    },
    /// The guest reported an error instead of a ready line.
    #[error("the guest failed: {0}")]
    Guest(String),
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VmError {
    let path = path.to_path_buf();
    move |source| VmError::Io { what, path, source }
}

/// The host-side ready line of a VM victim: the process victim's keys (with `pid` = QEMU's pid,
/// what the host attacker dumps, and `region` = the guest-virtual region) plus VM facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmReady {
    /// `event`, `pid` (QEMU), `mode`, `secret_sha256`, `secret_len`, `region` (guest-virtual).
    #[serde(flatten)]
    pub ready: ReadyLine,
    /// Always `vm`.
    pub context: String,
    /// QEMU's pid (same as `pid`).
    pub qemu_pid: i32,
    /// The QMP unix socket.
    pub qmp: PathBuf,
    /// `kvm` or `tcg`.
    pub accel: String,
    /// The victim's pid inside the guest.
    pub guest_pid: i32,
    /// Guest-physical address of each page of `region` (`None`: not present).
    pub guest_phys: Vec<Option<String>>,
    /// The guest kernel's release.
    pub guest_kernel: Option<String>,
    /// Seconds from starting QEMU to the guest's ready line (successful attempt).
    pub boot_secs: f64,
    /// How the guest started: `boot`, or `snapshot` (restored from a booted guest saved
    /// earlier, [`snapshot`]).
    #[serde(default = "booted")]
    pub started: String,
    /// What the guest-side Yama probe got ([`VmOptions::guest_yama`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yama_probe: Option<start::YamaProbe>,
}

fn booted() -> String {
    STARTED_BOOT.to_string()
}

/// [`VmReady::started`] of a guest that booted.
pub const STARTED_BOOT: &str = "boot";
/// [`VmReady::started`] of a guest restored from a snapshot.
pub const STARTED_SNAPSHOT: &str = "snapshot";

impl VmReady {
    /// The line as printed: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// The bytes a guest sent out on a channel the host reads (its console's `wire` lines), as QEMU
/// delivered them: shared between the console reader and the attack, bounded, zeroized when the
/// last holder drops them, and never printed (`Debug` shows only the length).
#[derive(Clone, Default)]
pub struct WireTap(Arc<Mutex<zeroize::Zeroizing<Vec<u8>>>>);

/// The most a [`WireTap`] keeps; later bytes are dropped.
const WIRE_MAX: usize = 64 * 1024;

impl WireTap {
    fn append(&self, line: &[u8]) {
        if let Ok(mut w) = self.0.lock() {
            let room = WIRE_MAX.saturating_sub(w.len());
            w.extend_from_slice(line.get(..room.min(line.len())).unwrap_or(&[]));
            if w.len() < WIRE_MAX {
                w.push(b'\n');
            }
        }
    }

    /// A copy of what was captured.
    pub fn bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        self.0
            .lock()
            .map(|w| zeroize::Zeroizing::new(w.to_vec()))
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for WireTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.0.lock().map(|w| w.len()).unwrap_or(0);
        write!(f, "WireTap({len} bytes)")
    }
}

/// What the console reader thread reports.
enum ConsoleEvent {
    Waiting,
    Ready(Box<GuestReady>),
    GuestError(String),
    Eof,
}

/// A running VM victim. Dropping it kills QEMU (and its process group) if [`VmVictim::stop`]
/// was not called.
pub struct VmVictim {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    events: Receiver<ConsoleEvent>,
    console: Arc<Mutex<VecDeque<String>>>,
    wire: WireTap,
    pidfd: Option<OwnedFd>,
    ready: VmReady,
    /// Notes for the user (an accelerator fallback).
    notes: Vec<String>,
    dir: PathBuf,
}

impl std::fmt::Debug for VmVictim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmVictim")
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

/// How [`VmVictim::stop`] ended the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The guest powered off when asked.
    PoweredOff,
    /// QEMU had to be killed.
    Killed,
}

/// A QEMU child that has not reached the ready state yet: killed on drop.
struct Booting {
    child: Option<Child>,
}

impl Drop for Booting {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            kill_group(c);
        }
    }
}

fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // QEMU leads its own process group (setpgid in pre_exec): kill all of it.
        let _ =
            nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl VmVictim {
    /// Boots the guest and waits for its ready line (see the module docs).
    pub fn start(opts: &VmOptions) -> Result<VmVictim, VmError> {
        if matches!(opts.mode, Mode::Residue | Mode::Undumpable | Mode::Sgx) {
            return Err(VmError::Mode(opts.mode.as_str()));
        }
        // This run's one host probe: QEMU, the guest kernel, KVM and the CVM facts are
        // looked at once per process, whichever reader asks first.
        let facts = crate::host::HostFacts::shared();
        let qemu = facts
            .qemu
            .clone()
            .map_err(|what| VmError::QemuMissing { what })?;
        let kernel = match &opts.kernel {
            Some(k) => {
                std::fs::File::open(k).map_err(|e| VmError::KernelMissing {
                    what: format!("{}: {e}", k.display()),
                    fetch: facts.fetch_kernel.clone(),
                })?;
                k.clone()
            }
            None => facts
                .guest_kernel
                .clone()
                .map_err(|what| VmError::KernelMissing {
                    what,
                    fetch: facts.fetch_kernel.clone(),
                })?,
        };
        let cvm = match opts.cvm {
            None => None,
            Some(profile) => match (crate::host::cvm_missing(profile, &facts), &facts.cvm.ovmf) {
                (None, Some(ovmf)) => Some((profile, ovmf.clone())),
                (why, _) => {
                    let why = why.unwrap_or_else(|| {
                        cvm::not_available_message(profile, &[crate::host::cvm::ovmf_missing()])
                    });
                    return Err(VmError::CvmUnavailable(why.en));
                }
            },
        };
        let kvm_usable = facts.kvm.clone();
        let mut skipped_kvm = None;
        let attempts: Vec<(Accel, Duration)> = match (opts.accel, cvm.is_some()) {
            (AccelChoice::Kvm, _) | (_, true) => {
                kvm_usable.map_err(VmError::Kvm)?;
                vec![(Accel::Kvm, opts.boot_timeout)]
            }
            (AccelChoice::Tcg, false) => vec![(Accel::Tcg, opts.boot_timeout)],
            (AccelChoice::Auto, false) => match (kvm_usable, &facts.kvm_fallback) {
                // A Linux guest already failed under KVM on this host kernel (the record
                // doctor also reads): go straight to TCG, and say so.
                (Ok(_), Some(f)) => {
                    skipped_kvm = Some(format!(
                        "KVM not tried: a Linux guest failed under it on this host kernel before ({}); --accel kvm tries it again",
                        truncate(&f.why, 120)
                    ));
                    vec![(Accel::Tcg, opts.boot_timeout)]
                }
                (Ok(_), None) => vec![
                    (Accel::Kvm, KVM_TRY_TIMEOUT.min(opts.boot_timeout)),
                    (Accel::Tcg, opts.boot_timeout),
                ],
                (Err(_), _) => vec![(Accel::Tcg, opts.boot_timeout)],
            },
        };

        let (init_path, init_bytes) = crate::isolate::init::static_init()?;
        tracing::info!(init = %init_path.display(), "the guest's /init");
        let dir = private_dir()?;
        // From here on the directory is ours to remove on every error path.
        let cleanup = DirCleanup(Some(dir.clone()));
        let initrd = dir.join("initramfs.cpio");
        // It holds our executable, not a secret; still written like every file of ours.
        let archive = cpio::guest_initramfs(&init_bytes)?;
        {
            let out = OutputFile::create(&initrd, false)?;
            out.file()
                .write_all(&archive)
                .map_err(io_err("writing", &initrd))?;
            out.commit()?;
        }
        let qmp_socket = dir.join("qmp.sock");
        // A confidential VM names its victim on the kernel command line; any other guest
        // waits for this line, which also carries fresh host entropy.
        let start_line = match cvm {
            Some(_) => None,
            None => Some(
                start::StartLine::fresh(opts.mode, opts.guest_container, opts.wire)
                    .map(|mut l| {
                        l.yama = opts.guest_yama;
                        l
                    })
                    .map_err(VmError::Guest)?,
            ),
        };
        let snapshots = match (&start_line, opts.snapshot) {
            (Some(_), true) => snapshot::cache_dir(),
            _ => None,
        };
        let qemu_id = qemu_identity(&qemu, facts.qemu_version());

        let mut notes: Vec<String> = skipped_kvm.into_iter().collect();
        let mut last_err = None;
        for (accel, timeout) in attempts {
            let mut plan = qemu::LaunchPlan {
                accel,
                memory_mib: opts.memory(),
                kernel: kernel.clone(),
                initrd: initrd.clone(),
                cmdline: qemu::guest_cmdline(
                    cvm.is_some(),
                    opts.mode.as_str(),
                    opts.guest_container,
                    opts.wire,
                ),
                qmp_socket: qmp_socket.clone(),
                cvm: cvm.clone(),
                incoming: None,
            };
            // A failed attempt may leave its socket behind.
            let _ = std::fs::remove_file(&qmp_socket);
            let slot = snapshots.as_ref().and_then(|d| {
                snapshot::Slot::new(
                    d.clone(),
                    &snapshot::KeyParts {
                        qemu: &qemu,
                        qemu_version: &qemu_id,
                        kernel: &kernel,
                        initramfs: &archive,
                        args: &key_args(&plan),
                    },
                )
            });
            match launch(
                &qemu,
                &mut plan,
                timeout,
                start_line.as_ref(),
                slot.as_ref(),
                &mut notes,
            ) {
                Ok((mut vm, ready, boot_secs)) => {
                    let qemu_pid = vm.child_pid();
                    let mut line = ready.ready.clone();
                    let guest_pid = line.pid;
                    line.pid = qemu_pid;
                    let child = vm.booting.child.take();
                    let pidfd = child
                        .as_ref()
                        .and_then(|c| i32::try_from(c.id()).ok())
                        .and_then(crate::memory::alive::pidfd_open);
                    let ready = VmReady {
                        ready: line,
                        context: "vm".to_string(),
                        qemu_pid,
                        qmp: qmp_socket.clone(),
                        accel: accel.as_str().to_string(),
                        guest_pid,
                        guest_phys: ready.guest_phys,
                        guest_kernel: ready.guest_kernel,
                        boot_secs,
                        started: if plan.incoming.is_some() {
                            STARTED_SNAPSHOT
                        } else {
                            STARTED_BOOT
                        }
                        .to_string(),
                        yama_probe: vm.probe.lock().ok().and_then(|mut p| p.take()),
                    };
                    if accel == Accel::Kvm {
                        record_kvm_fallback(None);
                    }
                    let mut cleanup = cleanup;
                    cleanup.0 = None;
                    return Ok(VmVictim {
                        child,
                        stdin: vm.stdin,
                        events: vm.events,
                        console: vm.console,
                        wire: vm.wire,
                        pidfd,
                        ready,
                        notes,
                        dir,
                    });
                }
                Err(e) => {
                    if accel == Accel::Kvm && opts.accel == AccelChoice::Auto {
                        let why = match &e {
                            VmError::BootTimeout { secs, stderr, .. } if !stderr.is_empty() => {
                                format!(
                                    "the KVM guest was not ready in {secs} s; QEMU said: {}",
                                    truncate(stderr, 160)
                                )
                            }
                            VmError::BootTimeout { secs, .. } => format!(
                                "the KVM guest was not ready in {secs} s (a nested KVM guest hangs here)"
                            ),
                            VmError::Exited { stderr, .. } => {
                                format!("QEMU failed under KVM ({})", truncate(stderr, 160))
                            }
                            other => format!("KVM failed ({})", truncate(&other.to_string(), 160)),
                        };
                        record_kvm_fallback(Some(&why));
                        notes.push(format!("{why}: falling back to TCG"));
                        tracing::info!("{e}");
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or(VmError::Guest("no boot attempt".into())))
    }

    /// The ready line.
    pub fn ready(&self) -> &VmReady {
        &self.ready
    }

    /// QEMU's pid: what the host attacker dumps.
    pub fn qemu_pid(&self) -> i32 {
        self.ready.qemu_pid
    }

    /// QEMU's QMP socket.
    pub fn qmp_socket(&self) -> &Path {
        &self.ready.qmp
    }

    /// Notes for the user, such as an accelerator fallback.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A pidfd of QEMU: readable when QEMU has exited (for `poll`).
    pub fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// What the guest has sent out on its console so far ([`guest::Wire::Console`]): the
    /// host's view of the channel, for the `wire` attack.
    pub fn wire(&self) -> &WireTap {
        &self.wire
    }

    /// The last console lines.
    pub fn console_tail(&self) -> String {
        tail_text(&self.console)
    }

    /// Asks the guest to stop (a `stop` line on the console: the victim zeroizes its secret and
    /// the guest powers off) and waits up to [`STOP_TIMEOUT`]; kills QEMU after that.
    pub fn stop(mut self) -> StopOutcome {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> StopOutcome {
        let Some(mut child) = self.child.take() else {
            return StopOutcome::Killed;
        };
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
            let _ = stdin.flush();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        let outcome = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                // The console closes when QEMU exits.
                Ok(ConsoleEvent::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    break StopOutcome::PoweredOff
                }
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => break StopOutcome::Killed,
            }
        };
        kill_group(&mut child);
        let _ = std::fs::remove_dir_all(&self.dir);
        outcome
    }
}

impl Drop for VmVictim {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the private directory on drop unless defused.
struct DirCleanup(Option<PathBuf>);

impl Drop for DirCleanup {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A 0700 directory for the initramfs and the QMP socket. Under `$TMPDIR` unless that path is
/// too long for a unix socket name (108 bytes), then under /tmp.
fn private_dir() -> Result<PathBuf, VmError> {
    let mut base = std::env::temp_dir();
    if base.as_os_str().len() > 60 {
        base = PathBuf::from("/tmp");
    }
    // What a host victim that was SIGKILLed left behind (its QEMU died with it: PDEATHSIG).
    crate::files::workdir::remove_stale_in(&base);
    crate::files::workdir::create_in(&base, "confidump-vm")
        .map_err(io_err("creating a private directory in", &base))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// Records for doctor that a Linux guest failed under KVM on this kernel (`Some(why)`), or
/// that one booted under it (`None`: the record is removed). Best effort: the record only
/// informs `doctor`, so a failure to write it is logged, never an error of the VM run.
fn record_kvm_fallback(why: Option<&str>) {
    let Some(path) = crate::host::qemu::kvm_fallback_file() else {
        return;
    };
    let Some(why) = why else {
        let _ = std::fs::remove_file(&path);
        return;
    };
    let record = crate::host::KvmFallback {
        kernel: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        why: why.to_string(),
    };
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(|e| e.to_string())
        .and_then(|()| serde_json::to_vec(&record).map_err(|e| e.to_string()))
        .and_then(|bytes| {
            crate::files::output::write_file(&path, &bytes, true).map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        tracing::debug!(path = %path.display(), "recording the KVM fallback: {e}");
    }
}
