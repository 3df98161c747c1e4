//! `--engine gdb`: the real `gcore`, for side-by-side comparison with our writer.
//!
//! It runs with gdb's *default* behaviour (no `-a`): `dd` mappings and what
//! `coredump_filter` excludes are left out, exactly as an administrator running `gcore` gets.
//! The core is written into a private (0700) directory beside the target, made 0600, and
//! published with the same no-overwrite rename as our own cores; on failure nothing remains.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::output::{check_target, create_private_dir, publish, temp_name_for};
use super::reader::CoreFile;
use super::writer::{DumpError, DumpOptions, DumpSummary, Engine};
use crate::memory::{MemorySource, RegionKind};

/// Removes the private directory (and whatever gcore left in it) on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(path = %self.0.display(), %e, "could not remove temporary directory");
        }
    }
}

/// Runs `gcore -o DIR/core PID` and moves `DIR/core.PID` onto `opts.output`.
pub fn dump_with_gcore(pid: i32, opts: &DumpOptions) -> Result<DumpSummary, DumpError> {
    let started = Instant::now();
    check_target(&opts.output, opts.force)?;
    let dir = temp_name_for(&opts.output, "gcore")?;
    create_private_dir(&dir).map_err(|source| DumpError::Io {
        context: format!("creating {}", dir.display()),
        source,
    })?;
    let dir = TempDir(dir);
    let prefix = dir.0.join("core");
    let out = Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|source| DumpError::Io {
            context: "running gcore (is gdb installed?)".into(),
            source,
        })?;
    let written = dir.0.join(format!("core.{pid}"));
    if !out.status.success() || !written.exists() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(DumpError::Gcore(format!("{} ({last})", out.status)));
    }
    std::fs::set_permissions(&written, std::fs::Permissions::from_mode(0o600)).map_err(
        |source| DumpError::Io {
            context: format!("chmod 0600 {}", written.display()),
            source,
        },
    )?;
    let (memory_bytes, regions, threads) = describe_core(&written)?;
    let file_len = std::fs::metadata(&written).map(|m| m.len()).unwrap_or(0);
    publish(&written, &opts.output, opts.force)?;
    Ok(DumpSummary {
        path: opts.output.clone(),
        engine: Engine::Gdb,
        pid,
        file_len,
        memory_bytes,
        regions,
        threads,
        unreadable: Vec::new(),
        absent: Vec::new(),
        frozen_for: None,
        elapsed: started.elapsed(),
    })
}

/// (bytes of memory, PT_LOADs with bytes, threads) of a core, read with our own bounds-checked
/// reader: the same parser that will scan it.
fn describe_core(path: &Path) -> Result<(u64, usize, usize), DumpError> {
    let core = CoreFile::open(path).map_err(|e| DumpError::Gcore(e.to_string()))?;
    let readable = core
        .regions()
        .iter()
        .filter(|r| r.kind == RegionKind::Readable);
    let memory = readable.clone().map(|r| r.span.len()).sum();
    Ok((memory, readable.count(), core.threads().len()))
}
