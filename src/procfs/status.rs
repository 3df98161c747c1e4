//! `/proc/PID/stat` and `/proc/PID/status`: what the core's NT_PRSTATUS and NT_PRPSINFO need
//! (state, parent, process group, session, CPU times, uid/gid, pending and blocked signals),
//! and `TracerPid`, which tests use to check the dumper let go of its victim.

use super::{proc_path, ProcError};

/// The fields of `/proc/PID/stat` (or `/proc/PID/task/TID/stat`) a core needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// Command name (`comm`), at most 15 bytes from the kernel.
    pub comm: String,
    /// State letter: `R`, `S`, `D`, `T`, `t`, `Z`, ...
    pub state: char,
    /// Parent PID.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Session.
    pub session: i32,
    /// Kernel task flags (`PF_*`).
    pub flags: u64,
    /// User CPU time, clock ticks.
    pub utime: u64,
    /// System CPU time, clock ticks.
    pub stime: u64,
    /// Children's user CPU time, clock ticks.
    pub cutime: u64,
    /// Children's system CPU time, clock ticks.
    pub cstime: u64,
    /// Nice value.
    pub nice: i64,
    /// When the process started, in clock ticks since boot: with the PID, names one process
    /// for its whole life (a PID is reused, a PID and a start time are not).
    pub starttime: u64,
}

/// Parses the text of a `stat` file. The command name sits in parentheses and may itself
/// contain spaces and parentheses, so the fields are counted from the *last* `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open.checked_add(1)?..close)?.to_string();
    let rest: Vec<&str> = text
        .get(close.checked_add(1)?..)?
        .split_whitespace()
        .collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    let f = |n: usize| rest.get(n - 3).copied();
    Some(ProcStat {
        comm,
        state: f(3)?.chars().next()?,
        ppid: f(4)?.parse().ok()?,
        pgrp: f(5)?.parse().ok()?,
        session: f(6)?.parse().ok()?,
        flags: f(9)?.parse().ok()?,
        utime: f(14)?.parse().ok()?,
        stime: f(15)?.parse().ok()?,
        cutime: f(16)?.parse().ok()?,
        cstime: f(17)?.parse().ok()?,
        nice: f(19)?.parse().ok()?,
        starttime: f(22)?.parse().ok()?,
    })
}

/// The fields of `/proc/PID/status` a core (and the tests) need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcStatus {
    /// Real user ID.
    pub uid: u32,
    /// Real group ID.
    pub gid: u32,
    /// PID of the tracer, 0 when not traced.
    pub tracer_pid: i32,
    /// Signals pending for this thread (`SigPnd`) or'ed with the process (`ShdPnd`).
    pub sig_pending: u64,
    /// Blocked signals (`SigBlk`).
    pub sig_blocked: u64,
    /// Seccomp mode (`Seccomp`): 0 none, 1 strict, 2 filter.
    pub seccomp: u32,
}

/// Parses the text of a `status` file. Missing lines leave their field at its default.
pub fn parse_status(text: &str) -> ProcStatus {
    let mut st = ProcStatus::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let first = value.split_whitespace().next().unwrap_or("");
        let hex = || u64::from_str_radix(first, 16).unwrap_or(0);
        match key {
            "Uid" => st.uid = first.parse().unwrap_or(0),
            "Gid" => st.gid = first.parse().unwrap_or(0),
            "TracerPid" => st.tracer_pid = first.parse().unwrap_or(0),
            "SigPnd" | "ShdPnd" => st.sig_pending |= hex(),
            "SigBlk" => st.sig_blocked = hex(),
            "Seccomp" => st.seccomp = first.parse().unwrap_or(0),
            _ => {}
        }
    }
    st
}

fn read_text(pid: i32, name: &str) -> Result<String, ProcError> {
    let path = proc_path(pid, name);
    std::fs::read_to_string(&path).map_err(|source| ProcError::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}

/// Reads `/proc/PID/task/TID/stat` (pass `tid == pid` for the process).
pub fn read_stat(pid: i32, tid: i32) -> Result<ProcStat, ProcError> {
    let name = format!("task/{tid}/stat");
    parse_stat(&read_text(pid, &name)?).ok_or_else(|| ProcError::Parse {
        context: format!("/proc/{pid}/{name}"),
    })
}

/// Reads `/proc/PID/task/TID/status`.
pub fn read_status(pid: i32, tid: i32) -> Result<ProcStatus, ProcError> {
    Ok(parse_status(&read_text(
        pid,
        &format!("task/{tid}/status"),
    )?))
}

/// Reads `/proc/PID/coredump_filter` (hexadecimal text, e.g. `00000033`).
pub fn read_coredump_filter(pid: i32) -> Result<u32, ProcError> {
    let text = read_text(pid, "coredump_filter")?;
    u32::from_str_radix(text.trim(), 16).map_err(|_| ProcError::Parse {
        context: format!("/proc/{pid}/coredump_filter: {:?}", text.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_tricky_comm() {
        let text = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 1 2 20 -5 2 0 99 \
                    1000 200 18446744073709551615\n";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.comm, "a (b) c");
        assert_eq!(s.state, 'S');
        assert_eq!((s.ppid, s.pgrp, s.session), (1, 1234, 1234));
        assert_eq!(s.flags, 4194560);
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (7, 3, 1, 2));
        assert_eq!(s.nice, -5);
        assert_eq!(s.starttime, 99);
        assert!(parse_stat("12 (x) S 1").is_none());
    }

    #[test]
    fn status_fields() {
        let text = "Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n\
                    TracerPid:\t42\nSigPnd:\t0000000000000100\nShdPnd:\t0000000000000001\n\
                    SigBlk:\t0000000000010000\n";
        let s = parse_status(text);
        assert_eq!((s.uid, s.gid, s.tracer_pid), (1000, 100, 42));
        assert_eq!(s.sig_pending, 0x101);
        assert_eq!(s.sig_blocked, 0x10000);
    }

    #[test]
    fn reads_own_files() {
        let me = std::process::id() as i32;
        let s = read_stat(me, me).unwrap();
        assert!(!s.comm.is_empty());
        let f = read_coredump_filter(me).unwrap();
        assert_ne!(f, 0);
        read_status(me, me).unwrap();
    }
}
