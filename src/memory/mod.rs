//! Where the attacker's bytes come from.
//!
//! [`MemorySource`] is the one abstraction every reader implements: a live process
//! ([`live::LiveProcess`]), an ELF core file (`coredump::reader::CoreFile`) and, later, a VM guest
//! dump. The scanner and the hex view work over any of them and never learn which it is.
//!
//! [`read_pagewise`] is the one place that decides what happens when a read fails part-way:
//! the range is retried page by page, so a readable page after an unreadable one is never lost.

pub mod alive;
pub mod bytes;
pub mod fork_snapshot;
pub mod live;
pub mod pagebuf;
pub mod ptrace;
pub mod refusal;
pub mod window;

use crate::model::Span;

/// Page size of x86-64 Linux (defined with the `/proc` parsers, the ground floor).
pub use crate::procfs::PAGE_SIZE;

/// What a region of a source holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionKind {
    /// Bytes are available (they may still fail to read, e.g. in a live process).
    Readable,
    /// A read was attempted and refused: the reason names the errno.
    Unreadable(String),
    /// The dump left this range out without reading it (gcore's `dd` rule, coredump_filter,
    /// a kernel core's unwritten segment): absence proves nothing.
    Absent(String),
}

/// One region of a source's address space, in address order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRegion {
    /// Addresses covered.
    pub span: Span,
    /// Human name: `[heap]`, `[stack]`, `/usr/lib/x86_64-linux-gnu/libc.so.6`, `[anon]`.
    pub name: String,
    /// Whether the bytes are there.
    pub kind: RegionKind,
    /// Offset in the source (file offset for a core, `/proc/PID/mem` offset for a live
    /// process) of `span.start`, when the region is readable.
    pub offset: Option<u64>,
}

/// A failed read: which errno (if the kernel gave one) and a sentence for reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ReadError {
    /// The errno of the failing system call, if any.
    pub errno: Option<i32>,
    /// `EIO: memory refused by the kernel (memfd_secret, VM_IO)`, `not in the dump`, ...
    pub reason: String,
}

impl ReadError {
    /// A read error from an errno, with the conventional explanation.
    pub fn from_errno(errno: i32) -> Self {
        Self {
            errno: Some(errno),
            reason: describe_errno(errno),
        }
    }
}

/// The symbolic name of the errnos a read of memory meets (`EIO`, `EFAULT`, ...), if known.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EIO => "EIO",
        libc::EFAULT => "EFAULT",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ESRCH => "ESRCH",
        libc::ENOMEM => "ENOMEM",
        _ => return None,
    })
}

/// `EIO: ...` style description of a read errno, as reports show it.
pub fn describe_errno(errno: i32) -> String {
    let name = errno_name(errno).unwrap_or("errno");
    // nix's description has no "(os error N)" suffix, which std's Display adds.
    format!(
        "{name} ({errno}): {}",
        nix::errno::Errno::from_raw(errno).desc()
    )
}

/// The file a mapping of a source maps, at one address: what the scanner needs to tell a
/// public constant (bytes that sit unchanged in a file on disk, such as GnuTLS's self-test keys
/// in `libgnutls.so`) from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBacking {
    /// The file's path as the process mapped it (`/usr/lib/x86_64-linux-gnu/libgnutls.so.30…`).
    pub path: String,
    /// Offset in the file of the address asked about.
    pub offset: u64,
    /// The address where the mapping ends: a finding must lie wholly before it.
    pub mapping_end: u64,
    /// What to open to read the file: `/proc/PID/map_files/START-END` for a live process (the
    /// very inode mapped, even if the path was replaced since), the path itself for a core.
    pub open_path: std::path::PathBuf,
    /// True when `open_path` is a kernel magic link that must be followed (`map_files`); a
    /// plain path is opened with `O_NOFOLLOW`.
    pub magic_link: bool,
    /// `Some(true)` for a private (copy-on-write) mapping, `Some(false)` for a shared one (its
    /// bytes equal the file's whatever the process wrote), `None` when the source cannot tell.
    pub private: Option<bool>,
}

/// Anything the attacker can read memory from. `Sync`: the scanner reads the next chunk on one
/// thread while it searches the last on another.
pub trait MemorySource: Sync {
    /// One line saying what this is: `core file /tmp/x.core (confidump)`, `pid 1234 (live)`.
    fn describe(&self) -> String;
    /// All regions, sorted by address, not overlapping.
    fn regions(&self) -> &[SourceRegion];
    /// Fills `buf` from `addr`. Fails if any byte of the range cannot be read; callers that
    /// want the readable part use [`read_pagewise`].
    fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError>;

    /// Fills each `(addr, buf)` part, in one system call where the source can (a live
    /// process: one `process_vm_readv` with many ranges). Fails if any byte of any part cannot
    /// be read; callers then read the parts one by one with [`read_pagewise`].
    fn read_parts_at(&self, parts: &mut [(u64, &mut [u8])]) -> Result<(), ReadError> {
        for (addr, buf) in parts.iter_mut() {
            self.read_exact_at(*addr, buf)?;
        }
        Ok(())
    }

    /// The file mapped at `addr`, when the source knows it (live processes and cores with an
    /// `NT_FILE` note do; guest-physical dumps do not).
    fn file_backing(&self, addr: u64) -> Option<FileBacking> {
        let _ = addr;
        None
    }

    /// Where the source can tell never-populated pages, which read as zeros, without reading
    /// them: the `/proc/PID/pagemap` of a live process when `addr` lies in one of its private
    /// anonymous mappings, with the end of that mapping. `None` (the default) for every other
    /// source or mapping: file pages and shared memory read as their file or shared object
    /// whether this process touched them or not.
    fn unpopulated_zeros(&self, addr: u64) -> Option<(&crate::procfs::pagemap::Pagemap, u64)> {
        let _ = addr;
        None
    }

    /// The region containing `addr`, if any.
    fn region_at(&self, addr: u64) -> Option<&SourceRegion> {
        let regions = self.regions();
        let idx = regions.partition_point(|r| r.span.end <= addr);
        regions.get(idx).filter(|r| r.span.contains(addr))
    }
}

/// Reads `buf.len()` bytes at `addr`, falling back to page-sized reads when the whole read
/// fails, and returns the unreadable sub-ranges (merged, in order) with their errors. Bytes of
/// unreadable pages are left zero in `buf`; callers must consult the returned list and never
/// treat those zeros as data.
pub fn read_pagewise<S: MemorySource + ?Sized>(
    src: &S,
    addr: u64,
    buf: &mut [u8],
) -> Vec<(Span, ReadError)> {
    if src.read_exact_at(addr, buf).is_ok() {
        return Vec::new();
    }
    let mut bad: Vec<(Span, ReadError)> = Vec::new();
    let mut done = 0usize;
    while done < buf.len() {
        let page_addr = addr.saturating_add(done as u64);
        // Up to the next page boundary, so later pages start aligned.
        let to_boundary = PAGE_SIZE - (page_addr % PAGE_SIZE);
        let n = usize::try_from(to_boundary)
            .unwrap_or(usize::MAX)
            .min(buf.len() - done);
        let piece = &mut buf[done..done + n];
        if let Err(e) = src.read_exact_at(page_addr, piece) {
            piece.fill(0);
            let span = Span::new(page_addr, page_addr.saturating_add(n as u64));
            match bad.last_mut() {
                Some((last, last_err)) if last.end == span.start && *last_err == e => {
                    last.end = span.end
                }
                _ => bad.push((span, e)),
            }
        }
        done += n;
    }
    bad
}
