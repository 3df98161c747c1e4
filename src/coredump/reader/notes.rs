//! The notes of a core: what each standard note and ours tells the reader (threads, files,
//! refused ranges), parsed from hostile bytes: bounds-checked, stopping at the first fault.

use super::index::{PointIndex, SpanIndex};
use super::{FileMap, ThreadInfo};
use crate::coredump::arch::{NT_FILE, NT_PRPSINFO, NT_PRSTATUS};
use crate::coredump::layout::{
    nt_file as file, prpsinfo, prstatus, user_regs, NOTE_ALIGN, NOTE_HEADER_SIZE,
};
use crate::coredump::{parse_hex_addr, ConfidumpNote, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS};
use crate::memory::RegionKind;
use crate::model::Span;

/// One note, owned.
pub(super) struct Note {
    pub(super) name: Vec<u8>,
    pub(super) n_type: u32,
    pub(super) desc: Vec<u8>,
}

/// What the notes tell us.
#[derive(Default)]
pub(super) struct NoteInfo {
    pub(super) confidump: Option<ConfidumpNote>,
    pub(super) qemu_note: bool,
    pub(super) gdb_tdesc: bool,
    pub(super) pid: Option<i32>,
    pub(super) threads: Vec<ThreadInfo>,
    /// NT_FILE entries: address range, offset in the file in pages, path.
    pub(super) files: Vec<(Span, u64, String)>,
    /// NT_FILE's page size (the unit of its offsets).
    pub(super) file_page_size: u64,
    /// Lookups by address, built once the notes are read ([`NoteInfo::from_notes`]): a
    /// region's name is asked for once per segment, and a hostile core has many of both.
    /// `files` by range.
    file_index: SpanIndex,
    /// Our note's mappings by range.
    mapping_index: SpanIndex,
    /// `threads` by stack pointer.
    stack_index: PointIndex,
}

impl NoteInfo {
    pub(super) fn from_notes(notes: &[Note]) -> Self {
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
                    let tid = le_u32(&n.desc, prstatus::PID);
                    let reg = |i: usize| le_u64(&n.desc, prstatus::REG + 8 * i);
                    let (rip, rsp) = (reg(user_regs::RIP), reg(user_regs::RSP));
                    if let (Some(tid), Some(rip), Some(rsp)) = (tid, rip, rsp) {
                        info.threads.push(ThreadInfo {
                            tid: i32::from_ne_bytes(tid.to_ne_bytes()),
                            rip,
                            rsp,
                        });
                    }
                }
                (b"CORE", NT_PRPSINFO) => {
                    info.pid =
                        le_u32(&n.desc, prpsinfo::PID).map(|p| i32::from_ne_bytes(p.to_ne_bytes()));
                }
                (b"CORE", NT_FILE) => {
                    (info.files, info.file_page_size) = parse_nt_file(&n.desc);
                }
                _ => {}
            }
        }
        info.file_index = SpanIndex::new(info.files.iter().map(|(s, ..)| *s));
        info.mapping_index =
            SpanIndex::new(info.confidump.iter().flat_map(|n| &n.mappings).map(|m| {
                match (parse_hex_addr(&m.start), parse_hex_addr(&m.end)) {
                    (Some(s), Some(e)) => Span::new(s, e),
                    // Unparsable: an empty span, which the index leaves out.
                    _ => Span::default(),
                }
            }));
        info.stack_index = PointIndex::new(info.threads.iter().map(|t| t.rsp));
        info
    }

    /// The name of the region starting at `span`, best source first.
    pub(super) fn name_for(&self, span: Span, by_paddr: bool) -> String {
        if by_paddr {
            return "[guest-physical]".to_string();
        }
        if let Some(note) = &self.confidump {
            let hit = self
                .mapping_index
                .find(span.start)
                .and_then(|i| note.mappings.get(i));
            if let Some(m) = hit {
                return if m.name.is_empty() {
                    "[anon]".to_string()
                } else {
                    m.name.clone()
                };
            }
        }
        let file = self.file_index.find(span.start);
        if let Some((_, _, p)) = file.and_then(|i| self.files.get(i)) {
            return p.clone();
        }
        // The kernel and gdb do not name anonymous memory; a thread's stack pointer does (the
        // lowest one in the span, should a hostile core put several there).
        let stack = self.stack_index.first_in(span);
        if let Some((i, t)) = stack.and_then(|i| Some((i, self.threads.get(i)?))) {
            let main = self.pid.map_or(i == 0, |pid| pid == t.tid);
            return if main {
                "[stack]".to_string()
            } else {
                format!("[stack:{}]", t.tid)
            };
        }
        "[anon]".to_string()
    }

    /// The refused ranges of our note that carry an errno.
    pub(super) fn refused_errnos(&self) -> Vec<(Span, i32)> {
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
    pub(super) fn file_maps(&self) -> Vec<FileMap> {
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
        // By range, the first entry of each: one lookup per NT_FILE entry.
        let mut private_by_span = std::collections::HashMap::with_capacity(from_note.len());
        for &(s, _, _, p) in &from_note {
            private_by_span.entry(s).or_insert(p);
        }
        let private_of = |span: Span| private_by_span.get(&span).copied();
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

    /// Note ranges as disjoint spans in address order, with the kind each gives.
    pub(super) fn note_ranges(&self) -> Vec<(Span, RegionKind)> {
        let Some(note) = &self.confidump else {
            return Vec::new();
        };
        let conv = |r: &crate::coredump::NoteRange, unreadable: bool| {
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
        // Disjoint, so that a lookup can binary-search them: a hostile note may overlap its
        // own ranges; the one that starts first keeps the overlap (unreadable before absent
        // at the same start), as the readers of this list always did.
        let mut last_end = 0u64;
        v.into_iter()
            .filter_map(|(s, kind)| {
                let start = s.start.max(last_end);
                (start < s.end).then(|| {
                    last_end = s.end;
                    (Span::new(start, s.end), kind)
                })
            })
            .collect()
    }
}

pub(super) fn le_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

pub(super) fn le_u64(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// NT_FILE: count, page size, `count` × (start, end, file page), then `count` NUL-terminated
/// paths. Returns the entries (range, file page, path) and the page size. A malformed note
/// yields what could be parsed before the fault.
pub(super) fn parse_nt_file(d: &[u8]) -> (Vec<(Span, u64, String)>, u64) {
    let mut out = Vec::new();
    let page_size = le_u64(d, file::PAGE_SIZE).unwrap_or(0);
    let Some(count) = le_u64(d, 0).and_then(|c| usize::try_from(c).ok()) else {
        return (out, page_size);
    };
    // Each entry needs its bytes of the descriptor: check before trusting `count`.
    let table_end = count
        .checked_mul(file::ENTRY_SIZE)
        .and_then(|t| t.checked_add(file::HEADER_SIZE));
    let Some(table_end) = table_end else {
        return (out, page_size);
    };
    if table_end > d.len() {
        return (out, page_size);
    }
    let mut names = d[table_end..].split(|&b| b == 0);
    for i in 0..count {
        let base = file::HEADER_SIZE + i * file::ENTRY_SIZE;
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

/// Parses the notes of one PT_NOTE segment, stopping at the first one that does not fit.
pub(super) fn parse_notes(data: &[u8], out: &mut Vec<Note>) {
    let mut off = 0usize;
    let align4 = |n: usize| n.checked_add(NOTE_ALIGN - 1).map(|n| n & !(NOTE_ALIGN - 1));
    while let (Some(namesz), Some(descsz), Some(n_type)) = (
        le_u32(data, off),
        le_u32(data, off + 4),
        le_u32(data, off + 8),
    ) {
        let parsed = (|| {
            let name_start = off.checked_add(NOTE_HEADER_SIZE)?;
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

/// The writer's notes, read back: each layout is known once ([`crate::coredump::layout`]), and
/// these show that what one side writes the other reads.
#[cfg(test)]
mod round_trip {
    use super::*;
    use crate::coredump::notes::{nt_file, push_note, FileMapping, PrPsInfo, PrStatus};
    use crate::coredump::{NoteMapping, NoteRange, NOTE_VERSION};

    fn read_back(segment: &[u8]) -> NoteInfo {
        let mut notes = Vec::new();
        parse_notes(segment, &mut notes);
        NoteInfo::from_notes(&notes)
    }

    fn thread(tid: i32, rip: u64, rsp: u64) -> PrStatus {
        let mut regs = [0u64; user_regs::COUNT];
        regs[user_regs::RIP] = rip;
        regs[user_regs::RSP] = rsp;
        // Neighbours of the registers read: a layout off by one would pick these up.
        regs[user_regs::RIP - 1] = 0xdead;
        regs[user_regs::RSP + 1] = 0xbeef;
        PrStatus {
            si_signo: 19,
            pid: tid,
            ppid: tid - 1,
            regs,
            fpvalid: true,
            ..PrStatus::default()
        }
    }

    #[test]
    fn prstatus_and_prpsinfo() {
        let psinfo = PrPsInfo {
            sname: b'S',
            uid: 1000,
            pid: 4242,
            ppid: 1,
            pgrp: 4242,
            sid: 4242,
            fname: b"victim".to_vec(),
            psargs: b"victim --mode plain".to_vec(),
            ..PrPsInfo::default()
        };
        let mut seg = Vec::new();
        for t in [
            thread(4242, 0x40_1000, 0x7ffd_1000),
            thread(4243, 0x40_2000, 0x7f00_2000),
        ] {
            push_note(&mut seg, "CORE", NT_PRSTATUS, &t.to_bytes()).unwrap();
        }
        push_note(&mut seg, "CORE", NT_PRPSINFO, &psinfo.to_bytes()).unwrap();
        let back = read_back(&seg);
        assert_eq!(back.pid, Some(4242));
        let threads: Vec<_> = back.threads.iter().map(|t| (t.tid, t.rip, t.rsp)).collect();
        assert_eq!(
            threads,
            [
                (4242, 0x40_1000, 0x7ffd_1000),
                (4243, 0x40_2000, 0x7f00_2000)
            ]
        );
    }

    #[test]
    fn nt_file_entries() {
        let files = [
            FileMapping {
                start: 0x40_0000,
                end: 0x40_2000,
                page_offset: 0,
                name: "/usr/bin/victim".into(),
            },
            FileMapping {
                start: 0x7f00_0000,
                end: 0x7f00_5000,
                page_offset: 3,
                name: "/usr/lib/libc.so.6".into(),
            },
        ];
        let mut seg = Vec::new();
        push_note(&mut seg, "CORE", NT_FILE, &nt_file(&files, 4096)).unwrap();
        let back = read_back(&seg);
        assert_eq!(back.file_page_size, 4096);
        let want: Vec<_> = files
            .iter()
            .map(|f| (Span::new(f.start, f.end), f.page_offset, f.name.clone()))
            .collect();
        assert_eq!(back.files, want);
    }

    #[test]
    fn our_note_and_the_one_after_it() {
        let note = ConfidumpNote {
            version: NOTE_VERSION,
            pid: 4242,
            tool: "confidump test".into(),
            policy: "attacker".into(),
            mappings: vec![NoteMapping {
                start: "0x1000".into(),
                end: "0x3000".into(),
                perms: "rw-p".into(),
                offset: "0x0".into(),
                name: "[heap]".into(),
                flags: vec!["rd".into(), "wr".into()],
            }],
            unreadable: vec![NoteRange {
                start: "0x3000".into(),
                end: "0x4000".into(),
                errno: Some(5),
                reason: "EIO (5): Input/output error".into(),
            }],
            absent: vec![NoteRange {
                start: "0x5000".into(),
                end: "0x6000".into(),
                errno: None,
                reason: "MADV_DONTDUMP (dd): gcore leaves it out".into(),
            }],
        };
        let json = serde_json::to_vec(&note).unwrap();
        let psinfo = PrPsInfo {
            pid: 4242,
            ..PrPsInfo::default()
        };
        let mut seg = Vec::new();
        // "CONFIDUMP" and its NUL are 10 bytes: the note after it starts past the padding.
        push_note(&mut seg, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS, &json).unwrap();
        push_note(&mut seg, "CORE", NT_PRPSINFO, &psinfo.to_bytes()).unwrap();
        let back = read_back(&seg);
        assert_eq!(back.confidump, Some(note));
        assert_eq!(back.pid, Some(4242));
        assert_eq!(back.name_for(Span::new(0x1000, 0x3000), false), "[heap]");
        assert_eq!(back.refused_errnos(), [(Span::new(0x3000, 0x4000), 5)]);
    }
}
