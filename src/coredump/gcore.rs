//! `--engine gdb`: the real `gcore`, for side-by-side comparison with our writer.
//!
//! It runs with gdb's *default* behaviour (no `-a`): `dd` mappings and what
//! `coredump_filter` excludes are left out, exactly as an administrator running `gcore` gets.
//! The core is written into a private (0700) directory beside the target, made 0600, and
//! published with the same no-overwrite rename as our own cores; on failure nothing remains.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use goblin::elf::program_header::PT_LOAD;
use goblin::elf::Elf;

use super::arch::NT_PRSTATUS;
use super::output::{check_target, publish, temp_name_for};
use super::writer::{DumpError, DumpOptions, DumpSummary, Engine};

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
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| DumpError::Io {
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

/// (bytes of memory, PT_LOADs with bytes, NT_PRSTATUS count) of a core, read with goblin.
fn describe_core(path: &Path) -> Result<(u64, usize, usize), DumpError> {
    let bad = |what: String| DumpError::Gcore(format!("{}: {what}", path.display()));
    let file = std::fs::File::open(path).map_err(|source| DumpError::Io {
        context: format!("opening {}", path.display()),
        source,
    })?;
    // Only the headers and notes are needed; they are at most a few MiB, but gcore puts the
    // notes first and the headers anywhere, so map the file instead of reading it whole.
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let len = usize::try_from(len).map_err(|_| bad("too large".into()))?;
    if len == 0 {
        return Err(bad("empty core".into()));
    }
    // SAFETY: a read-only private mapping of a regular file we just created in a private
    // directory; nobody else truncates it while it is mapped. The mapping is unmapped below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            std::os::fd::AsRawFd::as_raw_fd(&file),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(DumpError::Io {
            context: format!("mapping {}", path.display()),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: `ptr` is a valid mapping of `len` readable bytes until munmap below.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    let result = Elf::parse(bytes)
        .map_err(|e| bad(e.to_string()))
        .map(|elf| {
            let loads = elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD);
            let memory: u64 = loads.clone().map(|p| p.p_filesz).sum();
            let regions = loads.filter(|p| p.p_filesz > 0).count();
            let threads = elf
                .iter_note_headers(bytes)
                .map(|it| {
                    it.filter_map(Result::ok)
                        .filter(|n| n.n_type == NT_PRSTATUS && n.name == "CORE")
                        .count()
                })
                .unwrap_or(0);
            (memory, regions, threads)
        });
    // SAFETY: unmapping exactly the mapping made above; `bytes` is not used after this.
    unsafe {
        libc::munmap(ptr, len);
    }
    result
}
