//! ELF note encoding: the kernel's notes (`elf_prstatus`, `elf_prpsinfo`, NT_FILE) written in
//! the layouts of [`super::layout`], which the reader shares, as pure functions over plain
//! data so they can be checked byte by byte in unit tests.
//!
//! Every size that goes into a 32-bit note field is converted with `try_from`: a note too large
//! for its header is an error, never a silently truncated header.

use super::layout::{nt_file as file, prpsinfo, prstatus, user_regs, NOTE_ALIGN};

/// Errors building notes.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    /// A name or descriptor does not fit the 32-bit size fields of a note header.
    #[error("note {name:?} type {ntype:#x}: {what} of {len} bytes does not fit a note")]
    TooLarge {
        /// Owner name.
        name: String,
        /// Note type.
        ntype: u32,
        /// `name` or `descriptor`.
        what: &'static str,
        /// The size.
        len: usize,
    },
}

/// Appends one note (`namesz`, `descsz`, `type`, name + NUL, descriptor), name and descriptor
/// each padded to 4 bytes, as Linux cores use for ELF64 too.
pub fn push_note(out: &mut Vec<u8>, name: &str, ntype: u32, desc: &[u8]) -> Result<(), NoteError> {
    let too_large = |what, len| NoteError::TooLarge {
        name: name.to_string(),
        ntype,
        what,
        len,
    };
    let name_len = name.len() + 1; // with its NUL
    let namesz = u32::try_from(name_len).map_err(|_| too_large("name", name_len))?;
    let descsz = u32::try_from(desc.len()).map_err(|_| too_large("descriptor", desc.len()))?;
    out.extend_from_slice(&namesz.to_le_bytes());
    out.extend_from_slice(&descsz.to_le_bytes());
    out.extend_from_slice(&ntype.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(desc);
    pad4(out);
    Ok(())
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % NOTE_ALIGN != 0 {
        out.push(0);
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    // Offsets are constants of the layouts below, all inside the fixed-size buffers; `get_mut`
    // keeps a mistake from becoming a panic (it would show in the unit tests as a zero field).
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// A `struct timeval` in a prstatus: seconds and microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeVal {
    /// Seconds.
    pub sec: i64,
    /// Microseconds.
    pub usec: i64,
}

/// The content of one thread's `NT_PRSTATUS`.
#[derive(Debug, Clone, Default)]
pub struct PrStatus {
    /// `pr_info.si_signo`.
    pub si_signo: i32,
    /// `pr_info.si_code`.
    pub si_code: i32,
    /// `pr_info.si_errno`.
    pub si_errno: i32,
    /// `pr_cursig`: the current signal.
    pub cursig: i16,
    /// Pending signals.
    pub sigpend: u64,
    /// Blocked signals.
    pub sighold: u64,
    /// Thread ID.
    pub pid: i32,
    /// Parent PID.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Session.
    pub sid: i32,
    /// User, system, children's user, children's system time.
    pub times: [TimeVal; 4],
    /// `user_regs_struct`.
    pub regs: [u64; user_regs::COUNT],
    /// True when an NT_FPREGSET follows.
    pub fpvalid: bool,
}

impl PrStatus {
    /// The 336-byte `elf_prstatus`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; prstatus::SIZE];
        put(&mut b, prstatus::SI_SIGNO, &self.si_signo.to_le_bytes());
        put(&mut b, prstatus::SI_CODE, &self.si_code.to_le_bytes());
        put(&mut b, prstatus::SI_ERRNO, &self.si_errno.to_le_bytes());
        put(&mut b, prstatus::CURSIG, &self.cursig.to_le_bytes());
        put(&mut b, prstatus::SIGPEND, &self.sigpend.to_le_bytes());
        put(&mut b, prstatus::SIGHOLD, &self.sighold.to_le_bytes());
        put(&mut b, prstatus::PID, &self.pid.to_le_bytes());
        put(&mut b, prstatus::PPID, &self.ppid.to_le_bytes());
        put(&mut b, prstatus::PGRP, &self.pgrp.to_le_bytes());
        put(&mut b, prstatus::SID, &self.sid.to_le_bytes());
        for (i, t) in self.times.iter().enumerate() {
            let at = prstatus::TIMES + prstatus::TIMEVAL_SIZE * i;
            put(&mut b, at, &t.sec.to_le_bytes());
            put(&mut b, at + 8, &t.usec.to_le_bytes());
        }
        for (i, r) in self.regs.iter().enumerate() {
            put(&mut b, prstatus::REG + 8 * i, &r.to_le_bytes());
        }
        put(
            &mut b,
            prstatus::FPVALID,
            &i32::from(self.fpvalid).to_le_bytes(),
        );
        b
    }
}

/// The content of `NT_PRPSINFO`.
#[derive(Debug, Clone, Default)]
pub struct PrPsInfo {
    /// State letter (`R`, `S`, ...).
    pub sname: u8,
    /// Nice value.
    pub nice: i8,
    /// Kernel task flags.
    pub flag: u64,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// PID.
    pub pid: i32,
    /// Parent PID.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Session.
    pub sid: i32,
    /// Command name (first 15 bytes kept).
    pub fname: Vec<u8>,
    /// Command line, arguments separated by spaces (first 79 bytes kept).
    pub psargs: Vec<u8>,
}

impl PrPsInfo {
    /// The 136-byte `elf_prpsinfo`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; prpsinfo::SIZE];
        // pr_state is the index of the letter in "RSDTZW", as the kernel computes it.
        let state = b"RSDTZW"
            .iter()
            .position(|&c| c == self.sname)
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(0);
        put(
            &mut b,
            prpsinfo::STATE,
            &[state, self.sname, u8::from(self.sname == b'Z')],
        );
        put(&mut b, prpsinfo::NICE, &self.nice.to_le_bytes());
        put(&mut b, prpsinfo::FLAG, &self.flag.to_le_bytes());
        put(&mut b, prpsinfo::UID, &self.uid.to_le_bytes());
        put(&mut b, prpsinfo::GID, &self.gid.to_le_bytes());
        put(&mut b, prpsinfo::PID, &self.pid.to_le_bytes());
        put(&mut b, prpsinfo::PPID, &self.ppid.to_le_bytes());
        put(&mut b, prpsinfo::PGRP, &self.pgrp.to_le_bytes());
        put(&mut b, prpsinfo::SID, &self.sid.to_le_bytes());
        // Both strings keep a terminating NUL inside their fixed arrays.
        let fname = self.fname.len().min(prpsinfo::FNAME_LEN - 1);
        put(&mut b, prpsinfo::FNAME, &self.fname[..fname]);
        let psargs = self.psargs.len().min(prpsinfo::PSARGS_LEN - 1);
        put(&mut b, prpsinfo::PSARGS, &self.psargs[..psargs]);
        b
    }
}

/// One file-backed mapping for `NT_FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Offset in the file, in pages.
    pub page_offset: u64,
    /// Path of the file.
    pub name: String,
}

/// The `NT_FILE` descriptor: count, page size, `count` × (start, end, offset in pages), then
/// the NUL-terminated names in the same order.
pub fn nt_file(files: &[FileMapping], page_size: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(file::HEADER_SIZE + file::ENTRY_SIZE * files.len());
    b.extend_from_slice(&(files.len() as u64).to_le_bytes());
    b.extend_from_slice(&page_size.to_le_bytes());
    for f in files {
        b.extend_from_slice(&f.start.to_le_bytes());
        b.extend_from_slice(&f.end.to_le_bytes());
        b.extend_from_slice(&f.page_offset.to_le_bytes());
    }
    for f in files {
        b.extend_from_slice(f.name.as_bytes());
        b.push(0);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_is_padded_to_four() {
        let mut v = Vec::new();
        push_note(&mut v, "LINUX", 0x202, &[1, 2, 3, 4, 5]).unwrap();
        // 12 header + "LINUX\0" padded to 8 + 5 padded to 8
        assert_eq!(v.len(), 12 + 8 + 8);
        assert_eq!(&v[0..4], &6u32.to_le_bytes());
        assert_eq!(&v[4..8], &5u32.to_le_bytes());
        assert_eq!(&v[8..12], &0x202u32.to_le_bytes());
        assert_eq!(&v[12..18], b"LINUX\0");
        assert_eq!(&v[20..25], &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn prstatus_layout() {
        let mut regs = [0u64; user_regs::COUNT];
        regs[0] = 0x1111; // r15
        regs[16] = 0x4242; // rip
        let p = PrStatus {
            si_signo: 19,
            si_code: 7,
            si_errno: 3,
            cursig: 19,
            sigpend: 0x100,
            sighold: 0x200,
            pid: 10,
            ppid: 11,
            pgrp: 12,
            sid: 13,
            times: [TimeVal { sec: 5, usec: 6 }; 4],
            regs,
            fpvalid: true,
        };
        let b = p.to_bytes();
        assert_eq!(b.len(), 336);
        assert_eq!(&b[0..4], &19i32.to_le_bytes());
        assert_eq!(&b[4..8], &7i32.to_le_bytes());
        assert_eq!(&b[8..12], &3i32.to_le_bytes());
        assert_eq!(&b[12..14], &19i16.to_le_bytes());
        assert_eq!(&b[16..24], &0x100u64.to_le_bytes());
        assert_eq!(&b[24..32], &0x200u64.to_le_bytes());
        assert_eq!(&b[32..36], &10i32.to_le_bytes());
        assert_eq!(&b[44..48], &13i32.to_le_bytes());
        assert_eq!(&b[48..56], &5i64.to_le_bytes());
        assert_eq!(&b[104..112], &6i64.to_le_bytes());
        assert_eq!(&b[112..120], &0x1111u64.to_le_bytes());
        assert_eq!(&b[112 + 16 * 8..112 + 17 * 8], &0x4242u64.to_le_bytes());
        assert_eq!(&b[328..332], &1i32.to_le_bytes());
    }

    #[test]
    fn prpsinfo_layout() {
        let p = PrPsInfo {
            sname: b'S',
            nice: -2,
            flag: 0x40,
            uid: 1000,
            gid: 100,
            pid: 7,
            ppid: 1,
            pgrp: 7,
            sid: 7,
            fname: b"a-very-long-command-name".to_vec(),
            psargs: b"prog arg".to_vec(),
        };
        let b = p.to_bytes();
        assert_eq!(b.len(), 136);
        assert_eq!(&b[0..4], &[1, b'S', 0, (-2i8) as u8]);
        assert_eq!(&b[8..16], &0x40u64.to_le_bytes());
        assert_eq!(&b[16..20], &1000u32.to_le_bytes());
        assert_eq!(&b[24..28], &7i32.to_le_bytes());
        assert_eq!(&b[40..55], b"a-very-long-com");
        assert_eq!(b[55], 0);
        assert_eq!(&b[56..64], b"prog arg");
    }

    #[test]
    fn nt_file_layout() {
        let f = [FileMapping {
            start: 0x1000,
            end: 0x3000,
            page_offset: 2,
            name: "/bin/x".into(),
        }];
        let b = nt_file(&f, 4096);
        assert_eq!(&b[0..8], &1u64.to_le_bytes());
        assert_eq!(&b[8..16], &4096u64.to_le_bytes());
        assert_eq!(&b[16..24], &0x1000u64.to_le_bytes());
        assert_eq!(&b[32..40], &2u64.to_le_bytes());
        assert_eq!(&b[40..], b"/bin/x\0");
    }
}
