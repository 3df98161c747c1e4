//! Refused attaches, explained (issue 14, item 5): each rule the kernel applies (another
//! user's process, a non-dumpable one, an existing tracer, a zombie, a kernel thread, the
//! dumper itself, root without CAP_SYS_PTRACE, Yama's ptrace_scope) is built for real and the
//! one error line must name it and say what to do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{code_out_err, run, start_victim};

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

// ---- item 5: refusals explained ----

fn run_as_nobody(args: &[&str]) -> (i32, String, String) {
    use std::os::unix::process::CommandExt;
    let o = Command::new(common::bin())
        .args(args)
        .uid(65534)
        .gid(65534)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    code_out_err(&o)
}

#[test]
fn another_users_process_is_refused_by_the_uid_rule() {
    if !common::require(common::Need::RunsAsNobody) {
        return;
    }
    let victim = start_victim(&["--mode", "plain"], None);
    let pid = victim.ready.pid.to_string();
    let (code, _, err) = run_as_nobody(&["scan", "--pid", &pid, "--needle", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("belongs to uid 0"), "{err}");
    assert!(err.contains("uid 65534"), "{err}");
}

#[test]
fn a_non_dumpable_process_of_the_same_user_is_explained() {
    if !common::require(common::Need::RunsAsNobody) {
        return;
    }
    let victim = common::start_victim_as(65534, &["--mode", "undumpable"], None);
    let pid = victim.ready.pid.to_string();
    let (code, _, err) = run_as_nobody(&["scan", "--pid", &pid, "--needle", "x"]);
    drop(victim);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not dumpable"), "{err}");
}

#[test]
fn an_existing_tracer_is_named() {
    let victim = start_victim(&["--mode", "plain"], None);
    let pid = victim.ready.pid;
    let p = nix::unistd::Pid::from_raw(pid);
    nix::sys::ptrace::seize(p, nix::sys::ptrace::Options::empty()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.core");
    let (code, _, err) = code_out_err(&run(&[
        "dump",
        &pid.to_string(),
        "-o",
        out.to_str().unwrap(),
    ]));
    // The victim is released when it is killed (Victim's drop); a running tracee cannot be
    // detached without stopping it first.
    assert_eq!(code, 2, "{err}");
    assert!(
        // TracerPid names the tracing thread: this test's.
        err.contains(&format!("already traced by pid {}", nix::unistd::gettid())),
        "{err}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn zombies_kernel_threads_and_the_dumper_itself_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.core");
    let out = out.to_str().unwrap();
    // A zombie: exited, not yet reaped.
    let mut child = Command::new("true").spawn().unwrap();
    let zpid = child.id() as i32;
    nix::sys::wait::waitid(
        nix::sys::wait::Id::Pid(nix::unistd::Pid::from_raw(zpid)),
        nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
    )
    .unwrap();
    let (code, _, err) = code_out_err(&run(&["dump", &zpid.to_string(), "-o", out]));
    child.wait().unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("zombie"), "{err}");
    // kthreadd.
    let (code, _, err) = code_out_err(&run(&["dump", "2", "-o", out]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("kernel thread"), "{err}");
    // The dumper itself: the shell's PID becomes confidump's through exec.
    let o = Command::new("sh")
        .args(["-c", &format!("exec {} dump $$ -o {out}", common::bin())])
        .output()
        .unwrap();
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("confidump itself"), "{err}");
}

// ---- issue 8 item 7: not root, by mistake ----

/// No part of an error line says the same thing twice, and it carries no escape codes.
fn assert_one_clean_line(err: &str) {
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(!err.contains('\x1b'), "escape codes on a pipe: {err:?}");
    let parts: Vec<&str> = lines[0].split(": ").map(str::trim).collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(p), "{p:?} is said twice in: {err}");
    }
}

#[test]
fn a_non_root_demo_stops_at_once_with_one_sentence() {
    if !common::require(common::Need::RunsAsNobody) {
        return;
    }
    let (code, out, err) = run_as_nobody(&["demo", "--scenario", "plain"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "nothing runs: {out}");
    assert_one_clean_line(&err);
    assert!(err.contains("demo needs root"), "{err}");
    assert!(err.contains("the row plain"), "{err}");
    assert!(err.contains("CAP_SYS_PTRACE"), "{err}");
    assert!(
        err.trim_end()
            .ends_with("run it as: sudo confidump demo --scenario plain"),
        "{err}"
    );
    // Listing needs no root.
    let (code, out, err) = run_as_nobody(&["demo", "--list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plain"), "{out}");
}

#[test]
fn a_refused_attach_is_one_sentence_naming_the_rule() {
    if !common::require(common::Need::RunsAsNobody) {
        return;
    }
    let victim = start_victim(&["--mode", "plain"], None);
    let pid = victim.ready.pid.to_string();
    for args in [
        vec!["attack", pid.as_str(), "--needle", "x"],
        vec![
            "dump",
            pid.as_str(),
            "-o",
            "/tmp/confidump-never-written.core",
        ],
        vec!["scan", "--pid", pid.as_str(), "--needle", "x"],
        vec!["show", "--pid", pid.as_str(), "--addr", "0x1000"],
    ] {
        let (code, _, err) = run_as_nobody(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_one_clean_line(&err);
        // The rule (uid mismatch) and the remedy.
        assert!(err.contains("belongs to uid 0"), "{args:?}: {err}");
        assert!(err.contains("run it as root"), "{args:?}: {err}");
    }
    assert!(!Path::new("/tmp/confidump-never-written.core").exists());
}

/// Root without CAP_SYS_PTRACE (as in a container that drops it), against a process of
/// another user: the kernel refuses the attach, and the one line says the capability is
/// missing and how to give it, not "permission denied".
#[test]
fn root_without_cap_sys_ptrace_is_told_which_capability_is_missing() {
    if !common::require(common::Need::RunsAsNobody) {
        return;
    }
    if !common::require(common::Need::Setpriv) {
        return;
    }
    // A victim of uid 65534, so that only CAP_SYS_PTRACE could let root attach.
    let victim = common::start_victim_as(
        65534,
        &["--mode", "plain"],
        Some(b"CONFIDUMP-00112233445566778899aabb"),
    );
    let pid = victim.ready.pid.to_string();
    for args in [
        vec!["dump", pid.as_str(), "-o", "/tmp/confidump-no-cap.core"],
        vec!["scan", "--pid", pid.as_str(), "--needle", "x"],
    ] {
        let o = Command::new("setpriv")
            .args(["--bounding-set", "-sys_ptrace", "--"])
            .arg(common::bin())
            .args(&args)
            .output()
            .unwrap();
        let (code, _, err) = code_out_err(&o);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_one_clean_line(&err);
        assert!(err.contains("without CAP_SYS_PTRACE"), "{args:?}: {err}");
        assert!(err.contains("--cap-add SYS_PTRACE"), "{args:?}: {err}");
    }
    assert!(!Path::new("/tmp/confidump-no-cap.core").exists());
    drop(victim);
}

/// Yama's `ptrace_scope`, on a kernel that has Yama: the refusal names the value, what it means
/// and what to do. The test never changes the sysctl (it is machine-wide, and 3 cannot be undone
/// without a reboot): it builds the refusal the current value makes. The decision itself is
/// unit-tested over every value in `memory::refusal` and `host::eval`, and built for real in a
/// guest whose kernel has Yama (`tests/vm.rs`, `yama_refusals_are_explained_in_a_guest_that_has_yama`).
#[test]
fn yama_ptrace_scope_is_named_with_its_remedy() {
    // Declared: no Yama, or a scope of 0 that refuses nothing (the test never changes it).
    if !common::host_has(common::Host::Yama) {
        return;
    }
    if !common::require(common::Need::RunsAsNobody) {
        return;
    }
    let scope: u8 = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(scope, 0, "common::Host::Yama said a scope of 0 refuses");
    let wanted = format!("kernel.yama.ptrace_scope = {scope}");
    if scope == 3 {
        // Nobody may attach, root included.
        let victim = start_victim(&["--mode", "plain"], None);
        let pid = victim.ready.pid.to_string();
        let (code, _, err) = code_out_err(&run(&["scan", "--pid", &pid, "--needle", "x"]));
        assert_eq!(code, 2, "{err}");
        assert_one_clean_line(&err);
        assert!(err.contains(&wanted) && err.contains("reboot"), "{err}");
        return;
    }
    // Scopes 1 and 2: an unprivileged attacker against a victim of its own uid that is not its
    // descendant (both are this test's children), so neither the uid nor the dumpable rule
    // refuses, only Yama's.
    let victim = common::start_victim_as(65534, &["--mode", "plain"], None);
    let pid = victim.ready.pid.to_string();
    let (code, _, err) = run_as_nobody(&["scan", "--pid", &pid, "--needle", "x"]);
    assert_eq!(code, 2, "{err}");
    assert_one_clean_line(&err);
    assert!(err.contains(&wanted), "{err}");
    assert!(err.contains("sysctl kernel.yama.ptrace_scope="), "{err}");
}
