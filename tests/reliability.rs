//! Reliability under a hostile world: dying victims, signals, links, devices, huge inputs.
//!
//! Each test builds the situation for real (a victim killed mid-dump, a dumper killed
//! mid-write, a symlink planted at an output path) and waits on observable states (the
//! victim's death, a file appearing), never on sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{code_out_err, run, start_victim};
use confidump::coredump::writer::{dump_process_with_progress, DumpError, DumpOptions};
use confidump::memory::alive::Liveness;
use confidump::memory::live::LiveError;

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Waits (yielding, no fixed sleep) until `cond` holds; gives up after a generous bound so a
/// broken build fails instead of hanging.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cond() {
        assert!(std::time::Instant::now() < until, "never happened: {what}");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// `scripts/ballast.c` built into `dir`: a process with many MiB of dense memory.
fn ballast(dir: &Path) -> Option<std::path::PathBuf> {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ballast.c"))
            .unwrap();
    common::compile_c(dir, &src).map(|exe| {
        let to = dir.join("ballast");
        std::fs::rename(exe, &to).unwrap();
        let _ = std::fs::remove_file(dir.join("prog.c"));
        to
    })
}

/// A running ballast process, killed on drop.
struct Ballast {
    child: std::process::Child,
    pid: i32,
}

impl Ballast {
    fn start(exe: &Path, mib: u64) -> Self {
        let mut child = Command::new(exe)
            .args([mib.to_string(), mib.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let line = common::first_line(&mut child);
        let pid = line.trim().strip_prefix("ready ").unwrap().parse().unwrap();
        Self { child, pid }
    }
}

impl Drop for Ballast {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_victim_killed_mid_dump_is_an_error_and_leaves_no_core() {
    let victim = start_victim(&["--mode", "plain"], None);
    let pid = victim.ready.pid;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DumpOptions::new(dir.path().join("v.core"));
    // One page per chunk: the progress callback runs while the threads are frozen and most of
    // the memory is still to be read.
    opts.chunk_size = 4096;
    let liveness = Liveness::open(pid);
    let mut killed = false;
    let result = dump_process_with_progress(pid, &opts, &mut |_| {
        if !killed {
            killed = true;
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            // The kill has taken effect before the next read: deterministic, not a race.
            wait_until("the victim dies", || !liveness.is_alive());
        }
    });
    assert!(killed, "the dump never reported progress");
    match result {
        Err(DumpError::Live(LiveError::Exited { pid: p, during })) => {
            assert_eq!((p, during), (pid, "dump"));
            let msg = DumpError::Live(LiveError::Exited { pid, during }).to_string();
            assert_eq!(
                msg,
                format!("pid {pid} exited during the dump: the result proves nothing")
            );
        }
        other => panic!("expected 'exited during the dump', got {other:?}"),
    }
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

/// gdb's gcore, with the victim SIGKILLed while gdb holds it: gdb zero-fills what it can no
/// longer read (or fails), and neither may pass for a dump.
#[test]
fn a_victim_killed_during_gcore_is_an_error_and_leaves_no_core() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let bin_dir = tempfile::tempdir().unwrap();
    let Some(exe) = ballast(bin_dir.path()) else {
        return;
    };
    // 256 MiB of data: gdb holds the victim long enough for the kill to land in the middle.
    let victim = Ballast::start(&exe, 256);
    let pid = victim.pid;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.core");
    let dumper = Command::new(common::bin())
        .args(["dump", &pid.to_string(), "--engine", "gdb", "-o"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // gdb has attached (and not yet detached: it detaches only after writing the core).
    wait_until("gdb attaches", || {
        confidump::procfs::status::read_status(pid, pid).is_ok_and(|s| s.tracer_pid != 0)
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let (code, _, err) = code_out_err(&dumper.wait_with_output().unwrap());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "pid {pid} exited during the dump: the result proves nothing"
        )),
        "{err}"
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn dumping_a_dead_process_is_exit_2() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().to_string();
    child.wait().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.core");
    let (code, _, err) = code_out_err(&run(&["dump", &pid, "-o", out.to_str().unwrap()]));
    assert_eq!(code, 2, "{err}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_dump_killed_mid_write_leaves_nothing_in_the_directory() {
    // A victim big enough that the dump is still writing when it is killed: the kill waits
    // for the dumper to hold the victim (TracerPid), the state in which the core is open.
    let dir = tempfile::tempdir().unwrap();
    let Some(ballast) = ballast(dir.path()) else {
        return;
    };
    let victim = Ballast::start(&ballast, 256);
    let pid = victim.pid;
    let out = dir.path().join("v.core");
    let mut dumper = Command::new(common::bin())
        .args(["dump", &pid.to_string(), "-o", out.to_str().unwrap()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dpid = dumper.id() as i32;
    let tracer = || {
        confidump::procfs::status::read_status(pid, pid)
            .map(|s| s.tracer_pid)
            .unwrap_or(0)
    };
    wait_until("the dumper seizes the victim", || {
        tracer() == dpid || dumper.try_wait().unwrap().is_some()
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dpid),
        nix::sys::signal::Signal::SIGKILL,
    );
    dumper.wait().unwrap();
    // Whether the kill came mid-write or (on a very fast run) after the end, no temporary
    // remains: only a complete core may be there.
    let left: Vec<String> = entries(dir.path())
        .into_iter()
        .filter(|n| n != "ballast")
        .collect();
    assert!(
        left.is_empty() || left == ["v.core"],
        "left behind: {left:?}"
    );
    // And the victim runs again.
    wait_until("the victim is released", || tracer() == 0);
}

#[test]
fn a_symlink_at_the_junit_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.xml");
    let link = dir.path().join("demo.xml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, _, err) = code_out_err(&run(&[
        "demo",
        "--scenario",
        "plain",
        "--junit",
        link.to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!target.exists(), "wrote through the link");
}

#[test]
fn a_device_is_never_replaced_even_with_force() {
    let victim = start_victim(&["--mode", "plain"], None);
    let (code, _, err) = code_out_err(&run(&[
        "dump",
        &victim.ready.pid.to_string(),
        "-o",
        "/dev/null",
        "--force",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let meta = std::fs::metadata("/dev/null").unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(meta.file_type().is_char_device());
}

#[test]
fn html_and_junit_are_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    std::fs::write(&html, b"keep me").unwrap();
    let (code, _, err) = code_out_err(&run(&[
        "demo",
        "--scenario",
        "plain",
        "--html",
        html.to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&html).unwrap(), b"keep me");
    let _ = std::fs::metadata(&html).unwrap().permissions().mode();
}

// ---- item 2: an interrupted demo leaves no victim and no working directory ----

/// The children of `pid` (all its threads), from `/proc/PID/task/*/children`.
fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

fn is_victim(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|&b| b == 0).any(|a| a == b"victim"))
        .unwrap_or(false)
}

/// When the signal is sent.
#[derive(Clone, Copy, PartialEq)]
enum Moment {
    /// As soon as a victim runs.
    VictimStarted,
    /// Once an attack has made its working directory: the attacks that follow are making
    /// theirs in other threads, the race of a directory made while the signal cleans up.
    Attacking,
}

fn interrupt_demo(sig: nix::sys::signal::Signal) {
    interrupt_demo_at(sig, Moment::VictimStarted);
    interrupt_demo_at(sig, Moment::Attacking);
}

fn interrupt_demo_at(sig: nix::sys::signal::Signal, moment: Moment) {
    let tmp = tempfile::tempdir().unwrap();
    let mut demo = Command::new(common::bin())
        .args(["demo", "--scenario", "plain", "--jobs", "1"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dpid = demo.id() as i32;
    // Wait for a victim to be running (the state the signal must clean up).
    let mut victims: Vec<(i32, Liveness)> = Vec::new();
    wait_until("the demo starts a victim", || {
        for c in children_of(dpid) {
            if is_victim(c) && !victims.iter().any(|(p, _)| *p == c) {
                victims.push((c, Liveness::open(c)));
            }
        }
        !victims.is_empty() || demo.try_wait().unwrap().is_some()
    });
    assert!(
        !victims.is_empty(),
        "the demo ended before starting a victim"
    );
    if moment == Moment::Attacking {
        wait_until("the demo makes an attack's working directory", || {
            entries(tmp.path())
                .iter()
                .any(|e| e.starts_with("confidump-attack-"))
                || demo.try_wait().unwrap().is_some()
        });
        assert!(demo.try_wait().unwrap().is_none(), "the demo ended first");
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(dpid), sig).unwrap();
    let status = demo.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(sig as i32), "{status:?}");
    for (pid, l) in &victims {
        wait_until(&format!("victim {pid} dies"), || !l.is_alive());
    }
    if sig != nix::sys::signal::Signal::SIGKILL {
        let left = entries(tmp.path());
        assert!(left.is_empty(), "working directories left: {left:?}");
    } else {
        // After SIGKILL, the next run removes what the killed one left.
        let stale = entries(tmp.path()).len();
        assert!(stale > 0, "the killed demo had a working directory");
        assert_eq!(
            confidump::files::workdir::remove_stale_in(tmp.path()),
            stale
        );
        assert!(entries(tmp.path()).is_empty());
    }
}

#[test]
fn an_interrupted_demo_leaves_no_victim_running() {
    interrupt_demo(nix::sys::signal::Signal::SIGINT);
    interrupt_demo(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn a_killed_demo_takes_its_victims_with_it() {
    interrupt_demo(nix::sys::signal::Signal::SIGKILL);
}

// ---- item 4: bounded input ----

/// `confidump scan … | head`: a reader that stops reading is no error. The report's pipe has
/// no reader from the start (its read end is closed before the scan runs), so the write fails
/// with EPIPE every time; the exit status is still the verdict's.
#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    let victim = start_victim(&["--mode", "plain"], None);
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let pid = victim.ready.pid.to_string();
    for (expect, code) in [("leak", 0), ("no-leak", 1)] {
        let o = Command::new(common::bin())
            .args(["scan", "--pid", &pid, "--sha256", &victim.ready.sha256])
            .args(["--shape", "canary", "--expect", expect])
            .stdout(Stdio::from(write.try_clone().unwrap()))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "--expect {expect}: {err}");
        assert!(err.is_empty(), "--expect {expect}: {err}");
    }
}

#[test]
fn a_needle_over_the_limit_is_refused_clearly() {
    let long = "a".repeat(confidump::scan::needles::MAX_NEEDLE_LEN + 1);
    let (code, _, err) = code_out_err(&run(&["scan", "--pid", "1", "--needle", &long]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("longer than the 4096-byte limit"), "{err}");
    assert!(!err.contains(&long), "the needle was echoed");
}

#[test]
fn needle_files_that_never_end_are_refused() {
    let (code, _, err) = code_out_err(&run(&["scan", "--pid", "1", "--needle-file", "/dev/zero"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/dev/zero: is a character device, not a regular file"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (code, _, err) = code_out_err(&run(&[
        "scan",
        "--pid",
        "1",
        "--needle-file",
        fifo.to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("FIFO"), "{err}");
    // Scanning a FIFO as a core says what it is (and does not block on it).
    let (code, _, err) = code_out_err(&run(&["scan", fifo.to_str().unwrap(), "--needle", "x"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is a FIFO (named pipe), not a core file"),
        "{err}"
    );
}

// ---- item 4: `ulimit -v 1G` is enough for every command ----

/// Runs the binary with its address space capped at 1 GiB (RLIMIT_AS, inherited by the
/// victims, gdb and QEMU it starts).
fn run_in_1gib(args: &[&str]) -> (i32, String, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(common::bin());
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    code_out_err(&cmd.output().unwrap())
}

#[test]
fn every_command_runs_in_one_gib_of_address_space() {
    let victim = start_victim(&["--mode", "plain"], None);
    let pid = victim.ready.pid.to_string();
    let sha = victim.ready.sha256.clone();
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    let core = core.to_str().unwrap();
    let json = dir.path().join("demo.json");
    let json = json.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["dump", &pid, "-o", core],
        vec!["scan", core, "--sha256", &sha, "--detect"],
        vec!["scan", "--pid", &pid, "--sha256", &sha, "--detect"],
        vec!["show", core, "--hit", "0", "--sha256", &sha],
        vec!["show", "--pid", &pid, "--hit", "0", "--sha256", &sha],
        vec!["attack", &pid, "--sha256", &sha],
        vec!["attack", &pid, "--sha256", &sha, "--via", "gcore"],
        vec![
            "demo",
            "--scenario",
            "plain",
            "--format",
            "json",
            "--output",
            json,
        ],
        vec!["doctor"],
        vec!["lab", "list"],
        vec!["report", json],
    ];
    for args in &commands {
        let (code, out, err) = run_in_1gib(args);
        assert_eq!(code, 0, "{args:?} under RLIMIT_AS=1GiB: {err}");
        assert!(
            !out.is_empty() || args[0] == "dump" || args[0] == "demo",
            "{args:?}"
        );
    }
}
