//! The `pod` attack path on real processes: a sibling container in the victim's pid namespace
//! (or a hostPID pod) started with the kernel's namespaces and capability sets, whose cells
//! name the kernel rule that decided them; and, in a guest whose kernel has Yama, the same
//! attackers under `ptrace_scope` 1 and 3.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};

use common::{code_out_err, require, run, Need};

/// The pod-variant rows that are not built in (`demo/scenarios-pod`).
const POD_ROWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/scenarios-pod");

fn pod_cell<'a>(report: &'a serde_json::Value, row: &str) -> &'a serde_json::Value {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scenario"] == row && c["attack"] == "pod")
        .unwrap_or_else(|| panic!("no pod cell for {row}: {report}"))
}

/// On this host (no Yama): the sidecar with CAP_SYS_PTRACE reads a plain container victim, the
/// hostPID pod is refused the memfd_secret pages; a default sidecar is refused by the capability rule
/// where the app keeps every capability and reads an app with runc's few; the hostPID pod
/// reads it. Each cell names its rule; every expectation holds.
#[test]
fn the_pod_column_names_the_rule_that_decided_each_cell() {
    if !require(Need::Root) || !require(Need::MemfdSecret) {
        return;
    }
    let mut rows = vec![
        "container",
        "container-secretmem",
        "pod-sidecar",
        "node-debug",
    ];
    let runc = require(Need::Runtime(confidump::model::Runtime::Runc));
    if runc {
        rows.push("container-oci");
    }
    let mut args = vec!["demo", "--format", "json", "--scenario-dir", POD_ROWS];
    for r in &rows {
        args.extend(["--scenario", r]);
    }
    let o = run(&args);
    let (code, out, err) = code_out_err(&o);
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    assert_eq!(report["mismatches"], 0, "{out}\n{err}");
    assert_eq!(code, 0, "{err}");

    let c = pod_cell(&report, "container");
    assert_eq!(c["observed"], "leak", "{c}");
    let why = c["reason"].as_str().unwrap();
    assert!(why.contains("CAP_SYS_PTRACE"), "{why}");
    assert!(c["command"].as_str().unwrap().contains("--pid 1 "), "{c}");

    let c = pod_cell(&report, "container-secretmem");
    assert_eq!(c["observed"], "unreadable", "{c}");
    assert!(c["where"].as_str().unwrap().contains("secretmem"), "{c}");
    assert!(c["reason"].as_str().unwrap().contains("EIO"), "{c}");

    let c = pod_cell(&report, "pod-sidecar");
    assert_eq!(c["observed"], "unreadable", "{c}");
    let why = c["reason"].as_str().unwrap();
    assert!(
        why.contains("not a subset") && why.contains("without CAP_SYS_PTRACE"),
        "the capability rule is named: {why}"
    );

    let c = pod_cell(&report, "node-debug");
    assert_eq!(c["observed"], "leak", "{c}");
    assert!(
        c["reason"].as_str().unwrap().contains("CAP_SYS_PTRACE"),
        "{c}"
    );
    assert!(c["command"].as_str().unwrap().contains("hostPID"), "{c}");

    if runc {
        let c = pod_cell(&report, "container-oci");
        assert_eq!(c["observed"], "leak", "{c}");
        let why = c["reason"].as_str().unwrap();
        assert!(why.contains("subset") && why.contains("same uid"), "{why}");
    }
}

/// Japanese cells name the rule in Japanese.
#[test]
fn the_rule_is_named_in_japanese_too() {
    if !require(Need::Root) {
        return;
    }
    let o = run(&[
        "demo",
        "--format",
        "json",
        "--lang",
        "ja",
        "--scenario-dir",
        POD_ROWS,
        "--scenario",
        "pod-sidecar",
    ]);
    let (_, out, err) = code_out_err(&o);
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    let c = pod_cell(&report, "pod-sidecar");
    assert_eq!(c["observed"], "unreadable", "{c}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("ケーパビリティの規則"),
        "{c}"
    );
}

/// Yama inside a guest (this host's kernel has none): under ptrace_scope 1 the default
/// sidecar, which holds the same capabilities as its target, is refused by Yama, while the
/// CAP_SYS_PTRACE holders pass (scope 1 exempts them); under 3 every attacker is refused, Yama
/// named.
#[test]
fn yama_in_the_guest_refuses_the_pod_attackers() {
    if !require(Need::Qemu) || !require(Need::GuestKernel) {
        return;
    }
    for scope in ["1", "3"] {
        let mut child = Command::new(common::bin())
            .args(["victim", "--context", "vm", "--mode", "plain"])
            .args(["--accel", "tcg", "--guest-yama", scope])
            .args(["--boot-timeout", "400"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let line = common::first_line(&mut child);
        let _ = child.kill();
        let _ = child.wait();
        let ready: serde_json::Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("no VM ready line ({e}): {line:?}"));
        let pod = ready["yama_probe"]["pod"].as_array().unwrap_or_else(|| {
            panic!("no pod probe: {ready}");
        });
        let of = |who: &str| {
            pod.iter()
                .find(|p| p["attacker"] == who)
                .unwrap_or_else(|| panic!("{who} missing: {ready}"))["refused"]
                .clone()
        };
        let yama = |v: &serde_json::Value| {
            let why = v
                .as_str()
                .unwrap_or_else(|| panic!("scope {scope}: not refused: {ready}"));
            assert!(
                why.contains("Yama") && why.contains(&format!("ptrace_scope = {scope}")),
                "scope {scope}: {why}"
            );
        };
        yama(&of("sidecar"));
        if scope == "1" {
            assert!(of("sidecar-ptrace").is_null(), "{ready}");
            assert!(of("node-debug").is_null(), "{ready}");
        } else {
            yama(&of("sidecar-ptrace"));
            yama(&of("node-debug"));
        }
    }
}

/// `pod = "..."` belongs to container rows, names one of the three attackers, and defaults to
/// the sidecar with CAP_SYS_PTRACE there.
#[test]
fn the_pod_key_is_for_container_rows_only() {
    let row = |extra: &str| {
        format!(
            "name = \"x\"\ntitle.en = \"t\"\nholds.en = \"h\"\nlesson.en = \"l\"\nmode = \"plain\"\n{extra}\n[expect]\npod = \"leak\"\n"
        )
    };
    let e = confidump::scenario::parse("x.toml", &row("pod = \"sidecar\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("pod needs context = \"container\""), "{e}");
    let e =
        confidump::scenario::parse("x.toml", &row("context = \"container\"\npod = \"kubelet\""))
            .unwrap_err()
            .to_string();
    assert!(e.contains("node-debug"), "{e}");
    for (extra, want) in [
        ("", confidump::model::PodAttacker::SidecarPtrace),
        ("pod = \"sidecar\"", confidump::model::PodAttacker::Sidecar),
        (
            "pod = \"node-debug\"",
            confidump::model::PodAttacker::NodeDebug,
        ),
    ] {
        let s = confidump::scenario::parse(
            "x.toml",
            &row(&format!("context = \"container\"\n{extra}")),
        )
        .unwrap();
        assert_eq!(s.spec.pod, Some(want), "{extra}");
        assert_eq!(
            s.spec.expected(confidump::model::AttackKind::Pod),
            confidump::model::Outcome::Leak
        );
    }
}
