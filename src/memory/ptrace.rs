//! Stopping a process's threads with `PTRACE_SEIZE` + `PTRACE_INTERRUPT` behind RAII guards,
//! and reading each stopped thread's registers.
//!
//! Why SEIZE and not ATTACH: ATTACH sends SIGSTOP, which races with the victim's own signals
//! and leaves a stopped process behind if the dumper dies. A seized thread is stopped by
//! `PTRACE_INTERRUPT` without any signal, and when the tracer dies (even by SIGKILL) the kernel
//! detaches it and lets it run again. So the victim is never left stopped:
//! * each [`ThreadGuard`] is pushed into the [`Freeze`] as soon as it is acquired, so an early
//!   `?` releases the threads already stopped;
//! * `Drop` detaches and only logs errors;
//! * a dumper killed mid-dump is detached by the kernel.
//!
//! The freeze should wrap only the snapshot (registers + memory copy).

use std::collections::HashSet;

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::procfs::{tasks, ProcError};

/// `NT_PRSTATUS` regset: `user_regs_struct`.
pub const NT_PRSTATUS: u32 = 1;
/// `NT_PRFPREG` regset: `user_fpregs_struct` (512 bytes, FXSAVE layout).
pub const NT_PRFPREG: u32 = 2;
/// `NT_X86_XSTATE` regset: the XSAVE area, size depends on the CPU.
pub const NT_X86_XSTATE: u32 = 0x202;
/// Number of 64-bit registers in x86-64 `user_regs_struct`.
pub const GP_REG_COUNT: usize = 27;
/// Size of `user_fpregs_struct`.
pub const FPREGS_SIZE: usize = 512;
/// Size of `siginfo_t`.
pub const SIGINFO_SIZE: usize = 128;
/// Buffer offered for the XSAVE area; the kernel says how much it used.
const XSTATE_BUF: usize = 16 * 1024;

/// Errors stopping threads or reading their registers.
#[derive(Debug, thiserror::Error)]
pub enum PtraceError {
    /// The task list could not be read.
    #[error(transparent)]
    Tasks(#[from] ProcError),
    /// No thread of the process could be stopped: it is gone.
    #[error("no process with PID {pid} (or all its threads exited)")]
    NoSuchProcess {
        /// The PID.
        pid: i32,
    },
    /// The kernel refused the attach; `why` names the rule and what to do.
    #[error("cannot attach to pid {pid}: {why}")]
    Refused {
        /// The target.
        pid: i32,
        /// The rule that refused, and the remedy (see [`super::refusal`]).
        why: String,
    },
    /// A ptrace request failed.
    #[error("{context} (thread {tid}): {errno}")]
    Request {
        /// What was being done.
        context: &'static str,
        /// The thread.
        tid: i32,
        /// The errno.
        errno: Errno,
    },
}

/// One seized, stopped thread. Dropping it detaches the thread, which then runs again.
#[derive(Debug)]
pub struct ThreadGuard {
    tid: i32,
    /// A signal caught in signal-delivery-stop; re-injected on detach so the victim still gets it.
    pending: Option<Signal>,
    /// The thread exited while we held it: nothing to detach.
    gone: bool,
}

impl ThreadGuard {
    /// The thread ID.
    pub fn tid(&self) -> i32 {
        self.tid
    }

    /// True when the thread was stopped delivering a signal (handed back on detach).
    pub fn has_pending_signal(&self) -> bool {
        self.pending.is_some()
    }

    /// Reads this thread's registers. The thread must be stopped, which it is while the guard
    /// lives.
    pub fn registers(&self) -> Result<ThreadRegisters, PtraceError> {
        let mut gp_bytes = [0u8; GP_REG_COUNT * 8];
        let n = getregset(self.tid, NT_PRSTATUS, &mut gp_bytes).map_err(|errno| {
            PtraceError::Request {
                context: "PTRACE_GETREGSET NT_PRSTATUS",
                tid: self.tid,
                errno,
            }
        })?;
        if n != gp_bytes.len() {
            return Err(PtraceError::Request {
                context: "PTRACE_GETREGSET NT_PRSTATUS returned a short user_regs_struct",
                tid: self.tid,
                errno: Errno::EINVAL,
            });
        }
        let mut gp = [0u64; GP_REG_COUNT];
        for (r, b) in gp.iter_mut().zip(gp_bytes.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            *r = u64::from_ne_bytes(w);
        }
        // The FP and XSAVE areas are optional in a core: log and go on without them.
        let mut fp = vec![0u8; FPREGS_SIZE];
        let fpregs = match getregset(self.tid, NT_PRFPREG, &mut fp) {
            Ok(n) if n == FPREGS_SIZE => Some(fp),
            Ok(n) => {
                tracing::warn!(tid = self.tid, n, "NT_PRFPREG: unexpected size; left out");
                None
            }
            Err(e) => {
                tracing::warn!(tid = self.tid, %e, "NT_PRFPREG unavailable; left out");
                None
            }
        };
        let mut xs = vec![0u8; XSTATE_BUF];
        let xstate = match getregset(self.tid, NT_X86_XSTATE, &mut xs) {
            Ok(n) if n > 0 => {
                xs.truncate(n);
                Some(xs)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(tid = self.tid, %e, "NT_X86_XSTATE unavailable; left out");
                None
            }
        };
        let mut siginfo = [0u8; SIGINFO_SIZE];
        // SAFETY: PTRACE_GETSIGINFO writes one siginfo_t (128 bytes on x86-64) to the address
        // in `data`; `siginfo` is a live, writable buffer of exactly that size. On failure the
        // kernel writes nothing.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETSIGINFO,
                self.tid,
                std::ptr::null_mut::<libc::c_void>(),
                siginfo.as_mut_ptr().cast::<libc::c_void>(),
            )
        };
        // In a PTRACE_INTERRUPT stop there is no signal: EINVAL, and a zeroed siginfo is honest.
        let siginfo_valid = rc == 0;
        if !siginfo_valid {
            siginfo = [0u8; SIGINFO_SIZE];
        }
        Ok(ThreadRegisters {
            tid: self.tid,
            gp,
            fpregs,
            xstate,
            siginfo,
            siginfo_valid,
        })
    }
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        if self.gone {
            return;
        }
        let tid = Pid::from_raw(self.tid);
        match ptrace::detach(tid, self.pending) {
            Ok(()) => {}
            // Not stopped any more: the thread was killed while we held it. It is still our
            // tracee, and until its tracer reaps it the thread stays a zombie, which keeps
            // the whole process from being reaped by its parent. Reap it (it is dying, so the
            // wait is short); ECHILD means it is no longer ours.
            Err(Errno::ESRCH) => loop {
                match waitpid(tid, Some(WaitPidFlag::__WALL)) {
                    Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                        break
                    }
                    Err(Errno::EINTR) | Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(tid = self.tid, %e, "waiting for a killed thread");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(tid = self.tid, %e, "PTRACE_DETACH failed"),
        }
    }
}

/// What one thread's registers looked like while it was stopped.
#[derive(Debug, Clone)]
pub struct ThreadRegisters {
    /// Thread ID.
    pub tid: i32,
    /// `user_regs_struct` as 27 words (r15 ... gs), as NT_PRSTATUS's `pr_reg` holds it.
    pub gp: [u64; GP_REG_COUNT],
    /// `user_fpregs_struct` (512 bytes), when the kernel gave it.
    pub fpregs: Option<Vec<u8>>,
    /// The XSAVE area, sized as the kernel returned it.
    pub xstate: Option<Vec<u8>>,
    /// `siginfo_t` of the stop; zeroed when there was none.
    pub siginfo: [u8; SIGINFO_SIZE],
    /// False when PTRACE_GETSIGINFO failed (an interrupt stop has no signal).
    pub siginfo_valid: bool,
}

/// All threads of a process, stopped. Dropping it lets them all run again.
#[derive(Debug)]
pub struct Freeze {
    pid: i32,
    threads: Vec<ThreadGuard>,
}

impl Freeze {
    /// Seizes and interrupts every thread of `pid`, including threads born while it works: the
    /// task list is re-read until it shows no thread not yet seen. Threads that exit meanwhile
    /// are skipped. The main thread (tid == pid) comes first in [`Freeze::threads`].
    pub fn new(pid: i32) -> Result<Self, PtraceError> {
        // Cases no attach can succeed on get their reason before anything is tried.
        let facts = super::refusal::gather(pid);
        let hopeless = facts.pid == facts.our_pid
            || facts.flags & 0x0020_0000 != 0
            || (matches!(facts.state, Some('Z' | 'X'))
                && !super::alive::process_has_live_thread(pid));
        if hopeless {
            if let Some(why) = super::refusal::explain(&facts) {
                return Err(PtraceError::Refused { pid, why });
            }
        }
        let mut freeze = Freeze {
            pid,
            threads: Vec::new(),
        };
        let mut seen: HashSet<i32> = HashSet::new();
        loop {
            let tids = match tasks::list_tasks(pid) {
                Ok(t) => t,
                // The process vanished under us: say so plainly.
                Err(_)
                    if freeze.threads.is_empty() && !crate::procfs::proc_path(pid, "").exists() =>
                {
                    return Err(PtraceError::NoSuchProcess { pid })
                }
                Err(e) => return Err(e.into()),
            };
            let new: Vec<i32> = tids.into_iter().filter(|t| !seen.contains(t)).collect();
            if new.is_empty() {
                break;
            }
            for tid in new {
                seen.insert(tid);
                let stopped = match stop_thread(pid, tid) {
                    Err(PtraceError::Request {
                        context: "PTRACE_SEIZE",
                        errno: errno @ (Errno::EPERM | Errno::EACCES),
                        ..
                    }) => {
                        let why = super::refusal::explain(&super::refusal::gather(pid))
                            .unwrap_or_else(|| {
                                format!("PTRACE_SEIZE: {errno} (no known rule explains it)")
                            });
                        return Err(PtraceError::Refused { pid, why });
                    }
                    other => other?,
                };
                if let Some(guard) = stopped {
                    // Pushed at once, so a later `?` releases it.
                    freeze.threads.push(guard);
                }
            }
        }
        if freeze.threads.is_empty() {
            return Err(PtraceError::NoSuchProcess { pid });
        }
        freeze.threads.sort_by_key(|g| (g.tid != pid, g.tid));
        Ok(freeze)
    }

    /// The PID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The stopped threads, main thread first.
    pub fn threads(&self) -> &[ThreadGuard] {
        &self.threads
    }
}

impl Drop for Freeze {
    fn drop(&mut self) {
        // Last seized first: the main thread goes last. A killed process's main thread can
        // only be reaped by its tracer once the other threads are gone (see ThreadGuard's Drop).
        while let Some(guard) = self.threads.pop() {
            drop(guard);
        }
    }
}

/// Seizes and interrupts one thread and waits for it to stop. `Ok(None)` when it exited.
fn stop_thread(pid: i32, tid: i32) -> Result<Option<ThreadGuard>, PtraceError> {
    let p = Pid::from_raw(tid);
    match ptrace::seize(p, ptrace::Options::empty()) {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Ok(None),
        // A thread that is exiting refuses PTRACE_SEIZE with EPERM (the kernel's
        // `exit_state` check): it ended between the listing and the seize, so skip it. A
        // live thread that refuses is a real refusal.
        Err(Errno::EPERM) if !thread_still_running(pid, tid) => return Ok(None),
        Err(errno) => {
            return Err(PtraceError::Request {
                context: "PTRACE_SEIZE",
                tid,
                errno,
            })
        }
    }
    // From here on the guard owns the thread: any early return detaches it.
    let mut guard = ThreadGuard {
        tid,
        pending: None,
        gone: false,
    };
    match ptrace::interrupt(p) {
        Ok(()) => {}
        Err(Errno::ESRCH) => {
            guard.gone = true;
            return Ok(None);
        }
        Err(errno) => {
            return Err(PtraceError::Request {
                context: "PTRACE_INTERRUPT",
                tid,
                errno,
            })
        }
    }
    loop {
        match waitpid(p, Some(WaitPidFlag::__WALL)) {
            // The interrupt (or a group-stop) stopped it.
            Ok(WaitStatus::PtraceEvent(..)) => return Ok(Some(guard)),
            // A signal arrived first: the thread is stopped in signal-delivery-stop. Keep the
            // signal to hand it back on detach, so the victim does not lose it.
            Ok(WaitStatus::Stopped(_, sig)) => {
                guard.pending = Some(sig);
                return Ok(Some(guard));
            }
            Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) => {
                guard.gone = true;
                return Ok(None);
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) | Err(Errno::ESRCH) => {
                guard.gone = true;
                return Ok(None);
            }
            Err(errno) => {
                return Err(PtraceError::Request {
                    context: "waitpid after PTRACE_INTERRUPT",
                    tid,
                    errno,
                })
            }
        }
    }
}

/// True when thread `tid` of `pid` still exists and has not started to exit.
fn thread_still_running(pid: i32, tid: i32) -> bool {
    crate::procfs::status::read_stat(pid, tid)
        .map(|st| super::alive::thread_is_live(&st))
        .unwrap_or(false)
}

/// `PTRACE_GETREGSET`: fills `buf` with register set `nt`; returns the bytes the kernel wrote.
fn getregset(tid: i32, nt: u32, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<libc::c_void>(),
        iov_len: buf.len(),
    };
    // SAFETY: PTRACE_GETREGSET writes at most `iov.iov_len` bytes to `iov.iov_base`, which
    // points into `buf`, alive and exclusively borrowed for the call, and updates `iov_len` to
    // the size written. `nt` is passed as the `addr` argument, as the ABI requires.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            tid,
            nt as usize as *mut libc::c_void,
            (&mut iov as *mut libc::iovec).cast::<libc::c_void>(),
        )
    };
    if rc == -1 {
        return Err(Errno::last());
    }
    Ok(iov.iov_len.min(buf.len()))
}
