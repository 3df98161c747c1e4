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
//!   mappings (per `/proc/PID/pagemap`) do read as zeros: they are not read and have no
//!   bytes in the file, only a PT_LOAD's zero tail (`p_memsz > p_filesz`, which gdb and our
//!   reader fill with zeros; our note's version 2 says so). Zero pages we did read become
//!   file holes.
//!
//! # Layout
//! ```text
//! 0        ELF header (written last, with one pwrite)
//! 4096     memory: each PT_LOAD's file bytes, in address order, packed (a segment's zero
//!          tail takes no room), page aligned
//! ...      PT_NOTE: per thread NT_PRSTATUS, NT_FPREGSET, NT_X86_XSTATE, NT_SIGINFO (main
//!          thread first); NT_PRPSINFO, NT_AUXV, NT_FILE, CONFIDUMP/NT_CONFIDUMP_MAPS
//! ...      program headers: PT_NOTE, then the PT_LOADs (e_phoff points here)
//! ...      one section header, only when there are 0xffff or more program headers (PN_XNUM)
//! ```
//! The number of PT_LOADs is only known after the memory was read (unreadable runs split
//! mappings), which is why the tables come after the data.

mod note_set;
mod pipeline;

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::arch::{EHDR_SIZE, EM_X86_64, PHDR_SIZE, PN_XNUM, SHDR_SIZE};
use super::notes::NoteError;
use super::output::{OutputError, OutputFile};
use super::policy::Policy;
use crate::memory::fork_snapshot::ForkSnapshot;
use crate::memory::live::{LiveError, LiveProcess};
use crate::memory::ptrace::{Freeze, PtraceError, ThreadRegisters};
use crate::memory::PAGE_SIZE;
use crate::procfs::pagemap::Pagemap;
use crate::procfs::{self, status, ProcError};
use goblin::elf::program_header::{PT_LOAD, PT_NOTE};

use note_set::{clock_ticks, push_process_notes, push_thread_notes, ProcessInfo};
use pipeline::copy_memory;

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
    /// Stop the threads only for a copy-on-write snapshot (the victim forks once, see
    /// [`crate::memory::fork_snapshot`]), and read most memory from it after they run again.
    pub short_freeze: bool,
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
            short_freeze: false,
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
    /// Mappings with bytes in the core (one mapping may be many PT_LOADs).
    pub regions: usize,
    /// Threads (NT_PRSTATUS notes).
    pub threads: usize,
    /// Ranges whose read failed.
    pub unreadable: Vec<MissingRange>,
    /// Ranges left out by policy.
    pub absent: Vec<MissingRange>,
    /// How long the threads were stopped (ours only).
    pub frozen_for: Option<Duration>,
    /// Most memory was read from a copy-on-write snapshot (`--short-freeze`), not while the
    /// threads were stopped.
    pub from_snapshot: bool,
    /// Wall time of the whole dump.
    pub elapsed: Duration,
}

impl std::fmt::Display for DumpSummary {
    /// `wrote FILE: N bytes of memory in M regions, K threads, U unreadable ranges (...) in T s
    /// (threads stopped F s)`.
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
        write!(f, " in {:.2} s", self.elapsed.as_secs_f64())?;
        // The freeze apart from the total: what the victim felt, not what the dump took.
        if let Some(frozen) = self.frozen_for {
            write!(f, " (threads stopped {:.2} s", frozen.as_secs_f64())?;
            if self.from_snapshot {
                write!(f, "; memory read from a copy-on-write fork")?;
            }
            write!(f, ")")?;
        }
        Ok(())
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
    /// gdb's gcore failed: its exit status and the last line it printed on stderr.
    #[error("gcore: {status} ({last_line})")]
    Gcore {
        /// gdb's exit status.
        status: std::process::ExitStatus,
        /// gdb's last non-empty line on stderr.
        last_line: String,
    },
    /// gdb's core could not be read back.
    #[error("gcore: {0}")]
    GcoreUnreadable(#[source] crate::coredump::reader::CoreError),
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
    let snapshot = if opts.short_freeze {
        ForkSnapshot::take(&freeze)
            .map_err(|e| {
                tracing::warn!("--short-freeze: {e}: the threads stay stopped for the whole copy")
            })
            .ok()
    } else {
        None
    };
    let (copy, frozen_for, from_snapshot) = match snapshot {
        None => {
            let copy = copy_memory(
                &live,
                live.mappings(),
                pagemap.as_ref(),
                file,
                DATA_START,
                opts,
                filter,
                progress,
            )?;
            drop(freeze);
            (copy, frozen_at.elapsed(), false)
        }
        Some(snap) => {
            let (copy, frozen) = copy_from_snapshot(
                freeze,
                frozen_at,
                snap,
                &live,
                pagemap.as_ref(),
                file,
                opts,
                filter,
                progress,
            )?;
            (copy, frozen, true)
        }
    };

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
    // Segments and mappings are both in address order, and no segment spans two mappings.
    let mut with_bytes = copy
        .segments
        .iter()
        .filter(|s| s.filesz > 0)
        .map(|s| s.vaddr)
        .peekable();
    let regions = live
        .mappings()
        .iter()
        .filter(|m| {
            while with_bytes.next_if(|&a| a < m.span.start).is_some() {}
            let mut hit = false;
            while with_bytes.next_if(|&a| a < m.span.end).is_some() {
                hit = true;
            }
            hit
        })
        .count();
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
        from_snapshot,
        elapsed: started.elapsed(),
    })
}

/// The `--short-freeze` copy: what a fork does not snapshot (shared mappings, `MADV_DONTFORK`
/// and `MADV_WIPEONFORK` ranges) is read from the victim while it is still stopped; then the
/// threads run again and the rest is read from the snapshot child. Returns the copy and how
/// long the victim was stopped (both stops: the snapshot's and the child's reaping).
#[allow(clippy::too_many_arguments)]
fn copy_from_snapshot(
    freeze: Freeze,
    frozen_at: Instant,
    snap: ForkSnapshot,
    live: &LiveProcess,
    pagemap: Option<&Pagemap>,
    file: &std::fs::File,
    opts: &DumpOptions,
    filter: u32,
    progress: &mut dyn FnMut(Progress),
) -> Result<(pipeline::MemoryCopy, Duration), DumpError> {
    let pid = freeze.pid();
    let (now, later): (Vec<_>, Vec<_>) = live
        .mappings()
        .iter()
        .cloned()
        .partition(|m| m.shared || m.has_flag("dc") || m.has_flag("wf"));
    let total: u64 = live.mappings().iter().map(|m| m.span.len()).sum();
    let mut first_done = 0u64;
    let mut first = copy_memory(
        live,
        &now,
        pagemap,
        file,
        DATA_START,
        opts,
        filter,
        &mut |p| {
            first_done = p.done;
            progress(Progress {
                done: p.done,
                total,
            });
        },
    )?;
    drop(freeze);
    let mut frozen = frozen_at.elapsed();

    let child = LiveProcess::open(snap.pid(), true)?.read_through_proc_mem();
    let child_pagemap = Pagemap::open(snap.pid()).ok();
    let second = copy_memory(
        &child,
        &later,
        child_pagemap.as_ref(),
        file,
        first.data_end,
        opts,
        filter,
        &mut |p| {
            progress(Progress {
                done: first_done + p.done,
                total,
            })
        },
    )?;
    child.ensure_alive("dump")?;
    match snap.finish(pid) {
        Ok(reap) => frozen += reap,
        Err(e) => tracing::warn!("reaping the snapshot child: {e}"),
    }
    first.segments.extend(second.segments);
    first.segments.sort_by_key(|s| s.vaddr);
    first.unreadable.extend(second.unreadable);
    first.unreadable.sort_by_key(|r| r.start);
    first.absent.extend(second.absent);
    first.absent.sort_by_key(|r| r.start);
    first.data_end = second.data_end;
    Ok((first, frozen))
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

#[cfg(test)]
mod tests {
    use super::*;

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
