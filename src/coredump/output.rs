//! The dump's output file: memory of another process, so it is handled like a secret.
//!
//! It is written under a temporary name in the target's directory (so the final `rename` is
//! atomic and never crosses file systems), created `0600`, `O_EXCL` and `O_NOFOLLOW` (nobody
//! can pre-create it or point it elsewhere with a symlink), and renamed onto the target only
//! when complete. Without `force` an existing target is never replaced, checked up front and
//! again atomically at the rename (`RENAME_NOREPLACE`). Until committed, dropping the value
//! removes the temporary file, so a failed dump leaves nothing behind. Every file of ours that
//! may hold memory (our cores, QEMU's guest dump, the VM's initramfs) is made this way.
//!
//! [`create_private_dir`] and [`new_private_dir`] make the 0700 directories dumps, gcore's
//! output and VM sockets live in: the one place such directories are created.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Errors creating or publishing the output file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The target exists and `force` was not given.
    #[error("{} already exists (use --force to overwrite it)", path.display())]
    Exists {
        /// The target.
        path: PathBuf,
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

/// A temporary output file beside its target; see the module docs.
#[derive(Debug)]
pub struct OutputFile {
    target: PathBuf,
    temp: PathBuf,
    file: File,
    force: bool,
    committed: bool,
}

/// Distinguishes temporary names made by one process.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The directory holding `target` (`.` for a bare file name) and its file name.
pub fn split_target(target: &Path) -> Result<(PathBuf, std::ffi::OsString), OutputError> {
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

/// A fresh temporary name in `target`'s directory: `.NAME.confidump-PID-N.tmp`.
pub fn temp_name_for(target: &Path, what: &str) -> Result<PathBuf, OutputError> {
    let (dir, name) = split_target(target)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp = std::ffi::OsString::from(".");
    temp.push(&name);
    temp.push(format!(".confidump-{what}-{}-{n}.tmp", std::process::id()));
    Ok(dir.join(temp))
}

/// Fails with [`OutputError::Exists`] when `target` exists (as anything, even a dangling
/// symlink) and `force` is false.
pub fn check_target(target: &Path, force: bool) -> Result<(), OutputError> {
    if !force && target.symlink_metadata().is_ok() {
        return Err(OutputError::Exists {
            path: target.to_path_buf(),
        });
    }
    Ok(())
}

impl OutputFile {
    /// Creates the temporary file for `target`.
    pub fn create(target: &Path, force: bool) -> Result<Self, OutputError> {
        check_target(target, force)?;
        let temp = temp_name_for(target, "dump")?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)
            .map_err(|source| OutputError::Io {
                context: format!("creating {}", temp.display()),
                source,
            })?;
        Ok(Self {
            target: target.to_path_buf(),
            temp,
            file,
            force,
            committed: false,
        })
    }

    /// The open temporary file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The temporary file's path.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Renames the temporary file onto the target.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        publish(&self.temp, &self.target, self.force)?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.committed {
            if let Err(e) = std::fs::remove_file(&self.temp) {
                tracing::warn!(path = %self.temp.display(), %e, "could not remove temporary file");
            }
        }
    }
}

/// Renames `from` onto `to`; without `force`, atomically refuses to replace an existing `to`.
pub fn publish(from: &Path, to: &Path, force: bool) -> Result<(), OutputError> {
    let io = |source| OutputError::Io {
        context: format!("renaming {} to {}", from.display(), to.display()),
        source,
    };
    if force {
        return std::fs::rename(from, to).map_err(io);
    }
    use nix::errno::Errno;
    use nix::fcntl::{renameat2, RenameFlags};
    match renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EEXIST) => Err(OutputError::Exists {
            path: to.to_path_buf(),
        }),
        // A file system without RENAME_NOREPLACE: a hard link also refuses to replace.
        Err(Errno::EINVAL) | Err(Errno::ENOSYS) => {
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
        Err(e) => Err(io(std::io::Error::from(e))),
    }
}

/// Creates the directory `path`, mode 0700: never an existing one (`mkdir` fails on anything
/// already there, a symlink included), so what we put in it is ours alone.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(path)
}

/// A new private directory `BASE/PREFIX-<12 random hex digits>` ([`create_private_dir`]).
pub fn new_private_dir(base: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    let mut nonce = [0u8; 6];
    getrandom::getrandom(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
    let dir = base.join(format!("{prefix}-{}", hex::encode(nonce)));
    create_private_dir(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_0600_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.core");
        let out = OutputFile::create(&target, false).unwrap();
        let mode = out.file().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        out.commit().unwrap();
        let err = OutputFile::create(&target, false).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let out = OutputFile::create(&target, true).unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputFile::create(&dir.path().join("y"), false).unwrap();
        assert!(out.temp_path().exists());
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn private_dirs_are_0700_and_new() {
        let base = tempfile::tempdir().unwrap();
        let d = new_private_dir(base.path(), "x").unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(
            create_private_dir(&d).is_err(),
            "an existing directory is refused"
        );
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        assert!(create_private_dir(&link).is_err(), "a symlink is refused");
    }
}
