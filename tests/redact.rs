//! `--redact` and `--output` (issue 8 item 8): with --redact no byte of the secret appears in
//! any output (table, JSON, HTML, JUnit, the attack view), in any form the hex view shows it
//! (its characters, its bytes as hex pairs); the verdicts are unchanged; --output files are
//! 0600 and not overwritten without --force.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{code_out_err, run, start_victim};

const SECRET: &str = "s3cret-Horse-Battery-Staple-0123456789";

/// Whether `out` shows any 6-byte piece of `secret`: as characters (the ASCII column, JSON
/// text), or as hex pairs (`73 33 63 72 65 74`, the hex column; pieces inside one 8-byte
/// group), or as hex or base64 text.
fn shows(out: &str, secret: &[u8]) -> Option<String> {
    use base64::Engine;
    for w in secret.windows(6) {
        let text = String::from_utf8_lossy(w).into_owned();
        let pairs: Vec<String> = w.iter().map(|b| format!("{b:02x}")).collect();
        for form in [text, pairs.join(" "), hex::encode(w)] {
            if out.contains(&form) {
                return Some(form);
            }
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    b64.as_bytes()
        .windows(8)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .find(|f| out.contains(f.as_str()))
}

/// The readable bytes of every hex view in a JSON document (rows' `bytes`), as text, and the
/// number of redacted bytes (null where highlighted).
fn view_bytes(v: &serde_json::Value, text: &mut Vec<u8>, redacted: &mut usize) {
    match v {
        serde_json::Value::Object(m) => {
            if let (Some(bytes), Some(hl)) = (m.get("bytes"), m.get("highlight")) {
                for (b, h) in bytes.as_array().unwrap().iter().zip(hl.as_array().unwrap()) {
                    match b.as_u64() {
                        Some(b) => text.push(b as u8),
                        None if h == true => *redacted += 1,
                        None => text.push(b'?'),
                    }
                }
            }
            m.values().for_each(|v| view_bytes(v, text, redacted));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| view_bytes(v, text, redacted)),
        _ => {}
    }
}

#[test]
fn attack_with_redact_shows_no_byte_of_the_secret_and_the_same_verdict() {
    let victim = start_victim(
        &["--mode", "plain", "--secret-stdin"],
        Some(SECRET.as_bytes()),
    );
    let pid = victim.ready.pid.to_string();
    let dir = tempfile::tempdir().unwrap();
    let attack = |extra: &[&str]| {
        let mut args = vec!["attack", pid.as_str(), "--needle", SECRET];
        args.extend_from_slice(extra);
        let (code, out, err) = code_out_err(&run(&args));
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    // The control: without --redact the view shows the secret (so the check below can fail).
    let plain = attack(&[]);
    assert!(shows(&plain, SECRET.as_bytes()).is_some(), "{plain}");
    let redacted = attack(&["--redact"]);
    assert_eq!(shows(&redacted, SECRET.as_bytes()), None, "{redacted}");
    assert!(redacted.contains("██"), "{redacted}");
    assert_eq!(
        plain.lines().next(),
        redacted.lines().next(),
        "verdict line"
    );

    // JSON to a file: 0600, the same verdict, nothing of the secret; not overwritten.
    let out = dir.path().join("attack.json");
    let o = out.to_str().unwrap();
    assert!(attack(&["--format", "json", "--redact", "--output", o]).is_empty());
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let json = std::fs::read_to_string(&out).unwrap();
    assert_eq!(shows(&json, SECRET.as_bytes()), None, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verdict"], "leak", "{v}");
    let (code, _, err) = code_out_err(&run(&[
        "attack", &pid, "--needle", SECRET, "--format", "json", "--output", o,
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    // --force replaces a regular file, never a link.
    attack(&["--format", "json", "--redact", "--output", o, "--force"]);
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let (code, _, err) = code_out_err(&run(&[
        "attack",
        &pid,
        "--needle",
        SECRET,
        "--output",
        link.to_str().unwrap(),
        "--force",
    ]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_redacted_demo_keeps_its_verdicts_and_drops_the_canaries() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (json, html, junit, text) = (p("d.json"), p("d.html"), p("d.xml"), p("d.txt"));
    let (code, out, err) = code_out_err(&run(&[
        "demo",
        "--scenario",
        "plain",
        "--format",
        "json",
        "--output",
        &json,
        "--html",
        &html,
        "--junit",
        &junit,
        "--redact",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "the report went to --output: {out}");
    assert_eq!(
        std::fs::metadata(&json).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Verdicts unchanged: every cell as the scenario expects, the leaks still leaks.
    assert_eq!(v["mismatches"], 0, "{v}");
    let cells = v["cells"].as_array().unwrap();
    assert!(cells.iter().any(|c| c["observed"] == "leak"), "{v}");
    let (mut bytes, mut redacted) = (Vec::new(), 0);
    view_bytes(&v, &mut bytes, &mut redacted);
    assert!(
        redacted >= 34,
        "the canary's bytes are redacted: {redacted}"
    );
    // A canary is CONFIDUMP- and 24 hex digits: neither its prefix nor its digits remain.
    let canary = regex_like_canary(&String::from_utf8_lossy(&bytes));
    assert_eq!(canary, None);
    let (code, _, err) = code_out_err(&run(&[
        "demo",
        "--scenario",
        "plain",
        "--output",
        &text,
        "--redact",
    ]));
    assert_eq!(code, 0, "{err}");
    for f in [&html, &junit, &text] {
        let s = std::fs::read_to_string(f).unwrap();
        assert_eq!(regex_like_canary(&s), None, "{f}");
    }
    assert!(std::fs::read_to_string(&html).unwrap().contains("██"));
}

/// `CONFIDUMP-` followed by a hex digit (a canary's start) if `s` has one. (Runs of hex
/// digits are no evidence: reports quote SHA-256 hashes in their commands.)
fn regex_like_canary(s: &str) -> Option<String> {
    s.match_indices("CONFIDUMP-").find_map(|(i, _)| {
        let after = s[i + 10..].chars().next();
        after
            .is_some_and(|c| c.is_ascii_hexdigit())
            .then(|| s[i..(i + 14).min(s.len())].to_string())
    })
}

/// Every piece of the canary that `text` (a whole JSON document) or `bytes` (the readable bytes
/// of its hex views, decoded) shows: its `CONFIDUMP-` prefix followed by a hex digit, as
/// characters, as UTF-16LE, as hex text (either case) or as base64 (any alignment), and a run
/// of 12 hex digits among the view's bytes (a canary's digits without its prefix).
fn canary_forms(text: &str, bytes: &[u8]) -> Vec<String> {
    use base64::Engine;
    let mut found = Vec::new();
    if let Some(c) = regex_like_canary(text) {
        found.push(format!("text: {c}"));
    }
    let prefix = b"CONFIDUMP-";
    let utf16: Vec<u8> = prefix.iter().flat_map(|&b| [b, 0]).collect();
    for (what, needle) in [("raw bytes", prefix.to_vec()), ("UTF-16LE bytes", utf16)] {
        if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
            found.push(what.to_string());
        }
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains(&hex::encode(prefix)) {
        found.push("hex text".to_string());
    }
    // base64 of the prefix at each of the three alignments, without the partial last group.
    for skip in 0..3 {
        let mut padded = vec![b'x'; skip];
        padded.extend_from_slice(prefix);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&padded);
        let stable = &b64[(skip * 4).div_ceil(3) + 1..b64.len() - 4];
        if text.contains(stable) {
            found.push(format!("base64 text ({stable})"));
        }
    }
    let mut run = 0;
    for &b in bytes {
        run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= 12 {
            found.push("a run of 12 hex digits in a view".to_string());
            break;
        }
    }
    found
}

/// Issue 25 item 4: `demo --format json` on stdout is what a pod's log keeps, so it holds no
/// byte of the canary unless --reveal asks for them; the verdicts are the same either way.
#[test]
fn demo_json_on_stdout_holds_no_canary_unless_revealed() {
    let demo = |extra: &[&str]| {
        let mut args = vec!["demo", "--scenario", "plain", "--format", "json"];
        args.extend_from_slice(extra);
        let (code, out, err) = code_out_err(&run(&args));
        assert_eq!(code, 0, "{args:?}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let (mut bytes, mut redacted) = (Vec::new(), 0);
        view_bytes(&v, &mut bytes, &mut redacted);
        (out, v, bytes, redacted)
    };
    // The control: with --reveal the views show the canary, so the checks below can fail.
    let (text, v, bytes, redacted) = demo(&["--reveal"]);
    assert_eq!(redacted, 0, "--reveal keeps every byte");
    assert!(!canary_forms(&text, &bytes).is_empty(), "{v}");
    let shown = String::from_utf8_lossy(&bytes);
    let canary = regex_like_canary(&shown).expect("the revealed view shows the canary");
    let leaks = |v: &serde_json::Value| -> Vec<String> {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["observed"] == "leak")
            .map(|c| c["attack"].as_str().unwrap().to_string())
            .collect()
    };
    let revealed_leaks = leaks(&v);
    assert!(!revealed_leaks.is_empty(), "{v}");

    let (text, v, bytes, redacted) = demo(&[]);
    assert_eq!(canary_forms(&text, &bytes), Vec::<String>::new(), "{text}");
    assert!(!text.contains(&canary), "a canary of another run? {canary}");
    // Each leak's view had the canary's 34 bytes, now null where highlighted.
    assert!(
        redacted >= 34 * revealed_leaks.len(),
        "{redacted} redacted bytes"
    );
    assert_eq!(leaks(&v), revealed_leaks, "the verdicts are unchanged");
    assert_eq!(v["mismatches"], 0, "{v}");

    // --redact and --reveal contradict each other.
    let (code, _, err) = code_out_err(&run(&["demo", "--redact", "--reveal", "--list"]));
    assert_eq!(code, 2, "{err}");
}

/// The fleet's pods hand the JUnit file to a container of another uid through their group:
/// `--group-readable` writes the report files 0640, and only redacted.
#[test]
fn group_readable_files_are_0640_and_only_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let json = dir.path().join("demo.json");
    let (j, o) = (junit.to_str().unwrap(), json.to_str().unwrap());
    let base = ["demo", "--scenario", "plain", "--format", "json"];
    let (code, _, err) = code_out_err(&run(
        &[&base[..], &["--group-readable", "--junit", j]].concat()
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--redact"), "{err}");
    assert!(!junit.exists());
    let (code, _, err) = code_out_err(&run(&[
        &base[..],
        &["--redact", "--group-readable", "--junit", j, "--output", o],
    ]
    .concat()));
    assert_eq!(code, 0, "{err}");
    for f in [&junit, &json] {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{}", f.display());
        let text = std::fs::read_to_string(f).unwrap();
        assert_eq!(regex_like_canary(&text), None, "{}", f.display());
    }
}
