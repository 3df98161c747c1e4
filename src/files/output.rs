//! The one way confidump creates a file: cores, reports, ready files, QMP dumps.
//!
//! # Rules
//! * **Unnamed until complete.** The file is created with `O_TMPFILE` in the target's
//!   directory and given its name with `linkat` only when complete, so a run killed at any
//!   moment (even by SIGKILL) leaves nothing. Where the file system lacks `O_TMPFILE`, a short
//!   hidden name (`.cfd-PID-N.tmp`, which fits `NAME_MAX` whatever the final name) is used,
//!   registered for removal on a signal ([`super::cleanup`]) and removed on drop.
//! * **No link followed, no device replaced.** A symlink at the final name is refused, even a
//!   dangling one, even with `force`; so is anything that is not a regular file (`/dev/null`,
//!   a FIFO, a directory). Temporary files are `O_EXCL`/`O_NOFOLLOW`.
//! * **0600**, whatever the umask allows.
//! * **Never overwrite without `force`**, checked up front ([`check_target`], which callers
//!   run before a long job) and again atomically when the file gets its name.

use std::ffi::{CString, OsString};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::cleanup::{self, Registration};

/// Errors creating or publishing an output file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The target exists and `force` was not given.
    #[error("{} already exists (use --force to overwrite it)", path.display())]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// The target is a symbolic link: writing would follow it, wherever it points.
    #[error("{} is a symbolic link: refusing to write through it (remove it, or choose another path)", path.display())]
    Symlink {
        /// The target.
        path: PathBuf,
    },
    /// The target is a device, FIFO, directory or socket: never replaced, even with --force.
    #[error("{} is {kind}, not a regular file: refusing to replace it, even with --force", path.display())]
    NotRegular {
        /// The target.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Distinguishes temporary names made by one process.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The directory holding `target` (`.` for a bare file name) and its file name.
pub fn split_target(target: &Path) -> Result<(PathBuf, OsString), OutputError> {
    let name = target
        .file_name()
        .ok_or_else(|| OutputError::Io {
            context: format!("output path {}", target.display()),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "has no file name"),
        })?
        .to_os_string();
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

/// A fresh temporary name in `target`'s directory: `.cfd-WHAT-PID-N.tmp`. Short, so it fits
/// `NAME_MAX` whatever the final name's length.
pub fn temp_name_for(target: &Path, what: &str) -> Result<PathBuf, OutputError> {
    let (dir, _) = split_target(target)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!(".cfd-{what}-{}-{n}.tmp", std::process::id())))
}

/// Whether `target` may be written: refuses a symlink or a non-regular file at it (even with
/// `force`) and an existing regular file without `force`. Run it before a long job, so the
/// job is not wasted on a path that will be refused.
pub fn check_target(target: &Path, force: bool) -> Result<(), OutputError> {
    let meta = match target.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(OutputError::Io {
                context: format!("checking {}", target.display()),
                source,
            })
        }
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(OutputError::Symlink {
            path: target.to_path_buf(),
        });
    }
    if !ft.is_file() {
        return Err(OutputError::NotRegular {
            path: target.to_path_buf(),
            kind: super::describe_file_type(&ft),
        });
    }
    if !force {
        return Err(OutputError::Exists {
            path: target.to_path_buf(),
        });
    }
    Ok(())
}

/// How the file exists until it is published.
#[derive(Debug)]
enum Temp {
    /// `O_TMPFILE`: no name at all.
    Unnamed,
    /// A named temporary file, removed on drop and on a signal.
    Named {
        path: PathBuf,
        _registration: Registration,
    },
}

/// An output file being written; see the module docs. Dropped before [`OutputFile::commit`],
/// it leaves nothing.
#[derive(Debug)]
pub struct OutputFile {
    target: PathBuf,
    dir: PathBuf,
    name: OsString,
    file: File,
    temp: Temp,
    force: bool,
    committed: bool,
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> OutputError {
    move |source| OutputError::Io { context, source }
}

fn cstring(p: &Path) -> Result<CString, OutputError> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| OutputError::Io {
        context: format!("path {}", p.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "contains a NUL byte"),
    })
}

impl OutputFile {
    /// Creates the (unnamed) file for `target`, after [`check_target`].
    pub fn create(target: &Path, force: bool) -> Result<Self, OutputError> {
        check_target(target, force)?;
        let (dir, name) = split_target(target)?;
        let unnamed = OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
            .open(&dir);
        let (file, temp) = match unnamed {
            Ok(f) => (f, Temp::Unnamed),
            // The file system has no O_TMPFILE (EOPNOTSUPP), or the kernel predates it
            // (EISDIR/EINVAL): fall back to a named temporary.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) =>
            {
                let path = temp_name_for(target, "out")?;
                let (f, registration) = cleanup::create_temp(&path, || {
                    OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                        .open(&path)
                })
                .map_err(io_err(format!("creating {}", path.display())))?;
                (
                    f,
                    Temp::Named {
                        path,
                        _registration: registration,
                    },
                )
            }
            Err(e) => {
                return Err(OutputError::Io {
                    context: format!("creating a file in {}", dir.display()),
                    source: e,
                })
            }
        };
        Ok(Self {
            target: target.to_path_buf(),
            dir,
            name,
            file,
            temp,
            force,
            committed: false,
        })
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The temporary file's path, when it has one (the named fallback).
    pub fn temp_path(&self) -> Option<&Path> {
        match &self.temp {
            Temp::Unnamed => None,
            Temp::Named { path, .. } => Some(path),
        }
    }

    /// Gives the file its final name. Without `force` an existing target is never replaced;
    /// with it, only a regular file is (removed, then the new file linked in its place).
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        // Re-checked here: the target may have changed during a long write.
        check_target(&self.target, self.force)?;
        if self.force {
            match std::fs::remove_file(&self.target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(OutputError::Io {
                        context: format!("replacing {}", self.target.display()),
                        source: e,
                    })
                }
            }
        }
        let to = cstring(&self.dir.join(&self.name))?;
        let exists = |e: &std::io::Error| e.raw_os_error() == Some(libc::EEXIST);
        match &self.temp {
            Temp::Unnamed => {
                let from = cstring(Path::new(&format!(
                    "/proc/self/fd/{}",
                    self.file.as_raw_fd()
                )))?;
                // SAFETY: both paths are valid NUL-terminated strings that outlive the call;
                // linkat only reads them. AT_SYMLINK_FOLLOW resolves the /proc magic link to
                // the open file; linkat never follows or replaces an existing target.
                let rc = unsafe {
                    libc::linkat(
                        libc::AT_FDCWD,
                        from.as_ptr(),
                        libc::AT_FDCWD,
                        to.as_ptr(),
                        libc::AT_SYMLINK_FOLLOW,
                    )
                };
                if rc != 0 {
                    let e = std::io::Error::last_os_error();
                    return Err(if exists(&e) {
                        OutputError::Exists {
                            path: self.target.clone(),
                        }
                    } else {
                        OutputError::Io {
                            context: format!("naming {}", self.target.display()),
                            source: e,
                        }
                    });
                }
            }
            Temp::Named { path, .. } => rename_noreplace(path, &self.target)?,
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let (false, Temp::Named { path, .. }) = (self.committed, &self.temp) {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(path = %path.display(), %e, "could not remove temporary file");
            }
        }
    }
}

/// Moves a complete file that another program wrote (gdb's core, in a private directory)
/// onto `to`, under the same rules as [`OutputFile::commit`].
pub fn publish(from: &Path, to: &Path, force: bool) -> Result<(), OutputError> {
    check_target(to, force)?;
    if force {
        match std::fs::remove_file(to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(OutputError::Io {
                    context: format!("replacing {}", to.display()),
                    source,
                })
            }
        }
    }
    rename_noreplace(from, to)
}

/// Renames `from` onto `to`, atomically refusing to replace an existing `to`
/// (`RENAME_NOREPLACE`, or a hard link where the file system lacks it).
fn rename_noreplace(from: &Path, to: &Path) -> Result<(), OutputError> {
    let io = |source| OutputError::Io {
        context: format!("renaming {} to {}", from.display(), to.display()),
        source,
    };
    let (cf, ct) = (cstring(from)?, cstring(to)?);
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call;
    // renameat2 only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            cf.as_ptr(),
            libc::AT_FDCWD,
            ct.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EEXIST) => Err(OutputError::Exists {
            path: to.to_path_buf(),
        }),
        Some(libc::EINVAL) | Some(libc::ENOSYS) => {
            std::fs::hard_link(from, to).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    OutputError::Exists {
                        path: to.to_path_buf(),
                    }
                } else {
                    io(e)
                }
            })?;
            std::fs::remove_file(from).map_err(io)
        }
        _ => Err(io(err)),
    }
}

/// Writes `bytes` to `path` through an [`OutputFile`]: the whole file or nothing.
pub fn write_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), OutputError> {
    write_file_mode(path, bytes, force, 0o600)
}

/// Like [`write_file`], but 0640: readable by the file's group too (a Kubernetes `fsGroup`,
/// which a pod's results directory hands down to the files made in it). Only for a report
/// that holds no memory (redacted): anything that may hold a secret is 0600.
pub fn write_group_readable(path: &Path, bytes: &[u8], force: bool) -> Result<(), OutputError> {
    write_file_mode(path, bytes, force, 0o640)
}

fn write_file_mode(path: &Path, bytes: &[u8], force: bool, mode: u32) -> Result<(), OutputError> {
    use std::os::unix::fs::PermissionsExt;
    let out = OutputFile::create(path, force)?;
    if mode != 0o600 {
        // fchmod on the still unnamed file: it has its final mode before it has a name.
        out.file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_err(format!("setting the mode of {}", path.display())))?;
    }
    let mut f = out.file();
    f.write_all(bytes)
        .and_then(|()| f.sync_data())
        .map_err(io_err(format!("writing {}", path.display())))?;
    out.commit().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_0600_unnamed_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.core");
        let out = OutputFile::create(&target, false).unwrap();
        let mode = out.file().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "unnamed");
        out.commit().unwrap();
        let err = OutputFile::create(&target, false).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let out = OutputFile::create(&target, true).unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_group_readable_file_is_0640() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("junit.xml");
        write_group_readable(&target, b"<testsuites/>", false).unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert!(
            write_group_readable(&target, b"", false).is_err(),
            "not overwritten"
        );
    }

    #[test]
    fn dropped_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputFile::create(&dir.path().join("y"), false).unwrap();
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn links_and_devices_are_refused_even_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
        for force in [false, true] {
            let e = write_file(&link, b"x", force).unwrap_err();
            assert!(matches!(e, OutputError::Symlink { .. }), "{e}");
            let e = write_file(Path::new("/dev/null"), b"x", force).unwrap_err();
            assert!(e.to_string().contains("a character device"), "{e}");
        }
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_long_final_name_still_gets_a_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let long = "n".repeat(255);
        let p = dir.path().join(&long);
        assert!(temp_name_for(&p, "out").unwrap().file_name().unwrap().len() < 64);
        write_file(&p, b"data", false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"data");
    }
}
