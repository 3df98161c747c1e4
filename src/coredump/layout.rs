//! The byte layouts of a core's notes, known once: the writer ([`super::notes`]) puts each
//! field at these offsets and the reader (`reader/notes.rs`) takes it from there, so the two
//! cannot drift apart (`reader/notes.rs` tests write notes and read them back).
//!
//! The kernel's structures are x86-64's (`include/linux/elfcore.h`, `struct user_regs_struct`),
//! little-endian; our own note is JSON of [`ConfidumpNote`].

use serde::{Deserialize, Serialize};

/// A note's header: `namesz`, `descsz`, `type`, each a `u32`. The name (with its NUL) and the
/// descriptor that follow are each padded to [`NOTE_ALIGN`] bytes, as Linux cores use for ELF64
/// too.
pub const NOTE_HEADER_SIZE: usize = 12;
/// What a note's name and descriptor are padded to.
pub const NOTE_ALIGN: usize = 4;

/// `struct elf_prstatus`: offsets of its fields.
pub mod prstatus {
    /// Size of the whole structure.
    pub const SIZE: usize = 336;
    /// `pr_info.si_signo` (`i32`).
    pub const SI_SIGNO: usize = 0;
    /// `pr_info.si_code` (`i32`).
    pub const SI_CODE: usize = 4;
    /// `pr_info.si_errno` (`i32`).
    pub const SI_ERRNO: usize = 8;
    /// `pr_cursig` (`i16`).
    pub const CURSIG: usize = 12;
    /// `pr_sigpend` (`u64`).
    pub const SIGPEND: usize = 16;
    /// `pr_sighold` (`u64`).
    pub const SIGHOLD: usize = 24;
    /// `pr_pid`, the thread's ID (`i32`).
    pub const PID: usize = 32;
    /// `pr_ppid` (`i32`).
    pub const PPID: usize = 36;
    /// `pr_pgrp` (`i32`).
    pub const PGRP: usize = 40;
    /// `pr_sid` (`i32`).
    pub const SID: usize = 44;
    /// `pr_utime`, then `pr_stime`, `pr_cutime`, `pr_cstime`: four `struct timeval`s, each
    /// seconds then microseconds (`i64`, `i64`).
    pub const TIMES: usize = 48;
    /// Size of one `struct timeval`.
    pub const TIMEVAL_SIZE: usize = 16;
    /// `pr_reg`: the `user_regs_struct` ([`super::user_regs`]), `u64` each.
    pub const REG: usize = 112;
    /// `pr_fpvalid` (`i32`): 1 when an NT_FPREGSET follows.
    pub const FPVALID: usize = 328;
}

/// `struct user_regs_struct`: indices of the 64-bit registers in `pr_reg`.
pub mod user_regs {
    /// How many there are (r15, r14, ..., orig_rax, rip, cs, eflags, rsp, ss, ..., gs).
    pub const COUNT: usize = crate::memory::ptrace::GP_REG_COUNT;
    /// `r15`, the first.
    pub const R15: usize = 0;
    /// `rip`.
    pub const RIP: usize = 16;
    /// `rsp`.
    pub const RSP: usize = 19;
}

/// `struct elf_prpsinfo`: offsets of its fields.
pub mod prpsinfo {
    /// Size of the whole structure.
    pub const SIZE: usize = 136;
    /// `pr_state`, `pr_sname`, `pr_zomb`, `pr_nice`: one byte each, from here.
    pub const STATE: usize = 0;
    /// `pr_nice` (`i8`).
    pub const NICE: usize = 3;
    /// `pr_flag` (`u64`).
    pub const FLAG: usize = 8;
    /// `pr_uid` (`u32`).
    pub const UID: usize = 16;
    /// `pr_gid` (`u32`).
    pub const GID: usize = 20;
    /// `pr_pid` (`i32`).
    pub const PID: usize = 24;
    /// `pr_ppid` (`i32`).
    pub const PPID: usize = 28;
    /// `pr_pgrp` (`i32`).
    pub const PGRP: usize = 32;
    /// `pr_sid` (`i32`).
    pub const SID: usize = 36;
    /// `pr_fname`: the command name, NUL-padded.
    pub const FNAME: usize = 40;
    /// Length of `pr_fname` (its last byte stays NUL).
    pub const FNAME_LEN: usize = 16;
    /// `pr_psargs`: the command line, NUL-padded.
    pub const PSARGS: usize = 56;
    /// Length of `pr_psargs` (its last byte stays NUL).
    pub const PSARGS_LEN: usize = 80;
}

/// `NT_FILE`'s descriptor: a header (count, page size: `u64` each), `count` entries (start, end,
/// offset in the file in pages: `u64` each), then `count` NUL-terminated paths.
pub mod nt_file {
    /// Size of the header.
    pub const HEADER_SIZE: usize = 16;
    /// Offset of the page size in the header.
    pub const PAGE_SIZE: usize = 8;
    /// Size of one entry.
    pub const ENTRY_SIZE: usize = 24;
}

/// Owner name of our own note.
pub const CONFIDUMP_NOTE_NAME: &str = "CONFIDUMP";
/// Type of our own note ('CMAP'); its descriptor is UTF-8 JSON of [`ConfidumpNote`].
pub const NT_CONFIDUMP_MAPS: u32 = 0x434d_4150;

/// The version our cores carry. Version 2: a PT_LOAD's bytes past its `p_filesz` that none of
/// the note's ranges covers are never-touched pages, zeros (version 1 wrote those as holes
/// inside `p_filesz`, so such a tail only ever held refused or left-out ranges).
pub const NOTE_VERSION: u32 = 2;

/// The descriptor of our own note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfidumpNote {
    /// Format version, [`NOTE_VERSION`] when we write it.
    pub version: u32,
    /// PID of the dumped process.
    pub pid: i32,
    /// `confidump 0.1.0`.
    pub tool: String,
    /// `attacker` (every mapping, `dd` included) or `like-gcore`.
    pub policy: String,
    /// Every mapping of the process, in address order.
    pub mappings: Vec<NoteMapping>,
    /// Ranges whose read failed.
    pub unreadable: Vec<NoteRange>,
    /// Ranges left out on purpose (never read).
    pub absent: Vec<NoteRange>,
}

/// One mapping, as in `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteMapping {
    /// `0x...` start address.
    pub start: String,
    /// `0x...` end address (exclusive).
    pub end: String,
    /// `rw-p` style.
    pub perms: String,
    /// `0x...` offset in the file.
    pub offset: String,
    /// Path or pseudo-name; empty for anonymous memory.
    pub name: String,
    /// smaps VmFlags (`rd`, `dd`, ...).
    #[serde(default)]
    pub flags: Vec<String>,
}

/// A range with a reason (unreadable or absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRange {
    /// `0x...` start address.
    pub start: String,
    /// `0x...` end address (exclusive).
    pub end: String,
    /// errno of the failed read, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// A sentence: `EIO (5): Input/output error`, `MADV_DONTDUMP (dd): gcore leaves it out`.
    pub reason: String,
}
