//! The demo matrix: plain data shared by the runner and the renderers. A [`Cell`] per
//! scenario and attack path, what it gave ([`Outcome`]), and the [`MatrixReport`] CI dashboards
//! read.

use serde::{Deserialize, Serialize};

use super::{AttackKind, DetectorKind, HexWindow, Texts};
use crate::i18n::Lang;

/// What one attack along one path gave, or was expected to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// The secret (whole, or fragments where the scenario says so) was found.
    #[serde(rename = "leak")]
    Leak,
    /// The attacker tried to read the secret's region and was refused: `????`.
    #[serde(rename = "unreadable")]
    Unreadable,
    /// The tool left the region out without trying (gcore and MADV_DONTDUMP): proves nothing.
    #[serde(rename = "absent")]
    Absent,
    /// The region was read and the secret was not in it (a scanner or victim bug if seen).
    #[serde(rename = "not-found")]
    NotFound,
    /// The attack cannot run here; `reason` says why.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// The attack failed for another reason; `reason` says what.
    #[serde(rename = "error")]
    Error,
}

impl Outcome {
    /// The JSON / table spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Leak => "leak",
            Outcome::Unreadable => "unreadable",
            Outcome::Absent => "absent",
            Outcome::NotFound => "not-found",
            Outcome::NotApplicable => "n/a",
            Outcome::Error => "error",
        }
    }
}

/// One cell of the matrix: one scenario attacked along one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Scenario name (`plain`, `secretmem`, `argv`, ...).
    pub scenario: String,
    /// Attack path (`dump`, `gcore`, `kernel`, `live`, `same-uid`, ...).
    pub attack: AttackKind,
    /// What the scenario (or the platform's expectation file) claims for this path, whether
    /// or not it could run here: `n/a` only when the path does not apply to the scenario.
    pub expected: Outcome,
    /// What happened.
    pub observed: Outcome,
    /// False when the path applies but could not run on this host (a missing device, tool or
    /// kernel feature): `observed` is then `n/a` and `reason` says what was missing. A result
    /// of schema 1 has no such field: read as true (its cells said `expected: n/a` instead).
    #[serde(default = "yes")]
    pub runnable: bool,
    /// Where a leak sits (`[heap]`, `[stack]`, `[heap], [stack]`), or the refused/left-out
    /// mapping; empty when nothing applies.
    #[serde(rename = "where")]
    pub where_: String,
    /// Why: the errno of a refused read, why a tool left a region out, why n/a, an error.
    pub reason: String,
    /// The command an attacker would type for this path.
    pub command: String,
    /// Wall time of the attack, in milliseconds.
    pub millis: u64,
    /// Number of hits (whole secret or fragments).
    pub hits: usize,
    /// True when only fragments of the secret were found, never the whole of it.
    pub fragments_only: bool,
    /// Detector findings in what this attack read (secrets found without being told them).
    #[serde(default)]
    pub detections: usize,
    /// The same findings by kind (`card-number`: 1, `canary`: 2).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub detected: std::collections::BTreeMap<DetectorKind, usize>,
    /// What the attacker saw, for the HTML report and presenter.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub view: Option<HexWindow>,
    /// The run required this cell's capability (`demo --require`, `--platform`) and the cell
    /// could not run: a failure, whatever the expectation says. Not in the JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

impl Cell {
    /// True when the observation is the expected one, or the cell could not run here (a
    /// required cell that could not run never is): see [`met`].
    pub fn met(&self) -> bool {
        met(self.expected, self.observed, self.runnable, self.required)
    }
}

/// Whether a cell met its expectation: it observed what was claimed, or it could not run
/// here and said so (`n/a`, not runnable) — unless the run required it. One rule for a local
/// result and a node's result read back.
pub fn met(expected: Outcome, observed: Outcome, runnable: bool, required: bool) -> bool {
    !required && (expected == observed || (!runnable && observed == Outcome::NotApplicable))
}

fn yes() -> bool {
    true
}

/// Number of cells whose observation differs from the expectation.
pub fn count_mismatches(cells: &[Cell]) -> usize {
    cells.iter().filter(|c| !c.met()).count()
}

/// A scenario as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Short name (`plain`, `secretmem`, `argv`).
    pub name: String,
    /// One-line title.
    pub title: Texts,
    /// Where the victim holds its secret, in words.
    pub holds: Texts,
    /// The one-line lesson.
    pub lesson: Texts,
    /// When set: this protection stands in for another (memfd_secret for an enclave).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stand_in_for: Option<Texts>,
    /// Why the whole row cannot run here, when it cannot (`needs SGX: not on this host`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unavailable: Option<String>,
    /// When the row cannot run here: the capabilities it lacks, by `confidump doctor`'s names
    /// (`sgx`, `sev-snp-host`), so that a summary can say in a word what is missing.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub needs: Vec<String>,
}

/// Facts about the machine the matrix ran on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// `uname -r`.
    pub kernel: String,
    /// Hostname.
    pub hostname: String,
    /// Effective uid of the attacker.
    pub uid: u32,
    /// memfd_secret usable.
    pub memfd_secret: bool,
    /// gdb's gcore found.
    pub gcore: bool,
    /// `/proc/sys/kernel/core_pattern`.
    pub core_pattern: String,
    /// confidump version.
    pub confidump: String,
    /// Firmware: BIOS/UEFI version and date, microcode revision (empty when the host tells
    /// neither). `report --baseline` prints it when it changed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub firmware: String,
    /// QEMU's version (empty without QEMU). `report --baseline` prints it when it changed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub qemu: String,
}

/// The whole matrix run: the JSON that CI dashboards read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixReport {
    /// The version of this JSON shape ([`MATRIX_SCHEMA`]); a file without one is schema 1.
    #[serde(default = "schema_1")]
    pub schema: u32,
    /// The machine.
    pub host: HostInfo,
    /// Language of the texts (`en`, `ja`).
    pub lang: Lang,
    /// Scenarios, in the order run.
    pub scenarios: Vec<ScenarioInfo>,
    /// Attack paths (columns), in order.
    pub attacks: Vec<AttackKind>,
    /// Every cell, scenario by scenario.
    pub cells: Vec<Cell>,
    /// Cells whose observation differs from the expectation.
    pub mismatches: usize,
    /// Wall time of the whole run, in milliseconds.
    pub millis: u64,
}

/// The version of the demo's JSON result. 2: each cell keeps the scenario's claim in
/// `expected` and says in `runnable` whether it could run here (schema 1 wrote `expected: n/a`
/// for a cell the host could not run; such files are still read, as runnable cells).
pub const MATRIX_SCHEMA: u32 = 2;

fn schema_1() -> u32 {
    1
}

impl MatrixReport {
    /// The report of `cells` (scenario by scenario, as run): every attack path is a column,
    /// and the mismatches are counted here, once.
    pub fn new(
        host: HostInfo,
        lang: Lang,
        scenarios: Vec<ScenarioInfo>,
        cells: Vec<Cell>,
        millis: u64,
    ) -> Self {
        let mismatches = count_mismatches(&cells);
        Self {
            schema: MATRIX_SCHEMA,
            host,
            lang,
            scenarios,
            attacks: AttackKind::ALL.to_vec(),
            cells,
            mismatches,
            millis,
        }
    }
}
