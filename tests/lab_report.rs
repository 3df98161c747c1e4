//! Issue 23, item 4, with real trainees' states: `lab status --name` puts the trainee's name
//! and an id of the machine in the status file; `lab report` shows two named trainees apart
//! with their attempts and hints, says the table is self-reported and what its marks mean,
//! refuses the same trainee twice, and gives a spreadsheet its CSV; `--lang ja` prints no
//! English sentence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::lab::Lab;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Starts find-it in `lab`, takes `hints` hints and gives `wrong` wrong answers; writes the
/// status file under `name` to `dir/FILE`.
fn work(lab: &Lab, name: &str, hints: u32, wrong: u32, dir: &Path, file: &str) -> PathBuf {
    lab.ok(&["start", "find-it"]);
    for _ in 0..hints {
        lab.ok(&["hint"]);
    }
    for _ in 0..wrong {
        let o = lab.run(&["check", "CONFIDUMP-000000000000000000000000"]);
        assert_eq!(o.status.code(), Some(1));
    }
    let json = lab.ok(&["status", "--name", name, "--format", "json"]);
    let path = dir.join(file);
    std::fs::write(&path, json).unwrap();
    path
}

/// `lab ARGS` with no state of its own (report reads only the files it is given).
fn lab(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(common::bin())
        .arg("lab")
        .args(args)
        .env("XDG_STATE_HOME", "/nonexistent/confidump-lab-report-test")
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The English words of `text`: runs of three or more ASCII letters that are not a name
/// the table shows as it is (exercise and trainee names, commands, flags, paths, ids).
fn english_words(text: &str) -> Vec<String> {
    const ALLOWED: &[&str] = &[
        "confidump",
        "lab",
        "solve",
        "status",
        "root",
        "find-it",
        "dontdump",
        "argv",
        "secretmem",
        "residue",
        "same-uid",
        "vm",
        "container",
        "database",
        "database-client",
        "pod-neighbour",
        "ann",
        "bob",
        "NAME",
        "json",
        "format",
        "name",
    ];
    let technical = |c: char| c.is_ascii_alphanumeric() || "_-./=[]~#@".contains(c);
    text.split(|c: char| !technical(c))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.starts_with('-') && !w.contains('/') && !w.contains('@'))
        .filter(|w| {
            let word_like = w.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
            let letters = w.chars().filter(char::is_ascii_alphabetic).count();
            word_like && letters >= 3 && !ALLOWED.contains(w)
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn two_named_trainees_show_apart_with_attempts_and_hints() {
    let dir = tempfile::tempdir().unwrap();
    let (ann, bob) = (Lab::new(), Lab::new());
    let a = work(&ann, "ann", 2, 1, dir.path(), "a.json");
    let b = work(&bob, "bob", 0, 3, dir.path(), "b.json");
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    assert_eq!(rep["trainee"], "ann");
    let machine = rep["machine"].as_str().unwrap();
    let id_ok = machine.is_empty()
        || (machine.len() == 12 && machine.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(id_ok, "{rep}");
    assert!(rep["account"].as_str().unwrap().contains('@'), "{rep}");

    let (code, out, err) = lab(&["report", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("Self-reported"), "{out}");
    let flat: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("honest progress, not an exam"), "{out}");
    // The table follows the self-reported paragraph and a blank line.
    let lines: Vec<&str> = out.split("\n\n").nth(1).unwrap().lines().collect();
    let head = lines[0];
    let words: Vec<&str> = head.split_whitespace().collect();
    assert_eq!(
        words[..4],
        ["trainee", "machine", "find-it", "dontdump"],
        "{out}"
    );
    assert!(
        head.ends_with("solved  shown  attempts  hints  time"),
        "{out}"
    );
    let row = |who: &str| lines.iter().find(|l| l.starts_with(who)).copied().unwrap();
    // ann: find-it running, 1 attempt and 2 hints; bob: 3 attempts, no hint.
    let (ra, rb) = (row("ann "), row("bob "));
    assert!(
        ra.contains("▸ 1/2") && ra.ends_with("0      0         1      2     -"),
        "{out}"
    );
    assert!(
        rb.contains("▸ 3/0") && rb.ends_with("0      0         3      0     -"),
        "{out}"
    );
    assert!(
        out.contains("2 trainees, 0 of 22 exercises solved"),
        "{out}"
    );
    assert!(
        out.contains("✓ solved") && out.contains("◌ solution shown"),
        "{out}"
    );
    // Columns line up by display width: the `attempts` heading and the numbers under it end in
    // the same column.
    let end = |l: &str, w: &str| {
        unicode_width::UnicodeWidthStr::width(&l[..l.find(w).unwrap()]) + w.len()
    };
    assert_eq!(end(head, "attempts"), end(ra, "         1"), "{out}");

    // One trainee: "1 trainee".
    let (_, one, _) = lab(&["report", a.to_str().unwrap()]);
    assert!(one.contains("1 trainee, 0 of 11"), "{one}");

    // A spreadsheet's rows: one per trainee and exercise.
    let (code, csv_text, err) = lab(&[
        "report",
        "--format",
        "csv",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        r.headers()
            .unwrap()
            .iter()
            .take(3)
            .collect::<Vec<_>>()
            .join(","),
        "trainee,machine,account"
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 22, "{csv_text}");
    let find_it = |who: &str| {
        rows.iter()
            .find(|r| &r[0] == who && &r[3] == "find-it")
            .unwrap()
            .clone()
    };
    assert_eq!((&find_it("ann")[6], &find_it("ann")[7]), ("1", "2"));
    assert_eq!((&find_it("bob")[5], &find_it("bob")[6]), ("running", "3"));
    assert!(rows.iter().all(|r| &r[9] == "self-reported"));

    // In Japanese, no English sentence: the report and a trainee's status.
    let (code, ja, err) = lab(&[
        "report",
        "--lang",
        "ja",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        ja.contains("自己申告") && ja.contains("受講者 2 人"),
        "{ja}"
    );
    let words = english_words(&ja);
    assert!(words.is_empty(), "{words:?} in:\n{ja}");
    let st = ann.ok(&["status", "--lang", "ja", "--name", "ann"]);
    let words = english_words(&st);
    assert!(words.is_empty(), "{words:?} in:\n{st}");
}

#[test]
fn the_same_trainee_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = Lab::new();
    let a = work(&t, "ann", 0, 0, dir.path(), "a.json");
    let a = a.to_str().unwrap();
    let (code, out, err) = lab(&["report", a, a]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        err.contains("a.json") && err.contains("counts once"),
        "{err}"
    );
    // A copy under another name is the same trainee on the same machine.
    let copy = dir.path().join("copy.json");
    std::fs::copy(a, &copy).unwrap();
    let (code, _, err) = lab(&["report", a, copy.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("same trainee (\"ann\")") && err.contains("--name"),
        "{err}"
    );
    let (code, _, err) = lab(&["report", "--lang", "ja", a, copy.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("同じ受講者"), "{err}");
    // A name that is no name is refused.
    let o = t.run(&["status", "--name", "a\u{1b}[2J"]);
    assert_eq!(o.status.code(), Some(2));
    // csv is for tables only.
    let o = t.run(&["list", "--format", "csv"]);
    assert_eq!(o.status.code(), Some(2));
}
