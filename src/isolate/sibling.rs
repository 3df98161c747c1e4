//! The pod's other attacker: a process placed where a sibling container of the victim's pod
//! (or a `hostPID` node-debugging pod) would be, with the kernel's own mechanisms, so that the
//! kernel's ptrace access check decides what it may read exactly as it does on a node.
//!
//! [`prepare`] turns a [`Command`] (the container context runs `confidump scan-child`, the
//! same open and scan as `scan --pid`) into that process:
//!
//! - a sidecar (`shareProcessNamespace: true`) joins the victim's pid namespace with
//!   `setns(/proc/PID/ns/pid)` and gets a fresh mount, uts and ipc namespace with its own
//!   `/proc` (of the victim's pid namespace, as the kubelet mounts it), so it sees the victim
//!   by its PID inside the pod (1 for a container's init). A pid namespace joined by `setns`
//!   holds only the caller's *children*, so the child forks once more: the grandchild is the
//!   attacker, and the middle process only waits for it and exits with its status;
//! - a node-debug pod (`hostPID: true`) stays in the node's pid namespace and sees the victim
//!   by its node PID;
//! - every attacker stays uid 0 (containers run as root unless `runAsUser` says otherwise) and
//!   holds exactly [`PodAttacker::capabilities`]: the bounding set is cut to it, the ambient
//!   set cleared, and permitted = effective = it, inheritable empty (`capset`), so the program
//!   it executes as root gets that set and no more, as a container runtime arranges it.
//!
//! Rules for the child side: it runs between `fork` and `execve` in a child of a
//! multi-threaded process, so it makes only async-signal-safe system calls, on values built
//! before the fork; its failures are OS error codes.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::model::PodAttacker;

/// Why the attacker could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum SiblingError {
    /// The victim's pid namespace could not be opened (it ended, or we lack the privilege).
    #[error("opening the pid namespace of pid {pid}: {source}")]
    Namespace {
        /// The victim's PID as we see it.
        pid: i32,
        /// Why.
        source: std::io::Error,
    },
    /// The victim's PID inside its own pid namespace could not be read.
    #[error("reading the PID of pid {pid} inside its pid namespace (NSpid in /proc/{pid}/status): {why}")]
    InnerPid {
        /// The victim's PID as we see it.
        pid: i32,
        /// Why.
        why: String,
    },
}

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Makes `cmd`'s program run as `attacker` against `target` (its PID as we see it); returns the
/// PID the attacker sees the target as, which is what the program must be given.
pub fn prepare(cmd: &mut Command, attacker: PodAttacker, target: i32) -> Result<i32, SiblingError> {
    let (pidns, inner) = if attacker.shares_pod_pid_namespace() {
        let ns = std::fs::File::open(format!("/proc/{target}/ns/pid")).map_err(|source| {
            SiblingError::Namespace {
                pid: target,
                source,
            }
        })?;
        (Some(OwnedFd::from(ns)), inner_pid(target)?)
    } else {
        (None, target)
    };
    let caps = attacker.capabilities();
    let proc_source = c"proc".to_owned();
    let proc_target = c"/proc".to_owned();
    let root = c"/".to_owned();
    let mut die = crate::files::cleanup::die_with_parent();
    let child = move || -> std::io::Result<()> {
        die()?;
        if let Some(ns) = &pidns {
            join_pod(ns, &proc_source, &proc_target, &root)?;
        }
        restrict_capabilities(caps)
    };
    // SAFETY: the closure runs in the forked child before exec; it makes only async-signal-safe
    // system calls (prctl, setns, unshare, fork, waitpid, mount, capset, getppid, _exit) on
    // values built above, and allocates nothing (an OS error is a code).
    unsafe {
        cmd.pre_exec(child);
    }
    Ok(inner)
}

/// The target's PID in its own (innermost) pid namespace: the last field of `NSpid`.
pub fn inner_pid(target: i32) -> Result<i32, SiblingError> {
    let status = std::fs::read_to_string(format!("/proc/{target}/status")).map_err(|e| {
        SiblingError::InnerPid {
            pid: target,
            why: e.to_string(),
        }
    })?;
    parse_inner_pid(&status).ok_or_else(|| SiblingError::InnerPid {
        pid: target,
        why: "no NSpid line".to_string(),
    })
}

fn parse_inner_pid(status: &str) -> Option<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|v| v.split_whitespace().last())
        .and_then(|p| p.parse().ok())
}

fn check(ret: libc::c_int) -> std::io::Result<()> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Child side: into the victim's pid namespace, a fresh mount, uts and ipc namespace, the fork
/// that makes the process that is really inside, and its own `/proc`. Returns in the
/// grandchild; the middle process exits with the grandchild's status.
fn join_pod(
    ns: &OwnedFd,
    proc_source: &CString,
    proc_target: &CString,
    root: &CString,
) -> std::io::Result<()> {
    // SAFETY: setns takes a descriptor and a flag.
    check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWPID) })?;
    // SAFETY: unshare takes flags.
    check(unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC) })?;
    // SAFETY: getpid takes nothing.
    let middle = unsafe { libc::getpid() };
    // SAFETY: this process has one thread (it is a fork's child); the grandchild goes on to
    // exec, the middle process only waits and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        let mut status: libc::c_int = 0;
        loop {
            // SAFETY: waitpid writes the status into a local.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid
                || (r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                break;
            }
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            127
        };
        // SAFETY: _exit ends the middle process without running the parent's destructors,
        // which belong to the process it was forked from.
        unsafe { libc::_exit(code) }
    }
    // The grandchild: the attacker. getppid names the middle process while it lives: 0 when
    // the joined namespace is not the middle's own (the parent is outside it), its PID when it
    // is; had it died before the prctl, the grandchild would belong to the namespace's init.
    crate::files::cleanup::kill_me_with_parent()?;
    // SAFETY: getppid takes nothing.
    let parent = unsafe { libc::getppid() };
    if parent != 0 && parent != middle {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: mount takes C strings built before the fork and flags; nothing it mounts
    // reaches the node's mount tree once ours is private.
    check(unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })?;
    // SAFETY: as above: C strings built before the fork, flags, no data.
    check(unsafe {
        libc::mount(
            proc_source.as_ptr(),
            proc_target.as_ptr(),
            proc_source.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    })
}

/// Child side: exactly `caps` (bits of `CapPrm`) from here on, through exec as uid 0.
fn restrict_capabilities(caps: u64) -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    })?;
    for cap in 0..64u32 {
        if caps & (1u64 << cap) == 0 {
            // SAFETY: prctl with integer arguments only. EINVAL: no such capability on this
            // kernel (beyond CAP_LAST_CAP), nothing to drop.
            let r =
                unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let low = u32::try_from(caps & 0xffff_ffff).unwrap_or(0);
    let high = u32::try_from(caps >> 32).unwrap_or(0);
    let data = [
        CapData {
            effective: low,
            permitted: low,
            inheritable: 0,
        },
        CapData {
            effective: high,
            permitted: high,
            inheritable: 0,
        },
    ];
    // SAFETY: capset reads a version-3 header and two data words, both valid for the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_capset,
            std::ptr::addr_of_mut!(header),
            data.as_ptr(),
        ) as libc::c_int
    })
}

/// Drops the calling process to `caps` as [`prepare`]'s attacker does, without exec: for a
/// probe's target that must hold the container runtime's default set.
pub fn drop_capabilities(caps: u64) -> std::io::Result<()> {
    restrict_capabilities(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_inside_is_the_last_nspid() {
        let status = "Name:\tconfidump\nNSpid:\t4242\t1\nVmPeak:\t1 kB\n";
        assert_eq!(parse_inner_pid(status), Some(1));
        assert_eq!(parse_inner_pid("NSpid:\t77\n"), Some(77));
        assert_eq!(parse_inner_pid("Name:\tx\n"), None);
    }
}
