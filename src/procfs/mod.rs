//! `/proc` readers: pure parsers over text (tested on fixtures) plus thin functions that read
//! the files of one process.

pub mod maps;
pub mod pagemap;
pub mod status;
pub mod tasks;

use std::path::PathBuf;

/// Page size of x86-64 Linux; cores, `/proc/PID/pagemap` and `/proc` sizes use these units.
pub const PAGE_SIZE: u64 = 4096;

/// Path of `/proc/PID/<name>`.
pub fn proc_path(pid: i32, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{name}"))
}

/// Errors reading the small `/proc` files (task list, stat, status, auxv, pagemap).
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// A file or directory could not be read.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text did not have the expected shape.
    #[error("{context}: unexpected content")]
    Parse {
        /// Which file, and what was expected.
        context: String,
    },
}

/// Reads `/proc/PID/<name>` as bytes, with an error naming the file.
pub fn read_proc_bytes(pid: i32, name: &str) -> Result<Vec<u8>, ProcError> {
    let path = proc_path(pid, name);
    std::fs::read(&path).map_err(|source| ProcError::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}
