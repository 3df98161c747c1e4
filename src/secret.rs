//! The [`Secret`] wrapper: bytes that are never printed, logged or left behind.
//!
//! `Debug` shows only the length; the bytes are zeroized on drop. Code that must keep a secret
//! out of ordinary memory altogether (the `memfd_secret` victim) does not use this type: it keeps
//! its bytes in the protected store (see `protect`). This type is for the attacker's side, e.g.
//! needles read from a file.

use zeroize::{Zeroize, Zeroizing};

/// Secret bytes: redacted `Debug`, zeroized on drop, no `Display`, no `Clone`.
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
    /// The bytes, for code that has to use them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([REDACTED; {} bytes])", self.0.len())
    }
}

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

/// Writes `bytes` to `path` as a file that may hold memory, through the one creation path
/// ([`crate::files::output`]): 0600, unnamed until complete, never through a symlink, never
/// replacing anything but a regular file, and replacing that only with `force`.
pub fn write_private(
    path: &std::path::Path,
    bytes: &[u8],
    force: bool,
) -> Result<(), crate::files::output::OutputError> {
    crate::files::output::write_file(path, bytes, force)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new(b"hunter2-hunter2".to_vec());
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("15 bytes"));
    }

    #[test]
    fn private_files_are_0600_and_replace_atomically() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.html");
        std::fs::write(&p, b"old").unwrap();
        assert!(
            write_private(&p, b"new", false).is_err(),
            "no overwrite without force"
        );
        write_private(&p, b"new", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
