//! Plain data shared by every layer: address ranges, scan hits, verdicts and reports.
//!
//! Nothing here does I/O. The JSON shape of [`ScanReport`] is a public contract (scripts and CI
//! jobs parse it), so fields are only ever added, never renamed.
//!
//! One file per concern, everything re-exported here (`crate::model::X`): `addr.rs` ([`Span`]
//! and how addresses are written), `scan.rs` (what a scan finds: [`ScanReport`], [`ChildScan`]),
//! `kinds.rs` ([`AttackKind`], [`VictimMode`], [`CvmProfile`], a container's [`Runtime`], a
//! guest's [`Wire`]), `matrix.rs` (the demo matrix: [`Cell`], [`MatrixReport`]), `view.rs` (a
//! captured hex view: [`HexWindow`]) and `texts.rs` ([`Texts`]).

mod addr;
mod kinds;
mod matrix;
mod scan;
mod texts;
mod view;

pub use addr::{hex_addr, parse_hex_addr, Span};
pub use kinds::{
    AttackKind, CvmProfile, PodAttacker, Runtime, VictimMode, Wire, WireError, CAP_SYS_PTRACE,
    RUNTIME_DEFAULT_CAPS,
};
pub use matrix::{
    count_mismatches, met, Cell, HostInfo, MatrixReport, Outcome, ScenarioInfo, MATRIX_SCHEMA,
};
pub use scan::{
    is_kernel_special, Absent, ChildScan, Detection, DetectorKind, Encoding, Hit, PublicConstant,
    ScanReport, Unreadable, Verdict,
};
pub use texts::Texts;
pub use view::{Gap, HexRow, HexWindow};
