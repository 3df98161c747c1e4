//! What a scan finds: hits, unreadable and absent ranges, detections, public constants, the
//! verdict, and the [`ScanReport`] that holds them (a public JSON contract), as well as what a
//! scan run in a child process tells its parent ([`ChildScan`]).

use serde::{Deserialize, Serialize};

use super::addr::{de_hex, ser_hex};

/// How a needle was encoded where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// 0-based index of the needle, in the order the needles were given.
    pub needle: usize,
    /// How the needle was encoded at this place.
    pub encoding: Encoding,
    /// Address of the first byte of the match, in the source's address space.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub vaddr: u64,
    /// Length of the match in bytes (not in the JSON: 0 when read back).
    #[serde(skip)]
    pub len: u64,
    /// Name of the mapping it sits in (`[heap]`, `[stack]`, `/usr/lib/...`, `[anon]`).
    pub mapping: String,
    /// Byte offset of the match in the source: the file offset for a core file, the
    /// `/proc/PID/mem` offset (equal to the address) for a live process.
    pub offset: u64,
}

/// A range the attacker tried to read and could not: the `????` of an enclave dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    /// First address.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub start: u64,
    /// One past the last address.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub end: u64,
    /// Why: the errno of the failed read and what it means (`EIO: ...`).
    pub reason: String,
    /// Name of the mapping (`/secretmem (deleted)`, `[vvar]`), when known.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub mapping: String,
}

/// A range the dump left out on purpose (gcore's `dd` rule, coredump_filter): it was never
/// read, so its absence proves nothing about protection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absent {
    /// First address.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub start: u64,
    /// One past the last address.
    #[serde(serialize_with = "ser_hex", deserialize_with = "de_hex")]
    pub end: u64,
    /// Why the tool left it out.
    pub reason: String,
    /// Name of the mapping, when known.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub mapping: String,
}

/// The outcome of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Everything a scan found, in the JSON shape scripts rely on. It reads back from that JSON
/// too (the same-uid attacker is a child `confidump scan --format json` whose report the runner
/// reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanReport {
    /// What was scanned (`core file PATH (confidump)`, `pid N (live)`).
    pub source: String,
    /// Bytes actually read and searched.
    pub bytes_scanned: u64,
    /// Bytes of a live process's private anonymous memory that it never populated (per
    /// `/proc/PID/pagemap`): they read as zeros, so they were not read, and no needle or
    /// detector can match zeros alone.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub bytes_unpopulated: u64,
    /// Number of memory regions in the source.
    pub regions: usize,
    /// Leak when there is at least one hit.
    pub verdict: Verdict,
    /// Every match, in address order, up to `scan::MAX_FINDINGS` (a 1-byte needle can match
    /// billions of times; listing them all would take gigabytes).
    pub hits: Vec<Hit>,
    /// Matches found beyond that cap: counted, not listed.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub hits_more: u64,
    /// Ranges that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// Ranges the dump left out without trying to read them.
    pub absent: Vec<Absent>,
    /// Secrets found without being told them (`scan --detect`): card numbers, keys, tokens.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub detections: Vec<Detection>,
    /// Detections found beyond the same cap: counted, not listed.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub detections_more: u64,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicConstant<T> {
    /// The finding, as it would have been reported.
    #[serde(flatten)]
    pub finding: T,
    /// The file that holds the same bytes.
    pub file: String,
    /// Where in that file.
    pub file_offset: u64,
    /// The bytes (with their surroundings) are a copy of the program's own file made elsewhere
    /// in memory — help text a parser copied to the heap — rather than the file's mapping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub copy: bool,
}

/// serde's `skip_serializing_if` for counts that are usually zero.
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl ScanReport {
    /// The unreadable ranges that mean something: all but kernel-owned pages no process can
    /// read back (see [`is_kernel_special`]).
    pub fn refused(&self) -> Vec<&Unreadable> {
        self.unreadable
            .iter()
            .filter(|u| !is_kernel_special(&u.mapping))
            .collect()
    }
}

/// Kernel-owned pages that no process can read back: always unreadable, never a protection.
pub fn is_kernel_special(mapping: &str) -> bool {
    matches!(
        mapping,
        "[vvar]" | "[vsyscall]" | "[vvar_vclock]" | "[vdso]"
    )
}

/// What a scan run in a child process (the demo's same-uid attacker, as the victim's user)
/// tells its parent, as one JSON object: the scan report, or why the process could not be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChildScan {
    /// The process was read: what the scan found.
    Report(ScanReport),
    /// The kernel refused to let this user open the process at all (EACCES, EPERM).
    Refused {
        /// The errno of the refused open.
        errno: i32,
        /// What was refused, as a sentence.
        reason: String,
    },
    /// Anything else went wrong (no such process, a parse error): not a verdict.
    Failed {
        /// What failed.
        reason: String,
    },
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
