//! `report --baseline OLD NEW` and `demo --baseline OLD`: every cell whose result differs,
//! marked regression or improvement; exit 1 on a regression (and a failing JUnit case for it);
//! the host facts that changed printed beside. On recorded results (tests/golden/baseline/,
//! its README says how each was made) and on real demo runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::Need;

fn golden(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/baseline")
        .join(name);
    p.to_str().unwrap().to_string()
}

fn report(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    common::code_out_err(&common::run(&all))
}

/// The line of the comparison that names `scenario` and `attack`.
fn line_of<'a>(text: &'a str, scenario: &str, attack: &str) -> Option<&'a str> {
    text.lines().find(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.get(1) == Some(&scenario) && w.get(2) == Some(&attack)
    })
}

#[test]
fn unreadable_to_leak_is_a_regression_that_fails_the_run_and_its_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("changes.xml");
    let (code, out, err) = report(&[
        "--baseline",
        &golden("base.json"),
        &golden("leak.json"),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let line = line_of(&out, "secretmem", "live").unwrap_or_else(|| panic!("{out}"));
    assert!(line.starts_with("  REGRESSION"), "{line}");
    assert!(line.contains("unreadable → leak"), "{line}");
    assert!(line.contains("now leaks (was refused: ????)"), "{line}");
    assert!(
        out.contains("1 regression(s), 0 improvement(s), 0 other change(s)"),
        "{out}"
    );
    // Nothing else changed, the host included.
    assert_eq!(out.matches("REGRESSION").count(), 1, "{out}");
    assert!(out.contains("Host facts that changed:\n  (none)"), "{out}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(
        xml.contains("classname=\"confidump.baseline.secretmem\""),
        "{xml}"
    );
    assert!(xml.contains("secretmem/live: unreadable → leak"), "{xml}");
    if common::require(Need::Python3) {
        let parsed = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])",
            ])
            .arg(&junit)
            .status()
            .unwrap();
        assert!(parsed.success(), "{xml}");
    }
}

#[test]
fn only_improvements_exit_0() {
    let (code, out, err) = report(&["--baseline", &golden("leak.json"), &golden("base.json")]);
    assert_eq!(code, 0, "{out}{err}");
    let line = line_of(&out, "secretmem", "live").unwrap_or_else(|| panic!("{out}"));
    assert!(line.starts_with("  IMPROVEMENT"), "{line}");
    assert!(line.contains("leak → unreadable"), "{line}");
    assert!(out.contains("0 regression(s), 1 improvement(s)"), "{out}");

    let (code, json, err) = report(&[
        "--baseline",
        &golden("leak.json"),
        &golden("base.json"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["regressions"], 0);
    assert_eq!(v["improvements"], 1);
    assert_eq!(v["cells"][0]["change"], "improvement");
    assert_eq!(v["cells"][0]["old"], "leak");
    assert_eq!(v["cells"][0]["new"], "unreadable");
}

#[test]
fn two_results_that_differ_only_in_host_facts() {
    let (code, out, err) = report(&[
        "--baseline",
        &golden("base.json"),
        &golden("host-only.json"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Cells that changed:\n  (none)"), "{out}");
    // The facts the issue names, first and in its order, each old → new.
    let facts: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Host facts that changed:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(facts.len(), 3, "{out}");
    assert!(
        facts[0].contains("kernel") && facts[0].contains("6.18.44-fc-v1300 → 6.18.50-fc-v1400")
    );
    assert!(
        facts[1].contains("firmware")
            && facts[1].contains("microcode 0x1000065 → microcode 0x1000066")
    );
    assert!(facts[2].contains("qemu") && facts[2].contains("10.0.2 → 10.1.0"));
    // The same file twice: nothing changed at all.
    let (code, out, _) = report(&["--baseline", &golden("base.json"), &golden("base.json")]);
    assert_eq!(code, 0);
    assert!(out.contains("Host facts that changed:\n  (none)"), "{out}");
    assert!(
        out.contains("0 regression(s), 0 improvement(s), 0 other change(s)"),
        "{out}"
    );
}

#[test]
fn baseline_takes_one_newer_result() {
    let (code, _, err) = report(&[
        "--baseline",
        &golden("base.json"),
        &golden("leak.json"),
        &golden("host-only.json"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("give exactly one FILE (got 2)"), "{err}");
}

/// `demo --baseline`: a real run compared with an earlier result in which `plain`'s live read
/// was refused: it leaks now, a regression (exit 1, a failing case in the demo's JUnit); and
/// with `leak.json`, where `secretmem`'s live read leaked, only an improvement (exit 0).
#[test]
fn demo_baseline_on_a_real_run() {
    if !common::require(Need::Root) || !common::require(Need::MemfdSecret) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden("base.json")).unwrap()).unwrap();
    let cell = old["cells"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["scenario"] == "plain" && c["attack"] == "live")
        .unwrap();
    cell["observed"] = "unreadable".into();
    let old_path = dir.path().join("refused.json");
    std::fs::write(&old_path, old.to_string()).unwrap();
    let junit = dir.path().join("demo.xml");
    let out = common::run(&[
        "demo",
        "--scenario",
        "plain",
        "--scenario",
        "secretmem",
        "--baseline",
        old_path.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let (code, text, err) = common::code_out_err(&out);
    assert_eq!(code, 1, "{text}{err}");
    let line = line_of(&text, "plain", "live").unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("REGRESSION") && line.contains("unreadable → leak"),
        "{line}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("name=\"confidump.baseline\""), "{xml}");
    assert!(xml.contains("plain/live: unreadable → leak"), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");

    let out = common::run(&[
        "demo",
        "--scenario",
        "plain",
        "--scenario",
        "secretmem",
        "--baseline",
        &golden("leak.json"),
        "--format",
        "json",
    ]);
    let (code, json, err) = common::code_out_err(&out);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&json).expect("stdout is still the JSON alone");
    let line = line_of(&err, "secretmem", "live").unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("IMPROVEMENT") && line.contains("leak → unreadable"),
        "{line}"
    );
}
