//! Plain data shared by every layer: address ranges, scan hits, verdicts and reports.
//!
//! Nothing here does I/O. The JSON shape of [`ScanReport`] is a public contract (scripts and CI
//! jobs parse it), so fields are only ever added, never renamed.

use serde::{Deserialize, Serialize};

/// A half-open range of addresses `[start, end)` in the source's address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
}

impl Span {
    /// A span; `end` is clamped so that it is never below `start`.
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            start,
            end: end.max(start),
        }
    }
    /// Number of bytes covered.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    /// True when the span covers nothing.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    /// True when `addr` lies inside the span.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }
}

/// Formats an address the way every report shows it: `0x` and lowercase hex.
pub fn hex_addr(addr: u64) -> String {
    format!("{addr:#x}")
}

/// Parses an address as [`hex_addr`] writes it: `0x` (or `0X`) and hex digits.
pub fn parse_hex_addr(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u64::from_str_radix(digits, 16).ok()
}

/// How a needle was encoded where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The bytes as given.
    Raw,
    /// UTF-16 little endian (each byte followed by a zero for ASCII), as Windows and Java hold text.
    Utf16le,
    /// Hexadecimal text, either case.
    Hex,
    /// Standard base64 text, at any of the three alignments.
    Base64,
}

impl Encoding {
    /// The name used in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Utf16le => "utf16le",
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        }
    }
}

/// One place where a needle (or a hash-confirmed shape) was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// 0-based index of the needle, in the order the needles were given.
    pub needle: usize,
    /// How the needle was encoded at this place.
    pub encoding: Encoding,
    /// Address of the first byte of the match, in the source's address space.
    #[serde(serialize_with = "ser_hex")]
    pub vaddr: u64,
    /// Length of the match in bytes.
    #[serde(skip)]
    pub len: u64,
    /// Name of the mapping it sits in (`[heap]`, `[stack]`, `/usr/lib/...`, `[anon]`).
    pub mapping: String,
    /// Byte offset of the match in the source: the file offset for a core file, the
    /// `/proc/PID/mem` offset (equal to the address) for a live process.
    pub offset: u64,
}

/// A range the attacker tried to read and could not: the `????` of an enclave dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// First address.
    #[serde(serialize_with = "ser_hex")]
    pub start: u64,
    /// One past the last address.
    #[serde(serialize_with = "ser_hex")]
    pub end: u64,
    /// Why: the errno of the failed read and what it means (`EIO: ...`).
    pub reason: String,
    /// Name of the mapping (`/secretmem (deleted)`, `[vvar]`), when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mapping: String,
}

/// A range the dump left out on purpose (gcore's `dd` rule, coredump_filter): it was never
/// read, so its absence proves nothing about protection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Absent {
    /// First address.
    #[serde(serialize_with = "ser_hex")]
    pub start: u64,
    /// One past the last address.
    #[serde(serialize_with = "ser_hex")]
    pub end: u64,
    /// Why the tool left it out.
    pub reason: String,
    /// Name of the mapping, when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mapping: String,
}

/// The outcome of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// At least one needle or confirmed secret was found.
    Leak,
    /// Nothing was found in what could be read.
    NoLeak,
}

impl Verdict {
    /// The name used in reports and in `--expect`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::NoLeak => "no-leak",
        }
    }
}

/// Everything a scan found, in the JSON shape scripts rely on.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// What was scanned (`core file PATH (confidump)`, `pid N (live)`).
    pub source: String,
    /// Bytes actually read and searched.
    pub bytes_scanned: u64,
    /// Number of memory regions in the source.
    pub regions: usize,
    /// Leak when there is at least one hit.
    pub verdict: Verdict,
    /// Every match, in address order.
    pub hits: Vec<Hit>,
    /// Ranges that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// Ranges the dump left out without trying to read them.
    pub absent: Vec<Absent>,
    /// Secrets found without being told them (`scan --detect`): card numbers, keys, tokens.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub detections: Vec<Detection>,
    /// Needle matches that are public constants: the bytes of the file they sit in, unchanged
    /// (see [`PublicConstant`]). Kept apart from `hits`; never a leak.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub public_hits: Vec<PublicConstant<Hit>>,
    /// Detections that are public constants (GnuTLS's self-test keys in `libgnutls.so`). Kept
    /// apart from `detections`; never a leak and never counted as one.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub public_detections: Vec<PublicConstant<Detection>>,
}

/// A finding inside a file-backed mapping whose bytes equal a world-readable file on disk at
/// that offset: the file itself holds them, so finding them in memory gives nothing away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicConstant<T> {
    /// The finding, as it would have been reported.
    #[serde(flatten)]
    pub finding: T,
    /// The file that holds the same bytes.
    pub file: String,
    /// Where in that file.
    pub file_offset: u64,
}

/// What kind of secret a detector recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorKind {
    /// A Luhn-valid payment card number (13-19 digits, optional separators).
    CardNumber,
    /// A PEM private-key block.
    PemPrivateKey,
    /// A JSON Web Token.
    Jwt,
    /// An AWS access key id (AKIA.../ASIA...).
    AwsAccessKeyId,
    /// A confidump canary (`CONFIDUMP-` + 24 hex digits).
    Canary,
}

impl DetectorKind {
    /// Name used in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            DetectorKind::CardNumber => "card-number",
            DetectorKind::PemPrivateKey => "pem-private-key",
            DetectorKind::Jwt => "jwt",
            DetectorKind::AwsAccessKeyId => "aws-access-key-id",
            DetectorKind::Canary => "canary",
        }
    }
}

/// A secret found by a detector, without being told it. The matched bytes are not stored
/// here (reports would spread them); `preview` is redacted: e.g. `4111 **** **** 1111`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// What was found.
    pub kind: DetectorKind,
    /// Address of its first byte.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub vaddr: u64,
    /// Length in bytes.
    pub len: u64,
    /// Mapping it sits in.
    pub mapping: String,
    /// Offset in the source (as for [`Hit::offset`]).
    pub offset: u64,
    /// Redacted preview.
    pub preview: String,
}

// ----- The demo matrix: plain data shared by the runner and the renderers. -----

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

/// One row of a hex view, already read: `None` bytes could not be read (`??`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexRow {
    /// Address of the first byte.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub addr: u64,
    /// The bytes; `None` = unreadable or absent.
    pub bytes: Vec<Option<u8>>,
    /// Same length as `bytes`: true for bytes of a hit.
    pub highlight: Vec<bool>,
}

/// A captured hex view, so renderers (HTML, presenter) never touch a memory source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexWindow {
    /// What it shows (`[heap] at 0x...`, `/secretmem (deleted): read refused`).
    pub title: String,
    /// Rows, in address order.
    pub rows: Vec<HexRow>,
}

/// One cell of the matrix: one scenario attacked along one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Scenario name (`plain`, `secretmem`, `argv`, ...).
    pub scenario: String,
    /// Attack path (`dump`, `gcore`, `kernel`, `live`, `same-uid`, ...).
    pub attack: String,
    /// What the scenario file says should happen.
    pub expected: Outcome,
    /// What happened.
    pub observed: Outcome,
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
}

impl Cell {
    /// True when the observation is the expected one.
    pub fn met(&self) -> bool {
        self.expected == self.observed
    }
}

/// Number of cells whose observation differs from the expectation.
pub fn count_mismatches(cells: &[Cell]) -> usize {
    cells.iter().filter(|c| !c.met()).count()
}

/// Text in the languages the demo speaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Texts {
    /// English.
    pub en: String,
    /// Japanese.
    #[serde(default)]
    pub ja: String,
}

impl Texts {
    /// The text in `lang` (`en` or `ja`), falling back to English.
    pub fn get(&self, lang: &str) -> &str {
        if lang == "ja" && !self.ja.is_empty() {
            &self.ja
        } else {
            &self.en
        }
    }
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
    pub stand_in_for: Option<String>,
    /// Why the whole row cannot run here, when it cannot (`needs SGX: not on this host`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unavailable: Option<String>,
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
}

/// The whole matrix run: the JSON that CI dashboards read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixReport {
    /// The machine.
    pub host: HostInfo,
    /// Language of the texts (`en`, `ja`).
    pub lang: String,
    /// Scenarios, in the order run.
    pub scenarios: Vec<ScenarioInfo>,
    /// Attack paths (columns), in order.
    pub attacks: Vec<String>,
    /// Every cell, scenario by scenario.
    pub cells: Vec<Cell>,
    /// Cells whose observation differs from the expectation.
    pub mismatches: usize,
    /// Wall time of the whole run, in milliseconds.
    pub millis: u64,
}

fn ser_hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex_addr(*v))
}

fn de_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    // As written by `ser_hex`: lowercase `0x` only.
    s.starts_with("0x")
        .then(|| parse_hex_addr(&s))
        .flatten()
        .ok_or_else(|| serde::de::Error::custom(format!("bad address {s:?}")))
}
