//! Public constants: findings that are the file they sit in, unchanged.
//!
//! QEMU maps `libgnutls.so`, whose read-only data holds GnuTLS's self-test private keys (PEM):
//! the detectors find them in every QEMU process, identical on every install. Bytes that a
//! file on disk holds at the same offset were not put in memory by the process; calling them a
//! leak would make a host dump "leak keys" that every reader of the library has. A finding is
//! **public** when all of these hold:
//!
//! * it lies wholly inside one file-backed mapping of the source (a live process's maps, a
//!   core's `NT_FILE` note or our own note) whose file still exists (not `(deleted)`);
//! * the mapping is not known to be shared: a `MAP_SHARED` mapping equals its file whatever
//!   the process wrote into it, so equality proves nothing there;
//! * the file is a regular file that every user may read (mode `o+r`): a key in a `0600` file
//!   that the process mapped is still a secret of that file's owner;
//! * the file's bytes at the mapping's offset equal the bytes in memory.
//!
//! A live process's file is opened through `/proc/PID/map_files/START-END`, the very inode it
//! mapped; a core's by its recorded path with `O_NOFOLLOW`, and a file changed since the core
//! was written simply does not compare equal (the finding stays a leak). Reads are bounded by
//! [`MAX_COMPARE`]; both copies are zeroized after the comparison.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::memory::MemorySource;

/// Longest finding compared with its file: a PEM key is a few KiB, a needle far less.
pub const MAX_COMPARE: u64 = 64 * 1024;

/// Where a public finding's bytes sit on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    /// The file (`/usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3`).
    pub file: String,
    /// Offset of the finding's first byte in the file.
    pub file_offset: u64,
}

/// Compares findings with the files they sit in, opening each file once per scan.
#[derive(Default)]
pub struct PublicCheck {
    /// Opened files by the path they were opened through; `None` when the file does not
    /// qualify (not regular, not world-readable, cannot be opened).
    files: HashMap<PathBuf, Option<File>>,
}

impl PublicCheck {
    /// A checker with no file opened yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some` when the `len` bytes at `vaddr` of `source` are a public constant (see the module
    /// documentation for the rules).
    pub fn origin<S: MemorySource + ?Sized>(
        &mut self,
        source: &S,
        vaddr: u64,
        len: u64,
    ) -> Option<PublicOrigin> {
        if len == 0 || len > MAX_COMPARE {
            return None;
        }
        let fb = source.file_backing(vaddr)?;
        if vaddr.checked_add(len)? > fb.mapping_end || fb.private == Some(false) {
            return None;
        }
        let n = usize::try_from(len).ok()?;
        let mut mem = Zeroizing::new(vec![0u8; n]);
        source.read_exact_at(vaddr, &mut mem).ok()?;
        let file = self
            .files
            .entry(fb.open_path.clone())
            .or_insert_with(|| open_public(&fb.open_path, fb.magic_link))
            .as_ref()?;
        let mut disk = Zeroizing::new(vec![0u8; n]);
        file.read_exact_at(&mut disk, fb.offset).ok()?;
        (*mem == *disk).then_some(PublicOrigin {
            file: fb.path,
            file_offset: fb.offset,
        })
    }
}

/// Bytes compared on each side of a needle hit with the program's own file ([`own_copy`]):
/// a random secret is never surrounded by 24 bytes that the program file holds around it.
pub const OWN_CONTEXT: u64 = 24;

/// Largest program file read for [`split_own_copies`].
const MAX_PROGRAM: u64 = 512 * 1024 * 1024;

/// Where in the program file `program` the bytes around the hit at `vaddr` stand (the hit's
/// own offset), when they do: the `len` bytes plus [`OWN_CONTEXT`] bytes on at least one side,
/// within the region that holds the hit. The hit is then a copy of the program's own data —
/// help text that a parser copied to the heap — not the secret the victim stores.
pub fn own_copy<S: MemorySource + ?Sized>(
    program: &[u8],
    source: &S,
    vaddr: u64,
    len: u64,
) -> Option<u64> {
    let region = source.region_at(vaddr)?;
    let start = vaddr.saturating_sub(OWN_CONTEXT).max(region.span.start);
    let end = vaddr
        .checked_add(len)?
        .checked_add(OWN_CONTEXT)?
        .min(region.span.end);
    let wide = end.checked_sub(start)?;
    if wide < len.checked_add(OWN_CONTEXT)? || wide > MAX_COMPARE {
        return None;
    }
    let mut window = Zeroizing::new(vec![0u8; usize::try_from(wide).ok()?]);
    source.read_exact_at(start, &mut window).ok()?;
    let at = memchr::memmem::find(program, &window)?;
    u64::try_from(at).ok()?.checked_add(vaddr - start)
}

/// Moves the needle hits of `report` that are copies of the program's own bytes (see
/// [`own_copy`]) to its public constants, and says the verdict again: the attacker's (and
/// victim's) own help text, with its `CONFIDUMP-…` examples, is no leak of the secret.
/// `program` is the victim's executable (`/proc/PID/exe`); a file that cannot be read as a
/// regular file leaves the report as it is.
pub fn split_own_copies<S: MemorySource + ?Sized>(
    report: &mut crate::model::ScanReport,
    source: &S,
    program: &std::path::Path,
) {
    use std::io::Read;
    if report.hits.is_empty() {
        return;
    }
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(program)
    else {
        return;
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return;
    }
    let mut bytes = Vec::new();
    if file.take(MAX_PROGRAM).read_to_end(&mut bytes).is_err() {
        return;
    }
    let name = std::fs::read_link(program)
        .unwrap_or_else(|_| program.to_path_buf())
        .display()
        .to_string();
    let hits = std::mem::take(&mut report.hits);
    for h in hits {
        match own_copy(&bytes, source, h.vaddr, h.len) {
            Some(file_offset) => report.public_hits.push(crate::model::PublicConstant {
                finding: h,
                file: name.clone(),
                file_offset,
                copy: true,
            }),
            None => report.hits.push(h),
        }
    }
    if report.hits.is_empty()
        && report.detections.is_empty()
        && report.hits_more == 0
        && report.detections_more == 0
    {
        report.verdict = crate::model::Verdict::NoLeak;
    }
}

/// Opens `path` for reading when it is a regular file every user may read. A plain path is
/// opened with `O_NOFOLLOW` (a symlink planted in its place is refused) and `O_NONBLOCK` (a
/// FIFO never blocks the scan); a `map_files` magic link must be followed to reach the inode.
fn open_public(path: &std::path::Path, magic_link: bool) -> Option<File> {
    let mut flags = libc::O_NONBLOCK;
    if !magic_link {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.mode() & 0o004 != 0).then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::live::LiveProcess;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// A PEM-looking block in a file this test maps itself.
    const KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAq\n-----END PRIVATE KEY-----\n";

    struct Map {
        ptr: *mut libc::c_void,
        len: usize,
    }

    impl Map {
        fn of(file: &File, len: usize, prot: i32, flags: i32) -> Self {
            // SAFETY: maps `len` bytes of an open file; unmapped in Drop, never aliased mutably
            // outside this test.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    flags,
                    std::os::fd::AsRawFd::as_raw_fd(file),
                    0,
                )
            };
            assert_ne!(ptr, libc::MAP_FAILED);
            Map { ptr, len }
        }
        fn addr(&self) -> u64 {
            self.ptr as u64
        }
    }

    impl Drop for Map {
        fn drop(&mut self) {
            // SAFETY: our own mapping.
            unsafe {
                libc::munmap(self.ptr, self.len);
            }
        }
    }

    fn key_file(mode: u32) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        let mut f = File::create(&path).unwrap();
        f.write_all(&[b'.'; 100]).unwrap();
        f.write_all(KEY).unwrap();
        f.write_all(&[b'.'; 4096]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, File::open(&path).unwrap())
    }

    #[test]
    fn mapped_unchanged_is_public_written_or_copied_is_not() {
        let (_dir, f) = key_file(0o644);
        let ro = Map::of(&f, 4096, libc::PROT_READ, libc::MAP_PRIVATE);
        let rw = Map::of(
            &f,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE,
        );
        // A private copy whose key was rewritten in place: no longer the file's bytes.
        // SAFETY: writes inside our own writable private mapping of 4096 bytes.
        unsafe { *(rw.ptr.cast::<u8>().add(130)) ^= 1 };
        let heap = KEY.to_vec();
        let me = LiveProcess::open(std::process::id() as i32, false).unwrap();
        let mut check = PublicCheck::new();
        let len = KEY.len() as u64;
        let o = check.origin(&me, ro.addr() + 100, len).expect("public");
        assert_eq!(o.file_offset, 100);
        assert!(o.file.ends_with("key.pem"), "{o:?}");
        assert!(check.origin(&me, rw.addr() + 100, len).is_none());
        assert!(check.origin(&me, heap.as_ptr() as u64, len).is_none());
    }

    #[test]
    fn shared_or_private_files_are_not_public() {
        let (_dir, f) = key_file(0o600);
        let ro = Map::of(&f, 4096, libc::PROT_READ, libc::MAP_PRIVATE);
        let me = LiveProcess::open(std::process::id() as i32, false).unwrap();
        let len = KEY.len() as u64;
        assert!(PublicCheck::new()
            .origin(&me, ro.addr() + 100, len)
            .is_none());
        let (_dir2, g) = key_file(0o644);
        let shared = Map::of(&g, 4096, libc::PROT_READ, libc::MAP_SHARED);
        assert!(PublicCheck::new()
            .origin(&me, shared.addr() + 100, len)
            .is_none());
    }
}
