//! The notes a core of a live process carries: per thread NT_PRSTATUS, NT_FPREGSET,
//! NT_X86_XSTATE, NT_SIGINFO; for the process NT_PRPSINFO, NT_AUXV, NT_FILE and ours.

use super::pipeline::MemoryCopy;
use super::{DumpError, MissingRange};
use crate::coredump::arch::{
    NT_AUXV, NT_FILE, NT_FPREGSET, NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO, NT_X86_XSTATE,
};
use crate::coredump::notes::{self, FileMapping, PrPsInfo, PrStatus, TimeVal};
use crate::coredump::policy::Policy;
use crate::coredump::{
    ConfidumpNote, NoteMapping, NoteRange, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS,
};
use crate::memory::live::LiveProcess;
use crate::memory::ptrace::ThreadRegisters;
use crate::memory::PAGE_SIZE;
use crate::model::hex_addr;
use crate::procfs::status;

/// Process-wide facts for NT_PRPSINFO / NT_PRSTATUS / NT_AUXV.
pub(super) struct ProcessInfo {
    pub(super) stat: status::ProcStat,
    pub(super) status: status::ProcStatus,
    pub(super) cmdline: Vec<u8>,
    pub(super) auxv: Vec<u8>,
}

pub(super) fn clock_ticks() -> i64 {
    use nix::unistd::{sysconf, SysconfVar};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t,
        _ => 100,
    }
}

pub(super) fn ticks_to_timeval(ticks: u64, hz: i64) -> TimeVal {
    let hz = u64::try_from(hz).unwrap_or(100).max(1);
    TimeVal {
        sec: i64::try_from(ticks / hz).unwrap_or(i64::MAX),
        usec: i64::try_from((ticks % hz) * 1_000_000 / hz).unwrap_or(0),
    }
}

pub(super) fn le_i32(b: &[u8], at: usize) -> i32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    i32::from_le_bytes(w)
}

pub(super) fn push_thread_notes(
    out: &mut Vec<u8>,
    r: &ThreadRegisters,
    info: &ProcessInfo,
    tstat: Option<&status::ProcStat>,
    tstatus: Option<&status::ProcStatus>,
    hz: i64,
) -> Result<(), DumpError> {
    // siginfo_t: si_signo at 0, si_errno at 4, si_code at 8.
    let signo = le_i32(&r.siginfo, 0);
    let times = tstat.map_or([TimeVal::default(); 4], |s| {
        [
            ticks_to_timeval(s.utime, hz),
            ticks_to_timeval(s.stime, hz),
            ticks_to_timeval(s.cutime, hz),
            ticks_to_timeval(s.cstime, hz),
        ]
    });
    let prstatus = PrStatus {
        si_signo: signo,
        si_code: le_i32(&r.siginfo, 8),
        si_errno: le_i32(&r.siginfo, 4),
        cursig: i16::try_from(signo).unwrap_or(0),
        sigpend: tstatus.map_or(0, |s| s.sig_pending),
        sighold: tstatus.map_or(0, |s| s.sig_blocked),
        pid: r.tid,
        ppid: info.stat.ppid,
        pgrp: info.stat.pgrp,
        sid: info.stat.session,
        times,
        regs: r.gp,
        fpvalid: r.fpregs.is_some(),
    };
    notes::push_note(out, "CORE", NT_PRSTATUS, &prstatus.to_bytes())?;
    if let Some(fp) = &r.fpregs {
        notes::push_note(out, "CORE", NT_FPREGSET, fp)?;
    }
    if let Some(xs) = &r.xstate {
        notes::push_note(
            out,
            "LINUX",
            NT_X86_XSTATE,
            &crate::coredump::arch::xstate_note(xs),
        )?;
    }
    notes::push_note(out, "CORE", NT_SIGINFO, &r.siginfo)?;
    Ok(())
}

pub(super) fn push_process_notes(
    out: &mut Vec<u8>,
    pid: i32,
    live: &LiveProcess,
    info: &ProcessInfo,
    copy: &MemoryCopy,
    policy: Policy,
) -> Result<(), DumpError> {
    let psargs: Vec<u8> = info
        .cmdline
        .iter()
        .map(|&c| if c == 0 { b' ' } else { c })
        .collect();
    let psinfo = PrPsInfo {
        sname: u8::try_from(info.stat.state).unwrap_or(b'?'),
        nice: i8::try_from(info.stat.nice).unwrap_or(0),
        flag: info.stat.flags,
        uid: info.status.uid,
        gid: info.status.gid,
        pid,
        ppid: info.stat.ppid,
        pgrp: info.stat.pgrp,
        sid: info.stat.session,
        fname: info.stat.comm.as_bytes().to_vec(),
        psargs: psargs.trim_ascii_end().to_vec(),
    };
    notes::push_note(out, "CORE", NT_PRPSINFO, &psinfo.to_bytes())?;
    notes::push_note(out, "CORE", NT_AUXV, &info.auxv)?;
    let files: Vec<FileMapping> = live
        .mappings()
        .iter()
        .filter(|m| m.is_file_backed())
        .map(|m| FileMapping {
            start: m.span.start,
            end: m.span.end,
            page_offset: m.offset / PAGE_SIZE,
            name: m.name.clone(),
        })
        .collect();
    notes::push_note(out, "CORE", NT_FILE, &notes::nt_file(&files, PAGE_SIZE))?;
    let to_note = |r: &MissingRange| NoteRange {
        start: hex_addr(r.start),
        end: hex_addr(r.end),
        errno: r.errno,
        reason: r.reason.clone(),
    };
    let note = ConfidumpNote {
        version: crate::coredump::NOTE_VERSION,
        pid,
        tool: format!("confidump {}", env!("CARGO_PKG_VERSION")),
        policy: policy.as_str().to_string(),
        mappings: live
            .mappings()
            .iter()
            .map(|m| NoteMapping {
                start: hex_addr(m.span.start),
                end: hex_addr(m.span.end),
                perms: m.perms(),
                offset: hex_addr(m.offset),
                name: m.name.clone(),
                flags: m.vm_flags.clone(),
            })
            .collect(),
        unreadable: copy.unreadable.iter().map(to_note).collect(),
        absent: copy.absent.iter().map(to_note).collect(),
    };
    let json = serde_json::to_vec(&note)?;
    notes::push_note(out, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS, &json)?;
    Ok(())
}
