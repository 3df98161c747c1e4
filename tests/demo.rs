//! `confidump demo`: the whole matrix on this host, run for real (real victims, real gcore,
//! real kernel cores, a real unprivileged attacker), must match every scenario's expectation;
//! scenario files with errors must be rejected naming the file and the line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{code_out_err, run};

const BUILTIN: [&str; 24] = [
    "plain",
    "dontdump",
    "secretmem",
    "argv",
    "residue",
    "dumpable",
    "sgx",
    "sgx-debug",
    "sgx-sim",
    "vm-plain",
    "vm-secretmem",
    "cvm-sev-snp",
    "cvm-tdx",
    "cvm-shared-io",
    "container",
    "container-secretmem",
    "container-oci",
    "pod-vm",
    "coco",
    "db-plaintext",
    "db-server-encrypted",
    "db-server-logged",
    "db-client-encrypted",
    "db-enclave",
];

#[test]
fn every_builtin_cell_matches_its_expectation_and_junit_parses() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("demo.xml");
    let o = run(&[
        "demo",
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let (code, out, err) = code_out_err(&o);
    let r: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    assert_eq!(r["schema"], 2, "the result says its schema version");
    let cells = r["cells"].as_array().expect("cells");
    // A cell that could not run here says so in `runnable`, and keeps the scenario's claim.
    let could_not_run = |c: &serde_json::Value| c["runnable"] == false && c["observed"] == "n/a";
    let bad: Vec<String> = cells
        .iter()
        .filter(|c| c["expected"] != c["observed"] && !could_not_run(c))
        .map(|c| {
            format!(
                "{}/{}: expected {} observed {} where {} reason {}",
                c["scenario"], c["attack"], c["expected"], c["observed"], c["where"], c["reason"]
            )
        })
        .collect();
    assert!(bad.is_empty(), "mismatching cells:\n{}", bad.join("\n"));
    assert_eq!(code, 0, "{err}");
    for c in cells {
        assert!(c["runnable"].is_boolean(), "every cell says runnable: {c}");
        if c["runnable"] == false {
            assert_eq!(c["observed"], "n/a", "{c}");
            assert!(!c["reason"].as_str().unwrap().is_empty(), "why not: {c}");
        }
    }
    // No SGX here: the sgx row keeps its claim (the dump is refused) and says it could not run.
    if !std::path::Path::new("/dev/sgx_enclave").exists() {
        let sgx_dump = cells
            .iter()
            .find(|c| c["scenario"] == "sgx" && c["attack"] == "dump")
            .unwrap();
        assert_eq!(sgx_dump["expected"], "unreadable", "{sgx_dump}");
        assert_eq!(sgx_dump["runnable"], false, "{sgx_dump}");
    }
    // cvm-shared-io's guest sent its canary out on the serial console: the host read it there,
    // and the console line reached no log or progress line.
    if let Some(wire) = cells
        .iter()
        .find(|c| c["scenario"] == "cvm-shared-io" && c["attack"] == "wire")
        .filter(|c| c["observed"] == "leak")
    {
        assert_eq!(wire["where"], "[serial console]", "{wire}");
    }
    // Without SEV-SNP the row runs as a normal VM and reads as one: its title and stand-in
    // label say so, and its lesson says which cell carries over to SEV-SNP.
    if !std::path::Path::new("/dev/sev").exists() {
        let row = r["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "cvm-shared-io")
            .unwrap();
        assert!(
            row["title"]["en"]
                .as_str()
                .unwrap()
                .starts_with("Normal VM"),
            "{row}"
        );
        assert!(
            row["stand_in_for"]["en"]
                .as_str()
                .unwrap()
                .contains("SEV-SNP"),
            "{row}"
        );
        assert!(
            row["lesson"]["en"].as_str().unwrap().contains("wire cell"),
            "{row}"
        );
    }
    assert!(
        !err.contains("CONFIDUMP-"),
        "a canary reached stderr: {err}"
    );
    assert_eq!(r["mismatches"], 0);
    for c in cells {
        for key in [
            "scenario", "attack", "expected", "observed", "where", "reason",
        ] {
            assert!(c.get(key).is_some(), "cell without {key}: {c}");
        }
        if c["observed"] == "n/a" {
            assert!(
                !c["reason"].as_str().unwrap_or("").is_empty(),
                "n/a without a reason: {c}"
            );
        }
        if c["observed"] == "leak" {
            assert!(c["hits"].as_u64().unwrap_or(0) > 0, "{c}");
            assert!(!c["where"].as_str().unwrap_or("").is_empty(), "{c}");
        }
    }
    for name in BUILTIN {
        assert_eq!(
            cells.iter().filter(|c| c["scenario"] == name).count(),
            confidump::model::AttackKind::ALL.len(),
            "{name} must have one cell per attack path"
        );
    }
    assert!(r["host"]["kernel"].as_str().is_some_and(|k| !k.is_empty()));
    // The 10 s target is checked by scripts/bench-demo.sh, never by a timed assertion.
    assert!(r["millis"].as_u64().is_some());

    // The JUnit file is XML with one test case per cell.
    if !common::require(common::Need::Python3) {
        return;
    }
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); \
             t = d.getElementsByTagName('testcase'); \
             print(len(t), len(d.getElementsByTagName('skipped')), len(d.getElementsByTagName('failure')), \
                   sorted(set(x.getAttribute('classname') for x in t)))",
            junit.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let (pc, pout, perr) = code_out_err(&parsed);
    assert_eq!(pc, 0, "JUnit does not parse as XML: {perr}");
    let na = cells.iter().filter(|c| c["observed"] == "n/a").count();
    assert!(
        pout.starts_with(&format!("{} {na} 0 ", cells.len())),
        "{pout}"
    );
    assert!(pout.contains("confidump.demo.plain"), "{pout}");
}

#[test]
fn list_names_every_builtin_scenario_and_what_it_needs() {
    let (code, out, err) = code_out_err(&run(&["demo", "--list"]));
    assert_eq!(code, 0, "{err}");
    for name in BUILTIN {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{out}"
        );
    }
    assert!(out.contains("memfd_secret") && out.contains("sgx"), "{out}");
}

#[test]
fn only_the_named_scenario_runs() {
    let o = run(&["demo", "--scenario", "plain", "--format", "json"]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "{out}\n{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cells = r["cells"].as_array().unwrap();
    assert_eq!(cells.len(), confidump::model::AttackKind::ALL.len());
    assert!(cells.iter().all(|c| c["scenario"] == "plain"), "{out}");
    assert_eq!(r["scenarios"].as_array().unwrap().len(), 1);
}

#[test]
fn an_unknown_scenario_is_an_error_listing_valid_names() {
    let (code, _, err) = code_out_err(&run(&["demo", "--scenario", "nosuch"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("nosuch") && err.contains("plain, dontdump"),
        "{err}"
    );
}

const GOOD: &str = r#"name = "mine"
title.en = "Mine"
holds.en = "a canary"
lesson.en = "a lesson"
mode = "plain"

[expect]
dump = "leak"
gcore = "leak"
kernel = "leak"
live = "leak"
"#;

fn check_bad_file(text: &str, want_line: usize, want_words: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let (code, out, err) = code_out_err(&run(&[
        "demo",
        "--list",
        "--scenario-dir",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{out}\n{err}");
    let want = format!("{}:{want_line}:", file.display());
    assert!(err.contains(&want), "want {want:?} in: {err}");
    assert!(err.contains(want_words), "want {want_words:?} in: {err}");
}

#[test]
fn scenario_files_with_errors_name_the_file_and_line() {
    // A good file loads and is listed, with where it came from.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.toml"), GOOD).unwrap();
    let (code, out, err) = code_out_err(&run(&[
        "demo",
        "--list",
        "--scenario-dir",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.starts_with("mine")), "{out}");

    check_bad_file(&GOOD.replace("mode = \"plain\"", "mode = plain"), 5, "");
    check_bad_file(
        &GOOD.replace("mode = \"plain\"", "mode = \"plian\""),
        5,
        "plian",
    );
    check_bad_file(
        &GOOD.replace("dump = \"leak\"", "dump = \"leek\""),
        8,
        "leek",
    );
    check_bad_file(&format!("{GOOD}kernal = \"leak\"\n"), 12, "kernal");
}

#[test]
fn junit_of_a_failing_cell_is_a_failure() {
    // A scenario that expects the impossible (plain memory unreadable) must fail, exit 1, and
    // say so in JUnit: CI trusts this.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wrong.toml"),
        GOOD.replace("name = \"mine\"", "name = \"wrong\"")
            .replace("dump = \"leak\"", "dump = \"unreadable\""),
    )
    .unwrap();
    let junit = dir.path().join("out.xml");
    let o = run(&[
        "demo",
        "--scenario-dir",
        dir.path().to_str().unwrap(),
        "--scenario",
        "wrong",
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 1, "{out}\n{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["mismatches"], 1, "{out}");
    let xml = std::fs::read_to_string(Path::new(&junit)).unwrap();
    // XML attributes have no order: the test case is the line that has both.
    let case = xml.lines().any(|l| {
        l.contains("<testcase ")
            && l.contains(" classname=\"confidump.demo.wrong\"")
            && l.contains(" name=\"dump\"")
    });
    assert!(
        case && xml.contains("<failure message=\"expected unreadable, observed leak\""),
        "{xml}"
    );
}
