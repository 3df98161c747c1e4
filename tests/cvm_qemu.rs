//! A real QEMU parses our confidential-VM command lines (`victim --dry-run`).
//!
//! Needs QEMU ≥ 9.1 (`scripts/setup.sh --cvm`; Debian 12: bookworm-backports' 10.0): skipped
//! through `common::require` otherwise (in CI, a failure). On a host without SEV-SNP the run must fail, and only for the
//! missing hardware (KVM's SNP support, /dev/sev, firmware) — never for an unknown object,
//! property or machine option. To show that QEMU checked every option before it gave up on
//! the hardware, each `key=` of `-machine` and of each `-object` is misspelled in turn, and
//! QEMU must then reject the option instead.
//!
//! TDX: no packaged QEMU here knows `tdx-guest` (QEMU 10.1). With an older QEMU the test checks
//! that QEMU rejects the `tdx-guest` object type (and says so: the rest of the TDX line is then
//! checked against QEMU's docs only, see src/vm/cvm.rs); with ≥ 10.1 it gets the SNP checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use confidump::vm::qemu::{find_qemu, qemu_version, QemuVersion};

/// What QEMU says when only the hardware is missing.
const HARDWARE: &[&str] = &[
    "not supported by KVM", // vm-type SEV-SNP/TDX not supported by KVM
    "KVM required",         // cannot set up private guest memory for …: KVM required
    "/dev/sev",             // the AMD secure processor
    "/dev/kvm",             // no KVM at all
    "failed to initialize kvm",
    "Could not access KVM",
    "could not load PC BIOS", // firmware
    "Could not open option rom",
];

/// What QEMU says when it does not understand an option: never acceptable for our lines.
const PARSE: &[&str] = &[
    "Invalid parameter",
    "is missing",
    "not found",
    "does not accept value",
    "unsupported machine type",
    "invalid object type",
    "Invalid option",
    "invalid accelerator",
    "Unexpected",
];

/// A QEMU >= 9.1 (`sev-snp-guest`) and its version; `None` (skipped through
/// `common::require`, in CI a failure) without one.
fn cvm_qemu() -> Option<(PathBuf, QemuVersion)> {
    if !common::require(common::Need::QemuCvm) {
        return None;
    }
    let qemu = find_qemu().expect("common::require found it");
    let v = qemu_version(&qemu).expect("common::require read its version");
    Some((qemu, v))
}

/// The dry-run arguments of `cvm`, with `<RUNDIR>` replaced by `dir` (holding an empty
/// initramfs: QEMU reaches it only after the accelerator, which fails first here).
fn args_for(cvm: &str, dir: &Path) -> Vec<String> {
    let out = Command::new(common::bin())
        .args(["victim", "--context", "vm", "--mode", "plain", "--cvm", cvm])
        .args(["--dry-run", "--format", "json"])
        .output()
        .unwrap();
    let (code, out, err) = common::code_out_err(&out);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    std::fs::write(dir.join("initramfs.cpio"), b"").unwrap();
    let rundir = dir.to_str().unwrap();
    v["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().replace("<RUNDIR>", rundir))
        .map(|a| {
            // Without a guest kernel on this host, any readable file will do: QEMU stops at
            // the accelerator, before it loads the kernel.
            if a == "<KERNEL>" {
                "/proc/self/exe".to_string()
            } else {
                a
            }
        })
        .collect()
}

/// Runs QEMU with `args`; returns its exit code and stderr. QEMU exits at once on a host
/// without the hardware (the callers skip hosts that have it).
fn run_qemu(qemu: &Path, args: &[String]) -> (Option<i32>, String) {
    let out = Command::new(qemu)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn parse_error(stderr: &str) -> Option<&'static str> {
    PARSE.iter().copied().find(|p| stderr.contains(p))
}

fn hardware_error(stderr: &str) -> Option<&'static str> {
    HARDWARE.iter().copied().find(|p| stderr.contains(p))
}

/// The line fails, and only for the hardware.
fn assert_fails_only_for_hardware(qemu: &Path, args: &[String], what: &str) {
    let (code, err) = run_qemu(qemu, args);
    assert_ne!(
        code,
        Some(0),
        "{what}: QEMU exited 0 on a host without the hardware"
    );
    assert_eq!(
        parse_error(&err),
        None,
        "{what}: QEMU rejected an option of ours:\n{err}\nargs: {args:?}"
    );
    assert!(
        hardware_error(&err).is_some(),
        "{what}: QEMU failed, but not for missing hardware:\n{err}"
    );
    eprintln!("{what}: QEMU failed only for the hardware: {}", err.trim());
}

/// Each `key=value` of the comma-separated option values of `-machine` and `-object`, with the
/// index of the argument it sits in. `id` and the first word (the type) are left alone.
fn keys(args: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, pair) in args.windows(2).enumerate() {
        if pair[0] == "-machine" || pair[0] == "-object" {
            for part in pair[1].split(',').skip(1) {
                if let Some((k, _)) = part.split_once('=') {
                    if k != "id" {
                        out.push((i + 1, k.to_string()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn qemu_parses_our_sev_snp_line() {
    let Some((qemu, v)) = cvm_qemu() else {
        return;
    };
    // On an SEV-SNP host QEMU would start the guest; the demo's cvm-sev-snp row runs it there.
    if !common::host_lacks(common::Host::SevSnp) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = args_for("sev-snp", dir.path());
    assert!(args.iter().any(|a| a.starts_with("sev-snp-guest,")));
    assert_fails_only_for_hardware(&qemu, &args, &format!("QEMU {v}, SEV-SNP, KVM"));

    // Under TCG, QEMU gets further (past KVM's vm-type) and stops at guest_memfd.
    let tcg: Vec<String> = args
        .iter()
        .map(|a| a.replace("accel=kvm", "accel=tcg"))
        .collect();
    let cpu = tcg.iter().position(|a| a == "-cpu").unwrap();
    let mut tcg = tcg;
    tcg.drain(cpu..cpu + 2); // `-cpu host` needs KVM
    assert_fails_only_for_hardware(&qemu, &tcg, &format!("QEMU {v}, SEV-SNP, TCG"));

    // The control: QEMU read every key before it failed for the hardware.
    let keys = keys(&args);
    assert!(keys.len() >= 6, "{keys:?}");
    for (i, key) in keys {
        let mut bad = args.clone();
        bad[i] = bad[i].replacen(&format!("{key}="), &format!("{key}x="), 1);
        let (code, err) = run_qemu(&qemu, &bad);
        assert_ne!(code, Some(0));
        assert!(
            parse_error(&err).is_some(),
            "misspelling {key:?} in {:?} was not reported as an unknown option, so QEMU may \
             never have checked it:\n{err}",
            args[i]
        );
    }
}

#[test]
fn qemu_parses_our_tdx_line_or_knows_no_tdx() {
    let Some((qemu, v)) = cvm_qemu() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = args_for("tdx", dir.path());
    if v >= (QemuVersion {
        major: 10,
        minor: 1,
        micro: 0,
    }) {
        // On a TDX host QEMU would start the guest.
        if !common::host_lacks(common::Host::Tdx) {
            return;
        }
        assert_fails_only_for_hardware(&qemu, &args, &format!("QEMU {v}, TDX, KVM"));
        return;
    }
    // Before 10.1 QEMU has no tdx-guest: it must stop at that object type.
    let (code, err) = run_qemu(&qemu, &args);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("tdx-guest") && parse_error(&err).is_some(),
        "QEMU {v} should reject the tdx-guest object type:\n{err}"
    );
    eprintln!(
        "QEMU {v} knows no tdx-guest (added in QEMU 10.1), as expected: {}; \
         the TDX line is checked against QEMU's docs only",
        err.trim()
    );
}
