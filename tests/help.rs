//! Every `--help` lists every value it accepts, and names every value a reader meets in its
//! output, as the program's own sources of truth have them (never a copy kept in this file):
//!
//! - an argument with a fixed set of values (a clap `ValueEnum` or a list of possible values)
//!   is found by walking the clap definition of every subcommand; its `--help` must show each;
//! - the values parsed from plain strings, or printed, come from the library's enums and lists
//!   (`AttackKind::ALL`, `Requirement::ALL`, the built-in platforms) or from the binary's own
//!   output (`doctor --format json`'s checks, `lab list --format json`'s exercises).
//!
//! A failure names the command whose help misses something and what it misses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use clap::CommandFactory;
use std::process::{Command, Stdio};

/// `confidump ARGS --help`, as a reader gets it.
fn help(args: &[&str]) -> String {
    let out = Command::new(common::bin())
        .args(args)
        .arg("--help")
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, stdout, stderr) = common::code_out_err(&out);
    assert_eq!(code, 0, "confidump {} --help: {stderr}", args.join(" "));
    stdout
}

/// Whether `word` stands in `text` as a word of its own (not inside a longer name: `tdx`
/// inside `tdx-host` does not count).
fn has_word(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        // A trailing '-' or '.' ends a sentence or a list item, not a name.
        let after_ok = match after {
            None => true,
            Some('-') => !matches!(text[at + word.len() + 1..].chars().next(), Some(c) if part(c)),
            Some(c) => !part(c),
        };
        !matches!(before, Some(c) if part(c)) && after_ok
    })
}

/// Panics naming `command` and every value of `values` its help does not show.
fn assert_lists(command: &[&str], what: &str, values: &[String]) {
    assert!(!values.is_empty(), "no {what} to look for");
    let text = help(command);
    let missing: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .filter(|v| !has_word(&text, v))
        .collect();
    assert!(
        missing.is_empty(),
        "`confidump {} --help` does not list the {what} {}",
        command.join(" "),
        missing.join(", ")
    );
}

#[test]
fn the_word_check_is_strict() {
    assert!(has_word("sgx, sev-snp-host, tdx.", "tdx"));
    assert!(!has_word("sev-snp-host", "sev-snp"));
    assert!(!has_word("memfd_secret_x", "memfd_secret"));
    assert!(has_word("  - json: One JSON object", "json"));
}

/// Every argument with a fixed set of values, in every subcommand (hidden ones included: their
/// help is what the package's man pages are made from).
#[test]
fn every_argument_with_a_set_of_values_lists_them_all() {
    fn walk(cmd: &clap::Command, path: Vec<String>, checked: &mut usize) {
        let values: Vec<(String, String)> = cmd
            .get_arguments()
            // Flags (`--force`) have values too for clap (true, false): not typed by anyone.
            .filter(|a| !a.is_hide_set() && a.get_action().takes_values())
            .flat_map(|a| {
                let arg = a.get_id().to_string();
                a.get_possible_values()
                    .into_iter()
                    .filter(|v| !v.is_hide_set())
                    .map(move |v| (arg.clone(), v.get_name().to_string()))
            })
            .collect();
        if !values.is_empty() {
            let args: Vec<&str> = path.iter().map(String::as_str).collect();
            let text = help(&args);
            let missing: Vec<String> = values
                .iter()
                .filter(|(_, v)| !has_word(&text, v))
                .map(|(a, v)| format!("--{a} {v}"))
                .collect();
            assert!(
                missing.is_empty(),
                "`confidump {} --help` does not list {}",
                path.join(" "),
                missing.join(", ")
            );
            *checked += values.len();
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, checked);
        }
    }
    let mut checked = 0;
    walk(&confidump::cli::Cli::command(), Vec::new(), &mut checked);
    // victim's modes, contexts, runtimes, stores, ... are among them: the walk saw something.
    assert!(
        checked > 30,
        "only {checked} values found in the clap definitions"
    );
}

#[test]
fn demo_help_names_every_column_capability_and_platform() {
    let columns: Vec<String> = confidump::model::AttackKind::ALL
        .iter()
        .map(|a| a.as_str().to_string())
        .collect();
    assert_lists(&["demo"], "column(s)", &columns);
    let capabilities: Vec<String> = confidump::host::Requirement::ALL
        .iter()
        .map(|r| r.as_str().to_string())
        .collect();
    assert_lists(&["demo"], "--require capability(ies)", &capabilities);
    assert_lists(&["demo"], "--platform name(s)", &platforms());
}

#[test]
fn doctor_help_names_every_check_and_platform() {
    // The checks as this binary runs them, on this host.
    let out = Command::new(common::bin())
        .args(["doctor", "--format", "json", "--lang", "en"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, stdout, stderr) = common::code_out_err(&out);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let checks: Vec<String> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_lists(&["doctor"], "check name(s)", &checks);
    assert_lists(&["doctor"], "--platform name(s)", &platforms());
}

#[test]
fn lab_help_names_every_built_in_exercise() {
    // Its own state directory: listing reads the trainee's progress.
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["lab", "list", "--format", "json", "--lang", "en"])
        .env("XDG_STATE_HOME", state.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, stdout, stderr) = common::code_out_err(&out);
    assert_eq!(code, 0, "{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["exercise"].as_str().unwrap().to_string())
        .collect();
    assert_lists(&["lab"], "exercise(s)", &names);
}

/// The built-in platforms (`demo/expect/*.toml`), as the library names them.
fn platforms() -> Vec<String> {
    confidump::runner::platform::names()
        .split(", ")
        .map(str::to_string)
        .collect()
}
