//! Why the kernel refused to let us attach to (or read) a process, and what to do about it.
//!
//! `PTRACE_SEIZE` and `/proc/PID/mem` answer every refusal with the same `EPERM`/`EACCES`.
//! The rules behind it are few and each leaves a trace we can read: the target's state and
//! flags (`/proc/PID/stat`), its uid and tracer (`/proc/PID/status`), the owner of its `/proc`
//! directory (root when the process is not dumpable), our own capabilities and the Yama LSM's
//! `ptrace_scope`. [`gather`] collects those facts; [`explain`] is a pure function of them.

use std::os::unix::fs::MetadataExt;

use crate::procfs::status;

/// `PF_KTHREAD` in `/proc/PID/stat`'s flags.
const PF_KTHREAD: u64 = 0x0020_0000;
/// `CAP_SYS_PTRACE` as a bit of `CapEff`.
const CAP_SYS_PTRACE_BIT: u64 = 1 << 19;

/// What can be known, from outside, about an attach attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachFacts {
    /// The target.
    pub pid: i32,
    /// Our own PID.
    pub our_pid: i32,
    /// Our effective uid.
    pub our_uid: u32,
    /// We hold CAP_SYS_PTRACE.
    pub cap_sys_ptrace: bool,
    /// The target's state letter, when readable.
    pub state: Option<char>,
    /// The target's `PF_*` flags.
    pub flags: u64,
    /// The target's real uid.
    pub uid: Option<u32>,
    /// Owner of `/proc/PID`: root for a non-dumpable process whatever its uid.
    pub proc_owner: Option<u32>,
    /// `TracerPid` of the target.
    pub tracer_pid: i32,
    /// `/proc/sys/kernel/yama/ptrace_scope`, when Yama is there.
    pub yama_scope: Option<u8>,
    /// The target is a descendant of ours (Yama scope 1 allows those).
    pub is_descendant: bool,
}

/// Reads the facts about attaching to `pid`.
pub fn gather(pid: i32) -> AttachFacts {
    let our_pid = i32::try_from(std::process::id()).unwrap_or(0);
    let stat = status::read_stat(pid, pid).ok();
    let st = status::read_status(pid, pid).ok();
    let own = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap_eff = own
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    AttachFacts {
        pid,
        our_pid,
        our_uid: nix::unistd::geteuid().as_raw(),
        cap_sys_ptrace: cap_eff & CAP_SYS_PTRACE_BIT != 0,
        state: stat.as_ref().map(|s| s.state),
        flags: stat.as_ref().map_or(0, |s| s.flags),
        uid: st.as_ref().map(|s| s.uid),
        // A file, not the directory: the kernel gives the files of a non-dumpable process to
        // root but leaves /proc/PID itself to the process's uid.
        proc_owner: std::fs::metadata(format!("/proc/{pid}/stat"))
            .ok()
            .map(|m| m.uid()),
        tracer_pid: st.as_ref().map_or(0, |s| s.tracer_pid),
        yama_scope: std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
            .ok()
            .and_then(|t| t.trim().parse().ok()),
        is_descendant: is_descendant(pid, our_pid),
    }
}

fn is_descendant(mut pid: i32, ancestor: i32) -> bool {
    for _ in 0..64 {
        match status::read_stat(pid, pid) {
            Ok(s) if s.ppid == ancestor => return true,
            Ok(s) if s.ppid > 1 => pid = s.ppid,
            _ => return false,
        }
    }
    false
}

/// The rule that refused the attach and what to do, in one sentence; `None` when no known rule
/// explains it. Rules are tried from the most specific to the most general.
pub fn explain(f: &AttachFacts) -> Option<String> {
    let pid = f.pid;
    if pid == f.our_pid {
        return Some(format!(
            "pid {pid} is confidump itself: a process cannot trace itself; dump another process"
        ));
    }
    if f.flags & PF_KTHREAD != 0 {
        return Some(format!(
            "pid {pid} is a kernel thread: it has no user memory to dump and cannot be traced"
        ));
    }
    if matches!(f.state, Some('Z' | 'X')) {
        return Some(format!(
            "pid {pid} is a zombie: it has exited and holds no memory (its parent has not reaped \
             it yet); there is nothing to dump"
        ));
    }
    if f.tracer_pid != 0 && f.tracer_pid != f.our_pid {
        let comm = status::read_stat(f.tracer_pid, f.tracer_pid)
            .map(|s| format!(" ({})", s.comm))
            .unwrap_or_default();
        return Some(format!(
            "pid {pid} is already traced by pid {}{comm}: a process has only one tracer; detach \
             that one (quit the debugger or strace) and retry",
            f.tracer_pid
        ));
    }
    if f.yama_scope == Some(3) {
        return Some(
            "the Yama LSM forbids every ptrace attach (kernel.yama.ptrace_scope = 3, which \
             only a reboot lifts)"
                .to_string(),
        );
    }
    if !f.cap_sys_ptrace {
        if f.yama_scope == Some(2) {
            return Some(
                "the Yama LSM allows ptrace only with CAP_SYS_PTRACE \
                 (kernel.yama.ptrace_scope = 2): run confidump as root"
                    .to_string(),
            );
        }
        if f.our_uid == 0 {
            return Some(
                "confidump runs as root but without CAP_SYS_PTRACE (a container drops it): \
                 give it the capability (docker run --cap-add SYS_PTRACE) or run on the host"
                    .to_string(),
            );
        }
        if let Some(uid) = f.uid.filter(|&u| u != f.our_uid) {
            return Some(format!(
                "pid {pid} belongs to uid {uid} and confidump runs as uid {}: only the same user \
                 or root (CAP_SYS_PTRACE) may read another process; run it as root or as that \
                 user",
                f.our_uid
            ));
        }
        if f.proc_owner.is_some_and(|o| Some(o) != f.uid) {
            return Some(format!(
                "pid {pid} is not dumpable (PR_SET_DUMPABLE=0, or it changed credentials, e.g. \
                 a setuid program): only root (CAP_SYS_PTRACE) may attach; run confidump as root"
            ));
        }
        if f.yama_scope == Some(1) && !f.is_descendant {
            return Some(format!(
                "the Yama LSM allows attaching only to descendants \
                 (kernel.yama.ptrace_scope = 1) and pid {pid} is not one: run as root, or start \
                 the target from confidump"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> AttachFacts {
        AttachFacts {
            pid: 100,
            our_pid: 200,
            our_uid: 1000,
            cap_sys_ptrace: false,
            state: Some('S'),
            uid: Some(1000),
            proc_owner: Some(1000),
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_names_itself() {
        let mut f = base();
        assert_eq!(explain(&f), None);
        f.uid = Some(0);
        f.proc_owner = Some(0);
        assert!(explain(&f).unwrap().contains("belongs to uid 0"));
        let mut f = base();
        f.proc_owner = Some(0);
        assert!(explain(&f).unwrap().contains("not dumpable"));
        let mut f = base();
        f.tracer_pid = 4242;
        assert!(explain(&f).unwrap().contains("traced by pid 4242"));
        let mut f = base();
        f.state = Some('Z');
        assert!(explain(&f).unwrap().contains("zombie"));
        let mut f = base();
        f.flags = PF_KTHREAD;
        assert!(explain(&f).unwrap().contains("kernel thread"));
        let mut f = base();
        f.pid = 200;
        assert!(explain(&f).unwrap().contains("confidump itself"));
        let mut f = base();
        f.yama_scope = Some(1);
        assert!(explain(&f).unwrap().contains("descendants"));
        f.is_descendant = true;
        assert_eq!(explain(&f), None);
        f.yama_scope = Some(2);
        assert!(explain(&f).unwrap().contains("ptrace_scope = 2"));
        let mut f = base();
        f.our_uid = 0;
        f.uid = Some(0);
        f.proc_owner = Some(0);
        assert!(explain(&f).unwrap().contains("without CAP_SYS_PTRACE"));
        f.cap_sys_ptrace = true;
        assert_eq!(explain(&f), None);
    }

    #[test]
    fn real_cases_here() {
        let me = std::process::id() as i32;
        assert!(explain(&gather(me)).unwrap().contains("itself"));
        // kthreadd.
        assert!(explain(&gather(2)).unwrap().contains("kernel thread"));
    }
}
