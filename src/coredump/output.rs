//! The dump's output file: memory of another process, so it is handled like a secret.
//!
//! Cores are created like every other file confidump writes, by [`crate::files::output`]:
//! unnamed (`O_TMPFILE`) until complete, `0600`, never through a symlink, never replacing a
//! device or anything but a regular file, never overwriting without `force`. A dump killed at
//! any moment, even by SIGKILL, leaves no file.

pub use crate::files::output::{
    check_target, publish, split_target, temp_name_for, OutputError, OutputFile,
};
