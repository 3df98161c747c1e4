//! The README's first command, as a new user runs it: the whole demo, every built-in row, on a
//! machine where nothing but the binary itself has been built.
//!
//! The VM guest's `/init` and the containers' bundle need a static confidump. The test points
//! the place where an earlier run could have built one (`CONFIDUMP_STATIC_TARGET_DIR`) at an
//! empty directory and names none (`CONFIDUMP_GUEST_INIT` unset): the state of a fresh clone.
//! A build inside a victim's ready window shows up here as `error` cells.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};

#[test]
fn the_whole_demo_runs_as_expected_from_a_fresh_tree() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["demo", "--format", "json"])
        .env("CONFIDUMP_STATIC_TARGET_DIR", empty.path())
        .env_remove("CONFIDUMP_GUEST_INIT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, stdout, stderr) = common::code_out_err(&out);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}), exit {code}:\n{stderr}"));
    let cells = report["cells"].as_array().unwrap();
    let errors: Vec<String> = cells
        .iter()
        .filter(|c| c["observed"] == "error")
        .map(|c| format!("{} · {}: {}", c["scenario"], c["attack"], c["reason"]))
        .collect();
    assert!(errors.is_empty(), "cells in error:\n{}", errors.join("\n"));
    assert_eq!(report["mismatches"], 0, "{stderr}");
    assert_eq!(code, 0, "{stderr}");
    // Where setup.sh installed everything (CI), the rows that need the static binary ran: a
    // row that went n/a would pass the checks above without showing anything.
    if std::env::var_os("CONFIDUMP_TEST_STRICT").is_some_and(|v| v == "1") {
        for row in ["vm-plain", "container-oci", "container", "db-plaintext"] {
            let ran = cells
                .iter()
                .filter(|c| c["scenario"] == row)
                .any(|c| c["observed"] == "leak");
            assert!(ran, "{row} showed no leak: did it run?\n{stdout}");
        }
    }
    // The binary under test is its own static copy: nothing was built, nothing left behind.
    assert!(
        !stderr.contains("building the static confidump"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}
