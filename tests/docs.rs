//! Docs that run: the examples of README.md and docs/*.md that are marked runnable are run here
//! with the binary under test, and a failure names the file and the line of the example.
//!
//! A fenced block is runnable when its info string says so (GitHub still highlights it by its
//! first word); any other block is shown, never run (transcripts with their output, commands
//! that take minutes such as `setup.sh`, `cargo` or the whole `demo`):
//!
//! - ```` ```toml scenario ````: a scenario file. It is loaded by the real loader (`demo
//!   --scenario-dir DIR --list`), and, as root, its row is run (`demo --scenario-dir DIR
//!   --scenario NAME`) and must meet every expectation it states (exit 0). README.md's first
//!   one is also the schema: it must name every key and every value the loader accepts.
//! - ```` ```sh run ```` (or ```` ```sh run victim=MODE ````): shell commands, one per line (a
//!   line ending in `\` goes on; `#` starts a comment). They run one by one in `sh -c`, in one
//!   scratch directory for the block, with the binary under test first on PATH as
//!   `confidump`, and each must exit 0 within a minute. Before a block runs, the test starts a
//!   victim for it (`confidump victim --mode MODE`, plain unless `victim=` says otherwise;
//!   `victim=none` starts none) and replaces these words: `PID`, `HEX` and `ADDR` by its ready
//!   line's pid, secret SHA-256 and region start; `DIR` by the scratch directory; `FILE` by a
//!   path in it that does not exist yet. A command whose program (its first word) is not
//!   installed is skipped with a SKIP line.
//!
//! Besides the examples: README.md's sample table must be what the renderer draws from the
//! recorded result (`scripts/readme-table.sh --check`), and docs/fleet.md's platform table
//! must require and run what the built-in platforms do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The package's top directory (README.md, docs/, scripts/).
fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fenced block of a Markdown file.
#[derive(Debug, Clone)]
struct Block {
    /// `README.md`, `docs/fleet.md`: how a failure names the file.
    file: String,
    /// 1-based line of its first content line.
    line: usize,
    /// The words of its info string (` ```sh run victim=plain ` -> `sh`, `run`, `victim=plain`).
    info: Vec<String>,
    /// Its lines, without the fences.
    lines: Vec<String>,
}

impl Block {
    fn is(&self, lang: &str, mark: &str) -> bool {
        self.info.first().map(String::as_str) == Some(lang)
            && self.info.get(1).map(String::as_str) == Some(mark)
    }

    /// The value of `key=VALUE` in the info string.
    fn option(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }
}

/// The fenced blocks of `text` (``` or ~~~ fences, as CommonMark opens and closes them).
fn blocks(file: &str, text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(String, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let fence: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        let is_fence =
            fence.len() >= 3 && fence.chars().all(|c| c == fence.chars().next().unwrap());
        match &mut open {
            Some((opened, block)) => {
                if is_fence
                    && fence.starts_with(opened.as_str())
                    && trimmed[fence.len()..].trim().is_empty()
                {
                    out.push(open.take().unwrap().1);
                } else {
                    block.lines.push(line.to_string());
                }
            }
            None if is_fence => {
                let info = trimmed[fence.len()..]
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                open = Some((
                    fence,
                    Block {
                        file: file.to_string(),
                        line: i + 2,
                        info,
                        lines: Vec::new(),
                    },
                ));
            }
            None => {}
        }
    }
    assert!(open.is_none(), "{file}: a fenced block is never closed");
    out
}

/// Every fenced block of README.md and docs/*.md.
fn all_blocks() -> Vec<Block> {
    let mut files = vec![top().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(top().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .iter()
        .flat_map(|p| {
            let name = p.strip_prefix(top()).unwrap().display().to_string();
            blocks(&name, &std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

/// A marked block's mark is one this test knows: a misspelt mark would be shown, never run.
#[test]
fn every_runnable_mark_is_known_and_readme_has_both() {
    let all = all_blocks();
    for b in &all {
        let marked = b.info.iter().skip(1).any(|w| w == "run" || w == "scenario");
        if marked {
            assert!(
                b.is("sh", "run") || b.is("toml", "scenario"),
                "{}:{}: unknown runnable mark {:?} (```sh run or ```toml scenario)",
                b.file,
                b.line,
                b.info.join(" ")
            );
        }
        if let Some(v) = b.option("victim") {
            assert!(
                b.is("sh", "run"),
                "{}:{}: victim= belongs to ```sh run",
                b.file,
                b.line
            );
            let known = v == "none"
                || confidump::model::VictimMode::RUNNABLE
                    .iter()
                    .any(|m| m.as_str() == v);
            assert!(
                known,
                "{}:{}: victim={v} is not a victim mode",
                b.file, b.line
            );
        }
    }
    let readme = |lang, mark| {
        all.iter()
            .filter(|b| b.file == "README.md" && b.is(lang, mark))
            .count()
    };
    assert!(
        readme("toml", "scenario") >= 1,
        "README.md has no ```toml scenario block"
    );
    assert!(readme("sh", "run") >= 1, "README.md has no ```sh run block");
}

#[test]
fn the_fence_parser_finds_blocks_and_their_lines() {
    let text = "intro\n```sh run victim=dontdump\nconfidump doctor\n```\n\n    indented\n~~~toml\na = 1\n~~~\n";
    let b = blocks("X.md", text);
    assert_eq!(b.len(), 2);
    assert!(b[0].is("sh", "run"));
    assert_eq!(b[0].option("victim"), Some("dontdump"));
    assert_eq!(
        (b[0].line, b[0].lines.clone()),
        (3, vec!["confidump doctor".to_string()])
    );
    assert_eq!(
        (b[1].line, b[1].info.clone()),
        (8, vec!["toml".to_string()])
    );
}

/// `(code, stdout, stderr)` of `confidump ARGS`.
fn confidump(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    common::code_out_err(&out)
}

#[test]
fn scenario_examples_load_and_run_as_they_expect() {
    let examples: Vec<Block> = all_blocks()
        .into_iter()
        .filter(|b| b.is("toml", "scenario"))
        .collect();
    let root = common::require(common::Need::Root);
    for b in examples {
        let at = format!("{}:{}", b.file, b.line);
        let text = b.lines.join("\n") + "\n";
        let value: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{at}: the example is not TOML: {e}"));
        let name = value
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_else(|| panic!("{at}: no name"));
        let dir = tempfile::tempdir().unwrap();
        let written = dir.path().join(format!("{name}.toml"));
        std::fs::write(&written, &text).unwrap();
        let d = dir.path().to_str().unwrap();
        let (code, out, err) = confidump(&["demo", "--scenario-dir", d, "--list", "--lang", "en"]);
        assert_eq!(
            code,
            0,
            "{at}: the loader refuses the example:\n{}",
            in_the_doc(&err, &written, &b)
        );
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{at}: demo --list does not show {name}:\n{out}"
        );
        if !root {
            continue;
        }
        let (code, out, err) = confidump(&[
            "demo",
            "--scenario-dir",
            d,
            "--scenario",
            name,
            "--format",
            "json",
            "--lang",
            "en",
        ]);
        let report: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{at}: demo gave no JSON ({e}), exit {code}:\n{err}"));
        let missed: Vec<String> = report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["expected"] != c["observed"])
            .map(|c| {
                format!(
                    "{}: expected {}, observed {} ({})",
                    c["attack"], c["expected"], c["observed"], c["reason"]
                )
            })
            .collect();
        assert_eq!(
            code,
            0,
            "{at}: the example's row missed its expectations:\n{}\n{err}",
            missed.join("\n")
        );
    }
}

/// `err` with the loader's `WRITTEN:LINE:COL` (the example, as the test wrote it) told as
/// the place in the doc: `README.md:LINE:COL`.
fn in_the_doc(err: &str, written: &Path, b: &Block) -> String {
    let prefix = format!("{}:", written.display());
    let Some((before, rest)) = err.split_once(&prefix) else {
        return err.to_string();
    };
    let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match line.parse::<usize>() {
        Ok(n) => format!(
            "{before}{}:{}{}",
            b.file,
            n + b.line - 1,
            &rest[line.len()..]
        ),
        Err(_) => err.to_string(),
    }
}

/// The backticked names after "expected" in a loader error: the values it accepts.
fn expected_names(message: &str) -> Vec<String> {
    let tail = message
        .split_once("expected")
        .unwrap_or_else(|| panic!("no list of accepted values in {message:?}"))
        .1;
    tail.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// What the real loader accepts, as its own errors list it: each key, and the values of each
/// key that takes a fixed set of them (`[expect]` keys and outcomes included).
fn loader_schema() -> Vec<(String, Vec<String>)> {
    let parse = |top: &str, expect: &str| {
        let text = format!(
            "name = \"x\"\ntitle.en = \"t\"\nholds.en = \"h\"\nlesson.en = \"l\"\n{top}\n[expect]\n{expect}\n"
        );
        match confidump::scenario::parse("x.toml", &text) {
            Ok(_) => panic!("the loader accepts {top:?} / {expect:?}"),
            Err(e) => e.to_string(),
        }
    };
    let plain = "mode = \"plain\"";
    let keys = expected_names(&parse(&format!("{plain}\nzzz = 1"), ""));
    let expect_keys = expected_names(&parse(plain, "zzz = \"leak\""));
    let mut schema = vec![
        ("keys".to_string(), keys.clone()),
        ("[expect] keys".to_string(), expect_keys),
        (
            "[expect] values".to_string(),
            expected_names(&parse(plain, "dump = \"zzz\"")),
        ),
        (
            "requires".to_string(),
            expected_names(&parse(&format!("{plain}\nrequires = [\"zzz\"]"), "")),
        ),
    ];
    for key in [
        "mode",
        "context",
        "secret",
        "search",
        "run_as",
        "cvm",
        "runtime",
        "store",
        "guest_container",
    ] {
        assert!(
            keys.contains(&key.to_string()),
            "the loader has no key {key} any more"
        );
        let mode = if key == "mode" { "" } else { plain };
        let values = expected_names(&parse(&format!("{mode}\n{key} = \"zzz\""), ""));
        schema.push((key.to_string(), values));
    }
    schema
}

/// Whether `word` stands in `text` as a name of its own (not part of a longer one).
fn has_word(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(at, _)| {
        !matches!(text[..at].chars().next_back(), Some(c) if part(c))
            && !matches!(text[at + word.len()..].chars().next(), Some(c) if part(c))
    })
}

#[test]
fn the_readme_scenario_example_names_every_key_and_value_the_loader_accepts() {
    let example = all_blocks()
        .into_iter()
        .find(|b| b.file == "README.md" && b.is("toml", "scenario"))
        .expect("README.md's scenario example");
    let text = example.lines.join("\n");
    let mut missing = Vec::new();
    for (what, values) in loader_schema() {
        assert!(!values.is_empty(), "no values for {what}");
        for v in values {
            if !has_word(&text, &v) {
                missing.push(format!("{what}: {v}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README.md:{}: the scenario example does not name what the loader accepts:\n{}",
        example.line,
        missing.join("\n")
    );
}

/// `line` with every whole-word `word` replaced by `by` (`PID` but not `QEMU_PID`).
fn replace_word(line: &str, word: &str, by: &str) -> String {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back().or(out.chars().next_back());
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if matches!(before, Some(c) if part(c)) || matches!(after, Some(c) if part(c)) {
            out.push_str(word);
        } else {
            out.push_str(by);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn placeholders_are_whole_words() {
    assert_eq!(
        replace_word("scan --pid PID # not QEMU_PID or PIDS", "PID", "42"),
        "scan --pid 42 # not QEMU_PID or PIDS"
    );
    assert_eq!(replace_word("/proc/PID/mem", "PID", "7"), "/proc/7/mem");
}

/// The commands of a `sh run` block: continuation lines joined, comments and blanks left out,
/// each with the line it starts on.
fn commands(b: &Block) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in b.lines.iter().enumerate() {
        let (start, mut text) = match pending.take() {
            Some((start, before)) => (start, before + " " + line.trim()),
            None => {
                let t = line.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                (b.line + i, t.to_string())
            }
        };
        if let Some(cut) = text.strip_suffix('\\') {
            text = cut.trim_end().to_string();
            pending = Some((start, text));
        } else {
            out.push((start, text));
        }
    }
    assert!(
        pending.is_none(),
        "{}:{}: the block ends inside a command",
        b.file,
        b.line
    );
    out
}

/// Runs `command` in `sh -c` in `dir`, with `path` as PATH, stopped after a minute.
/// `(code, stdout, stderr)`; code -1 when it was killed.
fn sh(command: &str, dir: &Path, path: &str, logs: &Path) -> (i32, String, String) {
    let (out_file, err_file) = (logs.join("stdout"), logs.join("stderr"));
    let mut child = Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| {
        let t = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        let keep: Vec<&str> = t.lines().rev().take(40).collect();
        keep.into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    (code, read(&out_file), read(&err_file))
}

/// Whether `program` can be run (a shell builtin, or on PATH).
fn installed(program: &str, path: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v -- '{program}'")])
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn shell_examples_run() {
    let examples: Vec<Block> = all_blocks()
        .into_iter()
        .filter(|b| b.is("sh", "run"))
        .collect();
    for b in examples {
        let scratch = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(common::bin(), bin.path().join("confidump")).unwrap();
        let path = format!(
            "{}:{}",
            bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mode = b.option("victim").unwrap_or("plain");
        let victim = (mode != "none").then(|| common::start_victim(&["--mode", mode], None));
        let dir = scratch.path().display().to_string();
        let file = scratch.path().join("file").display().to_string();
        for (line, command) in commands(&b) {
            let mut run = command.clone();
            if let Some(v) = &victim {
                let start = v.ready.raw["region"]["start"].as_str().unwrap().to_string();
                run = replace_word(&run, "PID", &v.ready.pid.to_string());
                run = replace_word(&run, "HEX", &v.ready.sha256);
                run = replace_word(&run, "ADDR", &start);
            }
            run = replace_word(&run, "DIR", &dir);
            run = replace_word(&run, "FILE", &file);
            let program = run
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            if !installed(&program, &path) {
                eprintln!(
                    "SKIP {}:{line}: `{program}` is not installed here: {command}",
                    b.file
                );
                continue;
            }
            let (code, out, err) = sh(&run, scratch.path(), &path, logs.path());
            assert_eq!(
                code, 0,
                "{}:{line}: `{command}` exited {code} (ran: {run})\n--- stdout (end)\n{out}\n--- stderr (end)\n{err}",
                b.file
            );
        }
        drop(victim);
    }
}

#[test]
fn the_readme_sample_table_is_what_the_renderer_draws() {
    let out = Command::new(top().join("scripts/readme-table.sh"))
        .arg("--check")
        .env("CONFIDUMP", common::bin())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, _, err) = common::code_out_err(&out);
    let begin = std::fs::read_to_string(top().join("README.md"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("<!-- sample-table: begin"))
        .map_or(0, |i| i + 1);
    assert_eq!(
        code, 0,
        "README.md:{begin}: the sample table is not what `confidump demo --from \
         tests/golden/readme-demo.json` draws at 80 columns; run scripts/readme-table.sh \
         (--record to run the rows again):\n{err}"
    );
}

#[test]
fn demo_from_draws_a_saved_result_and_refuses_what_is_not_one() {
    let recorded = top().join("tests/golden/readme-demo.json");
    let (code, out, err) = confidump(&[
        "demo",
        "--from",
        recorded.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&recorded).unwrap()).unwrap();
    assert_eq!(
        again["cells"].as_array().map(Vec::len),
        saved["cells"].as_array().map(Vec::len)
    );
    assert_eq!(again["mismatches"], 0);
    let readme = top().join("README.md");
    let (code, _, err) = confidump(&["demo", "--from", readme.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("README.md: not a demo result"), "{err}");
}

/// docs/fleet.md's platform table: each platform's `requires` and `rows` cells name what
/// `doctor --platform NAME` says the built-in platform requires and runs.
#[test]
fn the_fleet_platform_table_is_the_built_in_platforms() {
    let text = std::fs::read_to_string(top().join("docs/fleet.md")).unwrap();
    let ticked = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let platform = |name: &str| -> serde_json::Value {
        let (code, out, err) = confidump(&["doctor", "--platform", name, "--format", "json"]);
        assert!(code == 0 || code == 1, "doctor --platform {name}: {err}");
        serde_json::from_str(&out).unwrap()
    };
    let names = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().or(x["name"].as_str()).unwrap().to_string())
            .collect()
    };
    let process_rows = names(&platform("linux")["rows"]);
    let mut seen = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `name` | requires | rows | ... |
        let Some(name) = cells
            .get(1)
            .and_then(|c| c.strip_prefix('`'))
            .and_then(|c| c.strip_suffix('`'))
        else {
            continue;
        };
        if !confidump::runner::platform::names()
            .split(", ")
            .any(|n| n == name)
        {
            continue;
        }
        let at = format!("docs/fleet.md:{}", i + 1);
        let p = platform(name);
        assert_eq!(
            ticked(cells[2]),
            names(&p["requires"]),
            "{at}: {name} requires"
        );
        let mut rows = ticked(cells[3]);
        if cells[3].contains("the process rows") {
            rows.extend(process_rows.iter().cloned());
        }
        assert_eq!(rows, names(&p["rows"]), "{at}: {name}'s rows");
        seen.insert(name.to_string());
    }
    let all: BTreeSet<String> = confidump::runner::platform::names()
        .split(", ")
        .map(str::to_string)
        .collect();
    assert_eq!(seen, all, "docs/fleet.md's table lacks a built-in platform");
}
