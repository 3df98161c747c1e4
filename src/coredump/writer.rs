//! A streaming ELF core writer for a live x86-64 process: what gdb's `gcore` writes, with the
//! attacker's policy by default and an honest account of what could not be read.
//!
//! # Rules
//! * **No panics.** A panic while the threads are seized could leave the victim stopped (it
//!   does not in fact, the guards detach on unwind, but nothing here relies on unwinding).
//!   Every size from `/proc` goes through checked arithmetic.
//! * **The victim is never left stopped.** Threads are held by [`Freeze`] guards that detach
//!   on drop, and the freeze covers only the snapshot: registers and the memory copy. If the
//!   dumper is killed, the kernel detaches the seized threads and they run on.
//! * **Streaming.** Memory is read in chunks and written as it is read, by a writer thread fed
//!   through a two-slot queue, so reading one chunk overlaps writing the previous one. Memory
//!   is never held whole.
//! * **Unreadable is not zero.** A chunk that fails is retried page by page
//!   ([`read_pagewise`]); unreadable pages get **no PT_LOAD at all** and are listed in our note
//!   with their errno. A PT_LOAD with `p_filesz = 0` would not do: gdb (and other readers)
//!   fill such a segment with zeros, so `x/16xb` would print `0x00` where the kernel refused;
//!   with no segment they say `Cannot access memory at address …`, as they do on gcore's
//!   cores. Ranges left out by policy (`like-gcore`) get no PT_LOAD either, as in gcore's
//!   cores, and are listed in the note as absent. Never-touched pages of private anonymous
//!   mappings (per `/proc/PID/pagemap`) do read as zeros: they are not read and become file
//!   holes, as are zero pages we did read.
//!
//! # Layout
//! ```text
//! 0        ELF header (written last, with one pwrite)
//! 4096     memory: each PT_LOAD's bytes, in address order, page aligned
//! ...      PT_NOTE: per thread NT_PRSTATUS, NT_FPREGSET, NT_X86_XSTATE, NT_SIGINFO (main
//!          thread first); NT_PRPSINFO, NT_AUXV, NT_FILE, CONFIDUMP/NT_CONFIDUMP_MAPS
//! ...      program headers: PT_NOTE, then the PT_LOADs (e_phoff points here)
//! ...      one section header, only when there are 0xffff or more program headers (PN_XNUM)
//! ```
//! The number of PT_LOADs is only known after the memory was read (unreadable runs split
//! mappings), which is why the tables come after the data.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::time::{Duration, Instant};

use super::arch::{
    EHDR_SIZE, EM_X86_64, NT_AUXV, NT_FILE, NT_FPREGSET, NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO,
    NT_X86_XSTATE, PHDR_SIZE, PN_XNUM, SHDR_SIZE,
};
use super::notes::{self, FileMapping, NoteError, PrPsInfo, PrStatus, TimeVal};
use super::output::{OutputError, OutputFile};
use super::policy::{gcore_decision, Policy};
use super::{ConfidumpNote, NoteMapping, NoteRange, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS};
use crate::memory::live::{LiveError, LiveProcess};
use crate::memory::ptrace::{Freeze, PtraceError, ThreadRegisters};
use crate::memory::{read_pagewise, MemorySource, ReadError, PAGE_SIZE};
use crate::model::hex_addr;
use crate::procfs::maps::Mapping;
use crate::procfs::pagemap::{BackedWindow, Pagemap};
use crate::procfs::{self, status, ProcError};
use goblin::elf::program_header::{PT_LOAD, PT_NOTE};

/// Default read chunk: big enough to amortise system calls, small enough to keep the
/// pipeline's three buffers cheap.
pub const DEFAULT_CHUNK: usize = 1 << 20;
/// File offset where memory starts: page aligned, leaving room for the ELF header.
const DATA_START: u64 = PAGE_SIZE;

/// Which program writes the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// This module.
    #[default]
    Ours,
    /// gdb's `gcore`, run with its default behaviour (for side-by-side comparison).
    Gdb,
}

/// What to dump and where.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// The core file to write.
    pub output: PathBuf,
    /// Replace `output` if it exists.
    pub force: bool,
    /// Which mappings to include (ignored by [`Engine::Gdb`], which follows its own rules).
    pub policy: Policy,
    /// Who writes the core.
    pub engine: Engine,
    /// Read chunk size in bytes (rounded to whole pages, at least one).
    pub chunk_size: usize,
}

impl DumpOptions {
    /// Defaults: attacker policy, our engine, no overwrite, 1 MiB chunks.
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            force: false,
            policy: Policy::Attacker,
            engine: Engine::Ours,
            chunk_size: DEFAULT_CHUNK,
        }
    }
}

/// Progress of the memory copy.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of address space handled so far.
    pub done: u64,
    /// Bytes of address space to handle.
    pub total: u64,
}

/// One range the core lacks, with the mapping it belongs to (for the summary line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRange {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// errno of the failed read, when there was one.
    pub errno: Option<i32>,
    /// Why.
    pub reason: String,
    /// Mapping name (`[vvar]`, `/secretmem (deleted)`, `[anon]`).
    pub mapping: String,
}

/// What a dump wrote.
#[derive(Debug, Clone)]
pub struct DumpSummary {
    /// The core file.
    pub path: PathBuf,
    /// Which engine wrote it.
    pub engine: Engine,
    /// PID dumped.
    pub pid: i32,
    /// Length of the file (holes included).
    pub file_len: u64,
    /// Bytes of memory in the core (sum of PT_LOAD `p_filesz`).
    pub memory_bytes: u64,
    /// PT_LOADs that carry bytes.
    pub regions: usize,
    /// Threads (NT_PRSTATUS notes).
    pub threads: usize,
    /// Ranges whose read failed.
    pub unreadable: Vec<MissingRange>,
    /// Ranges left out by policy.
    pub absent: Vec<MissingRange>,
    /// How long the threads were stopped (ours only).
    pub frozen_for: Option<Duration>,
    /// Wall time of the whole dump.
    pub elapsed: Duration,
}

impl std::fmt::Display for DumpSummary {
    /// `wrote FILE: N bytes of memory in M regions, K threads, U unreadable ranges (...)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wrote {}: {} bytes of memory in {} regions, {} threads, {} unreadable ranges",
            self.path.display(),
            self.memory_bytes,
            self.regions,
            self.threads,
            self.unreadable.len()
        )?;
        if !self.unreadable.is_empty() {
            let parts: Vec<String> = self
                .unreadable
                .iter()
                .map(|u| {
                    let errno = u.errno.map_or_else(
                        || "failed".to_string(),
                        |e| {
                            crate::memory::errno_name(e)
                                .map_or_else(|| format!("errno {e}"), str::to_string)
                        },
                    );
                    format!("{} {errno}", u.mapping)
                })
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        if !self.absent.is_empty() {
            write!(f, ", {} ranges left out by policy", self.absent.len())?;
        }
        write!(f, " in {:.2} s", self.elapsed.as_secs_f64())
    }
}

/// Errors of a dump. Whatever the error, the victim runs again and no output file remains.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The process does not exist.
    #[error("no process with PID {pid}")]
    NoSuchProcess {
        /// The PID.
        pid: i32,
    },
    /// Only x86-64 is supported.
    #[error("core dumps are only implemented for x86-64")]
    Unsupported,
    /// The output file could not be created or published.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Writing the core failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being written.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Threads could not be stopped or their registers read.
    #[error("stopping the threads")]
    Ptrace(#[from] PtraceError),
    /// The process's memory could not be opened.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// A `/proc` file could not be read.
    #[error(transparent)]
    Proc(#[from] ProcError),
    /// A note could not be encoded.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// Our note could not be serialised.
    #[error("encoding the CONFIDUMP note: {0}")]
    Json(#[from] serde_json::Error),
    /// A size or offset overflowed.
    #[error("{0}: size overflow")]
    Overflow(&'static str),
    /// gdb's gcore failed.
    #[error("gcore: {0}")]
    Gcore(String),
}

/// Writes a core of `pid` to `opts.output`.
pub fn dump_process(pid: i32, opts: &DumpOptions) -> Result<DumpSummary, DumpError> {
    dump_process_with_progress(pid, opts, &mut |_| {})
}

/// [`dump_process`], calling `progress` after each chunk of memory.
pub fn dump_process_with_progress(
    pid: i32,
    opts: &DumpOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<DumpSummary, DumpError> {
    if pid <= 0 || !procfs::proc_path(pid, "").exists() {
        return Err(DumpError::NoSuchProcess { pid });
    }
    let liveness = crate::memory::alive::Liveness::open(pid);
    // A process already dead (a zombie) gets the attach refusal's own explanation.
    let alive_at_start = liveness.is_alive();
    let result = match opts.engine {
        Engine::Gdb => super::gcore::dump_with_gcore(pid, opts),
        Engine::Ours if cfg!(target_arch = "x86_64") => write_core(pid, opts, progress),
        Engine::Ours => Err(DumpError::Unsupported),
    };
    // Whatever failed while the victim was dying failed because it died: say that.
    match result {
        Err(DumpError::Output(e)) => Err(DumpError::Output(e)),
        Err(_) if alive_at_start && !liveness.is_alive() => {
            Err(DumpError::Live(LiveError::Exited {
                pid,
                during: "dump",
            }))
        }
        other => other,
    }
}

/// A PT_LOAD being built.
#[derive(Debug, Clone, Copy)]
struct Segment {
    vaddr: u64,
    memsz: u64,
    offset: u64,
    filesz: u64,
    flags: u32,
}

/// What the memory copy produced.
#[derive(Debug, Default)]
struct MemoryCopy {
    segments: Vec<Segment>,
    unreadable: Vec<MissingRange>,
    absent: Vec<MissingRange>,
    data_end: u64,
}

/// Process-wide facts for NT_PRPSINFO / NT_PRSTATUS / NT_AUXV.
struct ProcessInfo {
    stat: status::ProcStat,
    status: status::ProcStatus,
    cmdline: Vec<u8>,
    auxv: Vec<u8>,
}

fn write_core(
    pid: i32,
    opts: &DumpOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<DumpSummary, DumpError> {
    let started = Instant::now();
    let out = OutputFile::create(&opts.output, opts.force)?;
    let file = out.file();

    // Opening the pagemap (and finding the zero pages' frame numbers, in our own memory) needs
    // no stopped victim: do it before the freeze, which should wrap only the snapshot.
    let pagemap = Pagemap::open(pid);

    let frozen_at = Instant::now();
    let freeze = Freeze::new(pid)?;
    // Warned only once the attach worked: a refused attach is the whole story.
    let pagemap = pagemap
        .map_err(|e| {
            tracing::warn!(%e, "pagemap unavailable: untouched pages will be read and written");
        })
        .ok();
    // Maps are read while the threads are stopped, so they match the memory we copy.
    let live = LiveProcess::open(pid, true)?;
    let regs: Vec<ThreadRegisters> = freeze
        .threads()
        .iter()
        .map(|t| t.registers())
        .collect::<Result<_, _>>()?;
    let info = ProcessInfo {
        stat: status::read_stat(pid, pid)?,
        status: status::read_status(pid, pid)?,
        cmdline: procfs::read_proc_bytes(pid, "cmdline")?,
        auxv: procfs::read_proc_bytes(pid, "auxv")?,
    };
    let thread_stats: Vec<(Option<status::ProcStat>, Option<status::ProcStatus>)> = regs
        .iter()
        .map(|r| {
            if r.tid == pid {
                // The main thread's files were just read for the process as a whole.
                (Some(info.stat.clone()), Some(info.status.clone()))
            } else {
                (
                    status::read_stat(pid, r.tid).ok(),
                    status::read_status(pid, r.tid).ok(),
                )
            }
        })
        .collect();
    let filter = match opts.policy {
        Policy::LikeGcore => status::read_coredump_filter(pid)?,
        Policy::Attacker => 0,
    };
    let copy = copy_memory(
        &live,
        live.mappings(),
        pagemap.as_ref(),
        file,
        opts,
        filter,
        progress,
    )?;
    drop(freeze);
    let frozen_for = frozen_at.elapsed();

    // Notes.
    let mut note_bytes = Vec::new();
    let ticks = clock_ticks();
    for (r, (tstat, tstatus)) in regs.iter().zip(&thread_stats) {
        push_thread_notes(
            &mut note_bytes,
            r,
            &info,
            tstat.as_ref(),
            tstatus.as_ref(),
            ticks,
        )?;
    }
    push_process_notes(&mut note_bytes, pid, &live, &info, &copy, opts.policy)?;

    // Notes, then program headers, then (if needed) the extra section header.
    let notes_off = copy.data_end;
    file.write_all_at(&note_bytes, notes_off)
        .map_err(|source| io_err("writing the notes", source))?;
    let note_len = u64::try_from(note_bytes.len()).map_err(|_| DumpError::Overflow("notes"))?;
    let phoff = align_up(
        notes_off
            .checked_add(note_len)
            .ok_or(DumpError::Overflow("notes"))?,
        8,
    )
    .ok_or(DumpError::Overflow("notes"))?;
    let phnum = copy.segments.len() + 1;
    let mut ph = Vec::with_capacity(phnum * 56);
    push_phdr(&mut ph, PT_NOTE, 4, notes_off, 0, note_len, 0, 4);
    for s in &copy.segments {
        push_phdr(
            &mut ph, PT_LOAD, s.flags, s.offset, s.vaddr, s.filesz, s.memsz, PAGE_SIZE,
        );
    }
    file.write_all_at(&ph, phoff)
        .map_err(|source| io_err("writing the program headers", source))?;
    let ph_len = u64::try_from(ph.len()).map_err(|_| DumpError::Overflow("program headers"))?;
    let mut end = phoff
        .checked_add(ph_len)
        .ok_or(DumpError::Overflow("program headers"))?;
    let (e_phnum, shoff) = match u16::try_from(phnum) {
        Ok(n) if n < PN_XNUM => (n, None),
        _ => {
            let count =
                u32::try_from(phnum).map_err(|_| DumpError::Overflow("program header count"))?;
            let mut sh = vec![0u8; 64];
            // Section 0, SHT_NULL, sh_info = the real program header count (at offset 44).
            sh[44..48].copy_from_slice(&count.to_le_bytes());
            file.write_all_at(&sh, end)
                .map_err(|source| io_err("writing the section header", source))?;
            let at = end;
            end = end
                .checked_add(SHDR_SIZE)
                .ok_or(DumpError::Overflow("section header"))?;
            (PN_XNUM, Some(at))
        }
    };
    file.set_len(end)
        .map_err(|source| io_err("setting the core's length", source))?;
    let ehdr = elf_header(phoff, e_phnum, shoff);
    file.write_all_at(&ehdr, 0)
        .map_err(|source| io_err("writing the ELF header", source))?;

    // Every failed read above is a refusal only if the victim is still alive now.
    live.ensure_alive("dump")?;
    let path = out.commit()?;
    let memory_bytes = copy.segments.iter().map(|s| s.filesz).sum();
    let regions = copy.segments.iter().filter(|s| s.filesz > 0).count();
    Ok(DumpSummary {
        path,
        engine: Engine::Ours,
        pid,
        file_len: end,
        memory_bytes,
        regions,
        threads: regs.len(),
        unreadable: copy.unreadable,
        absent: copy.absent,
        frozen_for: Some(frozen_for),
        elapsed: started.elapsed(),
    })
}

fn io_err(context: &str, source: std::io::Error) -> DumpError {
    DumpError::Io {
        context: context.to_string(),
        source,
    }
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    v.checked_add(a - 1).map(|x| x / a * a)
}

fn clock_ticks() -> i64 {
    use nix::unistd::{sysconf, SysconfVar};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t,
        _ => 100,
    }
}

fn ticks_to_timeval(ticks: u64, hz: i64) -> TimeVal {
    let hz = u64::try_from(hz).unwrap_or(100).max(1);
    TimeVal {
        sec: i64::try_from(ticks / hz).unwrap_or(i64::MAX),
        usec: i64::try_from((ticks % hz) * 1_000_000 / hz).unwrap_or(0),
    }
}

fn le_i32(b: &[u8], at: usize) -> i32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    i32::from_le_bytes(w)
}

fn push_thread_notes(
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
        notes::push_note(out, "LINUX", NT_X86_XSTATE, &super::arch::xstate_note(xs))?;
    }
    notes::push_note(out, "CORE", NT_SIGINFO, &r.siginfo)?;
    Ok(())
}

fn push_process_notes(
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
        version: 1,
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

#[allow(clippy::too_many_arguments)]
fn push_phdr(
    out: &mut Vec<u8>,
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
) {
    out.extend_from_slice(&p_type.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&vaddr.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // p_paddr
    out.extend_from_slice(&filesz.to_le_bytes());
    out.extend_from_slice(&memsz.to_le_bytes());
    out.extend_from_slice(&align.to_le_bytes());
}

fn elf_header(phoff: u64, phnum: u16, shoff: Option<u64>) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE, padding.
    h.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    h.extend_from_slice(&[0u8; 8]);
    h.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
    h.extend_from_slice(&EM_X86_64.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes()); // e_version
    h.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    h.extend_from_slice(&phoff.to_le_bytes());
    h.extend_from_slice(&shoff.unwrap_or(0).to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    h.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    h.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    h.extend_from_slice(&phnum.to_le_bytes());
    let (shentsize, shnum) = if shoff.is_some() {
        (SHDR_SIZE as u16, 1u16)
    } else {
        (0, 0)
    };
    h.extend_from_slice(&shentsize.to_le_bytes());
    h.extend_from_slice(&shnum.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx: SHN_UNDEF
    h
}

fn segment_flags(m: &Mapping) -> u32 {
    // PF_X = 1, PF_W = 2, PF_R = 4.
    u32::from(m.exec) | (u32::from(m.write) << 1) | (u32::from(m.read) << 2)
}

/// One chunk handed to the writer thread: the buffer and the runs of it to write, each as
/// (offset in buffer, length, offset in file).
struct Job {
    buf: Vec<u8>,
    runs: Vec<(usize, usize, u64)>,
}

/// The writer thread: writes each job's runs, skipping all-zero pages (they stay holes, which
/// read back as the same zeros), and hands the buffer back for reuse.
fn writer_loop(
    file: &File,
    jobs: Receiver<Job>,
    give_back: Sender<Vec<u8>>,
) -> std::io::Result<()> {
    let page = usize::try_from(PAGE_SIZE).unwrap_or(4096);
    for job in jobs {
        for &(start, len, file_off) in &job.runs {
            let Some(data) = job.buf.get(start..start.saturating_add(len)) else {
                continue;
            };
            // Coalesce non-zero pages into as few writes as possible.
            let mut run_start: Option<usize> = None;
            let mut i = 0usize;
            while i <= data.len() {
                let is_data = data
                    .get(i..(i + page).min(data.len()))
                    .is_some_and(|p| !p.is_empty() && p.iter().any(|&b| b != 0));
                match (is_data, run_start) {
                    (true, None) => run_start = Some(i),
                    (false, Some(s)) => {
                        file.write_all_at(&data[s..i], file_off + s as u64)?;
                        run_start = None;
                    }
                    _ => {}
                }
                if i == data.len() {
                    break;
                }
                i = (i + page).min(data.len());
            }
        }
        // The reader may have finished already; a closed return queue is fine.
        let _ = give_back.send(job.buf);
    }
    Ok(())
}

/// Page states inside a chunk.
#[derive(Clone)]
enum PageState {
    Data,
    /// Never touched (private anonymous): zeros, not read, written as a hole.
    Hole,
    Bad(ReadError),
}

/// Copies the memory of `mappings`, read from `src`, into `file` from [`DATA_START`] on.
/// Generic over the source so the page-by-page logic can be tested on a fake one.
fn copy_memory<S: MemorySource + Sync + ?Sized>(
    src: &S,
    mappings: &[Mapping],
    pagemap: Option<&Pagemap>,
    file: &File,
    opts: &DumpOptions,
    filter: u32,
    progress: &mut dyn FnMut(Progress),
) -> Result<MemoryCopy, DumpError> {
    let page = usize::try_from(PAGE_SIZE).unwrap_or(4096);
    let chunk = (opts.chunk_size / page).max(1) * page;
    let total: u64 = mappings.iter().map(|m| m.span.len()).sum();
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = sync_channel::<Job>(2);
        let (buf_tx, buf_rx) = channel::<Vec<u8>>();
        for _ in 0..3 {
            let _ = buf_tx.send(vec![0u8; chunk]);
        }
        let writer = scope.spawn(move || writer_loop(file, job_rx, buf_tx));
        let read = read_all(
            src, mappings, opts, filter, pagemap, chunk, total, &job_tx, &buf_rx, progress,
        );
        drop(job_tx);
        let written = writer.join().map_err(|_| DumpError::Io {
            context: "writing memory".into(),
            source: std::io::Error::other("writer thread failed"),
        })?;
        // A writer error explains a reader's "queue closed", so report it first.
        written.map_err(|source| io_err("writing memory to the core", source))?;
        read
    })
}

#[allow(clippy::too_many_arguments)]
fn read_all<S: MemorySource + ?Sized>(
    live: &S,
    mappings: &[Mapping],
    opts: &DumpOptions,
    filter: u32,
    pagemap: Option<&Pagemap>,
    chunk: usize,
    total: u64,
    jobs: &std::sync::mpsc::SyncSender<Job>,
    buffers: &Receiver<Vec<u8>>,
    progress: &mut dyn FnMut(Progress),
) -> Result<MemoryCopy, DumpError> {
    let page = usize::try_from(PAGE_SIZE).unwrap_or(4096);
    let mut copy = MemoryCopy {
        data_end: DATA_START,
        ..MemoryCopy::default()
    };
    let queue_closed = || DumpError::Io {
        context: "writing memory".into(),
        source: std::io::Error::other("writer stopped"),
    };
    let mut done = 0u64;
    let mut backed: Vec<bool> = Vec::new();
    for m in mappings {
        let flags = segment_flags(m);
        let name = m.display_name().to_string();
        if opts.policy == Policy::LikeGcore {
            let elf = || {
                let mut magic = [0u8; 4];
                live.read_exact_at(m.span.start, &mut magic).is_ok() && magic == *b"\x7fELF"
            };
            if let Err(reason) = gcore_decision(m, filter, elf) {
                // No PT_LOAD: the note's absent list is where readers learn about it.
                copy.absent.push(MissingRange {
                    start: m.span.start,
                    end: m.span.end,
                    errno: None,
                    reason,
                    mapping: name,
                });
                done = done.saturating_add(m.span.len());
                progress(Progress { done, total });
                continue;
            }
        }
        let sparse = m.is_private_anonymous();
        let mut window = pagemap.filter(|_| sparse).map(BackedWindow::new);
        let mut current: Option<(Segment, bool)> = None;
        let mut addr = m.span.start;
        while addr < m.span.end {
            // A never-touched range of a chunk or more: a hole, skipped in one step (no read,
            // no buffer, no write), however much address space it spans.
            let hole = match window.as_mut() {
                Some(w) => w.hole_pages(addr, m.span.end).unwrap_or(0) * PAGE_SIZE,
                None => 0,
            };
            let hole = hole.min(m.span.end - addr);
            if hole >= chunk as u64 || (hole > 0 && addr + hole == m.span.end) {
                match &mut current {
                    Some((seg, true)) => seg.memsz += hole,
                    _ => {
                        if let Some((seg, true)) = current.take() {
                            copy.segments.push(seg);
                        }
                        current = Some((
                            Segment {
                                vaddr: addr,
                                memsz: hole,
                                offset: copy.data_end,
                                filesz: 0,
                                flags,
                            },
                            true,
                        ));
                    }
                }
                if let Some((seg, _)) = current.as_mut() {
                    seg.filesz += hole;
                }
                copy.data_end = copy
                    .data_end
                    .checked_add(hole)
                    .ok_or(DumpError::Overflow("memory data"))?;
                addr += hole;
                done = done.saturating_add(hole);
                progress(Progress { done, total });
                continue;
            }
            let n = usize::try_from((m.span.end - addr).min(chunk as u64)).unwrap_or(chunk);
            let mut buf = buffers.recv().map_err(|_| queue_closed())?;
            if buf.len() < n {
                buf.resize(n, 0);
            }
            let npages = n.div_ceil(page);
            let mut states = vec![PageState::Data; npages];
            let all_backed = match window.as_mut() {
                Some(w) => match w.get(addr, npages, m.span.end) {
                    Ok(flags) => {
                        backed.clear();
                        backed.extend_from_slice(flags);
                        false
                    }
                    Err(_) => true,
                },
                None => true,
            };
            // Read each run of backed pages; a failed run is retried page by page.
            let mut p = 0usize;
            while p < npages {
                let is_backed = |i: usize| all_backed || backed.get(i).copied().unwrap_or(true);
                if !is_backed(p) {
                    states[p] = PageState::Hole;
                    p += 1;
                    continue;
                }
                let mut q = p;
                while q < npages && is_backed(q) {
                    q += 1;
                }
                let (b0, b1) = (p * page, (q * page).min(n));
                let run_addr = addr + b0 as u64;
                for (span, err) in read_pagewise(live, run_addr, &mut buf[b0..b1]) {
                    let first = usize::try_from((span.start - addr) / PAGE_SIZE).unwrap_or(0);
                    let last = usize::try_from((span.end - addr).div_ceil(PAGE_SIZE)).unwrap_or(0);
                    for st in states.iter_mut().take(last.min(npages)).skip(first) {
                        *st = PageState::Bad(err.clone());
                    }
                }
                p = q;
            }
            // Turn page states into segments, unreadable ranges and write runs.
            let mut runs: Vec<(usize, usize, u64)> = Vec::new();
            for (i, st) in states.iter().enumerate() {
                let page_addr = addr + (i * page) as u64;
                let len = page.min(n - i * page);
                let len64 = len as u64;
                let readable = !matches!(st, PageState::Bad(_));
                match &mut current {
                    Some((seg, r)) if *r == readable => seg.memsz += len64,
                    _ => {
                        // Only readable runs become PT_LOADs (see "Unreadable is not zero").
                        if let Some((seg, true)) = current.take() {
                            copy.segments.push(seg);
                        }
                        current = Some((
                            Segment {
                                vaddr: page_addr,
                                memsz: len64,
                                offset: copy.data_end,
                                filesz: 0,
                                flags,
                            },
                            readable,
                        ));
                    }
                }
                match st {
                    PageState::Bad(err) => match copy.unreadable.last_mut() {
                        Some(last)
                            if last.end == page_addr
                                && last.errno == err.errno
                                && last.mapping == name =>
                        {
                            last.end = page_addr + len64
                        }
                        _ => copy.unreadable.push(MissingRange {
                            start: page_addr,
                            end: page_addr + len64,
                            errno: err.errno,
                            reason: err.reason.clone(),
                            mapping: name.clone(),
                        }),
                    },
                    PageState::Data | PageState::Hole => {
                        if let Some((seg, _)) = current.as_mut() {
                            seg.filesz += len64;
                        }
                        if matches!(st, PageState::Data) {
                            match runs.last_mut() {
                                Some((s, l, off))
                                    if *s + *l == i * page && *off + *l as u64 == copy.data_end =>
                                {
                                    *l += len
                                }
                                _ => runs.push((i * page, len, copy.data_end)),
                            }
                        }
                        copy.data_end = copy
                            .data_end
                            .checked_add(len64)
                            .ok_or(DumpError::Overflow("memory data"))?;
                    }
                }
            }
            jobs.send(Job { buf, runs }).map_err(|_| queue_closed())?;
            addr += n as u64;
            done = done.saturating_add(n as u64);
            progress(Progress { done, total });
        }
        if let Some((seg, true)) = current.take() {
            copy.segments.push(seg);
        }
    }
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::SourceRegion;
    use crate::procfs::maps::parse_smaps;

    /// Three pages at 0x10000 filled with 0x11, 0x22, 0x33; page 1 refuses every read.
    struct Fake;

    impl MemorySource for Fake {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn regions(&self) -> &[SourceRegion] {
            &[]
        }
        fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            let end = addr + buf.len() as u64;
            if addr < 0x12000 && end > 0x11000 {
                return Err(ReadError::from_errno(libc::EIO));
            }
            for (i, b) in buf.iter_mut().enumerate() {
                *b = match (addr + i as u64 - 0x10000) / PAGE_SIZE {
                    0 => 0x11,
                    1 => 0x22,
                    _ => 0x33,
                };
            }
            Ok(())
        }
    }

    fn mappings() -> Vec<Mapping> {
        parse_smaps(
            "10000-13000 rw-p 00000000 fe:01 7 /x\nVmFlags: rd wr\n\
             20000-21000 rw-p 00000000 fe:01 7 /y\nVmFlags: rd wr dd\n",
            "fixture",
        )
        .unwrap()
    }

    fn run(policy: Policy) -> (MemoryCopy, Vec<u8>) {
        let f = tempfile::tempfile().unwrap();
        let mut opts = DumpOptions::new("/nonexistent");
        opts.policy = policy;
        opts.chunk_size = 3 * 4096;
        let copy = copy_memory(&Fake, &mappings(), None, &f, &opts, 0x33, &mut |_| {}).unwrap();
        f.set_len(copy.data_end).unwrap();
        let mut bytes = vec![0u8; usize::try_from(copy.data_end).unwrap()];
        f.read_exact_at(&mut bytes, 0).unwrap();
        (copy, bytes)
    }

    #[test]
    fn readable_page_after_unreadable_one_is_kept() {
        let (copy, bytes) = run(Policy::Attacker);
        let s = &copy.segments;
        // The unreadable page gets no segment at all: gdb must not see zeros there.
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(
            (s[0].vaddr, s[0].filesz, s[0].offset),
            (0x10000, 4096, 4096)
        );
        assert!(s.iter().all(|s| s.filesz == s.memsz && s.filesz > 0));
        assert!(!s
            .iter()
            .any(|s| s.vaddr <= 0x11000 && 0x11000 < s.vaddr + s.memsz));
        assert_eq!(
            (s[1].vaddr, s[1].filesz, s[1].offset),
            (0x12000, 4096, 8192)
        );
        assert!(bytes[4096..8192].iter().all(|&b| b == 0x11));
        assert!(bytes[8192..12288].iter().all(|&b| b == 0x33));
        assert_eq!(copy.unreadable.len(), 1);
        assert_eq!(copy.unreadable[0].start, 0x11000);
        assert_eq!(copy.unreadable[0].errno, Some(libc::EIO));
        // The dd mapping is dumped by default.
        assert_eq!((s[2].vaddr, s[2].filesz), (0x20000, 4096));
        assert!(copy.absent.is_empty());
    }

    #[test]
    fn like_gcore_leaves_dd_out_as_absent() {
        let (copy, _) = run(Policy::LikeGcore);
        // Both mappings are left out: no PT_LOAD for either.
        assert!(copy.segments.is_empty(), "{:?}", copy.segments);
        // /x is left out too: a file-backed private mapping never written (filter bit 2).
        assert_eq!(copy.absent.len(), 2);
        assert!(copy.absent[0].reason.contains("bit 2"), "{:?}", copy.absent);
        assert_eq!(copy.absent[1].start, 0x20000);
        assert!(copy.absent[1].reason.contains("MADV_DONTDUMP"));
    }

    #[test]
    fn header_fields() {
        let h = elf_header(0x1234, PN_XNUM, Some(0x5678));
        assert_eq!(h.len(), 64);
        assert_eq!(&h[16..18], &4u16.to_le_bytes());
        assert_eq!(&h[32..40], &0x1234u64.to_le_bytes());
        assert_eq!(&h[40..48], &0x5678u64.to_le_bytes());
        assert_eq!(&h[56..58], &PN_XNUM.to_le_bytes());
        assert_eq!(&h[60..62], &1u16.to_le_bytes());
    }
}
