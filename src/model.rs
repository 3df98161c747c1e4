//! Plain data shared by every layer: address ranges, scan hits, verdicts and reports.
//!
//! Nothing here does I/O. The JSON shape of [`ScanReport`] is a public contract (scripts and CI
//! jobs parse it), so fields are only ever added, never renamed.

use serde::Serialize;

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
}

fn ser_hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex_addr(*v))
}
