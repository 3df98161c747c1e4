//! Is the process still there? The question every failed read must ask before it calls the
//! failure a refusal.
//!
//! A victim killed during a dump makes later reads of its memory fail with `EIO` or `ESRCH`,
//! the same errnos a refusal (memfd_secret, `VM_IO`) gives. So a range is "refused" only when
//! the process is still alive *after* the read failed; since a dead process never comes back,
//! one check after the last read covers every failure before it.
//!
//! "Alive" is decided from two sources, each covering the other's blind spot:
//! * a pidfd taken when the process was opened becomes readable once the process has exited
//!   and been reaped, so a recycled PID is never mistaken for the victim;
//! * `/proc/PID/task/*/stat`: a process whose every thread is a zombie (`Z`), dead (`X`), or
//!   already past the start of `do_exit` (`PF_EXITING`, set before the address space is
//!   released) is dying, even while a tracer (our own freeze) keeps its zombies around.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::procfs::{status, tasks};

/// A pidfd on `pid` (`pidfd_open(2)`, Linux 5.3+): readable once the process has exited, and
/// never about a recycled PID. `None` for a PID that is not positive or a kernel without it.
/// The one copy: the VM, container and service contexts wait on their child's exit with it.
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    if pid <= 0 {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new file descriptor or -1; no
    // pointer is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `PF_EXITING` in `/proc/PID/stat`'s flags: the task has entered `do_exit`.
pub const PF_EXITING: u64 = 0x4;

/// A handle on one process's life. Open it before the work whose result depends on it.
#[derive(Debug)]
pub struct Liveness {
    pid: i32,
    pidfd: Option<OwnedFd>,
}

impl Liveness {
    /// Takes a pidfd on `pid` (when the kernel offers `pidfd_open`, Linux 5.3+).
    pub fn open(pid: i32) -> Self {
        Self {
            pid,
            pidfd: pidfd_open(pid),
        }
    }

    /// The PID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// True while the process has at least one thread that is neither a zombie, nor exiting, nor
    /// killed.
    pub fn is_alive(&self) -> bool {
        // /proc first, the pidfd second: a pidfd that is not readable *after* /proc said
        // "alive" proves that /proc described our process and not a recycled PID.
        process_has_live_thread(self.pid) && !self.pidfd_says_exited()
    }

    fn pidfd_says_exited(&self) -> bool {
        let Some(fd) = &self.pidfd else {
            return false;
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1, zero timeout: poll only writes `revents`.
        let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
        rc > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP) != 0
    }
}

/// `SIGKILL` as a bit of `/proc/PID/status`'s pending-signal masks.
const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);

/// True when `/proc/PID/task` lists a thread that is not a zombie, not dead, not exiting and
/// has no `SIGKILL` pending (a killed thread stopped by a tracer has not run `do_exit` yet,
/// but it is dead already). The main thread is checked first: usually the only check.
pub fn process_has_live_thread(pid: i32) -> bool {
    let Ok(tids) = tasks::list_tasks(pid) else {
        return false;
    };
    tids.into_iter().any(|tid| {
        let stat_live = status::read_stat(pid, tid).is_ok_and(|st| thread_is_live(&st));
        stat_live && status::read_status(pid, tid).is_ok_and(|st| st.sig_pending & SIGKILL_BIT == 0)
    })
}

/// A thread counts as live unless it is a zombie, dead, or has entered `do_exit`.
pub fn thread_is_live(st: &status::ProcStat) -> bool {
    !matches!(st.state, 'Z' | 'X' | 'x') && st.flags & PF_EXITING == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_killed_child_is_not_alive_even_before_it_is_reaped() {
        let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id() as i32;
        let l = Liveness::open(pid);
        assert!(l.is_alive());
        child.kill().unwrap();
        // Wait until it is a zombie (waitid with WNOWAIT leaves it unreaped).
        let _ = nix::sys::wait::waitid(
            nix::sys::wait::Id::Pid(nix::unistd::Pid::from_raw(pid)),
            nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
        )
        .unwrap();
        assert!(!l.is_alive(), "a zombie is not alive");
        child.wait().unwrap();
        assert!(!l.is_alive(), "a reaped process is not alive");
    }

    #[test]
    fn flags() {
        let mut st = status::ProcStat {
            state: 'S',
            ..Default::default()
        };
        assert!(thread_is_live(&st));
        st.flags = PF_EXITING | 0x40;
        assert!(!thread_is_live(&st));
        st.flags = 0;
        st.state = 'Z';
        assert!(!thread_is_live(&st));
    }
}
