//! End-to-end tests of `confidump victim --context container`: a victim in a container (our
//! own namespaces, runc, crun) is found by the host's root with the host PID, and nothing of
//! the container (runtime state, bundle, mounts, namespaces) outlives the victim.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{bin, start_victim, Victim};
use confidump::container::{cleanup, oci, Runtime};

const SECRET: &str = "CONFIDUMP-c0ffee0123456789abcdef01";

/// The tests that start containers run one at a time: the kernel reuses a freed namespace's
/// inode number, so a parallel test's new container could otherwise look like a leftover.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The runtimes that run containers here; each missing one skips through `common::require`
/// (in CI, fails). crun needs a cgroup layout it accepts, on the declared list of what a host
/// may lack.
fn runtimes() -> Vec<Runtime> {
    Runtime::ALL
        .into_iter()
        .filter(|r| *r != Runtime::Crun || common::host_has(common::Host::CrunCgroups))
        .filter(|r| common::require(common::Need::Runtime(*r)))
        .collect()
}

/// True when the process is gone, or is a zombie (it holds no memory and no namespace; its
/// reaper is this host's init, which may take its time).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(s) => s
            .lines()
            .any(|l| l.starts_with("State:") && l.contains("Z (zombie)")),
    }
}

fn start(runtime: Runtime, mode: &str) -> Victim {
    start_victim(
        &[
            "--context",
            "container",
            "--runtime",
            runtime.as_str(),
            "--mode",
            mode,
            "--secret-stdin",
        ],
        Some(SECRET.as_bytes()),
    )
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// `confidump scan ARGS --sha256 … --shape canary --format json`: (exit code, verdict).
fn scan(args: &[&str]) -> (i32, String) {
    let out = Command::new(bin())
        .arg("scan")
        .args(args)
        .args(["--sha256", &sha256_hex(SECRET), "--shape", "canary"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let (code, stdout, stderr) = common::code_out_err(&out);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("scan output is not JSON ({e}): {stdout} {stderr}"));
    (code, v["verdict"].as_str().unwrap_or_default().to_string())
}

/// Every namespace link of every live process on the host. Zombies are left out: a zombie
/// still names its pid namespace until its reaper collects it, and an orphan's reaper is this
/// host's init, which may take its time.
fn all_namespace_links() -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || gone(name.parse().unwrap()) {
            continue;
        }
        let Ok(ns) = std::fs::read_dir(e.path().join("ns")) else {
            continue;
        };
        for l in ns.flatten() {
            if let Ok(t) = std::fs::read_link(l.path()) {
                set.insert(t.to_string_lossy().into_owned());
            }
        }
    }
    set
}

/// What a running container victim consists of, to check afterwards that none of it is left.
struct Footprint {
    runtime: Runtime,
    id: String,
    host_pid: i32,
    dir: PathBuf,
    namespaces: Vec<String>,
}

impl Footprint {
    fn of(v: &Victim) -> Footprint {
        let c = &v.ready.raw["container"];
        let runtime = match c["runtime"].as_str().unwrap() {
            "namespaces" => Runtime::Namespaces,
            "runc" => Runtime::Runc,
            "crun" => Runtime::Crun,
            other => panic!("unknown runtime {other}"),
        };
        let id = c["id"].as_str().unwrap().to_string();
        let dir = std::env::temp_dir().join(&id);
        assert!(
            dir.is_dir(),
            "the private directory {} exists",
            dir.display()
        );
        let namespaces: Vec<String> = confidump::isolate::namespaces::namespace_ids(v.ready.pid)
            .into_iter()
            .map(|(_, link)| link)
            .collect();
        assert_eq!(namespaces.len(), 5, "{namespaces:?}");
        // Each of them is new: not the test's own.
        let mine: BTreeSet<String> = confidump::isolate::namespaces::namespace_ids(
            i32::try_from(std::process::id()).unwrap(),
        )
        .into_iter()
        .map(|(_, l)| l)
        .collect();
        for n in &namespaces {
            assert!(!mine.contains(n), "{n} is the host's namespace");
        }
        Footprint {
            runtime,
            id,
            host_pid: v.ready.pid,
            dir,
            namespaces,
        }
    }

    /// Nothing left: no process, no runtime state, no directory, no mount, no namespace.
    fn assert_gone(&self) {
        assert!(
            gone(self.host_pid),
            "the victim (host pid {}) is gone",
            self.host_pid
        );
        assert!(!self.dir.exists(), "{} was removed", self.dir.display());
        if let Ok(program) = oci::find_program(self.runtime) {
            let list = Command::new(&program).arg("list").output().unwrap();
            let text = String::from_utf8_lossy(&list.stdout);
            assert!(
                !text.contains(&self.id),
                "{} list still shows it:\n{text}",
                self.runtime.as_str()
            );
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&self.id), "a mount is left:\n{mounts}");
        let links = all_namespace_links();
        for n in &self.namespaces {
            assert!(
                !links.contains(n),
                "namespace {n} is still held by a process"
            );
        }
    }
}

/// Waits for the outer `confidump victim` to exit; returns its exit code.
fn wait(v: &mut Victim) -> Option<i32> {
    drop(v.stdin.take());
    v.child.wait().unwrap().code()
}

fn term(v: &Victim) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(v.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM).unwrap();
}

#[test]
fn the_host_reads_a_container_victim_by_its_host_pid() {
    let _serial = serial();
    for runtime in runtimes() {
        let mut v = start(runtime, "plain");
        let rt = runtime.as_str();
        let raw = &v.ready.raw;
        assert_eq!(raw["context"], "container", "{raw}");
        assert_eq!(raw["container"]["runtime"], rt);
        assert_eq!(
            raw["container"]["pid_in_container"], 1,
            "{rt}: the victim is the container's init"
        );
        assert_eq!(v.ready.sha256, sha256_hex(SECRET));
        let status = std::fs::read_to_string(format!("/proc/{}/status", v.ready.pid)).unwrap();
        let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
        assert_eq!(
            nspid.split_whitespace().skip(1).collect::<Vec<_>>(),
            [v.ready.pid.to_string().as_str(), "1"],
            "{rt}: {nspid}"
        );
        let fp = Footprint::of(&v);
        let pid = v.ready.pid.to_string();

        // A live read from the host.
        let (code, verdict) = scan(&["--pid", &pid, "--expect", "leak"]);
        assert_eq!((code, verdict.as_str()), (0, "leak"), "{rt}: live scan");

        // A dump from the host, then a scan of the core.
        let dir = tempfile::tempdir().unwrap();
        let core = dir.path().join("ctr.core");
        let out = Command::new(bin())
            .args(["dump", &pid, "-o"])
            .arg(&core)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{rt}: dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (code, verdict) = scan(&[core.to_str().unwrap(), "--expect", "leak"]);
        assert_eq!(
            (code, verdict.as_str()),
            (0, "leak"),
            "{rt}: scan of the dump"
        );

        term(&v);
        assert_eq!(wait(&mut v), Some(0), "{rt}: a clean stop on SIGTERM");
        fp.assert_gone();
    }
}

#[test]
fn memfd_secret_in_a_container_is_refused_as_in_a_process() {
    let _serial = serial();
    for runtime in runtimes() {
        let mut v = start(runtime, "secretmem");
        let rt = runtime.as_str();
        let pid = v.ready.pid.to_string();
        let (code, verdict) = scan(&["--pid", &pid, "--expect", "no-leak"]);
        assert_eq!((code, verdict.as_str()), (0, "no-leak"), "{rt}: live scan");
        // The refusal is real: the region the victim names is unreadable from the host.
        let mut buf = [0u8; 16];
        let local = [std::io::IoSliceMut::new(&mut buf)];
        let remote = [nix::sys::uio::RemoteIoVec {
            base: usize::try_from(v.ready.start).unwrap(),
            len: 16,
        }];
        let r = nix::sys::uio::process_vm_readv(
            nix::unistd::Pid::from_raw(v.ready.pid),
            &mut { local },
            &remote,
        );
        assert!(
            r.is_err(),
            "{rt}: reading memfd_secret memory must fail, got {r:?}"
        );
        let fp = Footprint::of(&v);
        term(&v);
        assert_eq!(wait(&mut v), Some(0));
        fp.assert_gone();
    }
}

#[test]
fn nothing_is_left_when_the_victim_is_killed() {
    let _serial = serial();
    for runtime in runtimes() {
        let mut v = start(runtime, "plain");
        let rt = runtime.as_str();
        let fp = Footprint::of(&v);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(fp.host_pid),
            nix::sys::signal::SIGKILL,
        )
        .unwrap();
        let code = wait(&mut v);
        assert_ne!(code, Some(0), "{rt}: a killed victim is an error");
        fp.assert_gone();
    }
}

#[test]
fn a_killed_run_is_cleaned_up_by_the_next() {
    let _serial = serial();
    for runtime in runtimes() {
        let mut v = start(runtime, "plain");
        let rt = runtime.as_str();
        let fp = Footprint::of(&v);
        // SIGKILL the outer confidump: it cannot clean up. Its victim loses its stdin and
        // stops by itself; the bundle stays until the next run.
        v.child.kill().unwrap();
        v.child.wait().unwrap();
        // The victim notices the end of its stdin and exits: wait for its pidfd.
        wait_gone(fp.host_pid);
        let removed = cleanup::remove_stale();
        assert!(
            removed.dirs.contains(&fp.dir) || !fp.dir.exists(),
            "{rt}: {removed:?}"
        );
        fp.assert_gone();
    }
}

/// Blocks until process `pid` has exited (a pidfd becomes readable; no sleeps).
fn wait_gone(pid: i32) {
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};
    // SAFETY: pidfd_open takes a pid and flags; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return; // already gone
    }
    // SAFETY: a new fd owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(i32::try_from(fd).unwrap()) };
    let mut fds = [nix::poll::PollFd::new(
        fd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE).unwrap();
}

#[test]
fn a_missing_runtime_names_its_package() {
    for (runtime, var, package) in [
        ("runc", "CONFIDUMP_RUNC", "apt-get install runc"),
        ("crun", "CONFIDUMP_CRUN", "apt-get install crun"),
    ] {
        let out = Command::new(bin())
            .args(["victim", "--context", "container", "--runtime", runtime])
            .args(["--mode", "plain"])
            .env(var, "/nonexistent/confidump-test")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (code, _, stderr) = common::code_out_err(&out);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("not available on this host") && stderr.contains(package),
            "{stderr}"
        );
    }
}

#[test]
fn criu_check_gives_a_reason_or_passes() {
    use confidump::container::criu::{check, CriuCheck};
    let c = check();
    match &c {
        CriuCheck::Usable { .. } => assert_eq!(c.unavailable_reason(), None),
        CriuCheck::Missing { .. } | CriuCheck::Failed { .. } => {
            let r = c.unavailable_reason().unwrap();
            eprintln!("checkpoint path: {r}");
            assert!(r.starts_with("not available on this host"), "{r}");
            if let CriuCheck::Failed { reason, .. } = &c {
                assert!(
                    !reason.is_empty() && !reason.contains("status=1"),
                    "{reason}"
                );
            }
        }
    }
}
