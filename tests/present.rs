//! Presenter mode through its public entry point, against the real matrix engine: the built-in
//! `plain` scenario (a real victim, really attacked) and the `sgx` scenario (n/a on hosts
//! without SGX, with the reason shown). The narration itself is also tested on hand-built cells
//! in `src/render/presenter.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::path::PathBuf;

use confidump::i18n::Lang;
use confidump::model::Outcome;
use confidump::render::presenter::{self, PresentOptions};
use confidump::runner::demo::host_info;
use confidump::runner::matrix::{self, RunEnv, Scenario};
use confidump::scenario;

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

fn run(lang: Lang, input: &str) -> std::io::Result<Ran> {
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
    let (out, report) = run(Lang::En, "").expect("writing to a Vec cannot fail");
    assert!(
        !out.contains('\x1b'),
        "no colour, no screen clearing:\n{out}"
    );
    assert!(out.contains("ORDINARY MEMORY"), "{out}");
    assert!(out.contains("LEAK"), "the plain victim must leak:\n{out}");
    if common::host_lacks(common::Host::Sgx) {
        assert!(out.contains("needs SGX"), "{out}");
    }
    assert!(out.contains("End of the demo."), "{out}");
    let report = report.expect("a report of what ran");
    assert_eq!(report.scenarios.len(), 2);
    assert_eq!(report.lang, Lang::En);
    assert_eq!(report.mismatches, 0);
}

#[test]
fn q_stops_after_the_first_scenario() {
    // Enter past the first title, `q` at the first verdict screen.
    let (out, report) = run(Lang::En, "\nq\n").expect("writing to a Vec cannot fail");
    assert!(out.contains("Stopped early."), "{out}");
    assert!(!out.contains("SGX ENCLAVE"), "{out}");
    assert_eq!(report.expect("first scenario ran").scenarios.len(), 1);
}

#[test]
fn japanese_narration() {
    let (out, report) = run(Lang::Ja, "\n\n\n\n").expect("writing to a Vec cannot fail");
    for want in ["標的プロセスが持っているもの", "漏洩", "デモはここまで。"]
    {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    assert_eq!(report.expect("a report").lang, Lang::Ja);
}

/// On an 80×24 screen: no line is wider than 80, and when the prompt after each scenario
/// appears, the 23 lines above it hold every verdict tile of that scenario (the point of the
/// screen), whole. Four real rows, with Enter pressed at every pause.
#[test]
fn screens_fit_80_by_24_with_the_verdicts_last() {
    const W: usize = 80;
    const H: usize = 24;
    let names: Vec<String> = ["plain", "dontdump", "secretmem", "argv"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let scenarios = matrix::for_host(
        scenario::select(scenario::builtin().unwrap(), &names).unwrap(),
        &env(),
    );
    let env = env();
    let infos: Vec<_> = scenarios.iter().map(|s| s.info.clone()).collect();
    let mut engine =
        |i: usize, step: &mut dyn FnMut(&str)| matrix::run_scenario(&scenarios[i], &env, step);
    let mut out = Vec::new();
    let opts = PresentOptions {
        width: W,
        ..PresentOptions::for_terminal(false)
    };
    let report = presenter::run(
        &infos,
        Lang::En,
        host_info(&env),
        opts,
        &mut "\n".repeat(20).as_bytes(),
        &mut out,
        &mut engine,
    )
    .expect("writing to a Vec cannot fail")
    .expect("a report");
    let out = String::from_utf8_lossy(&out).into_owned();
    for l in out.lines() {
        let w = confidump::render::wrap::display_width(l);
        assert!(w <= W, "a line of {w} columns: {l:?}\n{out}");
    }
    // Screens end at prompts: a title screen, then a verdict screen, per scenario.
    let screens: Vec<&str> = out.split("Enter ▸ continue").collect();
    for (k, s) in report.scenarios.iter().enumerate() {
        let screen = screens
            .get(2 * k + 1)
            .unwrap_or_else(|| panic!("no screen {k}:\n{out}"));
        let lines: Vec<&str> = screen.lines().collect();
        let visible = lines[lines.len().saturating_sub(H - 1)..].join("\n");
        let tiles = report
            .cells
            .iter()
            .filter(|c| c.scenario == s.name)
            .filter(|c| !(c.expected == c.observed && c.observed == Outcome::NotApplicable))
            .count();
        assert!(tiles > 0, "{s:?}");
        assert_eq!(
            visible.matches('┏').count(),
            tiles,
            "{}: tiles off screen:\n{visible}",
            s.name
        );
        assert_eq!(
            visible.matches('┗').count(),
            tiles,
            "{}:\n{visible}",
            s.name
        );
        assert!(visible.contains("What the attacker sees:"), "{visible}");
    }
    // The argv row's bytes are the [stack] copy its lesson is about.
    assert!(out.contains("· [stack] at 0x"), "{out}");
    // Refused and left-out bytes are told apart, each with its own legend line.
    assert!(out.contains("??  the read was refused"), "{out}");
}
