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
pub mod facts;
pub mod guest;
mod launch;
pub mod probe;
pub mod qemu;
pub mod qmp;
pub mod runner;
pub mod snapshot;
pub mod start;
pub mod victim;

mod error;
mod options;
mod ready;
mod wire;

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

use crate::coredump::output::OutputFile;
use crate::victim::Mode;
pub use cvm::CvmProfile;
pub use guest::GuestReady;
pub use qemu::Accel;

use error::io_err;
pub use error::{GuestFailure, KernelLookup, VmError};
pub use options::{AccelChoice, VmOptions};
pub use ready::{VmReady, STARTED_BOOT, STARTED_SNAPSHOT};
pub use wire::WireTap;

/// How long a KVM attempt may take before `--accel auto` gives up on it and uses TCG: a
/// nested KVM guest here hangs right after decompression, while a working one is ready well
/// within it (measurements: docs/performance.md, "Design measurements").
pub const KVM_TRY_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a stopped guest may take to power off before QEMU is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// What the console reader thread reports.
enum ConsoleEvent {
    Waiting,
    Ready(Box<GuestReady>),
    GuestError(guest::ConsoleError),
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
                std::fs::File::open(k).map_err(|source| VmError::KernelMissing {
                    what: KernelLookup::Named {
                        path: k.clone(),
                        source,
                    },
                    fetch: facts.fetch_kernel.clone(),
                })?;
                k.clone()
            }
            None => facts
                .guest_kernel
                .clone()
                .map_err(|what| VmError::KernelMissing {
                    what: KernelLookup::Host(what),
                    fetch: facts.fetch_kernel.clone(),
                })?,
        };
        let cvm = match opts.cvm {
            None => None,
            Some(profile) => match (facts::cvm_missing(profile, &facts), &facts.cvm.ovmf) {
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
                    .map_err(GuestFailure::StartLine)?,
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
        Err(last_err.unwrap_or(VmError::Guest(GuestFailure::NoAttempt)))
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
    #[derive(Debug, thiserror::Error)]
    enum RecordError {
        #[error("{0}")]
        Dir(#[from] std::io::Error),
        #[error("{0}")]
        Json(#[from] serde_json::Error),
        #[error("{0}")]
        Write(#[from] crate::coredump::output::OutputError),
    }
    let written = (|| -> Result<(), RecordError> {
        path.parent().map_or(Ok(()), std::fs::create_dir_all)?;
        let bytes = serde_json::to_vec(&record)?;
        crate::files::output::write_file(&path, &bytes, true)?;
        Ok(())
    })();
    if let Err(e) = written {
        tracing::debug!(path = %path.display(), "recording the KVM fallback: {e}");
    }
}
