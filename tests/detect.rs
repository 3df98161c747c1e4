//! End-to-end tests of `confidump scan --detect`: a live C program builds card numbers, a PEM
//! key, a JWT, an AWS key id, a canary and near-misses at run time (XOR-decoded, so none is in
//! its binary on disk), reports where, and the scanner must find exactly the real ones, live
//! and in a gcore core.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests; a
// failing unwrap here is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::Value;

const KEY: u8 = 0x5a;

/// What the program plants: (name, text, expected detector kind or None for a near-miss).
fn planted() -> Vec<(&'static str, String, Option<&'static str>)> {
    let card = Some("card-number");
    vec![
        ("visa", "4111111111111111".into(), card),
        ("mc_spaces", "5555 5555 5555 4444".into(), card),
        ("amex_dashes", "3782-822463-10005".into(), card),
        ("discover", "6011111111111117".into(), card),
        ("jcb_spaces", "3530 1113 3330 0000".into(), card),
        ("pem", pem(), Some("pem-private-key")),
        ("jwt", JWT.into(), Some("jwt")),
        (
            "aws",
            "AKIAIOSFODNN7EXAMPLE".into(),
            Some("aws-access-key-id"),
        ),
        (
            "canary",
            "CONFIDUMP-0123456789abcdef01234567".into(),
            Some("canary"),
        ),
        // Near-misses: none may be reported.
        ("luhn_bad", "4111111111111112".into(), None),
        (
            "hexdump",
            "0000: 3f2a 4111 1111 1111 1111 9bcd ef01".into(),
            None,
        ),
        ("run25", "4111111111111111000000000".into(), None),
        ("same_digit", "4444444444444444".into(), None),
        ("mixed_sep", "4111-1111 1111-1111".into(), None),
        ("jwt_not_json", JWT_NOT_JSON.into(), None),
        ("aws_in_word", "xAKIAIOSFODNN7EXAMPLE".into(), None),
    ]
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
/// The header is base64url text that does not decode to JSON.
const JWT_NOT_JSON: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXV.eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV";

/// A PEM block the size of an RSA-2048 key, with a pseudo-random body.
fn pem() -> String {
    let mut x = 0x1234_5678_9abc_def0u64;
    let body: Vec<u8> = (0..1190)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
        lines.join("\n")
    )
}

fn c_bytes(s: &str) -> String {
    common::c_xor_bytes(s, KEY)
}

fn program_source() -> String {
    let mut decls = String::new();
    let mut uses = String::new();
    for (name, text, _) in planted() {
        decls.push_str(&format!(
            "static const unsigned char e_{name}[] = {};\n",
            c_bytes(&text)
        ));
        // Each text in its own block, framed by a space and a NUL, as a program would hold it.
        uses.push_str(&format!(
            "    {{ char *p = dec(e_{name}, sizeof e_{name}); printf(\"{name} %p %zu\\n\", (void *)p, sizeof e_{name}); }}\n"
        ));
    }
    format!(
        r#"
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
{decls}
static char *dec(const unsigned char *e, size_t n) {{
    char *p = malloc(n + 2);
    p[0] = ' ';
    for (size_t i = 0; i < n; i++) p[i + 1] = e[i] ^ {KEY};
    p[n + 1] = 0;
    return p + 1;
}}

int main(void) {{
{uses}
    /* 8 MiB of random bytes: no card number may be found in them. */
    size_t rn = 8u << 20;
    uint64_t *r = malloc(rn), x = 88172645463325252ull;
    for (size_t i = 0; i < rn / 8; i++) {{ x ^= x << 13; x ^= x >> 7; x ^= x << 17; r[i] = x; }}
    printf("random %p %zu\n", (void *)r, rn);
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}}
"#
    )
}

fn compile(dir: &Path) -> Option<PathBuf> {
    common::compile_c(dir, &program_source())
}

/// The running program, killed and reaped when dropped.
struct Victim {
    child: common::KillOnDrop,
    /// (name, address, length) of everything it planted.
    places: Vec<(String, u64, u64)>,
}

impl Victim {
    fn start(exe: &Path) -> Self {
        let mut child = Command::new(exe).stdout(Stdio::piped()).spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut places = Vec::new();
        let mut v = Victim {
            child: child.into(),
            places: Vec::new(),
        };
        // Waits for the ready line: no sleeps.
        loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "program exited early"
            );
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["ready"] => break,
                [name, addr, len] => places.push((
                    name.to_string(),
                    u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap(),
                    len.parse().unwrap(),
                )),
                _ => panic!("unexpected line {line:?}"),
            }
        }
        v.places = places;
        v
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }
}

/// (kind, vaddr, len, preview) of every detection in a JSON report.
fn detections(v: &Value) -> Vec<(String, u64, u64, String)> {
    v["detections"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                common::hex(&d["vaddr"]),
                d["len"].as_u64().unwrap(),
                d["preview"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Checks a report against what the program planted: every real secret found once, at its
/// address, with its length and a redacted preview; no near-miss and nothing else reported.
fn check(report: &Value, victim: &Victim, what: &str) {
    assert_eq!(report["verdict"], "leak", "{what}");
    let found = detections(report);
    let expected = planted();
    for (name, addr, len) in &victim.places {
        let inside: Vec<_> = found
            .iter()
            .filter(|(_, a, l, _)| *a < addr + len && *addr < a + l)
            .collect();
        if name == "random" {
            assert!(inside.is_empty(), "{what}: random data gave {inside:?}");
            continue;
        }
        let (_, text, kind) = expected.iter().find(|(n, _, _)| n == name).unwrap();
        match kind {
            Some(kind) => {
                assert_eq!(inside.len(), 1, "{what}: {name}: {inside:?}");
                let (k, a, l, preview) = inside[0];
                assert_eq!(
                    (k.as_str(), *a, *l),
                    (*kind, *addr, text.len() as u64),
                    "{what}: {name}"
                );
                assert!(
                    !preview.contains(text.as_str()),
                    "{what}: {name} not redacted"
                );
            }
            None => assert!(
                inside.is_empty(),
                "{what}: near-miss {name} reported: {inside:?}"
            ),
        }
    }
    // Nothing else: a real process with no other secrets gives no false positive.
    let planted_total = expected.iter().filter(|(_, _, k)| k.is_some()).count();
    assert_eq!(found.len(), planted_total, "{what}: {found:?}");
    for d in report["detections"].as_array().unwrap() {
        assert!(d["mapping"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
        assert!(d["offset"].as_u64().is_some(), "{d}");
    }
}

#[test]
fn live_process_secrets_found_with_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = compile(dir.path()) else {
        return;
    };
    // The binary on disk holds only XOR-ed copies: whatever is found was built at run time.
    let on_disk = std::fs::read(&exe).unwrap();
    assert!(
        confidump::scan::detect::detect_all(&on_disk)
            .unwrap()
            .is_empty(),
        "the test binary itself holds a detectable secret"
    );

    let victim = Victim::start(&exe);
    let pid = victim.pid().to_string();
    let out = common::run(&["scan", "--pid", &pid, "--detect", "--format", "json"]);
    let (code, stdout, stderr) = common::code_out_err(&out);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    check(&report, &victim, "live");

    // Text output: the verdict line, the summary line, one line per detection.
    let out = common::run(&["scan", "--pid", &pid, "--detect"]);
    let (_, text, _) = common::code_out_err(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("LEAK: 0 hits, 9 detections"), "{text}");
    assert_eq!(
        lines[1],
        "found 5 card numbers, 1 PEM private key, 1 JWT, 1 AWS access key id, 1 canary (detectors)",
        "{text}"
    );
    assert!(text.contains("4111 11** **** 1111"), "{text}");
    assert!(!text.contains("4111111111111111"), "{text}");
    // --expect leak is met by detections alone.
    let out = common::run(&["scan", "--pid", &pid, "--detect", "--expect", "leak"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn gcore_core_gives_the_same_detections() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = compile(dir.path()) else {
        return;
    };
    let victim = Victim::start(&exe);
    let prefix = dir.path().join("core");
    let st = Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(victim.pid().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "gcore failed");
    let core = format!("{}.{}", prefix.display(), victim.pid());
    let out = common::run(&["scan", &core, "--detect", "--format", "json"]);
    let (code, stdout, stderr) = common::code_out_err(&out);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    check(&report, &victim, "gcore");
    // In a core the offset is the file offset, not the address.
    let d = &report["detections"][0];
    assert_ne!(d["offset"].as_u64().unwrap(), common::hex(&d["vaddr"]));
}

#[test]
fn detect_alone_on_a_clean_process_is_no_leak() {
    // `sleep` holds no secret: --detect alone is valid and finds nothing.
    let child = common::KillOnDrop(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = child.id().to_string();
    // /proc/PID/maps is there as soon as exec is done; the scan retries nothing, so wait for it.
    let exe = format!("/proc/{pid}/exe");
    while std::fs::read_link(&exe)
        .map(|p| !p.ends_with("sleep"))
        .unwrap_or(true)
    {
        std::thread::yield_now();
    }
    let out = common::run(&["scan", "--pid", &pid, "--detect", "--format", "json"]);
    let (code, stdout, stderr) = common::code_out_err(&out);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["verdict"], "no-leak", "{stdout}");
    // Backwards compatible JSON: no detections field when there are none.
    assert!(report.get("detections").is_none(), "{stdout}");
    // Without --detect and without needles the command still refuses to run.
    let out = common::run(&["scan", "--pid", &pid]);
    assert_eq!(out.status.code(), Some(2));
}

/// A QEMU process that runs no guest (`-machine none -S`): enough to have `libgnutls.so`
/// mapped, with GnuTLS's public self-test keys in its read-only data. Killed on drop.
struct Qemu {
    child: common::KillOnDrop,
}

impl Qemu {
    /// Starts QEMU and waits until its QMP socket greets: by then every library is mapped.
    fn start(dir: &Path) -> Option<Self> {
        let sock = dir.join("qmp.sock");
        let child = Command::new("qemu-system-x86_64")
            .args(["-machine", "none", "-display", "none", "-S", "-nodefaults"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let mut q = Qemu {
            child: child.into(),
        };
        loop {
            if let Some(status) = q.child.try_wait().unwrap() {
                panic!("QEMU exited before its QMP socket was up: {status}");
            }
            if let Ok(s) = std::os::unix::net::UnixStream::connect(&sock) {
                let mut greeting = String::new();
                BufReader::new(s).read_line(&mut greeting).unwrap();
                assert!(greeting.contains("QMP"), "{greeting}");
                return Some(q);
            }
            // The socket appears once QEMU has initialised; nothing else tells us sooner.
            std::thread::yield_now();
        }
    }
}

/// `public_detections` of a JSON report: (kind, file).
fn public_detections(v: &Value) -> Vec<(String, String)> {
    v["public_detections"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["file"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn gnutls_self_test_keys_in_qemu_are_public_not_a_leak() {
    // No GnuTLS in QEMU, no self-test keys to find.
    if !common::require(common::Need::Qemu) || !common::require(common::Need::QemuGnutls) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let qemu = Qemu::start(dir.path()).expect("start QEMU");
    let pid = qemu.child.id().to_string();
    let core = dir.path().join("qemu.core");
    let out = common::run(&["dump", &pid, "-o", core.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        common::code_out_err(&out).2
    );

    for (what, source) in [
        ("live", vec!["--pid", &pid]),
        ("core", vec![core.to_str().unwrap()]),
    ] {
        let mut args = vec!["scan"];
        args.extend(&source);
        args.extend(["--detect", "--format", "json"]);
        let out = common::run(&args);
        let (code, stdout, stderr) = common::code_out_err(&out);
        assert_eq!(code, 0, "{what}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        let public = public_detections(&report);
        // GnuTLS's self-test keys: found, and every one in the library file itself.
        assert!(
            public
                .iter()
                .filter(|(k, f)| k == "pem-private-key" && f.contains("libgnutls"))
                .count()
                >= 1,
            "{what}: {public:?}"
        );
        // None of them is reported as a leak, so the process holds no detected secret.
        assert!(report.get("detections").is_none(), "{what}: {stdout}");
        assert_eq!(report["verdict"], "no-leak", "{what}");

        // The text report names them apart, and --expect no-leak passes.
        let mut args = vec!["scan"];
        args.extend(&source);
        args.extend(["--detect", "--expect", "no-leak"]);
        let out = common::run(&args);
        let (code, text, stderr) = common::code_out_err(&out);
        assert_eq!(code, 0, "{what}: {text}{stderr}");
        assert!(text.starts_with("no leak"), "{what}: {text}");
        assert!(
            text.lines().any(|l| l.contains("pem-private-key")
                && l.contains("found in the file /")
                && l.contains("libgnutls")
                && l.ends_with(": public")),
            "{what}: {text}"
        );
    }
}
