//! Plain data shared by every layer: address ranges, scan hits, verdicts and reports.
//!
//! Nothing here does I/O. The JSON shape of [`ScanReport`] is a public contract (scripts and CI
//! jobs parse it), so fields are only ever added, never renamed.

use serde::{Deserialize, Serialize};

/// A half-open range of addresses `[start, end)` in the source's address space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

// ----- The demo matrix: plain data shared by the runner and the renderers. -----

/// An attack path: one column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AttackKind {
    /// confidump's own dump (every mapping, `dd` ones included), then a scan of the core.
    #[serde(rename = "dump")]
    Dump,
    /// gdb's `gcore` with its defaults, then a scan of the core.
    #[serde(rename = "gcore")]
    Gcore,
    /// The kernel's core dump (SIGQUIT, RLIMIT_CORE raised), then a scan of the core.
    #[serde(rename = "kernel")]
    Kernel,
    /// A live read of the process (`process_vm_readv`, `/proc/PID/mem`).
    #[serde(rename = "live")]
    Live,
    /// The hypervisor's own dump of a VM guest's memory (QMP `dump-guest-memory`), the tool a
    /// cloud operator has (`virsh dump --memory-only`); only for a victim inside a VM.
    #[serde(rename = "qmp")]
    Qmp,
    /// A live read by an attacker with the victim's uid, not root.
    #[serde(rename = "same-uid")]
    SameUid,
    /// What the victim sent out on a channel the host reads (a VM guest's serial console), as
    /// the host received it: memory encryption never covers it.
    #[serde(rename = "wire")]
    Wire,
    /// A checkpoint of the victim's container by CRIU (`runc checkpoint`, the kubelet's
    /// checkpoint API), which writes every page to disk; only for a victim in an OCI container.
    #[serde(rename = "checkpoint")]
    Checkpoint,
    /// A scan of a database server's data directory after a `CHECKPOINT`: what a stolen disk
    /// or backup gives away; only for a victim in the service context.
    #[serde(rename = "disk")]
    Disk,
    /// Root's dump and live read of a service's client process (the application that holds
    /// the key in the client-encrypted store); only for a victim in the service context.
    #[serde(rename = "client")]
    Client,
}

impl AttackKind {
    /// Every path, in column order.
    pub const ALL: [AttackKind; 10] = [
        AttackKind::Dump,
        AttackKind::Gcore,
        AttackKind::Kernel,
        AttackKind::Live,
        AttackKind::Qmp,
        AttackKind::Wire,
        AttackKind::SameUid,
        AttackKind::Checkpoint,
        AttackKind::Disk,
        AttackKind::Client,
    ];

    /// The column name in tables, JSON and scenario files.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttackKind::Dump => "dump",
            AttackKind::Gcore => "gcore",
            AttackKind::Kernel => "kernel",
            AttackKind::Live => "live",
            AttackKind::Qmp => "qmp",
            AttackKind::SameUid => "same-uid",
            AttackKind::Wire => "wire",
            AttackKind::Checkpoint => "checkpoint",
            AttackKind::Disk => "disk",
            AttackKind::Client => "client",
        }
    }
}

impl std::fmt::Display for AttackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AttackKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttackKind::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown attack path {s:?}"))
    }
}

impl PartialEq<str> for AttackKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AttackKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A victim mode: where the victim stores its secret and where it processes it. The one list
/// of modes: scenario files (`mode = "..."`), `victim --mode`, the guest's init and the VM
/// options all use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VictimMode {
    /// Heap secret, processed on ordinary stacks: everything leaks.
    Plain,
    /// `MADV_DONTDUMP` + `mlock` mapping (+ `PR_SET_DUMPABLE=0`), processed on a stack inside it.
    DontDump,
    /// `memfd_secret` mapping, processed on a stack inside it.
    SecretMem,
    /// Pitfall: `memfd_secret` mapping, but processed on the ordinary stack and heap, so
    /// fragments of the secret leak while the region itself reads as `????`.
    Residue,
    /// Pitfall: ordinary heap, `PR_SET_DUMPABLE=0` only: a same-uid attacker is refused,
    /// root is not.
    Undumpable,
    /// An SGX enclave (`victim --context sgx`), built and loaded by [`crate::sgx`].
    Sgx,
    /// Pitfall: an enclave laid out the way SDK simulation modes do, in ordinary memory.
    #[serde(rename = "sgx-sim")]
    SgxSim,
}

impl VictimMode {
    /// Every mode this build can start as a process (`victim --mode`), in help order.
    pub const RUNNABLE: [VictimMode; 6] = [
        VictimMode::Plain,
        VictimMode::DontDump,
        VictimMode::SecretMem,
        VictimMode::Residue,
        VictimMode::Undumpable,
        VictimMode::SgxSim,
    ];

    /// The name on the command line, in scenario files and in the ready line.
    pub fn as_str(&self) -> &'static str {
        match self {
            VictimMode::Plain => "plain",
            VictimMode::DontDump => "dontdump",
            VictimMode::SecretMem => "secretmem",
            VictimMode::Residue => "residue",
            VictimMode::Undumpable => "undumpable",
            VictimMode::Sgx => "sgx",
            VictimMode::SgxSim => "sgx-sim",
        }
    }

    /// The `victim --mode` value, or None when confidump has no such victim.
    pub fn victim_arg(&self) -> Option<&'static str> {
        Self::RUNNABLE.contains(self).then(|| self.as_str())
    }

    /// What the mode does, in one line (`victim --help`).
    pub fn help(&self) -> &'static str {
        match self {
            VictimMode::Plain => "Ordinary heap, ordinary stack: any dump or live read finds it",
            VictimMode::DontDump => "MADV_DONTDUMP + mlock + non-dumpable, processed inside: dumps skip it, live reads do not",
            VictimMode::SecretMem => "memfd_secret, processed inside: the kernel refuses every read of it",
            VictimMode::Residue => "Pitfall: memfd_secret storage but processed on the ordinary stack/heap: fragments leak",
            VictimMode::Undumpable => "Pitfall: ordinary heap + PR_SET_DUMPABLE=0: stops a same-uid attacker, not root",
            VictimMode::Sgx => "An SGX enclave (victim --context sgx --mode plain)",
            VictimMode::SgxSim => "Pitfall: how SDK simulation mode lays out an enclave: ordinary memory",
        }
    }
}

impl std::str::FromStr for VictimMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [VictimMode::Sgx]
            .into_iter()
            .chain(VictimMode::RUNNABLE)
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown victim mode {s:?}"))
    }
}

/// A confidential-VM technology: the one list used by scenario files (`cvm = "..."`),
/// `victim --cvm` and the VM launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CvmProfile {
    /// AMD SEV-SNP.
    #[serde(rename = "sev-snp")]
    SevSnp,
    /// Intel TDX.
    #[serde(rename = "tdx")]
    Tdx,
}

impl CvmProfile {
    /// Both, in help order.
    pub const ALL: [CvmProfile; 2] = [CvmProfile::SevSnp, CvmProfile::Tdx];

    /// `sev-snp` or `tdx`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CvmProfile::SevSnp => "sev-snp",
            CvmProfile::Tdx => "tdx",
        }
    }
    /// The technology's name in messages.
    pub fn title(&self) -> &'static str {
        match self {
            CvmProfile::SevSnp => "AMD SEV-SNP",
            CvmProfile::Tdx => "Intel TDX",
        }
    }
}

impl std::str::FromStr for CvmProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CvmProfile::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown confidential-VM profile {s:?}"))
    }
}

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
    /// A text in both languages.
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> Self {
        Self {
            en: en.into(),
            ja: ja.into(),
        }
    }

    /// The same text in both languages (a path, a command, a technical name).
    pub fn same(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            en: text.clone(),
            ja: text,
        }
    }

    /// The text in `lang` (`en` or `ja`), falling back to English.
    pub fn get(&self, lang: &str) -> &str {
        if lang == "ja" && !self.ja.is_empty() {
            &self.ja
        } else {
            &self.en
        }
    }
}

/// English only (the Japanese falls back to it): for tests and callers that have one text.
impl From<&str> for Texts {
    fn from(en: &str) -> Self {
        Self::new(en, "")
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
    pub stand_in_for: Option<Texts>,
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
    /// The version of this JSON shape ([`MATRIX_SCHEMA`]); a file without one is schema 1.
    #[serde(default = "schema_1")]
    pub schema: u32,
    /// The machine.
    pub host: HostInfo,
    /// Language of the texts (`en`, `ja`).
    pub lang: String,
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
        lang: &str,
        scenarios: Vec<ScenarioInfo>,
        cells: Vec<Cell>,
        millis: u64,
    ) -> Self {
        let mismatches = count_mismatches(&cells);
        Self {
            schema: MATRIX_SCHEMA,
            host,
            lang: lang.to_string(),
            scenarios,
            attacks: AttackKind::ALL.to_vec(),
            cells,
            mismatches,
            millis,
        }
    }
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
