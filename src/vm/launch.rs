//! Starting QEMU for a [`super::VmVictim`]: spawning it with the console, its stderr and the
//! guest's events wired up, waiting for the guest (booted, or restored from a saved guest,
//! [`super::snapshot`]), saving a freshly booted guest, and sending the start line
//! ([`super::start`]).

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{guest, qemu, qmp, snapshot, start};
use super::{Booting, ConsoleEvent, GuestFailure, GuestReady, VmError, WireTap};
use crate::victim::lines::{read_lines, tail_text};

pub(super) struct Spawned {
    pub(super) booting: Booting,
    pub(super) stdin: Option<ChildStdin>,
    pub(super) events: Receiver<ConsoleEvent>,
    pub(super) console: Arc<Mutex<VecDeque<String>>>,
    pub(super) wire: WireTap,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    pub(super) probe: Arc<Mutex<Option<start::YamaProbe>>>,
}

impl Spawned {
    pub(super) fn child_pid(&self) -> i32 {
        self.booting
            .child
            .as_ref()
            .and_then(|c| i32::try_from(c.id()).ok())
            .unwrap_or(-1)
    }
}

/// Set when saving a snapshot failed in this process: later VM victims then boot at once
/// instead of queueing on the slot's lock, each booting in turn.
static SAVE_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// QEMU's identity for a snapshot key: its version and its binary's size and change time (a
/// rebuilt package with the same version may lay devices out differently).
pub(super) fn qemu_identity(qemu: &Path, version: Option<crate::host::QemuVersion>) -> String {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(qemu)
        .map(|m| format!("{} {}", m.len(), m.ctime()))
        .unwrap_or_default();
    format!(
        "{} {meta}",
        version.map(|v| v.to_string()).unwrap_or_default()
    )
}

/// The QEMU arguments a snapshot depends on: this run's private paths replaced.
pub(super) fn key_args(plan: &qemu::LaunchPlan) -> Vec<String> {
    let mut p = plan.clone();
    p.initrd = PathBuf::from("/initrd");
    p.qmp_socket = PathBuf::from("/qmp");
    p.incoming = None;
    qemu::qemu_args(&p)
}

/// Starts the guest of `plan`: restored from the slot's snapshot when there is one, else
/// booted (and saved into the slot while its PID 1 waits, when it holds the slot's lock).
/// Without a start line (a confidential VM) it simply boots.
pub(super) fn launch(
    qemu: &Path,
    plan: &mut qemu::LaunchPlan,
    timeout: Duration,
    start_line: Option<&start::StartLine>,
    slot: Option<&snapshot::Slot>,
    notes: &mut Vec<String>,
) -> Result<(Spawned, GuestReady, f64), VmError> {
    let (Some(line), Some(slot)) = (start_line, slot) else {
        return boot(qemu, plan, timeout, start_line, None, notes);
    };
    // Whoever boots to save the snapshot holds this lock: VM victims started at the same
    // time wait for it and restore, instead of all booting at once.
    let lock = if SAVE_FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        None
    } else {
        slot.lock()
            .map_err(|e| tracing::debug!("guest snapshot lock: {e}"))
            .ok()
    };
    if let Some(state) = slot.existing() {
        drop(lock);
        if let Some(incoming) = snapshot::incoming(&state) {
            plan.incoming = Some(incoming);
            match boot(qemu, plan, timeout, Some(line), None, notes) {
                Ok(done) => return Ok(done),
                Err(e) => {
                    notes.push(format!(
                        "the saved guest ({}) could not be restored, so it was removed and this guest booted: {}",
                        state.display(),
                        super::truncate(&e.to_string(), 200)
                    ));
                    slot.discard();
                    plan.incoming = None;
                    let _ = std::fs::remove_file(&plan.qmp_socket);
                }
            }
        }
        return boot(qemu, plan, timeout, Some(line), None, notes);
    }
    let save = lock.map(|l| (slot, l));
    boot(qemu, plan, timeout, Some(line), save, notes)
}

/// Starts QEMU with `plan` and waits up to `timeout` for the guest's ready line. With a start
/// line: a booting guest is waited for until its PID 1 waits (then saved into `save`'s slot,
/// whose lock is released after), a restored one until QEMU runs it; then the line is sent.
fn boot(
    qemu: &Path,
    plan: &qemu::LaunchPlan,
    timeout: Duration,
    start_line: Option<&start::StartLine>,
    save: Option<(&snapshot::Slot, snapshot::SlotLock)>,
    notes: &mut Vec<String>,
) -> Result<(Spawned, GuestReady, f64), VmError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut spawned = spawn(qemu, plan)?;
    if let Some(line) = start_line {
        if plan.incoming.is_some() {
            let running = spawned.wait_running(plan, deadline, timeout);
            tracing::debug!(result = ?running.as_ref().map(|_| "running").map_err(ToString::to_string), "restored guest (QMP)");
            running?;
        } else {
            let booted = spawned.wait_event(plan, deadline, timeout, true);
            tracing::debug!(result = ?booted.as_ref().map(|_| "booted").map_err(ToString::to_string), "guest boot");
            booted?;
            if let Some((slot, lock)) = save {
                match slot.save(&plan.qmp_socket) {
                    Ok(took) => tracing::info!(
                        secs = took.as_secs_f64(),
                        state = %slot.state().display(),
                        "saved the booted guest"
                    ),
                    Err(e) => {
                        SAVE_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
                        notes.push(format!(
                            "the booted guest could not be saved for the next VM victims ({e}): each boots"
                        ));
                    }
                }
                drop(lock);
            }
        }
        let sent = spawned.stdin.as_mut().map(|stdin| {
            stdin
                .write_all(line.to_line().as_bytes())
                .and_then(|()| stdin.flush())
        });
        if let Some(Err(e)) = sent {
            return Err(GuestFailure::Send(e).into());
        }
    }
    let ready = spawned.wait_event(plan, deadline, timeout, false);
    let ready = ready.and_then(|r| r.ok_or(VmError::Guest(GuestFailure::NoReadyLine)));
    tracing::debug!(
        secs = started.elapsed().as_secs_f64(),
        result = %ready.as_ref().map_or_else(ToString::to_string, |_| "ready".to_string()),
        "guest after QEMU start"
    );
    Ok((spawned, ready?, started.elapsed().as_secs_f64()))
}

/// Spawns QEMU for `plan` with the console, its stderr and the events wired up.
fn spawn(qemu: &Path, plan: &qemu::LaunchPlan) -> Result<Spawned, VmError> {
    let mut cmd = Command::new(qemu);
    let args = qemu::qemu_args(plan);
    cmd.args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut die_with_parent = crate::files::cleanup::die_with_parent();
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (setpgid, prctl, getppid, sigprocmask).
    unsafe {
        cmd.pre_exec(move || {
            // Own process group: one killpg ends QEMU and anything it started, and a
            // terminal's Ctrl-C goes to us, not straight to QEMU.
            libc::setpgid(0, 0);
            // QEMU dies with the thread that started it, even if we are SIGKILLed.
            die_with_parent()?;
            // The host victim blocks its stop signals (it reads them from a signalfd);
            // QEMU must start with a clean mask.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = cmd.spawn();
    tracing::debug!(
        qemu = %qemu.display(),
        args = %args.join(" "),
        result = ?child.as_ref().map(std::process::Child::id),
        "QEMU start"
    );
    let mut child = child.map_err(|source| VmError::Spawn {
        qemu: qemu.to_path_buf(),
        source,
    })?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr_pipe = child.stderr.take();
    let booting = Booting { child: Some(child) };

    let console = Arc::new(Mutex::new(VecDeque::new()));
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    let wire = WireTap::default();
    let probe = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    if let Some(out) = stdout {
        let console = Arc::clone(&console);
        let wire = wire.clone();
        let probe_slot = Arc::clone(&probe);
        std::thread::spawn(move || {
            read_lines(out, &console, |line| {
                if guest::is_wire_line(line) {
                    // What the guest sent out: kept for the `wire` attack, never in the
                    // console tail that error messages print.
                    wire.append(line.as_bytes());
                    return false;
                }
                if start::is_waiting_line(line) {
                    let _ = tx.send(ConsoleEvent::Waiting);
                    return true;
                }
                if let Some(p) = start::parse_probe_line(line) {
                    if let Ok(mut slot) = probe_slot.lock() {
                        *slot = Some(p);
                    }
                    return true;
                }
                match guest::parse_console_line(line) {
                    Some(Ok(g)) => {
                        let _ = tx.send(ConsoleEvent::Ready(Box::new(g)));
                    }
                    Some(Err(m)) => {
                        let _ = tx.send(ConsoleEvent::GuestError(m));
                    }
                    None => {}
                }
                true
            });
            let _ = tx.send(ConsoleEvent::Eof);
        });
    }
    let stderr_reader = stderr_pipe.map(|err| {
        let stderr = Arc::clone(&stderr);
        std::thread::spawn(move || read_lines(err, &stderr, |_| true))
    });
    Ok(Spawned {
        booting,
        stdin,
        events: rx,
        console,
        wire,
        stderr,
        stderr_reader,
        probe,
    })
}

impl Spawned {
    /// Waits until `deadline` for the guest's ready line (`waiting`: for its PID 1 to wait for
    /// the start line instead; then `Ok(None)`).
    fn wait_event(
        &mut self,
        plan: &qemu::LaunchPlan,
        deadline: Instant,
        timeout: Duration,
        waiting: bool,
    ) -> Result<Option<GuestReady>, VmError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(ConsoleEvent::Waiting) if waiting => return Ok(None),
                Ok(ConsoleEvent::Waiting) => {}
                Ok(ConsoleEvent::Ready(g)) if !waiting => return Ok(Some(*g)),
                Ok(ConsoleEvent::Ready(_)) => return Err(GuestFailure::StartedEarly.into()),
                Ok(ConsoleEvent::GuestError(m)) => return Err(GuestFailure::Console(m).into()),
                Ok(ConsoleEvent::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.exited(plan))
                }
                Err(RecvTimeoutError::Timeout) => return Err(self.timed_out(plan, timeout)),
            }
        }
    }

    /// Waits until QEMU runs the guest it restores (`query-status`: `running`).
    fn wait_running(
        &mut self,
        plan: &qemu::LaunchPlan,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), VmError> {
        let mut qmp = None;
        loop {
            match self.events.try_recv() {
                Ok(ConsoleEvent::Eof) | Err(mpsc::TryRecvError::Disconnected) => {
                    return Err(self.exited(plan))
                }
                Ok(ConsoleEvent::GuestError(m)) => return Err(GuestFailure::Console(m).into()),
                Ok(_) | Err(mpsc::TryRecvError::Empty) => {}
            }
            if qmp.is_none() {
                qmp = qmp::Qmp::connect(&plan.qmp_socket, Duration::from_secs(5)).ok();
            }
            if let Some(q) = qmp.as_mut() {
                let status = q
                    .execute("query-status", None)
                    .map_err(GuestFailure::Restore)?;
                match status.get("status").and_then(|s| s.as_str()) {
                    Some("running") => return Ok(()),
                    Some("inmigrate") | Some("prelaunch") | None => {}
                    Some(other) => return Err(GuestFailure::NotRunning(other.to_string()).into()),
                }
            }
            if Instant::now() >= deadline {
                return Err(self.timed_out(plan, timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The error for a QEMU that exited: its stderr (complete, since it has exited) and the
    /// console's last lines.
    fn exited(&mut self, plan: &qemu::LaunchPlan) -> VmError {
        if let Some(c) = self.booting.child.as_mut() {
            let _ = c.wait();
        }
        if let Some(h) = self.stderr_reader.take() {
            let _ = h.join();
        }
        VmError::Exited {
            accel: plan.accel.as_str(),
            stderr: tail_text(&self.stderr).replace('\n', " | "),
            console: tail_text(&self.console),
        }
    }

    /// The error for a guest not ready in time (QEMU is killed when `self` drops).
    fn timed_out(&self, plan: &qemu::LaunchPlan, timeout: Duration) -> VmError {
        let console = tail_text(&self.console);
        VmError::BootTimeout {
            accel: plan.accel.as_str(),
            secs: timeout.as_secs(),
            stderr: tail_text(&self.stderr).replace('\n', " | "),
            console: if console.is_empty() {
                "(nothing on the console)".into()
            } else {
                console
            },
        }
    }
}
