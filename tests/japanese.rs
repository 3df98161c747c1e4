//! With `--lang ja` everything a Japanese audience reads is Japanese: the demo's table (a
//! process row, the memfd_secret row, the SGX row that is `n/a` on this host), its JSON texts
//! (cell reasons, hex-view titles, row reasons, stand-in labels), `doctor --lang ja` and
//! `demo --list --lang ja`. Each output is checked for English words: runs of three or more
//! ASCII letters that are not a technical name (SGX, QEMU, gdb, a path, a flag, an errno).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use common::{code_out_err, run};

/// Technical names a Japanese text keeps as they are (compared case-sensitively).
const ALLOWED: &[&str] = &[
    // Hardware, hypervisors, kernels.
    "SGX",
    "TDX",
    "SEV-SNP",
    "AMD",
    "Intel",
    "QEMU",
    "KVM",
    "TCG",
    "CPU",
    "RAM",
    "EPC",
    "FLC",
    "vDSO",
    "OVMF",
    "DEBUG",
    "EDBGRD",
    "Linux",
    "MiB",
    "TEE",
    "QMP",
    // Tools and commands, as typed.
    "confidump",
    "gdb",
    "gcore",
    "ptrace",
    "yama",
    "apt-get",
    "install",
    "runc",
    "crun",
    "initdb",
    "postgres",
    "PostgreSQL",
    "sudo",
    "configfs-tsm",
    "configfs",
    "dump-guest-memory",
    // Users, ids, kernel names.
    "root",
    "nobody",
    "pid",
    "PID",
    "uid",
    "euid",
    "argv",
    "core",
    "heap",
    "stack",
    "anon",
    "deleted",
    "vdso",
    "vvar",
    // The table's column keys (attack paths), shown as names in both languages.
    "dump",
    "kernel",
    "live",
    "qmp",
    "same-uid",
    "wire",
    "checkpoint",
    "disk",
    "client",
    // Products, services and kernel facilities, by their names.
    "OCI",
    "CRIU",
    "LSM",
    "AppArmor",
    "SELinux",
    "MSR",
    "Kata",
    "AKS",
    "kata-cc-isolation",
    "Azure",
    "SQL",
    "Always",
    "Encrypted",
    // PostgreSQL's process roles and commands, the kernel's signal names.
    "postmaster",
    "backend",
    "checkpointer",
    "CHECKPOINT",
    "init",
    "SIGQUIT",
    "VBS",
    // Namespace kinds, as the kernel names them.
    "mount",
    "uts",
    "ipc",
    "net",
    "doctor",
    "lang",
    // errno names.
    "EIO",
    "EFAULT",
    "EPERM",
    "EACCES",
    "ESRCH",
];

/// The English words of `text` (see the module doc), outside [`ALLOWED`] and `names`.
fn english_words<'a>(text: &'a str, names: &[String]) -> Vec<&'a str> {
    let technical = |c: char| c.is_ascii_alphanumeric() || "_-./=[]~".contains(c);
    let words: Vec<&str> = text
        .split(|c: char| !technical(c))
        .filter(|w| !w.is_empty())
        .collect();
    // A command to type (`apt-get install ovmf`) names packages as they are.
    let typed: Vec<bool> = (0..words.len())
        .map(|i| i >= 2 && words[i - 2] == "apt-get" && words[i - 1] == "install")
        .collect();
    words
        .into_iter()
        .zip(typed)
        .filter(|(_, typed)| !typed)
        .map(|(w, _)| w.trim_matches('.'))
        // A flag (`--kernel`) is typed as it is.
        .filter(|w| !w.starts_with('-'))
        .filter(|w| {
            // Paths, flags, versions, addresses, identifiers with `_`: technical by shape.
            let word_like = w.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
            let letters = w.chars().filter(char::is_ascii_alphabetic).count();
            word_like && letters >= 3 && !ALLOWED.contains(w) && !names.iter().any(|n| n == w)
        })
        .collect()
}

/// The built-in scenario names (identifiers shown as they are).
fn scenario_names() -> Vec<String> {
    let o = run(&["demo", "--list", "--lang", "en"]);
    let (_, out, _) = code_out_err(&o);
    out.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn assert_japanese(what: &str, text: &str, names: &[String]) {
    let words = english_words(text, names);
    assert!(
        words.is_empty(),
        "{what}: English words {words:?} in:\n{text}"
    );
}

#[test]
fn the_checker_catches_english_and_spares_technical_names() {
    let names = vec!["plain".to_string()];
    assert_eq!(
        english_words("対象外 — needs SGX (CPU flag sgx) --accel auto", &names),
        ["needs", "flag", "sgx", "auto"]
    );
    assert!(english_words("OVMF ファームウェア（apt-get install ovmf）", &names).is_empty());
    assert_eq!(english_words("install ovmf", &names), ["ovmf"]);
    assert!(english_words(
        "このホストでは利用できない。/dev/sgx_enclave（CONFIG_X86_SGX を有効にした Linux 5.11 以降）、plain、0x7ff9d9002000、--kernel、[heap]",
        &names
    )
    .is_empty());
}

#[test]
fn doctor_and_the_list_speak_japanese() {
    let names = scenario_names();
    let o = run(&["doctor", "--lang", "ja"]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}");
    // The first column is the check's name (memfd_secret, ptrace, ...): an identifier.
    let text: String = out
        .lines()
        .map(|l| l.split_once("  ").map_or(l, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("\n");
    assert_japanese("doctor --lang ja", &text, &names);
    // The rows this host cannot run, with the demo's own (Japanese) reason.
    assert!(out.contains("このホストで実行不可になるデモの行"), "{out}");
    assert!(out.contains("SGX が必要"), "{out}");

    let o = run(&["demo", "--list", "--lang", "ja"]);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("通常のメモリ"), "{out}");
    assert_japanese("demo --list --lang ja", &out, &names);
}

#[test]
fn the_demo_in_japanese_has_no_english() {
    // The demo's attacker is root.
    if !common::require(common::Need::Root) {
        return;
    }
    let names = scenario_names();
    // Process rows, an n/a row, and a container and a database row (n/a with Japanese reasons
    // where runc or PostgreSQL is missing).
    let rows = [
        "plain",
        "secretmem",
        "sgx",
        "container",
        "db-client-encrypted",
        "db-enclave",
    ];
    let mut args = vec!["demo", "--lang", "ja"];
    for r in rows {
        args.extend(["--scenario", r]);
    }
    let o = run(&args);
    let (code, table, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}\n{table}");
    assert_japanese("demo --lang ja (table)", &table, &names);
    // The row's stand-in label is said once, in Japanese (the narrow column may wrap it).
    assert_eq!(table.matches("代わり").count(), 1, "{table}");

    args.extend(["--format", "json"]);
    let o = run(&args);
    let (code, out, err) = code_out_err(&o);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["lang"], "ja");
    let mut texts: Vec<String> = Vec::new();
    for c in v["cells"].as_array().unwrap() {
        texts.push(c["reason"].as_str().unwrap_or_default().to_string());
        if let Some(t) = c["view"]["title"].as_str() {
            texts.push(t.to_string());
        }
    }
    for s in v["scenarios"].as_array().unwrap() {
        for k in ["title", "holds", "lesson", "stand_in_for"] {
            if let Some(t) = s[k]["ja"].as_str() {
                texts.push(t.to_string());
            }
        }
        if let Some(t) = s["unavailable"].as_str() {
            texts.push(t.to_string());
        }
    }
    let secretmem = &v["scenarios"][1];
    assert_eq!(
        secretmem["stand_in_for"]["ja"], "エンクレーブ（SGX）",
        "{secretmem}"
    );
    let all = texts.join("\n");
    assert!(all.contains("読み取り拒否"), "{all}");
    assert_japanese("demo --lang ja --format json", &all, &names);
}
