//! `/proc` readers: pure parsers over text (tested on fixtures) plus thin functions that read
//! the files of one process.

pub mod maps;

use std::path::PathBuf;

/// Path of `/proc/PID/<name>`.
pub fn proc_path(pid: i32, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{name}"))
}
