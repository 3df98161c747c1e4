//! The confidential-service context against a real PostgreSQL: the three stores give the
//! expected verdict for every server process, the data directory and the client; nothing of
//! the server outlives the victim, even a SIGKILLed one; a missing PostgreSQL is named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use confidump::service::instance::processes_in;
use serde_json::Value;

/// A service victim, SIGKILLed (and reaped) on drop if a test fails half-way.
struct Svc {
    child: Child,
    ready: Value,
}

impl Drop for Svc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Svc {
    /// Starts `confidump victim --context service --store STORE` with `TMPDIR=base` (so the
    /// instance directory, and any stale one, is this test's own) and stderr into `log`.
    fn start(store: &str, base: &Path, log: &Path) -> Self {
        let mut child = Command::new(common::bin())
            .args(["victim", "--context", "service", "--store", store])
            .env("TMPDIR", base)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .expect("start victim");
        let line = common::first_line(&mut child);
        let ready: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
            panic!(
                "no ready line ({e}): {line:?}; stderr:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
        assert_eq!(ready["event"], "ready");
        assert_eq!(ready["context"], "service");
        assert_eq!(ready["store"], store);
        Svc { child, ready }
    }

    fn sha(&self) -> String {
        self.ready["secret_sha256"].as_str().unwrap().to_string()
    }
    fn server(&self) -> Vec<i32> {
        self.ready["pids"]["server"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_i64().unwrap() as i32)
            .collect()
    }
    fn backend(&self) -> i32 {
        self.ready["pids"]["backend"].as_i64().unwrap() as i32
    }
    fn client(&self) -> i32 {
        self.ready["pids"]["client"].as_i64().unwrap() as i32
    }
    fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.ready["data_dir"].as_str().unwrap())
    }
}

/// A base directory the server's unprivileged user can enter (tempdir makes 0700 ones).
fn base_dir() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

/// `confidump scan ... --sha256 H --shape canary --format json`: (verdict, bytes scanned).
fn scan(target: &[&str], sha: &str) -> (String, u64) {
    let mut args = vec!["scan"];
    args.extend_from_slice(target);
    args.extend_from_slice(&["--sha256", sha, "--shape", "canary", "--format", "json"]);
    let out = common::run(&args);
    let (code, stdout, stderr) = common::code_out_err(&out);
    assert_eq!(code, 0, "scan {target:?}: {stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    (
        v["verdict"].as_str().unwrap().to_string(),
        v["bytes_scanned"].as_u64().unwrap(),
    )
}

/// True while `pid` is a live (non-zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits (bounded: a server that never goes fails the test) until none of `pids` lives and
/// no process works in `data_dir`.
fn wait_all_gone(pids: &[i32], data_dir: &Path) -> Vec<i32> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let mut left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        left.extend(processes_in(data_dir));
        if left.is_empty() || Instant::now() > until {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs one store: every server process, the data directory and the client scanned; then a
/// stop by `signal` must leave no process and no directory.
fn check_store(store: &str, signal: nix::sys::signal::Signal) {
    if !common::require(common::Need::Postgres) {
        return;
    }
    let base = base_dir();
    let log = base.path().join("victim.log");
    let mut v = Svc::start(store, base.path(), &log);
    let sha = v.sha();
    let server = v.server();
    let (postmaster, backend) = (server[0], v.backend());
    assert!(server.len() >= 3, "postmaster and its children: {server:?}");
    assert!(server.contains(&backend), "{server:?} lacks {backend}");
    // No other connection's backend (the readiness probe's may still be exiting): attacked
    // later, it would die mid-read.
    for &pid in server.iter().filter(|&&p| p != backend) {
        let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&title).contains("[local]"),
            "pid {pid} is another connection's backend: {}",
            String::from_utf8_lossy(&title)
        );
    }
    let data_dir = v.data_dir();
    let run_dir = data_dir.parent().unwrap().to_path_buf();
    let mode = std::fs::metadata(&run_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", run_dir.display());
    assert!(run_dir.starts_with(base.path()));
    // Unix socket only: the server listens on no TCP port (no -h, listen_addresses='').
    let cmdline = std::fs::read(format!("/proc/{postmaster}/cmdline")).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).contains("listen_addresses=\0"));

    let mut verdicts = Vec::new();
    for &pid in &server {
        let (verdict, bytes) = scan(&["--pid", &pid.to_string()], &sha);
        // An honest no-leak: the process was read (shared buffers alone are 16 MiB).
        assert!(bytes > 1 << 20, "pid {pid}: only {bytes} bytes read");
        verdicts.push((pid, verdict));
    }
    let (disk, disk_bytes) = scan(&["--dir", data_dir.to_str().unwrap()], &sha);
    assert!(
        disk_bytes > 1 << 20,
        "data directory: only {disk_bytes} bytes"
    );
    let (client, _) = scan(&["--pid", &v.client().to_string()], &sha);
    eprintln!("{store}: server {verdicts:?}, disk {disk}, client {client}");

    let of = |pid: i32| {
        verdicts
            .iter()
            .find(|(p, _)| *p == pid)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    let any_server_leak = verdicts.iter().any(|(_, v)| v == "leak");
    // The trust boundary: the client holds the secret in every store.
    assert_eq!(client, "leak", "{store}: the client");
    match store {
        "plaintext" => {
            // The row sits in shared buffers (every server process maps them) and the
            // backend's own memory; on disk in the table file and the WAL.
            assert_eq!(of(postmaster), "leak", "{verdicts:?}");
            assert_eq!(of(backend), "leak", "{verdicts:?}");
            assert_eq!(disk, "leak");
        }
        "server-encrypted" => {
            // Key and plaintext pass through the backend; only ciphertext reaches shared
            // buffers and the disk.
            assert!(any_server_leak);
            assert_eq!(of(backend), "leak", "{verdicts:?}");
            assert_eq!(of(postmaster), "no-leak", "{verdicts:?}");
            assert_eq!(disk, "no-leak");
        }
        "client-encrypted" => {
            assert!(!any_server_leak, "{verdicts:?}");
            assert_eq!(disk, "no-leak");
        }
        other => panic!("unknown store {other}"),
    }

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(v.child.id() as i32), signal).unwrap();
    let status = v.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let left = wait_all_gone(&server, &data_dir);
    assert!(left.is_empty(), "server processes left: {left:?}");
    assert!(!run_dir.exists(), "{} left behind", run_dir.display());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("shut down and removed"), "{stderr}");
    assert!(!stderr.contains(&sha), "the log names no secret");
}

#[test]
fn plaintext_leaks_from_server_memory_and_disk() {
    check_store("plaintext", nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn server_encrypted_leaks_from_the_backend_not_the_disk() {
    check_store("server-encrypted", nix::sys::signal::Signal::SIGINT);
}

#[test]
fn client_encrypted_leaves_only_ciphertext_in_the_server() {
    check_store("client-encrypted", nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sigkilled_victim_leaves_no_server_and_the_next_run_removes_its_directory() {
    if !common::require(common::Need::Postgres) {
        return;
    }
    let base = base_dir();
    let log = base.path().join("first.log");
    let mut v = Svc::start("plaintext", base.path(), &log);
    let server = v.server();
    let data_dir = v.data_dir();
    let run_dir = data_dir.parent().unwrap().to_path_buf();
    v.child.kill().unwrap();
    v.child.wait().unwrap();
    let left = wait_all_gone(&server, &data_dir);
    assert!(
        left.is_empty(),
        "postgres processes outlived the victim: {left:?}"
    );
    // The private directory it leaves is still there...
    let mode = std::fs::metadata(&run_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    // ...until the next run, which removes it and says so.
    let log2 = base.path().join("second.log");
    let mut w = Svc::start("client-encrypted", base.path(), &log2);
    assert!(!run_dir.exists(), "stale {} not removed", run_dir.display());
    let stderr = std::fs::read_to_string(&log2).unwrap();
    assert!(
        stderr.contains("removed the stale PostgreSQL directory")
            && stderr.contains(run_dir.to_str().unwrap()),
        "{stderr}"
    );
    let (server2, data2) = (w.server(), w.data_dir());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(w.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(w.child.wait().unwrap().success());
    assert!(wait_all_gone(&server2, &data2).is_empty());
    let names: Vec<_> = std::fs::read_dir(base.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("confidump-pg."))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn missing_postgresql_names_the_package() {
    let empty = tempfile::tempdir().unwrap();
    let out = common::run(&[
        "victim",
        "--context",
        "service",
        "--store",
        "plaintext",
        "--pg-bindir",
        empty.path().to_str().unwrap(),
    ]);
    let (code, _, stderr) = common::code_out_err(&out);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("PostgreSQL is not installed")
            && stderr.contains("install the `postgresql` package"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
}

#[test]
fn store_and_context_usage_errors() {
    for (args, want) in [
        (&["victim", "--context", "service"][..], "--store"),
        (
            &["victim", "--mode", "plain", "--store", "plaintext"][..],
            "--context service",
        ),
        (
            &[
                "victim",
                "--context",
                "service",
                "--store",
                "plaintext",
                "--mode",
                "plain",
            ][..],
            "not --mode",
        ),
    ] {
        let out = common::run(args);
        let (code, _, stderr) = common::code_out_err(&out);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
