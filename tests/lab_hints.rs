//! Issue 23 item 3: every hint works when followed literally. For each exercise a real target
//! is started, and each hint's commands (the `quoted` spans of its text, as `lab hint` shows it
//! with the exercise's processes filled in) are run one after the other in a shell, with the
//! placeholders a trainee fills filled the way the hints say: `DIR` a directory of one's own,
//! `START`/`END` the range the earlier hint's output names (its first `rw` mapping). What they
//! print must lead to the answer: the secret-shaped strings they printed are submitted with
//! `lab check`, and a core a hint submits itself is checked by the hint's own `confidump lab
//! check --file`; in the end the exercise must be solved. The Japanese hint must name the same
//! commands, and `lab start`/`lab hint`/`lab list --lang ja` print no English sentence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// A private state directory (reset on drop: targets stopped) and a working directory.
struct Lab {
    home: tempfile::TempDir,
    work: tempfile::TempDir,
}

/// `PATH` with this build's confidump first, so that a hint's `confidump lab check` is it.
fn path_with_bin() -> String {
    let dir = Path::new(common::bin()).parent().unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

impl Lab {
    fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        // The same-uid hint runs a command as nobody, who must reach nothing of ours but
        // the target; the directory only has to exist.
        Self {
            home: tempfile::tempdir().unwrap(),
            work,
        }
    }
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("XDG_STATE_HOME", self.home.path())
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env("PATH", path_with_bin())
            .current_dir(self.work.path());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(common::bin())
            .arg("lab")
            .args(args)
            .output()
            .unwrap()
    }
    fn text(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "lab {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        serde_json::from_str(&self.text(&a)).unwrap()
    }
    fn state(&self) -> serde_json::Value {
        let f = self.home.path().join("confidump/lab/state.json");
        serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()
    }
    fn dir(&self) -> &Path {
        self.work.path()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.run(&["reset"]);
    }
}

/// The commands of a hint: its `quoted` spans.
fn commands(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// The first mapping shaped `START-END rw…` in `out`: what hint 2 of `dontdump` and hint 1
/// of `secretmem` tell the trainee to take.
fn rw_range(out: &str) -> Option<(String, String)> {
    out.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (range, perms) = (f.next()?, f.next()?);
        let (a, b) = range.split_once('-')?;
        let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
        (hex(a) && hex(b) && perms.starts_with("rw")).then(|| (a.to_string(), b.to_string()))
    })
}

/// Every distinct secret-shaped string (`CONFIDUMP-` and 24 lowercase hex digits) of `out`.
fn secrets(out: &str) -> Vec<String> {
    let mut found: Vec<String> = out
        .match_indices("CONFIDUMP-")
        .filter_map(|(at, _)| out.get(at..at + 34))
        .filter(|w| {
            w[10..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Names a Japanese text keeps as they are, beside the exercise, mode and tool names.
const KEPT: &[&str] = &[
    "CONFIDUMP",
    "ptrace",
    "uid",
    "Yama",
    "TEE",
    "QEMU",
    "RAM",
    "EIO",
    "SGX",
    "AES-256-GCM",
    "Azure",
    "SQL",
    "Always",
    "Encrypted",
    "PostgreSQL",
    "MADV_DONTDUMP",
    "CAP_SYS_PTRACE",
    "root",
    "pid",
    "gdb",
    "gcore",
    "strings",
    "grep",
    "python3",
    "confidump",
    "lab",
    "check",
    "hint",
    "start",
    "list",
    "dump",
    "runuser",
    "memfd_secret",
    "uts",
    "ipc",
    "pgp_sym_encrypt",
    "VmFlags",
    "smaps",
    "START-END",
    "START",
    "END",
    "DIR",
    "PID",
    "CORE",
    "ps",
    "dd",
    "rw-p",
    "---p",
    "vvar",
    "core",
    "secretmem",
    "deleted",
    "nobody",
    "any-order",
    "prctl",
    // The words of the messages the hints quote, as the tools print them.
    "Input",
    "output",
    "error",
    "Permission",
    "denied",
];

/// The English words of a Japanese text: runs of three or more ASCII letters (a `-` inside)
/// that are not a name of [`KEPT`] or of `names`; paths, flags and `quoted` commands aside.
fn english_words(text: &str, names: &[String]) -> Vec<String> {
    let prose: String = text
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(" ");
    prose
        .split(|c: char| !(c.is_ascii_alphanumeric() || "_-./[]=".contains(c)))
        .filter(|w| !w.is_empty() && !w.starts_with('-') && !w.contains('/'))
        .map(|w| w.trim_matches(|c| c == '.' || c == '[' || c == ']' || c == '-'))
        .filter(|w| {
            w.chars().filter(char::is_ascii_alphabetic).count() >= 3
                && w.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
                && !KEPT.contains(w)
                && !names.iter().any(|n| n == w)
        })
        .map(str::to_string)
        .collect()
}

/// The exercise, mode, context and tool names of every built-in exercise.
fn names(lab: &Lab) -> Vec<String> {
    let list = lab.json(&["list"]);
    let mut out = Vec::new();
    for e in list.as_array().unwrap() {
        out.push(e["exercise"].as_str().unwrap().to_string());
        out.push(e["context"].as_str().unwrap().to_string());
        for t in e["tools"].as_array().unwrap() {
            out.push(t.as_str().unwrap().to_string());
        }
    }
    out.extend(
        // The victim's modes, stores and runtime: values of its flags, shown as they are.
        [
            "plain",
            "dontdump",
            "secretmem",
            "residue",
            "undumpable",
            "server-encrypted",
            "client-encrypted",
            "namespaces",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    out
}

fn assert_japanese(what: &str, text: &str, names: &[String]) {
    let words = english_words(text, names);
    assert!(
        words.is_empty(),
        "{what}: English words {words:?} in:\n{text}"
    );
}

/// Starts `name`, reads its task sheet and every hint in Japanese (no English sentence in
/// them, the same commands as in English), follows every hint's commands, submits what they
/// found, and returns what they printed. Panics unless the exercise ends solved.
fn follow(name: &str) -> String {
    let lab = Lab::new();
    let names = names(&lab);
    let sheet = lab.text(&["start", name, "--any-order", "--lang", "ja"]);
    assert_japanese(&format!("lab start {name} --lang ja"), &sheet, &names);
    let pid = lab.state()["exercises"][name]["running"]["pid"]
        .as_i64()
        .unwrap();
    assert!(sheet.contains(&format!("pid {pid}")), "{sheet}");

    let dir = lab.dir().to_str().unwrap().to_string();
    let mut range: Option<(String, String)> = None;
    let mut transcript = String::new();
    let mut n = 1;
    loop {
        let h = lab.json(&["hint", &n.to_string()]);
        let text = h["text"].as_str().unwrap().to_string();
        for raw in ["{pid}", "{backend}", "{server}", "{user}"] {
            assert!(!text.contains(raw), "hint {n} shows {raw}: {text}");
        }
        let ja = lab.json(&["hint", &n.to_string(), "--lang", "ja"]);
        let ja_text = ja["text"].as_str().unwrap();
        assert_eq!(
            commands(&text),
            commands(ja_text),
            "hint {n} of {name}: the Japanese names other commands"
        );
        assert_japanese(&format!("hint {n} of {name} (ja)"), ja_text, &names);
        // On a terminal each command stands on a line of its own, indented four spaces.
        let shown = lab.text(&["hint", &n.to_string(), "--lang", "ja"]);
        let prose: Vec<&str> = shown
            .lines()
            .filter(|l| !l.starts_with("    ") || l.starts_with("     "))
            .collect();
        assert_eq!(
            shown.lines().count() - prose.len(),
            commands(ja_text).len(),
            "one line per command:\n{shown}"
        );
        assert_japanese(
            &format!("lab hint {n} --lang ja ({name})"),
            &prose.join("\n"),
            &names,
        );
        for c in commands(&text) {
            let mut c = c.replace("DIR", &dir);
            if c.contains("START") || c.contains("END") {
                let (start, end) = range.clone().unwrap_or_else(|| {
                    panic!("{name} hint {n}: `{c}` needs START-END, no earlier hint printed one:\n{transcript}")
                });
                c = c.replace("START", &start).replace("END", &end);
            }
            let o = lab.cmd("sh").arg("-c").arg(&c).output().unwrap();
            let out = String::from_utf8_lossy(&o.stdout);
            let err = String::from_utf8_lossy(&o.stderr);
            transcript.push_str(&format!("$ {c}\n{out}{err}[{}]\n", o.status));
            if let Some(r) = rw_range(&out) {
                range = Some(r);
            }
        }
        let of = h["of"].as_u64().unwrap();
        if n >= of {
            break;
        }
        n += 1;
    }
    // Past the last hint: said so, in Japanese too.
    let past = lab.text(&["hint", &(n + 1).to_string(), "--lang", "ja"]);
    assert_japanese("past the last hint", &past, &names);

    // Submit what the hints printed, as a trainee would (a proof the hints submitted already
    // counts).
    let solved = |lab: &Lab| lab.state()["exercises"][name]["solved"].is_u64();
    let found = secrets(&transcript);
    assert!(
        solved(&lab) || !found.is_empty(),
        "{name}: the hints printed no secret:\n{transcript}"
    );
    assert!(found.len() <= 3, "{name}: too many candidates {found:?}");
    for s in &found {
        if solved(&lab) {
            break;
        }
        let _ = lab.run(&["check", s]);
    }
    assert!(
        solved(&lab),
        "{name}: following the hints did not solve it:\n{transcript}\n{}",
        lab.state()
    );
    transcript
}

#[test]
fn find_it() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    follow("find-it");
}

#[test]
fn dontdump_reads_the_whole_region_past_its_guard_page() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let t = follow("dontdump");
    assert!(t.contains("---p") && t.contains("rw-p"), "{t}");
}

#[test]
fn argv() {
    follow("argv");
}

#[test]
fn secretmem_is_refused_then_proven() {
    if !common::require(common::Need::Gdb) || !common::require(common::Need::MemfdSecret) {
        return;
    }
    let t = follow("secretmem");
    assert!(t.contains("Input/output error"), "the hint said EIO:\n{t}");
}

#[test]
fn residue() {
    if !common::require(common::Need::Gdb) || !common::require(common::Need::MemfdSecret) {
        return;
    }
    follow("residue");
}

#[test]
fn same_uid_is_refused_then_read_as_root() {
    if !common::require(common::Need::Gdb) || !common::require(common::Need::RunsAsNobody) {
        return;
    }
    let t = follow("same-uid");
    assert!(t.contains("Permission denied"), "the hint said EPERM:\n{t}");
}

#[test]
fn vm() {
    if !common::require(common::Need::Gdb)
        || !common::require(common::Need::Qemu)
        || !common::require(common::Need::GuestKernel)
    {
        return;
    }
    follow("vm");
}

#[test]
fn container() {
    if !common::require(common::Need::Gdb) || !common::require(common::Need::Root) {
        return;
    }
    follow("container");
}

#[test]
fn database() {
    if !common::require(common::Need::Gdb) || !common::require(common::Need::Postgres) {
        return;
    }
    follow("database");
}

#[test]
fn database_client() {
    if !common::require(common::Need::Gdb) || !common::require(common::Need::Postgres) {
        return;
    }
    follow("database-client");
}

#[test]
fn pod_neighbour() {
    if !common::require(common::Need::Gdb)
        || !common::require(common::Need::Root)
        || !common::require(common::Need::Setpriv)
    {
        return;
    }
    follow("pod-neighbour");
}

#[test]
fn the_list_in_japanese_has_no_english() {
    let lab = Lab::new();
    let names = names(&lab);
    let list = lab.text(&["list", "--lang", "ja"]);
    assert_japanese("lab list --lang ja", &list, &names);
    // The flow's own refusals, past the program's `confidump: error: ` prefix.
    for args in [
        &["hint", "--lang", "ja"][..],
        &["start", "ex42", "--lang", "ja"],
        &["start", "vm", "--lang", "ja"],
        &["check", "hello", "--exercise", "find-it", "--lang", "ja"],
    ] {
        let o = lab.run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        let said = err.strip_prefix("confidump: error: ").unwrap_or(&err);
        assert_japanese(&format!("lab {args:?}"), said, &names);
    }
    let reset = lab.text(&["reset", "--lang", "ja"]);
    assert_japanese("lab reset --lang ja", &reset, &names);
}

#[test]
fn the_checker_finds_english_outside_commands() {
    let names = vec!["find-it".to_string()];
    assert_eq!(
        english_words(
            "gcore でダンプを取る：`gcore -o DIR/core 1`。not done",
            &names
        ),
        ["not", "done"]
    );
    assert!(english_words("find-it の /proc/1/maps を読む", &names).is_empty());
    assert_eq!(commands("a `x y` b `z`"), ["x y", "z"]);
    assert_eq!(
        rw_range("7f00-7f01 ---p\n7f01-7f44 rw-p\n"),
        Some(("7f01".into(), "7f44".into()))
    );
    assert_eq!(
        secrets("x CONFIDUMP-00112233445566778899aabb y CONFIDUMP-zz"),
        ["CONFIDUMP-00112233445566778899aabb"]
    );
}
