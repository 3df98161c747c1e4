//! Issue 23, items 1 and 2, on real targets: the trainee does the finding (a whole core is no
//! answer; the secret is), a proof core must hold the victim's memory (a 476-byte core with one
//! `NT_PRSTATUS` note naming the PID is refused, gdb's gcore of the victim is accepted), and
//! `lab solve` gives no credit (the exercise reads `shown`, the next stays locked, the trainee's
//! own target keeps running). The Japanese of check, status and solve has no English sentence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::lab::Lab;

use std::path::{Path, PathBuf};
use std::process::Command;

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Does `text` say `words`, wherever the lab wrapped its lines? White space is ignored on
/// both sides (a wrapped Japanese sentence breaks between two characters, with no space).
fn says(text: &str, words: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squash(text).contains(&squash(words))
}

/// gdb's gcore of `pid`, written in `dir`.
fn gcore(pid: i64, dir: &Path) -> PathBuf {
    let out = Command::new("gcore")
        .arg("-o")
        .arg(dir.join("core"))
        .arg(pid.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gcore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join(format!("core.{pid}"))
}

/// The secret-shaped strings of `file`, found as a trainee's `grep -a -o` would.
fn grep_secrets(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let mut found: Vec<String> = bytes
        .windows(34)
        .filter(|w| w.starts_with(b"CONFIDUMP-") && w[10..].iter().all(u8::is_ascii_hexdigit))
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The smallest core that names `pid`: an ELF header, one PT_NOTE and one `NT_PRSTATUS`
/// note whose `pr_pid` is `pid`; no memory at all. 476 bytes, as in the issue.
fn forged_core(pid: i64, path: &Path) {
    let mut desc = vec![0u8; 336];
    desc[32..36].copy_from_slice(&i32::try_from(pid).unwrap().to_le_bytes());
    let mut note = Vec::new();
    for v in [5u32, 336, 1] {
        note.extend_from_slice(&v.to_le_bytes());
    }
    note.extend_from_slice(b"CORE\0\0\0\0");
    note.extend_from_slice(&desc);
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
    elf.extend_from_slice(&62u16.to_le_bytes()); // x86-64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&0u64.to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    for v in [64u16, 56, 1, 0, 0, 0] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    // PT_NOTE at offset 120, its size.
    elf.extend_from_slice(&4u32.to_le_bytes());
    elf.extend_from_slice(&0u32.to_le_bytes());
    for v in [120u64, 0, 0, note.len() as u64, 0, 1] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&note);
    assert_eq!(elf.len(), 476);
    std::fs::write(path, elf).unwrap();
}

/// Technical words a Japanese lab text keeps as they are.
const ALLOWED: &[&str] = &[
    "confidump",
    "lab",
    "check",
    "start",
    "status",
    "solve",
    "hint",
    "file",
    "gcore",
    "grep",
    "strings",
    "root",
    "pid",
    "EIO",
    "ELF",
    "core",
    "python3",
    "secretmem",
    "find-it",
    "residue",
    "dontdump",
    "argv",
    "same-uid",
    "vm",
    "container",
    "database",
    "database-client",
    "pod-neighbour",
    "heap",
    "stack",
    "anon",
    "vvar",
    "vdso",
    "NAME",
    "SECRET",
    "json",
    "format",
];

/// The English words of `text`: runs of three or more ASCII letters that are not a technical
/// name, a path, a flag or a hex number.
fn english_words(text: &str) -> Vec<String> {
    let technical = |c: char| c.is_ascii_alphanumeric() || "_-./=[]~#".contains(c);
    text.split(|c: char| !technical(c))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.starts_with('-') && !w.starts_with("CONFIDUMP-"))
        .filter(|w| {
            let word_like = w.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
            let letters = w.chars().filter(char::is_ascii_alphabetic).count();
            word_like && letters >= 3 && !ALLOWED.contains(w)
        })
        .map(str::to_string)
        .collect()
}

/// `text` has no English sentence; a solution's commands (`  $ …`) and the tools' own output
/// under them (indented four spaces) are what those tools print, and are left out.
fn assert_japanese(what: &str, text: &str) {
    let ours: String = text
        .lines()
        .filter(|l| !l.starts_with("  $ ") && !l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n");
    let words = english_words(&ours);
    assert!(
        words.is_empty(),
        "{what}: English words {words:?} in:\n{text}"
    );
}

#[test]
fn the_checker_catches_english() {
    assert_eq!(
        english_words("✗ Not a proof（回答回数：1）"),
        ["Not", "proof"]
    );
    assert!(
        english_words("✗ 不正解：find-it（回答回数：2）pid 42 0x7f00-0x7f10 [heap]").is_empty()
    );
}

#[test]
fn in_find_it_a_core_is_refused_and_the_secret_accepted() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let lab = Lab::new();
    let work = tempfile::tempdir().unwrap();
    let s = lab.json(&["start", "find-it"]);
    let pid = s["pids"][0].as_i64().unwrap();
    let core = gcore(pid, work.path());
    let core_arg = core.to_str().unwrap();
    let (code, out) = lab.out(&["check", "--file", core_arg]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        says(&out, "whole core dump") && says(&out, "now find the secret in the dump"),
        "{out}"
    );
    let (code, out) = lab.out(&["check", "--file", core_arg, "--lang", "ja"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(says(&out, "ダンプの中から秘密を"), "{out}");
    assert_japanese("check --file core --lang ja", &out);
    let (code, out) = lab.out(&[
        "check",
        "CONFIDUMP-000000000000000000000000",
        "--lang",
        "ja",
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(says(&out, "✗ 不正解"), "{out}");
    assert_japanese("a wrong answer, --lang ja", &out);
    // The finding, done as the trainee would: one secret in the core, handed in as the answer.
    let found = grep_secrets(&core);
    assert_eq!(found.len(), 1, "{found:?}");
    let (code, out) = lab.out(&["check", &found[0], "--lang", "ja"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(says(&out, "正解") && says(&out, "完了"), "{out}");
    assert_japanese("the right answer, --lang ja", &out);
    assert!(!alive(pid));
    assert_eq!(lab.state_of("find-it"), "solved");
    let (_, st) = lab.out(&["status", "--lang", "ja"]);
    assert_japanese("status --lang ja", &st);
}

#[test]
fn in_secretmem_a_forged_core_is_refused_and_gcore_accepted() {
    if !common::require(common::Need::MemfdSecret) || !common::require(common::Need::Gdb) {
        return;
    }
    let lab = Lab::new();
    let work = tempfile::tempdir().unwrap();
    let s = lab.json(&["start", "secretmem", "--any-order"]);
    let pid = s["pids"][0].as_i64().unwrap();
    let forged = work.path().join("forged.core");
    forged_core(pid, &forged);
    let (code, out) = lab.out(&["check", "--file", forged.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        says(&out, "Not a proof")
            && says(&out, &format!("does not hold pid {pid}'s memory"))
            && says(&out, "[heap]"),
        "{out}"
    );
    let (code, out) = lab.out(&["check", "--file", forged.to_str().unwrap(), "--lang", "ja"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(says(&out, "メモリが入っていない"), "{out}");
    assert_japanese("a forged core, --lang ja", &out);
    assert_eq!(lab.state_of("secretmem"), "running");
    // The same core with its bytes of the program's code made up is refused too.
    let core = gcore(pid, work.path());
    let real = std::fs::read(&core).unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let head = std::fs::read(&exe).unwrap();
    let at = real
        .windows(64)
        .position(|w| w == &head[..64])
        .expect("the program's ELF header is in gcore's core");
    let mut fake = real.clone();
    fake[at + 16..at + 64].fill(0xAA);
    let faked = work.path().join("faked.core");
    std::fs::write(&faked, fake).unwrap();
    let (code, out) = lab.out(&["check", "--file", faked.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(says(&out, "are not the process's"), "{out}");
    // gdb's real core: the region left out, the secret nowhere, the memory the process's own.
    let (code, out) = lab.out(&["check", "--file", core.to_str().unwrap(), "--lang", "ja"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(says(&out, "✓ 証明を受理した"), "{out}");
    assert_japanese("gcore's core accepted, --lang ja", &out);
    assert_eq!(lab.state_of("secretmem"), "solved");
}

#[test]
fn lab_solve_gives_no_credit() {
    if !common::require(common::Need::MemfdSecret) {
        return;
    }
    let lab = Lab::new();
    // The trainee's own exercise, running.
    let mine = lab.json(&["start", "find-it"]);
    let my_pid = mine["pids"][0].as_i64().unwrap();
    let (code, out) = lab.out(&["solve", "secretmem"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        says(&out, "✓ Checked as lab check would: accepted"),
        "{out}"
    );
    assert!(
        !says(&out, "unlocked") && !says(&out, "Proof accepted"),
        "{out}"
    );
    assert!(says(&out, "\"shown\""), "{out}");
    assert_eq!(lab.state_of("secretmem"), "shown");
    assert_eq!(lab.state_of("residue"), "locked");
    assert_eq!(lab.state_of("find-it"), "running");
    assert!(alive(my_pid), "the trainee's own target is left alone");
    let (_, st) = lab.out(&["status"]);
    assert!(says(&st, "secretmem") && says(&st, "shown"), "{st}");
    let r = lab.json(&["list"]);
    let residue = r
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["exercise"] == "residue");
    assert_eq!(residue.unwrap()["state"], "locked");
    // Its own target is gone with its scratch state; no attempt was counted.
    let st = lab.json(&["status"]);
    let sm = &st["exercises"].as_array().unwrap()[3];
    assert_eq!(
        (sm["exercise"].as_str(), sm["attempts"].as_u64()),
        (Some("secretmem"), Some(0))
    );
    // A locked exercise's solution runs too, and is only shown.
    let (code, out) = lab.out(&["solve", "argv", "--lang", "ja"]);
    assert_eq!(code, Some(0), "{out}");
    assert_japanese("solve --lang ja", &out);
    assert!(says(&out, "解答表示済み"), "{out}");
    assert_eq!(lab.state_of("argv"), "shown");
    assert_eq!(lab.state_of("dontdump"), "locked");
    let (_, st) = lab.out(&["status", "--lang", "ja"]);
    assert_japanese("status --lang ja after solve", &st);
    // Checking the shown exercise before starting it is "not started", not a wrong answer.
    let (code, out) = lab.out(&[
        "check",
        "CONFIDUMP-000000000000000000000000",
        "--exercise",
        "argv",
    ]);
    assert_eq!(code, Some(2), "{out}");
    // Solved by the trainee after the solution was shown: accepted, said, and still "shown".
    let s = lab.json(&["start", "argv", "--any-order"]);
    let pid = s["pids"][0].as_i64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let secret = cmdline
        .split(|&b| b == 0)
        .find(|a| a.starts_with(b"CONFIDUMP-"))
        .map(|a| String::from_utf8(a.to_vec()).unwrap())
        .unwrap();
    let (code, out) = lab.out(&["check", &secret, "--exercise", "argv"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(says(&out, "your status reads \"shown\""), "{out}");
    assert_eq!(lab.state_of("argv"), "shown");
}

#[test]
fn a_killed_solves_target_is_stopped_by_the_next_solve() {
    // What a `lab solve` killed half-way leaves: its scratch state, named with its PID (gone
    // now), holding a running target. Made here by starting a target in another state and
    // moving that state where the killed solve's scratch state would be.
    let lab = Lab::new();
    let other = Lab::new();
    let s = other.json(&["start", "find-it"]);
    let pid = s["pids"][0].as_i64().unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let mine = lab.dir();
    std::fs::create_dir_all(&mine).unwrap();
    let stale = mine.join(format!("solve-p{gone_pid}"));
    std::fs::create_dir(&stale).unwrap();
    std::fs::rename(other.dir(), stale.join("lab")).unwrap();
    assert!(alive(pid));
    let (code, out) = lab.out(&["solve", "argv"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!alive(pid), "the killed solve's target was stopped");
    assert!(!stale.exists());
    // Nothing else of a solve stays in the trainee's state directory.
    let left: Vec<_> = std::fs::read_dir(&mine)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["state.json"], "{left:?}");
}
