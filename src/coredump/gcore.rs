//! `--engine gdb`: the real `gcore`, for side-by-side comparison with our writer.
//!
//! It runs with gdb's *default* behaviour (no `-a`): `dd` mappings and what
//! `coredump_filter` excludes are left out, exactly as an administrator running `gcore` gets.
//! The core is written into our own output file (unnamed until complete, 0600, see
//! [`crate::files::output`]) and named with the same no-overwrite rule as our own cores; on
//! failure, or when confidump is killed, nothing remains.
//!
//! gdb is run directly with the commands the `gcore` script passes it (`gcore` is a shell
//! script around `gdb --batch -ex 'attach PID' -ex 'gcore FILE'`), plus settings that only
//! skip work no core depends on (debug symbols, debuginfod, auto-loaded scripts), so that gdb
//! is our own child and dies with us (`PR_SET_PDEATHSIG`): a script in between would leave gdb
//! running, attached to the victim, when confidump is killed.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::output::OutputFile;
use super::reader::CoreFile;
use super::writer::{DumpError, DumpOptions, DumpSummary, Engine};
use crate::memory::{MemorySource, RegionKind};

/// Runs gdb's `gcore` on `pid`, writing straight into our unnamed output file (gdb opens
/// `/proc/self/fd/N`, the descriptor it inherited), and names the file when gdb is done.
/// A confidump killed meanwhile takes gdb with it and leaves no file.
pub fn dump_with_gcore(pid: i32, opts: &DumpOptions) -> Result<DumpSummary, DumpError> {
    let started = Instant::now();
    let liveness = crate::memory::alive::Liveness::open(pid);
    let out = OutputFile::create(&opts.output, opts.force)?;
    let fd = out.file().as_raw_fd();
    let via = format!("/proc/self/fd/{fd}");
    let mut cmd = Command::new("gdb");
    cmd.args(["--nx", "--batch", "--readnever"])
        .args(["-iex", "set debuginfod enabled off"])
        // Scripts shipped beside the victim's libraries (libstdc++'s pretty printers) would
        // start Python in gdb for every core: a quarter of gcore's time on a PostgreSQL
        // process, for nothing a core contains.
        .args(["-iex", "set auto-load off"])
        .args([
            "-ex",
            "set pagination off",
            "-ex",
            "set height 0",
            "-ex",
            "set width 0",
        ])
        .arg("-ex")
        .arg(format!("attach {pid}"))
        .arg("-ex")
        .arg(format!("gcore {via}"))
        .args(["-ex", "detach", "-ex", "quit"])
        .stdin(Stdio::null());
    let mut die_with_parent = crate::files::cleanup::die_with_parent();
    // SAFETY: the closure runs in the forked child before exec and only calls fcntl, prctl
    // and getppid, async-signal-safe system calls; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // gdb must inherit the output file: clear its close-on-exec flag.
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            die_with_parent()
        });
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let (child, registration) =
        crate::files::cleanup::spawn_child(&mut cmd).map_err(|source| DumpError::Io {
            context: "running gdb's gcore (is gdb installed?)".into(),
            source,
        })?;
    let done = child.wait_with_output();
    drop(registration);
    let done = done.map_err(|source| DumpError::Io {
        context: "waiting for gdb".into(),
        source,
    })?;
    // Asked first, whatever gdb's status: gdb zero-fills what it failed to read, and a gdb
    // that failed because the victim died would otherwise be reported as gdb's failure.
    if !liveness.is_alive() {
        return Err(DumpError::Live(crate::memory::live::LiveError::Exited {
            pid,
            during: "dump",
        }));
    }
    let file_len = out.file().metadata().map(|m| m.len()).unwrap_or(0);
    if !done.status.success() || file_len == 0 {
        let stderr = String::from_utf8_lossy(&done.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(DumpError::Gcore {
            status: done.status,
            last_line: last.to_string(),
        });
    }
    let (memory_bytes, regions, threads) = describe_core(Path::new(&via))?;
    let path = out.commit()?;
    Ok(DumpSummary {
        path,
        engine: Engine::Gdb,
        pid,
        file_len,
        memory_bytes,
        regions,
        threads,
        unreadable: Vec::new(),
        absent: Vec::new(),
        frozen_for: None,
        from_snapshot: false,
        elapsed: started.elapsed(),
    })
}

/// (bytes of memory, PT_LOADs with bytes, threads) of a core, read with our own bounds-checked
/// reader: the same parser that will scan it.
fn describe_core(path: &Path) -> Result<(u64, usize, usize), DumpError> {
    let core = CoreFile::open(path).map_err(DumpError::GcoreUnreadable)?;
    let readable = core
        .regions()
        .iter()
        .filter(|r| r.kind == RegionKind::Readable);
    let memory = readable.clone().map(|r| r.span.len()).sum();
    Ok((memory, readable.count(), core.threads().len()))
}
