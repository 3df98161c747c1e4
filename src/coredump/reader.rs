//! Reads any x86-64 ELF core (ours, gdb's `gcore`, the kernel's, QEMU's `dump-guest-memory`)
//! as a [`MemorySource`].
//!
//! Every core file is hostile input. Only the ELF header, the program header table and the
//! notes are read into memory, each after its extent was checked against the file length; the
//! memory itself is read on demand with `pread`, so scanning a multi-GiB core never copies it
//! whole. Sizes read from the file go through checked arithmetic and `try_from`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{ProgramHeader, PT_LOAD, PT_NOTE};

use super::arch::{
    EHDR_SIZE, NT_FILE, NT_PRPSINFO, NT_PRSTATUS, PHDR_SIZE, PN_XNUM, PRSTATUS_REG_OFFSET,
    SHDR_SIZE,
};
use super::{parse_hex_addr, ConfidumpNote, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS};
use crate::memory::{FileBacking, MemorySource, ReadError, RegionKind, SourceRegion};
use crate::model::Span;

/// No process has this many mappings (vm.max_map_count defaults to 65530); a larger count is
/// a lie, and believing it would make us allocate a huge table.
const MAX_PHNUM: u64 = 1 << 20;
/// Cap on the bytes of all PT_NOTE segments together: real cores carry a few MiB at most.
const MAX_NOTE_BYTES: u64 = 64 << 20;
/// Offset of `pr_pid` in x86-64 `elf_prstatus`.
const PRSTATUS_PID: usize = 32;
/// Index of `rip` in `user_regs_struct` (r15, r14, ..., orig_rax, rip, cs, eflags, rsp, ...).
const REG_RIP: usize = 16;
/// Index of `rsp` in `user_regs_struct`.
const REG_RSP: usize = 19;
/// Offset of `pr_pid` in x86-64 `elf_prpsinfo`.
const PRPSINFO_PID: usize = 24;
/// [`EHDR_SIZE`] as a buffer length (64: the cast cannot truncate).
const EHDR_LEN: usize = EHDR_SIZE as usize;
/// What a tail without file bytes is called when no note explains it.
const ABSENT_DEFAULT: &str = "not in the dump: the dumping tool wrote no bytes for it";

/// Errors opening a core file. Each reads as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// An I/O error, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not ELF at all.
    #[error("{path}: not an ELF file ({why})")]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What was seen instead.
        why: String,
    },
    /// ELF, but not something we read (not a core, not x86-64, big endian, 32-bit).
    #[error("{path}: unsupported ELF: {why}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it is.
        why: String,
    },
    /// An x86-64 core whose headers contradict themselves or the file length.
    #[error("{path}: malformed core: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// Which tool wrote a core, guessed from its notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Ours: it carries a `CONFIDUMP` note.
    Confidump,
    /// gdb's `gcore`: it carries a `GDB` note (`NT_GDB_TDESC`).
    Gdb,
    /// The kernel's core dump: standard `CORE` notes only.
    Kernel,
    /// QEMU's `dump-guest-memory`: a `QEMU` note or guest-physical segments.
    Qemu,
    /// No notes we recognise.
    Unknown,
}

impl Flavour {
    /// The name reports show.
    pub fn as_str(&self) -> &'static str {
        match self {
            Flavour::Confidump => "confidump",
            Flavour::Gdb => "gdb",
            Flavour::Kernel => "kernel",
            Flavour::Qemu => "qemu",
            Flavour::Unknown => "unknown",
        }
    }
}

/// A thread as recorded in an `NT_PRSTATUS` note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Thread id (`pr_pid`).
    pub tid: i32,
    /// Instruction pointer.
    pub rip: u64,
    /// Stack pointer.
    pub rsp: u64,
}

/// One note, owned.
struct Note {
    name: Vec<u8>,
    n_type: u32,
    desc: Vec<u8>,
}

/// An ELF core file as a [`MemorySource`].
pub struct CoreFile {
    path: PathBuf,
    file: File,
    flavour: Flavour,
    threads: Vec<ThreadInfo>,
    regions: Vec<SourceRegion>,
    /// errnos of the refused ranges our note lists, so reads there fail with them.
    refused: Vec<(Span, i32)>,
    /// File-backed mappings (NT_FILE, else our note): address range, file offset, path and,
    /// when our note tells, whether the mapping is private.
    files: Vec<FileMap>,
}

/// One file-backed mapping recorded in a core.
#[derive(Debug, Clone)]
struct FileMap {
    span: Span,
    offset: u64,
    path: String,
    private: Option<bool>,
}

impl std::fmt::Debug for CoreFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreFile")
            .field("path", &self.path)
            .field("flavour", &self.flavour)
            .field("regions", &self.regions.len())
            .finish()
    }
}

impl CoreFile {
    /// Opens and validates `path`. Fails with a one-line reason for anything that is not a
    /// well-formed x86-64 ELF core.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CoreError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| CoreError::Io {
            context: format!("opening {}", path.display()),
            source,
        })?;
        let file_len = file
            .metadata()
            .map_err(|source| CoreError::Io {
                context: format!("reading the size of {}", path.display()),
                source,
            })?
            .len();
        let r = Reader {
            path: &path,
            file: &file,
            len: file_len,
        };
        let hdr = r.header()?;
        let phdrs = r.program_headers(&hdr)?;
        let notes = r.notes(&phdrs)?;
        let info = NoteInfo::from_notes(&notes);
        // QEMU's paging=false dump leaves p_vaddr 0 for RAM, but QEMU 7.2 gives its BIOS ROM
        // segment p_vaddr == p_paddr: either way the addresses are guest-physical.
        let phys_seg = |p: &&ProgramHeader| p.p_vaddr == 0 || p.p_vaddr == p.p_paddr;
        let loads = || phdrs.iter().filter(|p| p.p_type == PT_LOAD);
        let all_physical = loads().any(|p| p.p_vaddr == 0) && loads().all(|p| phys_seg(&p));
        let physical = info.qemu_note || all_physical;
        let flavour = if info.confidump.is_some() {
            Flavour::Confidump
        } else if info.qemu_note || physical {
            Flavour::Qemu
        } else if info.gdb_tdesc {
            Flavour::Gdb
        } else if !info.threads.is_empty() {
            Flavour::Kernel
        } else {
            Flavour::Unknown
        };
        // A QEMU paging=true dump has a QEMU note and real virtual addresses: only address by
        // p_paddr when the virtual ones are all zero.
        let by_paddr = all_physical;
        let regions = r.regions(&phdrs, &info, by_paddr)?;
        let refused = info.refused_errnos();
        let files = if by_paddr {
            Vec::new()
        } else {
            info.file_maps()
        };
        Ok(Self {
            path,
            file,
            flavour,
            threads: info.threads,
            regions,
            refused,
            files,
        })
    }

    /// Which tool wrote the core, as far as its notes tell.
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// Threads recorded in `NT_PRSTATUS` notes, in file order.
    pub fn threads(&self) -> &[ThreadInfo] {
        &self.threads
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl MemorySource for CoreFile {
    fn describe(&self) -> String {
        format!(
            "core file {} ({})",
            self.path.display(),
            self.flavour.as_str()
        )
    }

    fn regions(&self) -> &[SourceRegion] {
        &self.regions
    }

    fn file_backing(&self, addr: u64) -> Option<FileBacking> {
        let f = self.files.iter().find(|f| f.span.contains(addr))?;
        if f.path.ends_with(" (deleted)") || !f.path.starts_with('/') {
            return None;
        }
        Some(FileBacking {
            path: f.path.clone(),
            offset: f.offset.checked_add(addr - f.span.start)?,
            mapping_end: f.span.end,
            open_path: PathBuf::from(&f.path),
            magic_link: false,
            private: f.private,
        })
    }

    fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        // A read may cross several adjacent segments; each piece is served by its own.
        while done < buf.len() {
            let at = addr
                .checked_add(done as u64)
                .ok_or_else(|| not_in_dump(addr))?;
            let region = self.region_at(at).ok_or_else(|| not_in_dump(at))?;
            let (RegionKind::Readable, Some(base)) = (&region.kind, region.offset) else {
                return Err(match &region.kind {
                    RegionKind::Unreadable(reason) => ReadError {
                        errno: self
                            .refused
                            .iter()
                            .find(|(s, _)| s.contains(at))
                            .map(|&(_, e)| e),
                        reason: reason.clone(),
                    },
                    RegionKind::Absent(reason) => ReadError {
                        errno: None,
                        reason: reason.clone(),
                    },
                    RegionKind::Readable => not_in_dump(at),
                });
            };
            let delta = at - region.span.start;
            let avail = usize::try_from(region.span.end - at).unwrap_or(usize::MAX);
            let n = avail.min(buf.len() - done);
            let off = base.checked_add(delta).ok_or_else(|| not_in_dump(at))?;
            self.file
                .read_exact_at(&mut buf[done..done + n], off)
                .map_err(|e| ReadError {
                    errno: e.raw_os_error(),
                    reason: format!("reading the core file at offset {off:#x}: {e}"),
                })?;
            done += n;
        }
        Ok(())
    }
}

fn not_in_dump(addr: u64) -> ReadError {
    ReadError {
        errno: None,
        reason: format!("not in the dump: no segment covers {addr:#x}"),
    }
}

/// What the notes tell us.
#[derive(Default)]
struct NoteInfo {
    confidump: Option<ConfidumpNote>,
    qemu_note: bool,
    gdb_tdesc: bool,
    pid: Option<i32>,
    threads: Vec<ThreadInfo>,
    /// NT_FILE entries: address range, offset in the file in pages, path.
    files: Vec<(Span, u64, String)>,
    /// NT_FILE's page size (the unit of its offsets).
    file_page_size: u64,
}

impl NoteInfo {
    fn from_notes(notes: &[Note]) -> Self {
        let mut info = NoteInfo::default();
        for n in notes {
            match (n.name.as_slice(), n.n_type) {
                (name, NT_CONFIDUMP_MAPS) if name == CONFIDUMP_NOTE_NAME.as_bytes() => {
                    match serde_json::from_slice::<ConfidumpNote>(&n.desc) {
                        Ok(note) => info.confidump = Some(note),
                        // The memory is still readable without the names; say so and go on.
                        Err(e) => tracing::warn!("ignoring an unparsable CONFIDUMP note: {e}"),
                    }
                }
                (b"QEMU", _) => info.qemu_note = true,
                // Only gdb writes notes owned by "GDB" (NT_GDB_TDESC is type 0xff000000 in
                // gcore 13's cores here), so the owner alone identifies it.
                (b"GDB", _) => info.gdb_tdesc = true,
                (b"CORE", NT_PRSTATUS) => {
                    let tid = le_u32(&n.desc, PRSTATUS_PID);
                    let reg = |i: usize| le_u64(&n.desc, PRSTATUS_REG_OFFSET + 8 * i);
                    if let (Some(tid), Some(rip), Some(rsp)) = (tid, reg(REG_RIP), reg(REG_RSP)) {
                        info.threads.push(ThreadInfo {
                            tid: i32::from_ne_bytes(tid.to_ne_bytes()),
                            rip,
                            rsp,
                        });
                    }
                }
                (b"CORE", NT_PRPSINFO) => {
                    info.pid =
                        le_u32(&n.desc, PRPSINFO_PID).map(|p| i32::from_ne_bytes(p.to_ne_bytes()));
                }
                (b"CORE", NT_FILE) => {
                    (info.files, info.file_page_size) = parse_nt_file(&n.desc);
                }
                _ => {}
            }
        }
        info
    }

    /// The name of the region starting at `span`, best source first.
    fn name_for(&self, span: Span, by_paddr: bool) -> String {
        if by_paddr {
            return "[guest-physical]".to_string();
        }
        if let Some(note) = &self.confidump {
            let hit = note.mappings.iter().find(|m| {
                matches!((parse_hex_addr(&m.start), parse_hex_addr(&m.end)),
                    (Some(s), Some(e)) if s <= span.start && span.start < e)
            });
            if let Some(m) = hit {
                return if m.name.is_empty() {
                    "[anon]".to_string()
                } else {
                    m.name.clone()
                };
            }
        }
        if let Some((_, _, p)) = self.files.iter().find(|(s, ..)| s.contains(span.start)) {
            return p.clone();
        }
        // The kernel and gdb do not name anonymous memory; a thread's stack pointer does.
        for (i, t) in self.threads.iter().enumerate() {
            if span.contains(t.rsp) {
                let main = self.pid.map_or(i == 0, |pid| pid == t.tid);
                return if main {
                    "[stack]".to_string()
                } else {
                    format!("[stack:{}]", t.tid)
                };
            }
        }
        "[anon]".to_string()
    }

    /// The refused ranges of our note that carry an errno.
    fn refused_errnos(&self) -> Vec<(Span, i32)> {
        let Some(note) = &self.confidump else {
            return Vec::new();
        };
        note.unreadable
            .iter()
            .filter_map(|r| {
                let (s, e) = (parse_hex_addr(&r.start)?, parse_hex_addr(&r.end)?);
                Some((Span::new(s, e), r.errno?))
            })
            .collect()
    }

    /// File-backed mappings: NT_FILE (every Linux core has it), else our note's mappings.
    /// Our note adds whether each mapping is private (`rw-p` vs `rw-s`).
    fn file_maps(&self) -> Vec<FileMap> {
        let from_note: Vec<(Span, u64, &str, bool)> = self
            .confidump
            .iter()
            .flat_map(|n| &n.mappings)
            .filter(|m| m.name.starts_with('/'))
            .filter_map(|m| {
                let (s, e) = (parse_hex_addr(&m.start)?, parse_hex_addr(&m.end)?);
                let private = m.perms.ends_with('p');
                Some((
                    Span::new(s, e),
                    parse_hex_addr(&m.offset)?,
                    m.name.as_str(),
                    private,
                ))
            })
            .collect();
        let private_of = |span: Span| {
            from_note
                .iter()
                .find(|(s, ..)| *s == span)
                .map(|&(.., p)| p)
        };
        if !self.files.is_empty() {
            return self
                .files
                .iter()
                .map(|(span, page_offset, path)| FileMap {
                    span: *span,
                    offset: page_offset.saturating_mul(self.file_page_size),
                    path: path.clone(),
                    private: private_of(*span),
                })
                .collect();
        }
        from_note
            .into_iter()
            .map(|(span, offset, path, private)| FileMap {
                span,
                offset,
                path: path.to_string(),
                private: Some(private),
            })
            .collect()
    }

    /// Note ranges (unreadable first, then absent) as spans with the kind they give.
    fn note_ranges(&self) -> Vec<(Span, RegionKind)> {
        let Some(note) = &self.confidump else {
            return Vec::new();
        };
        let conv = |r: &super::NoteRange, unreadable: bool| {
            let (s, e) = (parse_hex_addr(&r.start)?, parse_hex_addr(&r.end)?);
            let kind = if unreadable {
                RegionKind::Unreadable(r.reason.clone())
            } else {
                RegionKind::Absent(r.reason.clone())
            };
            (s < e).then_some((Span::new(s, e), kind))
        };
        let mut v: Vec<_> = note
            .unreadable
            .iter()
            .filter_map(|r| conv(r, true))
            .chain(note.absent.iter().filter_map(|r| conv(r, false)))
            .collect();
        v.sort_by_key(|(s, _)| s.start);
        v
    }
}

fn le_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

fn le_u64(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// NT_FILE: count, page size, `count` × (start, end, file page), then `count` NUL-terminated
/// paths. Returns the entries (range, file page, path) and the page size. A malformed note
/// yields what could be parsed before the fault.
fn parse_nt_file(d: &[u8]) -> (Vec<(Span, u64, String)>, u64) {
    let mut out = Vec::new();
    let page_size = le_u64(d, 8).unwrap_or(0);
    let Some(count) = le_u64(d, 0).and_then(|c| usize::try_from(c).ok()) else {
        return (out, page_size);
    };
    // Each entry needs 24 bytes of the descriptor: check before trusting `count`.
    let Some(table_end) = count.checked_mul(24).and_then(|t| t.checked_add(16)) else {
        return (out, page_size);
    };
    if table_end > d.len() {
        return (out, page_size);
    }
    let mut names = d[table_end..].split(|&b| b == 0);
    for i in 0..count {
        let base = 16 + i * 24;
        let (Some(s), Some(e), Some(page), Some(name)) = (
            le_u64(d, base),
            le_u64(d, base + 8),
            le_u64(d, base + 16),
            names.next(),
        ) else {
            break;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        out.push((Span::new(s, e), page, name));
    }
    (out, page_size)
}

/// Bounds-checked reads of the file's headers.
struct Reader<'a> {
    path: &'a Path,
    file: &'a File,
    len: u64,
}

impl Reader<'_> {
    fn malformed(&self, why: impl Into<String>) -> CoreError {
        CoreError::Malformed {
            path: self.path.to_path_buf(),
            why: why.into(),
        }
    }

    /// Reads `[off, off+n)` after checking it lies inside the file.
    fn read_range(&self, off: u64, n: u64, what: &str) -> Result<Vec<u8>, CoreError> {
        let end = off
            .checked_add(n)
            .ok_or_else(|| self.malformed(format!("{what}: offset overflows")))?;
        if end > self.len {
            return Err(self.malformed(format!(
                "{what} ({n} bytes at offset {off:#x}) extends past the end of the file ({} bytes)",
                self.len
            )));
        }
        let n = usize::try_from(n).map_err(|_| self.malformed(format!("{what}: too large")))?;
        let mut buf = vec![0u8; n];
        self.file
            .read_exact_at(&mut buf, off)
            .map_err(|source| CoreError::Io {
                context: format!("reading {what} of {}", self.path.display()),
                source,
            })?;
        Ok(buf)
    }

    fn header(&self) -> Result<Header, CoreError> {
        let path = self.path.to_path_buf();
        if self.len == 0 {
            return Err(CoreError::NotElf {
                path,
                why: "empty file".into(),
            });
        }
        let head = self.read_range(0, self.len.min(EHDR_SIZE), "the ELF header")?;
        if head.len() < 4 || head[..4] != *header::ELFMAG {
            return Err(CoreError::NotElf {
                path,
                why: "no \\x7fELF magic".into(),
            });
        }
        match head.get(header::EI_CLASS) {
            Some(&header::ELFCLASS64) => {}
            Some(&header::ELFCLASS32) => {
                return Err(CoreError::Unsupported {
                    path,
                    why: "32-bit ELF (ELFCLASS32); only x86-64 cores are read".into(),
                })
            }
            _ if head.len() < EHDR_LEN => {}
            Some(c) => {
                return Err(self.malformed(format!("unknown ELF class {c}")));
            }
            None => {}
        }
        if head.len() < EHDR_LEN {
            return Err(self.malformed(format!(
                "truncated ELF header ({} of {EHDR_SIZE} bytes)",
                head.len()
            )));
        }
        if head.get(header::EI_DATA) != Some(&header::ELFDATA2LSB) {
            return Err(CoreError::Unsupported {
                path,
                why: "big-endian ELF; only x86-64 cores are read".into(),
            });
        }
        let hdr = goblin::elf::Elf::parse_header(&head)
            .map_err(|e| self.malformed(format!("ELF header: {e}")))?;
        if hdr.e_type != header::ET_CORE {
            return Err(CoreError::Unsupported {
                path,
                why: format!(
                    "not a core file (e_type {}, {})",
                    hdr.e_type,
                    header::et_to_str(hdr.e_type)
                ),
            });
        }
        if hdr.e_machine != header::EM_X86_64 {
            return Err(CoreError::Unsupported {
                path,
                why: format!(
                    "not x86-64 (e_machine {}, {})",
                    hdr.e_machine,
                    goblin::elf::header::machine_to_str(hdr.e_machine)
                ),
            });
        }
        Ok(hdr)
    }

    fn program_headers(&self, hdr: &Header) -> Result<Vec<ProgramHeader>, CoreError> {
        if hdr.e_phnum != 0 && u64::from(hdr.e_phentsize) != PHDR_SIZE {
            return Err(self.malformed(format!(
                "e_phentsize is {}, not {PHDR_SIZE}",
                hdr.e_phentsize
            )));
        }
        let phnum = if hdr.e_phnum == PN_XNUM {
            // More than 65534 segments: the real count is in section header 0's sh_info.
            let sh0 = self.read_range(hdr.e_shoff, SHDR_SIZE, "section header 0 (PN_XNUM)")?;
            u64::from(le_u32(&sh0, 44).unwrap_or(0))
        } else {
            u64::from(hdr.e_phnum)
        };
        if phnum == 0 {
            return Err(self.malformed("no program headers"));
        }
        if phnum > MAX_PHNUM {
            return Err(self.malformed(format!("absurd program header count {phnum}")));
        }
        let size = phnum * PHDR_SIZE; // cannot overflow: phnum <= 2^20
        let what = format!("the program header table ({phnum} entries)");
        let table = self.read_range(hdr.e_phoff, size, &what)?;
        let count = usize::try_from(phnum).map_err(|_| self.malformed("phnum too large"))?;
        ProgramHeader::parse(&table, 0, count, Ctx::new(Container::Big, Endian::Little))
            .map_err(|e| self.malformed(format!("program headers: {e}")))
    }

    fn notes(&self, phdrs: &[ProgramHeader]) -> Result<Vec<Note>, CoreError> {
        let mut total = 0u64;
        let mut notes = Vec::new();
        for (i, p) in phdrs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.p_type == PT_NOTE)
        {
            total = total.saturating_add(p.p_filesz);
            if total > MAX_NOTE_BYTES {
                return Err(self.malformed(format!("notes exceed {} MiB", MAX_NOTE_BYTES >> 20)));
            }
            let data = self.read_range(p.p_offset, p.p_filesz, &format!("PT_NOTE #{i}"))?;
            parse_notes(&data, &mut notes);
        }
        Ok(notes)
    }

    fn regions(
        &self,
        phdrs: &[ProgramHeader],
        info: &NoteInfo,
        by_paddr: bool,
    ) -> Result<Vec<SourceRegion>, CoreError> {
        let note_ranges = info.note_ranges();
        let mut regions = Vec::new();
        let mut loads: Vec<(usize, &ProgramHeader)> = phdrs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.p_type == PT_LOAD && p.p_memsz > 0)
            .collect();
        let addr_of = |p: &ProgramHeader| if by_paddr { p.p_paddr } else { p.p_vaddr };
        loads.sort_by_key(|(_, p)| addr_of(p));
        let mut prev_end = 0u64;
        for (i, p) in loads {
            let start = addr_of(p);
            let end = start
                .checked_add(p.p_memsz)
                .ok_or_else(|| self.malformed(format!("PT_LOAD #{i}: address + size overflows")))?;
            let filesz = p.p_filesz.min(p.p_memsz);
            let file_end = p
                .p_offset
                .checked_add(filesz)
                .ok_or_else(|| self.malformed(format!("PT_LOAD #{i}: offset + size overflows")))?;
            if file_end > self.len {
                return Err(self.malformed(format!(
                    "PT_LOAD #{i}: its bytes [{:#x}, {file_end:#x}) extend past the end of the file ({} bytes)",
                    p.p_offset, self.len
                )));
            }
            // Overlapping segments only come from broken or hostile files: keep the first
            // one's bytes and clip the later one, so the address space stays a function.
            let clip = prev_end.saturating_sub(start).min(p.p_memsz);
            if clip > 0 {
                tracing::warn!("PT_LOAD #{i} overlaps an earlier segment; clipping {clip} bytes");
            }
            let data_start = start + clip;
            let data_end = start + filesz;
            let name = info.name_for(Span::new(start, end), by_paddr);
            if data_start < data_end {
                regions.push(SourceRegion {
                    span: Span::new(data_start, data_end),
                    name: name.clone(),
                    kind: RegionKind::Readable,
                    offset: Some(p.p_offset + clip),
                });
            }
            let tail = Span::new(data_start.max(data_end), end);
            split_tail(tail, &name, &note_ranges, &mut regions);
            prev_end = prev_end.max(end);
        }
        // Our cores give refused (and left-out) ranges no PT_LOAD at all, so that gdb says
        // "Cannot access memory" there: the note alone describes them. (Older cores of ours
        // gave them a PT_LOAD without file bytes; `split_tail` above handled those.)
        if !by_paddr {
            add_note_only_ranges(&note_ranges, info, &mut regions);
        }
        Ok(regions)
    }
}

/// Adds the parts of our note's ranges that no PT_LOAD covers, keeping `regions` in address
/// order. `regions` does not overlap itself, and neither do the added pieces.
fn add_note_only_ranges(
    note_ranges: &[(Span, RegionKind)],
    info: &NoteInfo,
    regions: &mut Vec<SourceRegion>,
) {
    let mut covered: Vec<Span> = regions.iter().map(|r| r.span).collect();
    covered.sort_by_key(|c| c.start);
    let mut added = Vec::new();
    let mut last_end = 0u64;
    for (range, kind) in note_ranges {
        // Hostile notes may overlap themselves: never start before what was already added.
        let mut at = range.start.max(last_end);
        let first = covered.partition_point(|c| c.end <= at);
        for c in covered.get(first..).unwrap_or(&[]) {
            if c.start >= range.end || at >= range.end {
                break;
            }
            if at < c.start {
                added.push((Span::new(at, c.start), kind.clone()));
            }
            at = at.max(c.end);
        }
        if at < range.end {
            added.push((Span::new(at, range.end), kind.clone()));
        }
        last_end = last_end.max(range.end);
    }
    if added.is_empty() {
        return;
    }
    for (span, kind) in added {
        regions.push(SourceRegion {
            span,
            name: info.name_for(span, false),
            kind,
            offset: None,
        });
    }
    regions.sort_by_key(|r| r.span.start);
}

/// Splits a segment's tail (no file bytes) into pieces our note explains and the rest.
fn split_tail(
    tail: Span,
    name: &str,
    note_ranges: &[(Span, RegionKind)],
    out: &mut Vec<SourceRegion>,
) {
    let mut at = tail.start;
    let mut push = |s: u64, e: u64, kind: RegionKind| {
        if s < e {
            out.push(SourceRegion {
                span: Span::new(s, e),
                name: name.to_string(),
                kind,
                offset: None,
            });
        }
    };
    for (r, kind) in note_ranges {
        if r.end <= at || r.start >= tail.end {
            continue;
        }
        let s = r.start.max(at);
        let e = r.end.min(tail.end);
        push(at, s, RegionKind::Absent(ABSENT_DEFAULT.into()));
        push(s, e, kind.clone());
        at = e;
    }
    push(at, tail.end, RegionKind::Absent(ABSENT_DEFAULT.into()));
}

/// Parses the notes of one PT_NOTE segment, stopping at the first one that does not fit.
fn parse_notes(data: &[u8], out: &mut Vec<Note>) {
    let mut off = 0usize;
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    while let (Some(namesz), Some(descsz), Some(n_type)) = (
        le_u32(data, off),
        le_u32(data, off + 4),
        le_u32(data, off + 8),
    ) {
        let parsed = (|| {
            let name_start = off.checked_add(12)?;
            let name_end = name_start.checked_add(usize::try_from(namesz).ok()?)?;
            let desc_start = align4(name_end)?;
            let desc_end = desc_start.checked_add(usize::try_from(descsz).ok()?)?;
            let name = data.get(name_start..name_end)?;
            let desc = data.get(desc_start..desc_end)?;
            Some((name, desc, align4(desc_end)?))
        })();
        let Some((name, desc, next)) = parsed else {
            tracing::warn!("a note runs past its segment; ignoring the rest of the segment");
            return;
        };
        let name = name.strip_suffix(&[0]).unwrap_or(name);
        out.push(Note {
            name: name.to_vec(),
            n_type,
            desc: desc.to_vec(),
        });
        off = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a minimal x86-64 core: header, phdrs, then data.
    pub(crate) fn build_core(loads: &[(u64, u64, u64, u64, Vec<u8>)], notes: &[u8]) -> Vec<u8> {
        // (vaddr, paddr, filesz, memsz, bytes)
        let phnum = loads.len() + usize::from(!notes.is_empty());
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        out[16..18].copy_from_slice(&4u16.to_le_bytes());
        out[18..20].copy_from_slice(&62u16.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[32..40].copy_from_slice(&64u64.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        let mut data_off = 64 + 56 * phnum as u64;
        let mut phdrs = Vec::new();
        let mut data = Vec::new();
        let mut ph = |t: u32, off: u64, va: u64, pa: u64, fs: u64, ms: u64| {
            let mut p = vec![0u8; 56];
            p[0..4].copy_from_slice(&t.to_le_bytes());
            p[8..16].copy_from_slice(&off.to_le_bytes());
            p[16..24].copy_from_slice(&va.to_le_bytes());
            p[24..32].copy_from_slice(&pa.to_le_bytes());
            p[32..40].copy_from_slice(&fs.to_le_bytes());
            p[40..48].copy_from_slice(&ms.to_le_bytes());
            phdrs.extend_from_slice(&p);
        };
        if !notes.is_empty() {
            ph(PT_NOTE, data_off, 0, 0, notes.len() as u64, 0);
            data.extend_from_slice(notes);
            data_off += notes.len() as u64;
        }
        for (va, pa, fs, ms, bytes) in loads {
            ph(PT_LOAD, data_off, *va, *pa, *fs, *ms);
            data.extend_from_slice(bytes);
            data_off += bytes.len() as u64;
        }
        out.extend_from_slice(&phdrs);
        out.extend_from_slice(&data);
        out
    }

    fn note(name: &str, t: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&((name.len() + 1) as u32).to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&t.to_le_bytes());
        n.extend_from_slice(name.as_bytes());
        n.push(0);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n.extend_from_slice(desc);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn regions_tails_and_stack_name() {
        let mut prstatus = vec![0u8; 336];
        prstatus[32..36].copy_from_slice(&77u32.to_le_bytes());
        prstatus[112 + 19 * 8..112 + 20 * 8].copy_from_slice(&0x2010u64.to_le_bytes());
        let notes = note("CORE", NT_PRSTATUS, &prstatus);
        let core = build_core(
            &[
                (0x2000, 0, 0x20, 0x20, vec![b'x'; 0x20]),
                (0x1000, 0, 0x10, 0x100, b"0123456789abcdef".to_vec()),
            ],
            &notes,
        );
        let f = write(&core);
        let c = CoreFile::open(f.path()).unwrap();
        assert_eq!(c.flavour(), Flavour::Kernel);
        assert_eq!(c.threads()[0].tid, 77);
        let r = c.regions();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].span, Span::new(0x1000, 0x1010));
        assert!(matches!(r[1].kind, RegionKind::Absent(_)));
        assert_eq!(r[2].name, "[stack]");
        let mut b = [0u8; 4];
        c.read_exact_at(0x1004, &mut b).unwrap();
        assert_eq!(&b, b"4567");
        assert!(c.read_exact_at(0x1010, &mut b).is_err());
    }

    #[test]
    fn qemu_physical_and_overlap_clipped() {
        let core = build_core(
            &[
                (0, 0x10_0000, 8, 8, b"AAAAAAAA".to_vec()),
                (0, 0x10_0004, 8, 8, b"BBBBBBBB".to_vec()),
            ],
            &[],
        );
        let f = write(&core);
        let c = CoreFile::open(f.path()).unwrap();
        assert_eq!(c.flavour(), Flavour::Qemu);
        assert_eq!(c.regions().len(), 2);
        assert_eq!(c.regions()[1].span, Span::new(0x10_0008, 0x10_000c));
        assert_eq!(c.regions()[1].name, "[guest-physical]");
        let mut b = [0u8; 12];
        c.read_exact_at(0x10_0000, &mut b).unwrap();
        assert_eq!(&b, b"AAAAAAAABBBB");
    }

    #[test]
    fn qemu_7_2_bios_segment_with_vaddr_equal_paddr_is_still_physical() {
        let core = build_core(
            &[
                (0, 0x0, 8, 8, b"RAMRAMRA".to_vec()),
                (0xfffc_0000, 0xfffc_0000, 8, 8, b"BIOSBIOS".to_vec()),
            ],
            &[],
        );
        let f = write(&core);
        let c = CoreFile::open(f.path()).unwrap();
        assert_eq!(c.flavour(), Flavour::Qemu);
        assert!(c.regions().iter().all(|r| r.name == "[guest-physical]"));
    }

    #[test]
    fn hostile_headers_rejected() {
        let good = build_core(&[(0x1000, 0, 4, 4, b"abcd".to_vec())], &[]);
        let mut absurd = good.clone();
        absurd[56..58].copy_from_slice(&60000u16.to_le_bytes());
        let mut past_eof = good.clone();
        past_eof[64 + 8..64 + 16].copy_from_slice(&0x10_0000u64.to_le_bytes());
        let mut xnum = good.clone();
        xnum[56..58].copy_from_slice(&PN_XNUM.to_le_bytes());
        for bad in [&b""[..], b"hello", &good[..100], &absurd, &past_eof, &xnum] {
            let f = write(bad);
            let e = CoreFile::open(f.path()).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn note_only_ranges_are_refused_or_absent_and_files_are_known() {
        let cd = ConfidumpNote {
            version: 1,
            pid: 7,
            tool: "t".into(),
            policy: "attacker".into(),
            mappings: vec![super::super::NoteMapping {
                start: "0x1000".into(),
                end: "0x2000".into(),
                perms: "r--p".into(),
                offset: "0x3000".into(),
                name: "/usr/lib/libx.so".into(),
                flags: vec![],
            }],
            unreadable: vec![super::super::NoteRange {
                // Overlaps the PT_LOAD's last bytes (a hostile note): only the rest is added.
                start: "0x1ff0".into(),
                end: "0x3000".into(),
                errno: Some(5),
                reason: "EIO (5): Input/output error".into(),
            }],
            absent: vec![super::super::NoteRange {
                start: "0x5000".into(),
                end: "0x6000".into(),
                errno: None,
                reason: "MADV_DONTDUMP (dd)".into(),
            }],
        };
        let mut notes = note(
            CONFIDUMP_NOTE_NAME,
            NT_CONFIDUMP_MAPS,
            &serde_json::to_vec(&cd).unwrap(),
        );
        let mut nt_file = Vec::new();
        for v in [1u64, 4096, 0x1000, 0x2000, 3] {
            nt_file.extend_from_slice(&v.to_le_bytes());
        }
        nt_file.extend_from_slice(b"/usr/lib/libx.so\0");
        notes.extend(note("CORE", NT_FILE, &nt_file));
        let core = build_core(&[(0x1000, 0, 0x1000, 0x1000, vec![b'a'; 0x1000])], &notes);
        let f = write(&core);
        let c = CoreFile::open(f.path()).unwrap();
        let r = c.regions();
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!(r[1].span, Span::new(0x2000, 0x3000));
        assert!(matches!(&r[1].kind, RegionKind::Unreadable(w) if w.starts_with("EIO")));
        assert_eq!(r[2].span, Span::new(0x5000, 0x6000));
        assert!(matches!(r[2].kind, RegionKind::Absent(_)));
        let mut b = [0u8; 4];
        let e = c.read_exact_at(0x2800, &mut b).unwrap_err();
        assert_eq!(e.errno, Some(5));
        assert_eq!(c.read_exact_at(0x5000, &mut b).unwrap_err().errno, None);
        c.read_exact_at(0x1ff0, &mut b).unwrap();
        // NT_FILE gives the file and its offset (3 pages); our note says it is private.
        let fb = c.file_backing(0x1010).unwrap();
        assert_eq!(
            (fb.path.as_str(), fb.offset, fb.mapping_end, fb.private),
            ("/usr/lib/libx.so", 0x3010, 0x2000, Some(true))
        );
        assert!(!fb.magic_link);
        assert!(c.file_backing(0x2800).is_none());
    }

    #[test]
    fn pn_xnum_reads_count_from_section_zero() {
        let mut core = build_core(&[(0x1000, 0, 4, 4, b"abcd".to_vec())], &[]);
        let shoff = core.len() as u64;
        let mut sh0 = vec![0u8; 64];
        sh0[44..48].copy_from_slice(&1u32.to_le_bytes());
        core.extend_from_slice(&sh0);
        core[40..48].copy_from_slice(&shoff.to_le_bytes());
        core[56..58].copy_from_slice(&PN_XNUM.to_le_bytes());
        let f = write(&core);
        let c = CoreFile::open(f.path()).unwrap();
        assert_eq!(c.regions().len(), 1);
    }
}
