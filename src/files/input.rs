//! The one way a file named by the user is read: needle files, scenario files, expectation
//! files, secret files.
//!
//! Only regular files are read (a FIFO would block or never end, `/dev/zero` never ends, a
//! directory is no text), and never more than a cap the caller states, so memory is bounded
//! by design and not by the input. The file is opened `O_NONBLOCK` (opening a FIFO must not
//! wait for a writer) and checked with `fstat` on the open descriptor (no race between the
//! check and the read). Errors start with the file's name: `FILE: ...`.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Errors reading a user-named file; each names the file first.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not a regular file.
    #[error("{}: is {kind}, not a regular file: give a regular file", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Larger than the cap.
    #[error("{}: larger than the {} limit for {what}", path.display(), human_size(*limit))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap, in bytes.
        limit: u64,
        /// `a needle file`, `a scenario file`.
        what: &'static str,
    },
    /// Opening or reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// `16 MiB`, `4 KiB`, `100 bytes`.
pub fn human_size(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Opens `path` (a regular file, after following symlinks) for reading if it holds at most
/// `limit` bytes, for a caller that reads it itself (the victim reads its secret file straight
/// into its store, never through a buffer of ours). `what` names the kind of file for the
/// error (`a secret file`). The caller must still not read more than `limit` (+1) bytes: the
/// file may grow after the check.
pub fn open_user_file(
    path: &Path,
    limit: u64,
    what: &'static str,
) -> Result<std::fs::File, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            kind: super::describe_file_type(&meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            limit,
            what,
        });
    }
    Ok(file)
}

/// Reads all of `path` (a regular file, after following symlinks) if it holds at most `limit`
/// bytes. `what` names the kind of file for the error (`a needle file`).
pub fn read_user_file(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = open_user_file(path, limit, what)?;
    let len = file.metadata().map_err(io)?.len();
    let too_large = || InputError::TooLarge {
        path: path.to_path_buf(),
        limit,
        what,
    };
    // The file may grow while it is read: never read more than the cap (plus one byte, to
    // tell "exactly the cap" from "more").
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > limit {
        zeroize::Zeroize::zeroize(&mut buf);
        return Err(too_large());
    }
    Ok(buf)
}

/// [`read_user_file`] as UTF-8 text.
pub fn read_user_text(path: &Path, limit: u64, what: &'static str) -> Result<String, InputError> {
    let bytes = read_user_file(path, limit, what)?;
    String::from_utf8(bytes).map_err(|_| InputError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused() {
        let e = read_user_file(Path::new("/dev/zero"), 1 << 20, "a needle file").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: is a character device, not a regular file: give a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Must not block waiting for a writer.
        let e = read_user_file(&fifo, 10, "x").unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_user_file(dir.path(), 10, "x").unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }

    #[test]
    fn the_cap_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 1024]).unwrap();
        assert_eq!(read_user_file(&p, 1024, "x").unwrap().len(), 1024);
        let e = read_user_file(&p, 1023, "a needle file").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("larger than the 1023 bytes limit for a needle file"),
            "{e}"
        );
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("z")).unwrap();
        assert!(read_user_file(&dir.path().join("z"), 10, "x").is_err());
    }
}
