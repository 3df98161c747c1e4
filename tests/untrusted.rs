//! Files from other people are data (issue 25): a node's result, a trainee's status file, a
//! core's notes are shown and counted, never obeyed or believed; every user-named file is
//! read bounded; hostile cores and status files are read in n log n; and a reader that
//! closes stdout early ends the output, never the command with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs the binary with a private lab state directory.
fn run_in(home: &Path, args: &[&str]) -> Output {
    Command::new(common::bin())
        .args(args)
        .env("XDG_STATE_HOME", home)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A node's `demo --format json` result, reduced to what `report` reads.
fn result(hostname: &str, cells: &[(&str, &str, &str, &str)], mismatches: &str) -> String {
    let cells: Vec<String> = cells
        .iter()
        .map(|(s, e, o, why)| {
            serde_json::json!({"scenario": s, "attack": "dump", "expected": e, "observed": o, "reason": why})
                .to_string()
        })
        .collect();
    format!(
        r#"{{"host":{{"hostname":{},"kernel":"6.1"}},"cells":[{}],"mismatches":{mismatches}}}"#,
        serde_json::Value::from(hostname),
        cells.join(",")
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// What a terminal would act on: ESC, BEL, CR, C1 CSI/OSC.
fn has_controls(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\x1b' | '\x07' | '\r' | '\u{9b}' | '\u{9d}'))
}

// ---- item 7: report counts from the cells ----

#[test]
fn a_forged_mismatch_count_does_not_pass_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    // `unreadable ✗`, but the file says 0.
    let forged = write(
        dir.path(),
        "forged.json",
        &result("a", &[("plain", "leak", "unreadable", "")], "0"),
    );
    let (code, text, err) = common::code_out_err(&common::run(&["report", path(&forged)]));
    assert_eq!(code, 1, "{text}{err}");
    assert!(text.contains("unreadable ✗"), "{text}");
    assert!(
        text.contains("forged says 0 mismatch(es) but its cells show 1"),
        "{text}"
    );
    assert!(text.contains("1 node(s), 1 with mismatches; 1 mismatch(es) in all"));

    // u64::MAX + 1 used to wrap to 0: "2 with mismatches; 0 mismatch(es)", exit 0.
    let max = write(
        dir.path(),
        "max.json",
        &result("b", &[("plain", "leak", "leak", "")], &u64::MAX.to_string()),
    );
    let one = write(
        dir.path(),
        "one.json",
        &result("c", &[("plain", "leak", "n/a", "")], "1"),
    );
    let (code, text, err) = common::code_out_err(&common::run(&["report", path(&max), path(&one)]));
    assert_eq!(code, 1, "{text}{err}");
    assert!(
        text.contains("2 node(s), 1 with mismatches; 1 mismatch(es) in all"),
        "{text}"
    );
    let (code, json, _) = common::code_out_err(&common::run(&[
        "report",
        "--format",
        "json",
        path(&max),
        path(&one),
    ]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["mismatches"], 1);
    assert_eq!(v["nodes"][0]["claimed_mismatches"], u64::MAX);

    // A cell listed twice could hide the first copy's miss: refused.
    let twice = write(
        dir.path(),
        "twice.json",
        &result(
            "d",
            &[
                ("plain", "leak", "unreadable", ""),
                ("plain", "leak", "leak", ""),
            ],
            "0",
        ),
    );
    let (code, _, err) = common::code_out_err(&common::run(&["report", path(&twice)]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("plain/dump is listed twice"), "{err}");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- item 6: strings from others' files are shown, not obeyed ----

#[test]
fn control_characters_from_results_and_status_files_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    // OSC 52 (clipboard), a title, CSI 2J (clear), hidden text, C1 CSI, and a forged row.
    let host = "evil\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b]0;title\x07\x1b[2J\x1b[8m";
    let forged_row = "x\r\nforged    dump    leak    leak";
    let file = write(
        dir.path(),
        "n\x1b[2J.json",
        &result(
            host,
            &[(forged_row, "leak", "unreadable", "why\u{9b}2J")],
            "1",
        ),
    );
    for args in [vec!["report"], vec!["report", "--format", "json"]] {
        let mut a = args.clone();
        a.push(path(&file));
        let (code, text, err) = common::code_out_err(&common::run(&a));
        assert_eq!(code, 1, "{err}");
        assert!(!has_controls(&text), "{args:?}: {text:?}");
        assert!(!text.lines().any(|l| l.starts_with("forged")), "{text}");
    }
    let (_, text, _) = common::code_out_err(&common::run(&["report", path(&file)]));
    assert!(text.contains("evil\\x1b]52;c;"), "{text}");
    assert!(text.contains("x\\r\\nforged"), "{text}");
    assert!(text.contains("why\\u{9b}2J"), "{text}");
    // The JSON still carries the exact strings, for a machine.
    let (_, json, _) =
        common::code_out_err(&common::run(&["report", "--format", "json", path(&file)]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["nodes"][0]["hostname"], host);

    // A trainee's status file, merged by the instructor.
    let status = serde_json::json!({
        "trainee": "bob\x1b]52;c;cm0gLXJmIH4=\x07\r\nalice",
        "exercises": [{"exercise": "find-it\x1b[2J", "title": "t\u{9b}8m", "state": "solved",
                       "attempts": 1, "hints": 0, "seconds": 61}],
    });
    let f = write(dir.path(), "bob.json", &status.to_string());
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["lab", "report", path(&f)],
        vec!["lab", "--format", "json", "report", path(&f)],
    ] {
        let o = run_in(home.path(), &args);
        let (code, text, err) = common::code_out_err(&o);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!has_controls(&text), "{args:?}: {text:?}");
        assert!(!text.lines().any(|l| l.starts_with("alice")), "{text}");
    }
    let (_, text, _) = common::code_out_err(&run_in(home.path(), &["lab", "report", path(&f)]));
    assert!(
        text.contains("bob\\x1b]52;c;cm0gLXJmIH4=\\x07\\r\\nalice"),
        "{text}"
    );
    assert!(text.contains("find-it\\x1b[2J"), "{text}");
}

// ---- item 8: bounded reads ----

#[test]
fn user_named_files_are_read_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Sparse: 33 MiB of nothing, over every cap here.
    let big = dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(33 << 20)
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["report", "/dev/zero"], "not a regular file"),
        (vec!["report", path(&fifo)], "FIFO"),
        (
            vec!["report", path(&big)],
            "larger than the 32 MiB limit for a demo result file",
        ),
        (vec!["lab", "report", "/dev/zero"], "not a regular file"),
        (vec!["lab", "report", path(&fifo)], "FIFO"),
        (
            vec!["lab", "report", path(&big)],
            "larger than the 16 MiB limit for a lab status file",
        ),
        (vec!["demo", "--expect-file", path(&fifo)], "FIFO"),
        (vec!["scan", path(&fifo), "--needle", "x"], "FIFO"),
    ];
    for (args, says) in cases {
        let (code, _, err) = common::code_out_err(&run_in(home.path(), &args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }

    // The lab's own state file, replaced by a FIFO: an error, not a hang.
    let lab = home.path().join("confidump/lab");
    std::fs::create_dir_all(&lab).unwrap();
    nix::unistd::mkfifo(
        &lab.join("state.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let (code, _, err) = common::code_out_err(&run_in(home.path(), &["lab", "status"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("FIFO"), "{err}");
}

// ---- item 8: n log n on hostile sizes (no time is asserted: finishing is the test) ----

/// `lab report` of one trainee with 100k exercises (18.6 s when it was quadratic).
#[test]
fn a_status_file_with_100k_exercises_is_merged() {
    let dir = tempfile::tempdir().unwrap();
    let exercises: Vec<_> = (0..100_000)
        .map(|i| {
            serde_json::json!({"exercise": format!("ex-{i}"), "title": "t",
            "state": if i % 2 == 1 { "solved" } else { "open" }, "attempts": 1, "hints": 0, "seconds": 60})
        })
        .collect();
    let f = write(
        dir.path(),
        "s.json",
        &serde_json::json!({"trainee": "t", "exercises": exercises}).to_string(),
    );
    let home = tempfile::tempdir().unwrap();
    let (code, text, err) =
        common::code_out_err(&run_in(home.path(), &["lab", "report", path(&f)]));
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("\n1 trainee, 50000 of 100000 exercises solved\n"),
        "{}",
        &text[text.len().saturating_sub(400)..]
    );
}

/// An ELF core: `loads` PT_LOADs of one page each, none with file bytes, and one NT_FILE
/// note of `files` entries; entry 0 names the first segment with `name0`, the rest lie
/// elsewhere.
fn hostile_core(loads: u64, files: u64, name0: &str) -> Vec<u8> {
    let le = |v: u64| v.to_le_bytes();
    let mut desc = Vec::new();
    desc.extend_from_slice(&le(files));
    desc.extend_from_slice(&le(4096));
    for i in 0..files {
        let s = if i == 0 {
            0x10000
        } else {
            0x7000_0000_0000 + i * 0x2000
        };
        desc.extend_from_slice(&le(s));
        desc.extend_from_slice(&le(s + 0x1000));
        desc.extend_from_slice(&le(i));
    }
    desc.extend_from_slice(name0.as_bytes());
    desc.push(0);
    for _ in 1..files {
        desc.extend_from_slice(b"f\0");
    }
    while desc.len() % 4 != 0 {
        desc.push(0);
    }
    let mut note = Vec::new();
    note.extend_from_slice(&5u32.to_le_bytes());
    note.extend_from_slice(&u32::try_from(desc.len()).unwrap().to_le_bytes());
    note.extend_from_slice(&0x4649_4c45u32.to_le_bytes()); // NT_FILE
    note.extend_from_slice(b"CORE\0\0\0\0");
    note.extend_from_slice(&desc);

    let phnum = loads + 1;
    let data_off = 64 + 56 * phnum;
    let mut out = vec![0u8; 64];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    out[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[32..40].copy_from_slice(&64u64.to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes());
    out[54..56].copy_from_slice(&56u16.to_le_bytes());
    out[56..58].copy_from_slice(&u16::try_from(phnum).unwrap().to_le_bytes());
    let mut ph = |t: u32, off: u64, va: u64, fs: u64, ms: u64| {
        let mut p = [0u8; 56];
        p[0..4].copy_from_slice(&t.to_le_bytes());
        p[8..16].copy_from_slice(&off.to_le_bytes());
        p[16..24].copy_from_slice(&va.to_le_bytes());
        p[32..40].copy_from_slice(&fs.to_le_bytes());
        p[40..48].copy_from_slice(&ms.to_le_bytes());
        out.extend_from_slice(&p);
    };
    ph(4, data_off, 0, note.len() as u64, 0); // PT_NOTE
    for i in 0..loads {
        ph(1, data_off, 0x10000 + i * 0x2000, 0, 0x1000); // PT_LOAD, no file bytes
    }
    out.extend_from_slice(&note);
    out
}

/// 20k empty PT_LOADs × 1M NT_FILE entries (27.9 s to scan when each segment's name was a
/// linear search of the entries): read and scanned, every segment accounted for, and the
/// hostile file name shown, not sent to the terminal.
#[test]
fn a_core_with_20k_segments_and_1m_files_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("hostile.core");
    std::fs::write(
        &core,
        hostile_core(20_000, 1_000_000, "/lib\x1b]0;pwned\x07\r\nx.so"),
    )
    .unwrap();
    let (code, text, err) =
        common::code_out_err(&common::run(&["scan", path(&core), "--needle", "hello"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        text.starts_with("no leak: ") && text.contains("in 20000 regions"),
        "{text}"
    );
    assert!(text.contains("and 19980 more absent ranges"), "{text}");
    assert!(
        text.contains("absent 0x10000-0x11000 (4096 bytes) /lib\\x1b]0;pwned\\x07\\r\\nx.so:"),
        "{text}"
    );
    assert!(!has_controls(&text), "{text:?}");
    let (code, json, err) = common::code_out_err(&common::run(&[
        "scan",
        path(&core),
        "--needle",
        "hello",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["absent"].as_array().map(Vec::len), Some(20_000));
}

// ---- item 11: a closed stdout is no panic ----

/// Every command that prints, run with a stdout whose reader is already gone: no panic (exit
/// 101), no "Broken pipe", and (but for `dump`, whose summary is its stderr) nothing on
/// stderr.
#[test]
fn a_closed_stdout_is_quiet_for_every_printing_command() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // A small core with one page of data, for scan and show.
    let core = dir.path().join("small.core");
    std::fs::write(&core, hostile_core(4, 4, "/lib/x.so")).unwrap();
    let node = write(
        dir.path(),
        "node.json",
        &result("a", &[("plain", "leak", "leak", "")], "0"),
    );
    let status = write(
        dir.path(),
        "s.json",
        r#"{"trainee":"t","exercises":[{"exercise":"find-it","title":"t","state":"open","attempts":0,"hints":0,"seconds":null}]}"#,
    );
    let victim = common::start_victim(&["--mode", "plain"], None);
    let pid = victim.ready.pid.to_string();
    let dumped = dir.path().join("v.core");
    let rows: Vec<(Vec<&str>, bool)> = vec![
        (vec!["--help"], true),
        (vec!["demo", "--help"], true),
        (vec!["demo", "--list"], true),
        (vec!["demo", "--scenario", "plain"], true),
        (
            vec!["demo", "--scenario", "plain", "--format", "json"],
            true,
        ),
        (vec!["doctor"], true),
        (vec!["doctor", "--format", "json"], true),
        (vec!["lab", "list"], true),
        (vec!["lab", "status"], true),
        (vec!["lab", "--format", "json", "status"], true),
        (vec!["lab", "report", path(&status)], true),
        (vec!["report", path(&node)], true),
        (vec!["report", "--format", "json", path(&node)], true),
        (vec!["scan", path(&core), "--needle", "a-long-needle"], true),
        (vec!["show", path(&core), "--addr", "0x10000"], true),
        (
            vec!["scan", "--pid", &pid, "--sha256", &victim.ready.sha256],
            true,
        ),
        (vec!["attack", &pid, "--sha256", &victim.ready.sha256], true),
        (vec!["dump", &pid, "-o", path(&dumped)], false),
    ];
    for (args, quiet) in rows {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let o = Command::new(common::bin())
            .args(&args)
            .env("XDG_STATE_HOME", home.path())
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(101), "{args:?}: {err}");
        assert!(o.status.code().is_some(), "{args:?}: killed by a signal");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        if quiet {
            assert!(err.is_empty(), "{args:?}: {err}");
        }
    }
}
