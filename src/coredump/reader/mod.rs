//! Reads any x86-64 ELF core (ours, gdb's `gcore`, the kernel's, QEMU's `dump-guest-memory`)
//! as a [`MemorySource`].
//!
//! Every core file is hostile input. Only the ELF header, the program header table and the
//! notes are read into memory, each after its extent was checked against the file length; the
//! memory itself is read on demand with `pread`, so scanning a multi-GiB core never copies it
//! whole. Sizes read from the file go through checked arithmetic and `try_from`.

mod elf;
mod index;
mod notes;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use goblin::elf::program_header::{ProgramHeader, PT_LOAD};

use crate::memory::{FileBacking, MemorySource, ReadError, RegionKind, SourceRegion};
use crate::model::Span;
use elf::Reader;
use index::SpanIndex;
use notes::NoteInfo;

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
    /// Not a regular file (a FIFO, a device, a directory), or it could not be opened.
    #[error(transparent)]
    Input(crate::files::input::InputError),
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

/// An ELF core file as a [`MemorySource`].
pub struct CoreFile {
    path: PathBuf,
    file: File,
    flavour: Flavour,
    threads: Vec<ThreadInfo>,
    regions: Vec<SourceRegion>,
    /// errnos of the refused ranges our note lists, so reads there fail with them.
    refused: Vec<(Span, i32)>,
    /// `refused` by address.
    refused_index: SpanIndex,
    /// File-backed mappings (NT_FILE, else our note): address range, file offset, path and,
    /// when our note tells, whether the mapping is private.
    files: Vec<FileMap>,
    /// `files` by address (a scan asks once per region).
    files_index: SpanIndex,
}

/// One file-backed mapping recorded in a core.
#[derive(Debug, Clone)]
pub(super) struct FileMap {
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
        // Not read whole (the headers and notes are capped below, the memory is read on
        // demand): only the kind of file is checked, so that a FIFO is refused at once
        // instead of blocking the open, and a device is never mistaken for a core.
        let file = crate::files::input::open_user_file(&path, u64::MAX, "a core file")
            .map_err(CoreError::Input)?;
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
            refused_index: SpanIndex::new(refused.iter().map(|(s, _)| *s)),
            refused,
            files_index: SpanIndex::new(files.iter().map(|f| f.span)),
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
        let f = self.files.get(self.files_index.find(addr)?)?;
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
            let avail = usize::try_from(region.span.end - at).unwrap_or(usize::MAX);
            let n = avail.min(buf.len() - done);
            let piece = &mut buf[done..done + n];
            match (&region.kind, region.offset) {
                // A segment's zero tail in our cores: never-touched pages, no file bytes.
                (RegionKind::Readable, None) => piece.fill(0),
                (RegionKind::Readable, Some(base)) => {
                    let off = base
                        .checked_add(at - region.span.start)
                        .ok_or_else(|| not_in_dump(at))?;
                    self.file.read_exact_at(piece, off).map_err(|e| ReadError {
                        errno: e.raw_os_error(),
                        reason: format!("reading the core file at offset {off:#x}: {e}"),
                    })?;
                }
                (RegionKind::Unreadable(reason), _) => {
                    return Err(ReadError {
                        errno: self
                            .refused_index
                            .find(at)
                            .and_then(|i| self.refused.get(i))
                            .map(|&(_, e)| e),
                        reason: reason.clone(),
                    })
                }
                (RegionKind::Absent(reason), _) => {
                    return Err(ReadError {
                        errno: None,
                        reason: reason.clone(),
                    })
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coredump::arch::{NT_FILE, NT_PRSTATUS, PN_XNUM};
    use crate::coredump::{ConfidumpNote, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS};
    use goblin::elf::program_header::PT_NOTE;

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
    fn tails_are_zeros_in_our_version_2_cores_and_absent_in_version_1() {
        for version in [1, 2] {
            let cd = ConfidumpNote {
                version,
                pid: 7,
                tool: "t".into(),
                policy: "attacker".into(),
                mappings: vec![],
                unreadable: vec![super::super::NoteRange {
                    start: "0x3000".into(),
                    end: "0x4000".into(),
                    errno: Some(5),
                    reason: "EIO (5): Input/output error".into(),
                }],
                absent: vec![],
            };
            let notes = note(
                CONFIDUMP_NOTE_NAME,
                NT_CONFIDUMP_MAPS,
                &serde_json::to_vec(&cd).unwrap(),
            );
            // 16 bytes of data, then a tail up to 0x5000 with a refused page in it.
            let core = build_core(&[(0x1000, 0, 16, 0x4000, vec![b'd'; 16])], &notes);
            let f = write(&core);
            let c = CoreFile::open(f.path()).unwrap();
            let kinds: Vec<_> = c
                .regions()
                .iter()
                .map(|r| (r.span, r.kind.clone()))
                .collect();
            assert_eq!(kinds.len(), 4, "{kinds:?}");
            assert!(matches!(kinds[2].1, RegionKind::Unreadable(_)), "{kinds:?}");
            let mut b = [1u8; 24];
            if version == 2 {
                // Data and zeros read across the segment's end of file bytes.
                c.read_exact_at(0x1008, &mut b).unwrap();
                assert_eq!(&b[..8], b"dddddddd");
                assert!(b[8..].iter().all(|&x| x == 0));
                c.read_exact_at(0x4ff0, &mut b[..16]).unwrap();
                assert!(c.read_exact_at(0x2ff8, &mut b[..16]).is_err());
            } else {
                assert!(matches!(kinds[1].1, RegionKind::Absent(_)), "{kinds:?}");
                assert!(c.read_exact_at(0x1008, &mut b).is_err());
            }
        }
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
