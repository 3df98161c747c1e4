//! The VM context against real QEMU and a real guest kernel: the guest's secret (plain heap or
//! the guest kernel's memfd_secret) leaks to the host through every host-side path — a dump of
//! QEMU's process, QMP dump-guest-memory, and a live read of QEMU — and the failure paths
//! (no kernel, no QEMU, a guest that never gets ready) end with a clear error and no QEMU left.
//!
//! Tests that need QEMU or a guest kernel skip through `common::require` when those are absent
//! (scripts/setup.sh installs both; in CI their absence fails). Guests run under TCG (`--accel tcg`): KVM may hang here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use common::{bin, code_out_err, require, run, Need};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The guest kernel `confidump victim --context vm` will boot when none is named.
fn kernel() -> Option<PathBuf> {
    confidump::vm::qemu::default_kernel()
}

/// Whether a VM test can run here: QEMU and a guest kernel (each missing one said).
fn can_boot() -> bool {
    require(Need::Qemu) && require(Need::GuestKernel)
}

/// QEMU processes whose command line mentions `needle`.
fn qemus_with(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.contains("qemu-system") && cmd.contains(needle) {
            out.push(pid);
        }
    }
    out
}

struct VmVictim {
    child: common::KillOnDrop,
    ready: serde_json::Value,
}

fn start_vm(mode: &str) -> VmVictim {
    start_vm_with(mode, &[])
}

fn start_vm_with(mode: &str, extra: &[&str]) -> VmVictim {
    let mut child = Command::new(bin())
        .args([
            "victim",
            "--context",
            "vm",
            "--mode",
            mode,
            "--accel",
            "tcg",
        ])
        .args(extra)
        .args(["--boot-timeout", "240"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let line = common::first_line(&mut child);
    let ready: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("no VM ready line ({e}): {line:?}"));
    assert_eq!(ready["event"], "ready");
    assert_eq!(ready["context"], "vm");
    assert_eq!(ready["mode"], mode);
    assert_eq!(ready["accel"], "tcg");
    assert_eq!(ready["pid"], ready["qemu_pid"]);
    VmVictim {
        child: child.into(),
        ready,
    }
}

/// Scans a core or `--pid`; returns the JSON report.
fn scan(target: &[&str], sha: &str) -> serde_json::Value {
    let mut args = vec!["scan"];
    args.extend_from_slice(target);
    args.extend(["--sha256", sha, "--shape", "canary", "--format", "json"]);
    let o = run(&args);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "scan {target:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

fn check_mode(mode: &str) {
    if !can_boot() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut vm = start_vm(mode);
    let sha = vm.ready["secret_sha256"].as_str().unwrap().to_string();
    let qemu_pid = vm.ready["qemu_pid"].as_i64().unwrap() as i32;
    let qmp = PathBuf::from(vm.ready["qmp"].as_str().unwrap());
    let phys: Vec<u64> = vm.ready["guest_phys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| !v.is_null())
        .map(common::hex)
        .collect();
    assert!(
        !phys.is_empty(),
        "no guest-physical page reported: {}",
        vm.ready
    );

    // (a) A gcore-style dump of the QEMU process holds guest RAM.
    let core = dir.path().join("qemu.core");
    let o = run(&["dump", &qemu_pid.to_string(), "-o", core.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", code_out_err(&o).2);
    let r = scan(&[core.to_str().unwrap()], &sha);
    assert_eq!(r["verdict"], "leak", "vm/{mode} × QEMU process dump: {r}");
    std::fs::remove_file(&core).unwrap();

    // (b) QMP dump-guest-memory: guest-physical addresses, the secret on a reported page.
    let gcore = dir.path().join("guest.core");
    let d = confidump::vm::qmp::dump_guest_memory(&qmp, &gcore).unwrap();
    assert!(d.bytes >= 128 << 20, "{d:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&gcore).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let r = scan(&[gcore.to_str().unwrap()], &sha);
    assert_eq!(r["verdict"], "leak", "vm/{mode} × QMP dump: {r}");
    let hits = r["hits"].as_array().unwrap();
    // Hit addresses are guest-physical: QEMU 7.2's paging=false core has p_vaddr = 0 = p_paddr
    // for RAM and p_vaddr = p_paddr for the BIOS ROM; the reader names them so.
    assert!(
        hits.iter().all(|h| h["mapping"] == "[guest-physical]"),
        "vm/{mode}: QMP hits not labelled guest-physical: {r}"
    );
    assert!(
        hits.iter()
            .any(|h| phys.contains(&(common::hex(&h["vaddr"]) & !0xfff))),
        "vm/{mode}: no QMP hit on the reported guest-physical pages {phys:x?}: {r}"
    );
    std::fs::remove_file(&gcore).unwrap();

    // The same through the presenter's one command.
    let o = run(&[
        "attack",
        &qemu_pid.to_string(),
        "--sha256",
        &sha,
        "--via",
        "qmp",
        "--qmp",
        qmp.to_str().unwrap(),
        "--expect",
        "leak",
    ]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "attack --via qmp: {out}\n{err}");
    assert!(
        out.starts_with("LEAK") && out.contains("[guest-physical]"),
        "{out}"
    );

    // (c) A live read of QEMU's memory.
    let r = scan(&["--pid", &qemu_pid.to_string()], &sha);
    assert_eq!(r["verdict"], "leak", "vm/{mode} × live read of QEMU: {r}");

    // Stopping the host victim powers the guest off and leaves no QEMU.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(vm.child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let status = vm.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        !Path::new(&format!("/proc/{qemu_pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{qemu_pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true),
        "QEMU {qemu_pid} still running after stop"
    );
}

#[test]
fn vm_plain_leaks_through_every_host_path() {
    check_mode("plain");
}

#[test]
fn vm_secretmem_leaks_through_every_host_path() {
    // memfd_secret is the guest kernel's protection; the hypervisor sits below it.
    check_mode("secretmem");
}

/// The second of two VM victims starts from the booted guest the first saved (or restored):
/// a real QEMU with a real guest, and a canary of its own, since each restored guest gets
/// fresh host entropy before it makes one. The snapshot is 0600 in a 0700 directory.
#[test]
fn a_restored_guest_makes_its_own_canary() {
    if !can_boot() {
        return;
    }
    let shas: Vec<(String, String)> = (0..2)
        .map(|_| {
            let mut vm = start_vm("plain");
            let got = (
                vm.ready["secret_sha256"].as_str().unwrap().to_string(),
                vm.ready["started"].as_str().unwrap().to_string(),
            );
            if got.1 == "snapshot" {
                // What the host reads of a restored guest is that guest's own secret.
                let pid = vm.ready["qemu_pid"].as_i64().unwrap().to_string();
                let r = scan(&["--pid", &pid], &got.0);
                assert_eq!(r["verdict"], "leak", "restored guest: {r}");
            }
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(vm.child.id() as i32),
                nix::sys::signal::SIGTERM,
            )
            .unwrap();
            assert!(vm.child.wait().unwrap().success());
            got
        })
        .collect();
    assert_eq!(shas[1].1, "snapshot", "{shas:?}");
    assert_ne!(shas[0].0, shas[1].0, "two guests made the same canary");
    let dir = confidump::vm::snapshot::cache_dir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let states: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".state"))
        .collect();
    assert!(!states.is_empty());
    for e in states {
        assert_eq!(
            e.metadata().unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            e.path().display()
        );
    }
}

/// Yama's ptrace_scope, built for real: this host's kernel has no Yama, the guest's has. In the
/// guest, root's `dump` attach and `scan --pid` read of another process are refused under
/// scope 3 with the rule, what it means and what to do; under scope 1 (root has
/// CAP_SYS_PTRACE) the same probe succeeds, so the refusal is Yama's and not the probe's.
#[test]
fn yama_refusals_are_explained_in_a_guest_that_has_yama() {
    if !can_boot() {
        return;
    }
    for scope in ["3", "1"] {
        let mut vm = start_vm_with("plain", &["--guest-yama", scope]);
        let probe = vm.ready["yama_probe"].clone();
        assert_eq!(probe["scope"].to_string(), scope, "{}", vm.ready);
        if scope == "3" {
            for what in ["attach", "read"] {
                let why = probe[what]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: {probe}"));
                assert!(
                    why.contains("Yama")
                        && why.contains("kernel.yama.ptrace_scope = 3")
                        && why.contains("reboot"),
                    "{what}: {why}"
                );
            }
        } else {
            assert!(
                probe["attach"].is_null() && probe["read"].is_null(),
                "{probe}"
            );
        }
        let _ = vm.child.kill();
        let _ = vm.child.wait();
    }
}

#[test]
fn missing_kernel_names_the_fix() {
    let o = run(&[
        "victim",
        "--context",
        "vm",
        "--mode",
        "plain",
        "--kernel",
        "/nonexistent",
    ]);
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("run scripts/fetch-guest-kernel.sh or pass --kernel"),
        "{err}"
    );
}

#[test]
fn missing_qemu_names_the_fix() {
    let o = Command::new(bin())
        .args(["victim", "--context", "vm", "--mode", "plain"])
        .env("CONFIDUMP_QEMU", "/nonexistent/qemu-system-x86_64")
        .output()
        .unwrap();
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("needs QEMU: apt-get install qemu-system-x86"),
        "{err}"
    );
}

#[test]
fn cvm_profiles_say_what_is_missing() {
    if !can_boot() {
        return;
    }
    for (cvm, title) in [("sev-snp", "AMD SEV-SNP"), ("tdx", "Intel TDX")] {
        let o = run(&[
            "victim",
            "--context",
            "vm",
            "--mode",
            "secretmem",
            "--cvm",
            cvm,
        ]);
        let (code, _, err) = code_out_err(&o);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("not available on this host: needs {title} (")),
            "{err}"
        );
    }
}

/// `confidump victim --context vm --mode plain` under TCG with `kernel`, to completion.
fn boot_plain_guest(kernel: &Path, boot_timeout: &str) -> std::process::Output {
    run(&[
        "victim",
        "--context",
        "vm",
        "--mode",
        "plain",
        "--accel",
        "tcg",
        "--kernel",
        kernel.to_str().unwrap(),
        "--boot-timeout",
        boot_timeout,
        // A saved guest restores in about a second: these guests must really boot.
        "--no-snapshot",
    ])
}

#[test]
fn a_guest_that_never_gets_ready_is_killed() {
    if !can_boot() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A unique kernel path, to find our QEMU among others'.
    let k = dir.path().join("slow-vmlinuz");
    std::fs::copy(kernel().unwrap(), &k).unwrap();
    let o = boot_plain_guest(&k, "1");
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("was not ready after 1 s; QEMU was killed"),
        "{err}"
    );
    assert!(
        qemus_with(k.to_str().unwrap()).is_empty(),
        "a QEMU was left running"
    );

    // A kernel file QEMU cannot boot at all: QEMU exits, and says why.
    let bogus = dir.path().join("bogus-vmlinuz");
    std::fs::write(&bogus, vec![0x5a; 64 << 10]).unwrap();
    let o = boot_plain_guest(&bogus, "30");
    let (code, _, err) = code_out_err(&o);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the guest") || err.contains("QEMU"), "{err}");
    assert!(
        qemus_with(bogus.to_str().unwrap()).is_empty(),
        "a QEMU was left running"
    );
}
