//! The dump's output file: memory of another process, so it is handled like a secret.
//!
//! Cores are created like every other file confidump writes, by [`crate::files::output`]:
//! unnamed (`O_TMPFILE`) until complete, `0600`, never through a symlink, never replacing a
//! device or anything but a regular file, never overwriting without `force`. A dump killed at
//! any moment, even by SIGKILL, leaves no file.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub use crate::files::output::{
    check_target, publish, split_target, temp_name_for, OutputError, OutputFile,
};

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
