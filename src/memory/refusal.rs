//! Why the kernel refused to let us attach to (or read) a process, and what to do about it.
//!
//! `PTRACE_SEIZE` and `/proc/PID/mem` answer every refusal with the same `EPERM`/`EACCES`.
//! The rules behind it are few and each leaves a trace we can read: the target's state and
//! flags (`/proc/PID/stat`), its uid and tracer (`/proc/PID/status`), the owner of its `/proc`
//! directory (root when the process is not dumpable), our own capabilities and the Yama LSM's
//! `ptrace_scope`. [`gather`] collects those facts; [`explain`] is a pure function of them, and
//! [`allowed`] says which rules let an attach through (the `pod` column names the rule either
//! way).
//! Yama's part is [`YamaRule`], which `doctor` reads too, so both say the same thing.

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
    /// Our permitted capabilities (`CapPrm`), when read.
    pub our_cap_prm: Option<u64>,
    /// The target's permitted capabilities (`CapPrm`), when readable.
    pub target_cap_prm: Option<u64>,
}

/// The Yama LSM rule (`/proc/sys/kernel/yama/ptrace_scope`) that refuses an attach. Yama adds
/// its rule on top of the uid and dumpable rules, for `PTRACE_ATTACH`/`PTRACE_SEIZE`, opening
/// `/proc/PID/mem` and `process_vm_readv` alike (all are attach-mode access checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamaRule {
    /// Scope 1, "restricted ptrace": a process may attach only to its own descendants (or to a
    /// process that named it with `PR_SET_PTRACER`), unless it holds `CAP_SYS_PTRACE`.
    DescendantsOnly,
    /// Scope 2, "admin-only attach": only a process holding `CAP_SYS_PTRACE` may attach.
    AdminOnly,
    /// Scope 3, "no attach": nobody may attach, root included; the value cannot be lowered
    /// until the next boot.
    NoAttach,
}

impl YamaRule {
    /// The rule that refuses an attach, from the value of `ptrace_scope` (`None`: no Yama on
    /// this kernel), whether the attacher holds `CAP_SYS_PTRACE`, and whether the target
    /// descends from it (pass `false` when asking about processes in general). `None` when
    /// Yama allows the attach, or for a value the kernel does not define (it accepts 0 to 3).
    pub fn refusing(scope: Option<u8>, cap_sys_ptrace: bool, is_descendant: bool) -> Option<Self> {
        match scope? {
            1 if !cap_sys_ptrace && !is_descendant => Some(Self::DescendantsOnly),
            2 if !cap_sys_ptrace => Some(Self::AdminOnly),
            3 => Some(Self::NoAttach),
            _ => None,
        }
    }

    /// The value of `kernel.yama.ptrace_scope` that makes this rule.
    pub fn scope(self) -> u8 {
        match self {
            Self::DescendantsOnly => 1,
            Self::AdminOnly => 2,
            Self::NoAttach => 3,
        }
    }

    /// What the value means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::DescendantsOnly => {
                "a process may attach only to its own descendants unless it holds CAP_SYS_PTRACE"
            }
            Self::AdminOnly => "only a process holding CAP_SYS_PTRACE may attach",
            Self::NoAttach => "nobody may attach, root included",
        }
    }

    /// What to do about it.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::DescendantsOnly => {
                "run confidump as root (CAP_SYS_PTRACE), start the target from confidump, or \
                 allow it for all: sysctl kernel.yama.ptrace_scope=0"
            }
            Self::AdminOnly => {
                "run confidump as root with CAP_SYS_PTRACE, or relax the rule: sysctl \
                 kernel.yama.ptrace_scope=1"
            }
            Self::NoAttach => {
                "the value cannot be lowered while the system runs: set \
                 kernel.yama.ptrace_scope=1 (or 2) in /etc/sysctl.d/ instead of 3 and reboot"
            }
        }
    }

    /// The whole sentence: which rule, its value and meaning, and what to do.
    pub fn explain(self) -> String {
        format!(
            "the Yama LSM refuses (kernel.yama.ptrace_scope = {}: {}): {}",
            self.scope(),
            self.meaning(),
            self.remedy()
        )
    }
}

/// Root without `CAP_SYS_PTRACE`, against another uid's process or for no rule more precise.
const ROOT_WITHOUT_PTRACE: &str = "confidump runs as root but without CAP_SYS_PTRACE (a \
     container drops it): give it the capability (docker run --cap-add SYS_PTRACE) or run on \
     the host";

/// Reads the facts about attaching to `pid`.
pub fn gather(pid: i32) -> AttachFacts {
    let our_pid = i32::try_from(std::process::id()).unwrap_or(0);
    let stat = status::read_stat(pid, pid).ok();
    let st = status::read_status(pid, pid).ok();
    let own = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap_eff = cap_set(&own, "CapEff:").unwrap_or(0);
    let target_status =
        std::fs::read_to_string(crate::procfs::proc_path(pid, "status")).unwrap_or_default();
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
        our_cap_prm: cap_set(&own, "CapPrm:"),
        target_cap_prm: cap_set(&target_status, "CapPrm:"),
    }
}

/// A capability set line of `/proc/PID/status` (`CapPrm:\t000001ffffffffff`).
fn cap_set(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// The capabilities the target holds and we do not (commoncap's rule: without
/// `CAP_SYS_PTRACE`, the target's permitted set must be a subset of ours); `None` when either
/// set is unknown, 0 when it is a subset.
fn caps_beyond_ours(f: &AttachFacts) -> Option<u64> {
    Some(f.target_cap_prm? & !f.our_cap_prm?)
}

/// One of the kernel's ptrace access rules, in the order it applies them
/// (`__ptrace_may_access`, then commoncap, then Yama): what decided an attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Another uid, and no `CAP_SYS_PTRACE`.
    Uid,
    /// The target is not dumpable, and no `CAP_SYS_PTRACE`.
    Dumpable,
    /// commoncap: the target's permitted capabilities are not a subset of ours, and no
    /// `CAP_SYS_PTRACE`.
    Capabilities,
    /// Yama's `ptrace_scope`.
    Yama(YamaRule),
    /// Nothing refuses: `CAP_SYS_PTRACE` passes every check but Yama's scope 3.
    AllowedByPtraceCap,
    /// Nothing refuses: same uid, dumpable, capabilities a subset, Yama allows.
    AllowedSameUid,
}

/// The rule that decides an attach with these facts, among the four ptrace rules (the cases
/// [`explain`] names first, such as a zombie or another tracer, are not asked).
pub fn rule(f: &AttachFacts) -> Rule {
    let yama = YamaRule::refusing(f.yama_scope, f.cap_sys_ptrace, f.is_descendant);
    if f.cap_sys_ptrace {
        return match yama {
            Some(y) => Rule::Yama(y),
            None => Rule::AllowedByPtraceCap,
        };
    }
    if f.uid.is_some_and(|u| u != f.our_uid) {
        Rule::Uid
    } else if f.proc_owner.is_some_and(|o| Some(o) != f.uid) {
        Rule::Dumpable
    } else if caps_beyond_ours(f).is_some_and(|b| b != 0) {
        Rule::Capabilities
    } else if let Some(y) = yama {
        Rule::Yama(y)
    } else {
        Rule::AllowedSameUid
    }
}

/// The rules that let an attach through that was not refused, in one clause: the kernel's
/// order (uid, dumpable, capabilities, Yama) with the facts that passed each.
pub fn allowed(f: &AttachFacts) -> String {
    let yama = match f.yama_scope {
        None => "no Yama LSM on this kernel".to_string(),
        Some(0) => "Yama's ptrace_scope is 0 (classic ptrace permissions)".to_string(),
        Some(n) if f.cap_sys_ptrace => {
            format!("Yama's ptrace_scope {n} lets a holder of CAP_SYS_PTRACE attach")
        }
        Some(n) => format!("Yama's ptrace_scope is {n}"),
    };
    if f.cap_sys_ptrace {
        return format!(
            "the attacker holds CAP_SYS_PTRACE, which passes the uid, dumpable and capability \
             checks; {yama}"
        );
    }
    let uid = f
        .uid
        .map_or_else(|| "the same uid".to_string(), |u| format!("same uid ({u})"));
    let caps = match caps_beyond_ours(f) {
        Some(0) => "the target's permitted capabilities are a subset of the attacker's",
        _ => "the capability check passed",
    };
    format!("{uid}, the target is dumpable, {caps}; {yama}")
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
    let yama = YamaRule::refusing(f.yama_scope, f.cap_sys_ptrace, f.is_descendant);
    // Scope 3 refuses everyone, root included: nothing below matters.
    if yama == Some(YamaRule::NoAttach) {
        return yama.map(YamaRule::explain);
    }
    if !f.cap_sys_ptrace {
        // Scope 2 refuses anyone without the capability, whatever the uids.
        if yama == Some(YamaRule::AdminOnly) {
            return yama.map(YamaRule::explain);
        }
        if let Some(uid) = f.uid.filter(|&u| u != f.our_uid) {
            if f.our_uid == 0 {
                return Some(ROOT_WITHOUT_PTRACE.to_string());
            }
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
        // commoncap: the uid and dumpable rules passed; without CAP_SYS_PTRACE the target may
        // hold no capability we lack (`cap_ptrace_access_check`). Checked before Yama, as the
        // kernel's LSM order does.
        if let Some(beyond) = caps_beyond_ours(f).filter(|&b| b != 0) {
            return Some(format!(
                "pid {pid} holds {} capabilities confidump lacks (its CapPrm {:#x} is not a \
                 subset of ours, {:#x}): without CAP_SYS_PTRACE the kernel lets a process read \
                 only a target whose permitted capabilities are a subset of its own; add \
                 CAP_SYS_PTRACE, or the target drops those capabilities",
                beyond.count_ones(),
                f.target_cap_prm.unwrap_or(0),
                f.our_cap_prm.unwrap_or(0),
            ));
        }
        // Scope 1: the uid and dumpable rules passed, the target is not a descendant.
        if yama == Some(YamaRule::DescendantsOnly) {
            return Some(format!(
                "pid {pid} is not a descendant of confidump, and {}",
                YamaRule::DescendantsOnly.explain()
            ));
        }
        if f.our_uid == 0 {
            return Some(ROOT_WITHOUT_PTRACE.to_string());
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
    fn the_capability_subset_rule_comes_after_uid_and_dumpable_and_before_yama() {
        // A root sidecar without CAP_SYS_PTRACE, a root target with more capabilities.
        let sidecar = AttachFacts {
            our_uid: 0,
            uid: Some(0),
            proc_owner: Some(0),
            our_cap_prm: Some(crate::model::RUNTIME_DEFAULT_CAPS),
            target_cap_prm: Some(0x1ff_ffff_ffff),
            ..base()
        };
        let why = explain(&sidecar).unwrap();
        assert!(
            why.contains("not a subset") && why.contains("CAP_SYS_PTRACE"),
            "{why}"
        );
        // Under Yama 1 the capability rule still decides first (the kernel's LSM order).
        let mut f = AttachFacts {
            yama_scope: Some(1),
            ..sidecar.clone()
        };
        assert!(explain(&f).unwrap().contains("not a subset"));
        // A subset: Yama 1 is what refuses; without Yama nothing does, and allowed() says why.
        f.target_cap_prm = Some(0x2000_0420);
        assert!(explain(&f).unwrap().contains("ptrace_scope = 1"));
        f.yama_scope = None;
        assert!(explain(&f).unwrap().contains("without CAP_SYS_PTRACE"));
        let ok = allowed(&f);
        assert!(ok.contains("subset") && ok.contains("no Yama"), "{ok}");
        // Another uid is the uid rule, whatever the capabilities.
        let other = AttachFacts {
            uid: Some(1000),
            proc_owner: Some(1000),
            ..sidecar.clone()
        };
        assert!(explain(&other).unwrap().contains("without CAP_SYS_PTRACE"));
        // CAP_SYS_PTRACE passes it all, Yama 1 included; 3 refuses even that.
        let ptrace = AttachFacts {
            cap_sys_ptrace: true,
            yama_scope: Some(1),
            ..sidecar
        };
        assert_eq!(explain(&ptrace), None);
        assert!(allowed(&ptrace).contains("holds CAP_SYS_PTRACE"));
        let scope3 = AttachFacts {
            yama_scope: Some(3),
            ..ptrace
        };
        assert_eq!(explain(&scope3), Some(YamaRule::NoAttach.explain()));
        assert_eq!(rule(&scope3), Rule::Yama(YamaRule::NoAttach));
        assert_eq!(
            rule(&AttachFacts {
                yama_scope: Some(1),
                ..scope3.clone()
            }),
            Rule::AllowedByPtraceCap
        );
        assert_eq!(rule(&other), Rule::Uid);
        assert_eq!(rule(&f), Rule::AllowedSameUid);
        f.yama_scope = Some(1);
        assert_eq!(rule(&f), Rule::Yama(YamaRule::DescendantsOnly));
        f.target_cap_prm = Some(u64::MAX);
        assert_eq!(rule(&f), Rule::Capabilities);
        f.proc_owner = Some(7);
        assert_eq!(rule(&f), Rule::Dumpable);
    }

    #[test]
    fn yama_over_every_scope() {
        use YamaRule::*;
        // (scope, CAP_SYS_PTRACE, target is a descendant) -> the rule that refuses.
        for (scope, cap, desc, want) in [
            (None, false, false, None),
            (None, true, false, None),
            (Some(0), false, false, None),
            (Some(0), true, false, None),
            (Some(1), false, false, Some(DescendantsOnly)),
            (Some(1), false, true, None),
            (Some(1), true, false, None),
            (Some(2), false, false, Some(AdminOnly)),
            (Some(2), false, true, Some(AdminOnly)),
            (Some(2), true, false, None),
            (Some(3), false, false, Some(NoAttach)),
            (Some(3), true, true, Some(NoAttach)),
            (Some(4), false, false, None),
        ] {
            assert_eq!(
                YamaRule::refusing(scope, cap, desc),
                want,
                "{scope:?} {cap} {desc}"
            );
        }
        for (rule, remedy) in [
            (DescendantsOnly, "sysctl kernel.yama.ptrace_scope=0"),
            (AdminOnly, "sysctl kernel.yama.ptrace_scope=1"),
            (NoAttach, "reboot"),
        ] {
            let why = rule.explain();
            let value = format!("kernel.yama.ptrace_scope = {}", rule.scope());
            assert!(why.contains(&value) && why.contains(remedy), "{why}");
        }
        // The same sentences through explain(), for a same-uid target and for root.
        let same_uid = |scope, cap_sys_ptrace, our_uid| {
            explain(&AttachFacts {
                yama_scope: Some(scope),
                cap_sys_ptrace,
                our_uid,
                ..base()
            })
        };
        assert_eq!(same_uid(0, false, 1000), None);
        assert!(same_uid(1, false, 1000)
            .unwrap()
            .contains("not a descendant"));
        assert_eq!(same_uid(1, true, 0), None);
        assert_eq!(same_uid(2, false, 1000), Some(AdminOnly.explain()));
        assert_eq!(same_uid(2, true, 0), None);
        assert_eq!(same_uid(3, true, 0), Some(NoAttach.explain()));
        // Another user's process under scope 2: Yama is the rule to lift first.
        let mut f = base();
        f.uid = Some(0);
        f.yama_scope = Some(2);
        assert_eq!(explain(&f), Some(AdminOnly.explain()));
    }

    #[test]
    fn real_cases_here() {
        let me = std::process::id() as i32;
        assert!(explain(&gather(me)).unwrap().contains("itself"));
        // kthreadd.
        assert!(explain(&gather(2)).unwrap().contains("kernel thread"));
    }
}
