//! The ELF side of a core: header, program headers, PT_NOTE extents and the regions the
//! PT_LOADs (and our note) describe, each read after its extent was checked against the file.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{ProgramHeader, PT_LOAD, PT_NOTE};

use super::notes::{le_u32, parse_notes, Note, NoteInfo};
use super::CoreError;
use crate::coredump::arch::{EHDR_SIZE, PHDR_SIZE, PN_XNUM, SHDR_SIZE};
use crate::memory::{RegionKind, SourceRegion};
use crate::model::Span;

/// No process has this many mappings (vm.max_map_count defaults to 65530); a larger count is
/// a lie, and believing it would make us allocate a huge table.
const MAX_PHNUM: u64 = 1 << 20;
/// Cap on the bytes of all PT_NOTE segments together: real cores carry a few MiB at most.
const MAX_NOTE_BYTES: u64 = 64 << 20;
/// [`EHDR_SIZE`] as a buffer length (64: the cast cannot truncate).
const EHDR_LEN: usize = EHDR_SIZE as usize;
/// What a tail without file bytes is called when no note explains it.
const ABSENT_DEFAULT: &str = "not in the dump: the dumping tool wrote no bytes for it";

/// Bounds-checked reads of the file's headers.
pub(super) struct Reader<'a> {
    pub(super) path: &'a Path,
    pub(super) file: &'a File,
    pub(super) len: u64,
}

impl Reader<'_> {
    pub(super) fn malformed(&self, why: impl Into<String>) -> CoreError {
        CoreError::Malformed {
            path: self.path.to_path_buf(),
            why: why.into(),
        }
    }

    /// Reads `[off, off+n)` after checking it lies inside the file.
    pub(super) fn read_range(&self, off: u64, n: u64, what: &str) -> Result<Vec<u8>, CoreError> {
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

    pub(super) fn header(&self) -> Result<Header, CoreError> {
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

    pub(super) fn program_headers(&self, hdr: &Header) -> Result<Vec<ProgramHeader>, CoreError> {
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

    pub(super) fn notes(&self, phdrs: &[ProgramHeader]) -> Result<Vec<Note>, CoreError> {
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

    pub(super) fn regions(
        &self,
        phdrs: &[ProgramHeader],
        info: &NoteInfo,
        by_paddr: bool,
    ) -> Result<Vec<SourceRegion>, CoreError> {
        let note_ranges = info.note_ranges();
        // What a segment's tail (no file bytes) holds where no note range explains it: in
        // our cores since version 2, never-touched zeros; elsewhere, bytes the dumper left
        // out (the kernel's unwritten segments), so absent.
        let uncovered = if info.confidump.as_ref().is_some_and(|n| n.version >= 2) {
            RegionKind::Readable
        } else {
            RegionKind::Absent(ABSENT_DEFAULT.into())
        };
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
            split_tail(tail, &name, &note_ranges, &uncovered, &mut regions);
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
pub(super) fn add_note_only_ranges(
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

/// Splits a segment's tail (no file bytes) into pieces our note explains and the rest, which
/// is `uncovered` (`Readable` stands for zeros: a readable region without a file offset).
pub(super) fn split_tail(
    tail: Span,
    name: &str,
    note_ranges: &[(Span, RegionKind)],
    uncovered: &RegionKind,
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
    // `note_ranges` is disjoint and in address order (`NoteInfo::note_ranges`): start at the
    // first one that ends inside the tail, stop at the first past it.
    let first = note_ranges.partition_point(|(r, _)| r.end <= tail.start);
    for (r, kind) in note_ranges.get(first..).unwrap_or(&[]) {
        if r.start >= tail.end {
            break;
        }
        if r.end <= at {
            continue;
        }
        let s = r.start.max(at);
        let e = r.end.min(tail.end);
        push(at, s, uncovered.clone());
        push(s, e, kind.clone());
        at = e;
    }
    push(at, tail.end, uncovered.clone());
}
