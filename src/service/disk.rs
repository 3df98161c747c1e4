//! The `disk` attack: what a stolen disk or backup of the database server gives away.
//!
//! [`DirSource`] presents the regular files under a directory as a [`MemorySource`], one region
//! per file (named by its path relative to the directory, its offset the file offset), so the
//! project's one scanner searches them exactly as it searches memory. [`attack`] first asks the
//! server for a `CHECKPOINT` (what it does on its own every few minutes), so the data files hold
//! what the server has handled, then scans the data directory.

use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::memory::{MemorySource, ReadError, RegionKind, SourceRegion, PAGE_SIZE};
use crate::model::{ScanReport, Span};
use crate::scan::{scan_source, Needles, ScanError};

/// Errors of the disk attack.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The directory cannot be listed.
    #[error("cannot read directory {path}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The scanner failed.
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// The regular files under a directory, as one address space: each file at its own
/// page-aligned base, with an unmapped page between files so no match spans two files.
#[derive(Debug)]
pub struct DirSource {
    root: PathBuf,
    /// The absolute path of each region's file, by region index.
    files: Vec<PathBuf>,
    regions: Vec<SourceRegion>,
}

impl DirSource {
    /// Lists the files under `root` (recursively, never following symlinks). A file that cannot
    /// be opened becomes an unreadable region with the reason.
    pub fn open(root: &Path) -> Result<Self, DiskError> {
        let mut found: Vec<(PathBuf, u64)> = Vec::new();
        walk(root, &mut found, true)?;
        found.sort();
        let mut files = Vec::with_capacity(found.len());
        let mut regions = Vec::with_capacity(found.len());
        let mut next = PAGE_SIZE;
        for (path, len) in found {
            if len == 0 {
                continue;
            }
            let span = Span::new(next, next.saturating_add(len));
            let kind = match open_nofollow(&path) {
                Ok(_) => RegionKind::Readable,
                Err(e) => RegionKind::Unreadable(e.to_string()),
            };
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            regions.push(SourceRegion {
                span,
                name,
                kind,
                offset: Some(0),
            });
            files.push(path);
            let pages = len.div_ceil(PAGE_SIZE).saturating_add(1);
            next = next.saturating_add(pages.saturating_mul(PAGE_SIZE));
        }
        Ok(Self {
            root: root.to_path_buf(),
            files,
            regions,
        })
    }

    /// Number of files (of non-zero length).
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Total bytes of the files.
    pub fn total_bytes(&self) -> u64 {
        self.regions.iter().map(|r| r.span.len()).sum()
    }
}

fn open_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>, top: bool) -> Result<(), DiskError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) if top => {
            return Err(DiskError::Dir {
                path: dir.to_path_buf(),
                source,
            })
        }
        // A subdirectory that vanished (a server still running) or cannot be listed: what
        // the thief could not list is not there to scan. Logged, not hidden.
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "skipping unreadable directory");
            return Ok(());
        }
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if m.is_dir() {
            walk(&path, out, false)?;
        } else if m.is_file() {
            out.push((path, m.len()));
        }
    }
    Ok(())
}

impl MemorySource for DirSource {
    fn describe(&self) -> String {
        format!(
            "directory {} ({} files)",
            self.root.display(),
            self.files.len()
        )
    }

    fn regions(&self) -> &[SourceRegion] {
        &self.regions
    }

    fn read_exact_at(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let idx = self.regions.partition_point(|r| r.span.end <= addr);
        let (Some(region), Some(path)) = (self.regions.get(idx), self.files.get(idx)) else {
            return Err(ReadError::from_errno(libc::EFAULT));
        };
        let end = addr.saturating_add(buf.len() as u64);
        if !region.span.contains(addr) || end > region.span.end {
            return Err(ReadError::from_errno(libc::EFAULT));
        }
        let io = |e: std::io::Error| ReadError {
            errno: e.raw_os_error(),
            reason: format!("{}: {e}", region.name),
        };
        let f = open_nofollow(path).map_err(io)?;
        // A file that shrank since it was listed fails here (UnexpectedEof): reported, not zero.
        f.read_exact_at(buf, addr - region.span.start).map_err(io)
    }
}

/// Scans the files under `dir` for `needles`.
pub fn scan_dir(dir: &Path, needles: &Needles) -> Result<ScanReport, DiskError> {
    let src = DirSource::open(dir)?;
    Ok(scan_source(&src, needles)?)
}

/// The disk attack on a running instance: `CHECKPOINT` through its socket (as the superuser
/// the instance trusts on its private socket), then a scan of `data_dir`. Returns the report
/// and whether the checkpoint ran (a server that is gone leaves the files as they are).
pub fn attack(
    socket_dir: &Path,
    data_dir: &Path,
    needles: &Needles,
) -> Result<(ScanReport, bool), DiskError> {
    let checkpointed = checkpoint(socket_dir);
    Ok((scan_dir(data_dir, needles)?, checkpointed))
}

/// `CHECKPOINT` through the instance's socket: every dirty page is written to the data files.
/// False when it could not run (a server that is gone leaves the files as they are).
pub fn checkpoint(socket_dir: &Path) -> bool {
    postgres::Config::new()
        .host_path(socket_dir)
        .port(super::instance::PORT)
        .user(super::instance::DB_USER)
        .dbname("postgres")
        .application_name("confidump-disk")
        .connect(postgres::NoTls)
        .and_then(|mut c| c.batch_execute("CHECKPOINT"))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;
    use crate::secret::Secret;

    #[test]
    fn finds_needles_in_files_with_relative_names_and_offsets() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("base/1")).unwrap();
        let mut data = vec![b'.'; 10000];
        data[9000..9007].copy_from_slice(b"hunter2");
        std::fs::write(t.path().join("base/1/16384"), &data).unwrap();
        std::fs::write(t.path().join("a"), b"xxhunt").unwrap();
        // The next file starts with the rest: a match must not span files.
        std::fs::write(t.path().join("b"), b"er2yy").unwrap();
        std::fs::write(t.path().join("empty"), b"").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join("link")).unwrap();
        let src = DirSource::open(t.path()).unwrap();
        assert_eq!(src.file_count(), 3);
        let mut n = Needles::new();
        n.add_bytes(Secret::new(b"hunter2".to_vec()));
        let r = scan_source(&src, &n).unwrap();
        assert_eq!(r.verdict, Verdict::Leak);
        let raw: Vec<_> = r
            .hits
            .iter()
            .filter(|h| h.encoding == crate::model::Encoding::Raw)
            .collect();
        assert_eq!(raw.len(), 1, "{:?}", r.hits);
        assert_eq!(raw[0].mapping, "base/1/16384");
        assert_eq!(raw[0].offset, 9000);
        assert!(r.unreadable.is_empty());
    }

    #[test]
    fn missing_directory_is_an_error() {
        assert!(DirSource::open(Path::new("/nonexistent/confidump")).is_err());
    }
}
