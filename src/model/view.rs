//! A captured hex view: its rows, and why a byte of it is missing.

use serde::{Deserialize, Serialize};

use super::addr::{de_hex, ser_hex};
use super::Span;

/// One row of a hex view, already read: `None` bytes could not be read (`??`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexRow {
    /// Address of the first byte.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub addr: u64,
    /// The bytes; `None` = unreadable or absent, or redacted when highlighted (see
    /// [`HexRow::is_redacted`]).
    pub bytes: Vec<Option<u8>>,
    /// Same length as `bytes`: true for bytes of a hit.
    pub highlight: Vec<bool>,
    /// Why a missing (`None`) byte is missing. Same length as `bytes`, or empty when no byte
    /// of the row is absent: true for a byte that is not in what the attacker got (the tool
    /// left it out without reading it, or no region covers it), drawn `--`, which proves
    /// nothing; a missing byte not marked here was refused by a real mechanism, drawn `??`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<bool>,
    /// For terminal views (`show`, `attack`): the region the view enters at this row and why
    /// bytes are missing. Not in the JSON: reports title the whole window instead.
    #[serde(skip)]
    pub note: String,
    /// For terminal views: no region of the source covers this row at all (drawn as one
    /// "not in any region" line per run of such rows). Not in the JSON.
    #[serde(skip)]
    pub unmapped: bool,
}

impl HexRow {
    /// Why byte `i` is missing: `None` when it was read (or is out of range).
    /// A redacted byte ([`HexRow::is_redacted`]) is not a gap: its value was read, then removed.
    pub fn gap(&self, i: usize) -> Option<Gap> {
        if self.is_redacted(i) {
            return None;
        }
        match self.bytes.get(i) {
            Some(None) if self.absent.get(i).copied().unwrap_or(false) => Some(Gap::Absent),
            Some(None) => Some(Gap::Refused),
            _ => None,
        }
    }

    /// Byte `i` is a byte of the secret taken out by `--redact` (`crate::redact`): a hit
    /// (highlighted) whose value is gone. A real read never yields that pair — a hit is bytes
    /// that were read — so it needs no field of its own; in the JSON it is a `null` byte whose
    /// `highlight` is `true`.
    pub fn is_redacted(&self, i: usize) -> bool {
        matches!(
            (self.bytes.get(i), self.highlight.get(i)),
            (Some(None), Some(true))
        )
    }
}

/// Why a byte of a hex view is missing: the two must never look alike, since one is a real
/// protection and the other proves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// A read was refused (the kernel or the CPU said no): `??`.
    Refused,
    /// Not in what the attacker got: a tool left it out without reading it, or no region
    /// covers it: `--`.
    Absent,
}

/// A captured hex view (`memory::window::capture`), so renderers never touch a memory source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexWindow {
    /// What it shows (`[heap] at 0x...`, `/secretmem (deleted): read refused`).
    pub title: String,
    /// Rows, in address order.
    pub rows: Vec<HexRow>,
    /// The bytes asked for (rows are whole; the ends of this span may fall inside a row).
    /// Not in the JSON.
    #[serde(skip)]
    pub span: Span,
}
