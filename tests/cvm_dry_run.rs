//! `victim --context vm --cvm … --dry-run`: the QEMU command line of each confidential-VM
//! profile, compared with golden files (tests/golden/dry-run-*.txt).
//!
//! The output is stable because the per-run files (initramfs, QMP socket) appear under the
//! `<RUNDIR>` placeholder and the test fixes the two host paths: `--kernel /fixed/vmlinuz` and
//! `CONFIDUMP_OVMF=/fixed/OVMF.fd` (used as given, even when missing). The first line (the QEMU
//! binary, as found on this host) is checked by name only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

fn dry_run(cvm: &str, format: &str) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .args([
            "victim",
            "--context",
            "vm",
            "--mode",
            "plain",
            "--cvm",
            cvm,
            "--kernel",
            "/fixed/vmlinuz",
            "--dry-run",
            "--format",
            format,
        ])
        .env("CONFIDUMP_OVMF", "/fixed/OVMF.fd")
        .env_remove("CONFIDUMP_QEMU")
        .output()
        .unwrap();
    common::code_out_err(&out)
}

fn golden(cvm: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/golden/dry-run-{cvm}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

fn check_text(cvm: &str) {
    let (code, out, err) = dry_run(cvm, "text");
    // Exit 0 on a host without the hardware, which says what it lacks.
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("<RUNDIR> stands for"), "{err}");
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    let (program, args) = lines.split_first().expect("a program line");
    assert!(program.ends_with("qemu-system-x86_64"), "{program}");
    let want = golden(cvm);
    assert_eq!(
        args,
        want.as_slice(),
        "dry run of --cvm {cvm} differs from tests/golden/dry-run-{cvm}.txt:\n{out}"
    );
}

fn check_json(cvm: &str) {
    let (code, out, err) = dry_run(cvm, "json");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let args: Vec<String> = v["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string argument").to_string())
        .collect();
    assert_eq!(args, golden(cvm));
    assert_eq!(v["cvm"], cvm);
    assert!(v["program"]
        .as_str()
        .unwrap()
        .ends_with("qemu-system-x86_64"));
    assert_eq!(v["placeholders"][0]["name"], "<RUNDIR>");
    let missing = v["missing"].as_array().expect("missing");
    // This test's kernel does not exist: whatever else the host has, that is missing.
    assert!(
        missing
            .iter()
            .any(|m| m.as_str().unwrap().contains("/fixed/vmlinuz")),
        "{missing:?}"
    );
}

#[test]
fn sev_snp_dry_run_matches_golden() {
    check_text("sev-snp");
    check_json("sev-snp");
}

#[test]
fn tdx_dry_run_matches_golden() {
    check_text("tdx");
    check_json("tdx");
}

#[test]
fn dry_run_needs_the_vm_context() {
    let out = Command::new(common::bin())
        .args(["victim", "--mode", "plain", "--dry-run"])
        .output()
        .unwrap();
    let (code, _, err) = common::code_out_err(&out);
    assert_ne!(code, 0);
    assert!(err.contains("--context vm"), "{err}");
}
