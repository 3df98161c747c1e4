//! ELF core files: a streaming writer for live processes and a reader for any x86-64 core.
//!
//! Besides the standard notes, our cores carry one note of our own, [`ConfidumpNote`]: the full
//! `/proc/PID/maps` names (so reports can say `[heap]`, `[stack]`, `/secretmem (deleted)`) and
//! the ranges that could not be read, with their errno, or that were left out on purpose.
//! Readers must not need it: cores from gdb, the kernel and QEMU have none.

pub mod reader;

use serde::{Deserialize, Serialize};

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

/// Parses a `0x...` address as written in our note (and in victims' ready lines).
pub use crate::model::parse_hex_addr;

pub mod arch;
pub mod gcore;
pub mod gdbview;
pub mod notes;
pub mod output;
pub mod policy;
pub mod writer;
