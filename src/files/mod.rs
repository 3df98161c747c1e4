//! Every file confidump writes or reads on a user's behalf goes through here.
//!
//! * [`output`]: the one way an output file is created (core, HTML, JUnit, ready file, QMP
//!   dump): unnamed until complete (`O_TMPFILE`, then `linkat`), `0600`, never through a
//!   symlink, never replacing anything but a regular file, never overwriting without `force`.
//! * [`input`]: the one way a user-named file is read (needle files, scenario files, ...):
//!   regular files only, size capped, errors that start with the file's name.
//! * [`cleanup`]: what must go when a signal ends the run (named temporary files, working
//!   directories, child processes), removed by a signal-handling thread.
//! * [`workdir`]: private working directories, and removal of the ones a killed run left.
//! * [`report`]: where a report goes (`--output` or stdout) and whether it keeps the
//!   secret's bytes (`--redact`, `--reveal`, `--group-readable`).
//! * [`stdout`]: the one way a command prints its output (`crate::out!`, `crate::outln!`): a
//!   reader that leaves (`| head`) ends the output, not the command.
//! * [`toml_at`]: the one TOML loader, whose errors say `FILE:LINE:COL`.

pub mod cleanup;
pub mod input;
pub mod output;
pub mod report;
pub mod stdout;
pub mod toml_at;
pub mod workdir;

/// What a file that is not a regular file is, in words: `a symbolic link`, `a FIFO`, ...
pub fn describe_file_type(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}
