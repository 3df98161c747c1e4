//! ELF core files: a streaming writer for live processes and a reader for any x86-64 core.
//!
//! Besides the standard notes, our cores carry one note of our own, [`ConfidumpNote`]: the full
//! `/proc/PID/maps` names (so reports can say `[heap]`, `[stack]`, `/secretmem (deleted)`) and
//! the ranges that could not be read, with their errno, or that were left out on purpose.
//! Readers must not need it: cores from gdb, the kernel and QEMU have none.

pub mod reader;

// Our note's layout lives with the kernel's, in `layout`; its names stay here too.
pub use layout::{
    ConfidumpNote, NoteMapping, NoteRange, CONFIDUMP_NOTE_NAME, NOTE_VERSION, NT_CONFIDUMP_MAPS,
};

/// Parses a `0x...` address as written in our note (and in victims' ready lines).
pub use crate::model::parse_hex_addr;

pub mod arch;
pub mod gcore;
pub mod gdbview;
pub mod layout;
pub mod notes;
pub mod output;
pub mod policy;
pub mod writer;
