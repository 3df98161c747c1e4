//! `confidump report` merges real `demo --format json` results: one run of the demo here, and a
//! copy of it made to look like a second node that regressed (inside a captured log, as
//! `kubectl logs` gives it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[test]
fn report_merges_real_demo_results() {
    let out = common::run(&["demo", "--scenario", "plain", "--format", "json"]);
    let (code, json, err) = common::code_out_err(&out);
    assert_eq!(code, 0, "the demo itself failed here: {err}");
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("node-a.json");
    std::fs::write(&a, &json).unwrap();

    // Node b: the same result, but its `live` cell now misses the expectation.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cell = v["cells"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["attack"] == "live")
        .expect("a live cell");
    assert_eq!(cell["observed"], "leak");
    cell["observed"] = "unreadable".into();
    cell["reason"] = "simulated: the read was refused".into();
    v["mismatches"] = 1.into();
    let b = dir.path().join("node-b.log");
    std::fs::write(
        &b,
        format!(
            "confidump: a line on stderr\n{}\nconfidump: done\n",
            serde_json::to_string_pretty(&v).unwrap()
        ),
    )
    .unwrap();

    // Both columns, the regression marked and explained; exit 1.
    let (code, text, err) = common::code_out_err(&common::run(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{err}");
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("NODE") && header.contains("node-a") && header.contains("node-b"));
    let live = text
        .lines()
        .find(|l| l.starts_with("plain") && l.contains(" live "))
        .unwrap_or_else(|| panic!("no plain/live row:\n{text}"));
    assert!(
        live.contains("unreadable ✗") && live.ends_with('≠'),
        "{live}"
    );
    assert!(text.contains(
        "✗ node-b plain/live: expected leak, observed unreadable: simulated: the read was refused"
    ));
    assert!(
        text.lines().all(|l| !l.ends_with(' ')),
        "trailing blanks:\n{text}"
    );

    // One node alone passes; --problems on a clean node shows no rows.
    let (code, text, _) =
        common::code_out_err(&common::run(&["report", "--problems", a.to_str().unwrap()]));
    assert_eq!(code, 0);
    assert!(text.contains("(no row where a node missed"), "{text}");

    // JSON: a column per node.
    let (code, j, _) = common::code_out_err(&common::run(&[
        "report",
        "--format",
        "json",
        &format!("x={}", a.display()),
        &format!("y={}", b.display()),
    ]));
    assert_eq!(code, 1);
    let j: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(j["nodes"][0]["label"], "x");
    let row = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attack"] == "live")
        .unwrap();
    assert_eq!(row["nodes"]["x"]["observed"], "leak");
    assert_eq!(row["nodes"]["y"]["observed"], "unreadable");
}

#[test]
fn report_names_the_bad_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "kubectl noise\n{\"host\": {}, \"cells\": 3}\n").unwrap();
    let (code, _, err) = common::code_out_err(&common::run(&["report", bad.to_str().unwrap()]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{}:2:", bad.display())),
        "no FILE:LINE: in {err}"
    );
    let none = dir.path().join("none.json");
    std::fs::write(&none, "no result here\n").unwrap();
    let (code, _, err) = common::code_out_err(&common::run(&["report", none.to_str().unwrap()]));
    assert_eq!(code, 2);
    assert!(err.contains("no JSON result"), "{err}");
    // Two files with one name.
    let (code, _, err) = common::code_out_err(&common::run(&[
        "report",
        none.to_str().unwrap(),
        none.to_str().unwrap(),
    ]));
    assert_eq!(code, 2);
    assert!(err.contains("NAME=FILE"), "{err}");
}
