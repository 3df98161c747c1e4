//! Presenter mode through its public entry point, against the real matrix engine: the built-in
//! `plain` scenario (a real victim, really attacked) and the `sgx` scenario (n/a on hosts
//! without SGX, with the reason shown). The narration itself is also tested on hand-built cells
//! in `src/render/presenter.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use confidump::render::presenter::{self, PresentOptions};
use confidump::runner::demo::host_info;
use confidump::runner::matrix::{self, RunEnv, Scenario};
use confidump::runner::scenario;

fn scenarios() -> Vec<Scenario> {
    let all = scenario::builtin().unwrap();
    let picked = scenario::select(all, &["plain".to_string(), "sgx".to_string()]).unwrap();
    // As `confidump demo --present` prepares them: rows this host cannot run carry the reason.
    matrix::for_host(picked, &env())
}

fn env() -> RunEnv {
    RunEnv::probe(PathBuf::from(env!("CARGO_BIN_EXE_confidump")))
}

type Ran = (String, Option<confidump::model::MatrixReport>);

fn run(lang: &str, input: &str) -> std::io::Result<Ran> {
    let scenarios = scenarios();
    let env = env();
    let infos: Vec<_> = scenarios.iter().map(|s| s.info.clone()).collect();
    // As `confidump demo --present` wires it: the real matrix engine runs each scenario.
    let mut engine =
        |i: usize, step: &mut dyn FnMut(&str)| matrix::run_scenario(&scenarios[i], &env, step);
    let mut out = Vec::new();
    let report = presenter::run(
        &infos,
        lang,
        host_info(&env),
        PresentOptions::for_terminal(false),
        &mut input.as_bytes(),
        &mut out,
        &mut engine,
    )?;
    Ok((String::from_utf8_lossy(&out).into_owned(), report))
}

#[test]
fn closed_stdin_runs_straight_through() {
    let (out, report) = run("en", "").expect("writing to a Vec cannot fail");
    assert!(
        !out.contains('\x1b'),
        "no colour, no screen clearing:\n{out}"
    );
    assert!(out.contains("ORDINARY MEMORY"), "{out}");
    assert!(out.contains("LEAK"), "the plain victim must leak:\n{out}");
    let sgx_here = std::path::Path::new("/dev/sgx_enclave").exists();
    if !sgx_here {
        assert!(out.contains("needs SGX"), "{out}");
    }
    assert!(out.contains("End of the demo."), "{out}");
    let report = report.expect("a report of what ran");
    assert_eq!(report.scenarios.len(), 2);
    assert_eq!(report.lang, "en");
    assert_eq!(report.mismatches, 0);
}

#[test]
fn q_stops_after_the_first_scenario() {
    // Enter past the first title, `q` at the first verdict screen.
    let (out, report) = run("en", "\nq\n").expect("writing to a Vec cannot fail");
    assert!(out.contains("Stopped early."), "{out}");
    assert!(!out.contains("SGX ENCLAVE"), "{out}");
    assert_eq!(report.expect("first scenario ran").scenarios.len(), 1);
}

#[test]
fn japanese_narration() {
    let (out, report) = run("ja", "\n\n\n\n").expect("writing to a Vec cannot fail");
    for want in ["標的プロセスが持っているもの", "漏洩", "デモは以上です。"]
    {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    assert_eq!(report.expect("a report").lang, "ja");
}
