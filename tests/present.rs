//! Presenter mode through its public entry point, against whatever engine is linked in.
//!
//! The scenarios here are marked unavailable, so that these tests hold both against the
//! interface stub (no cells) and against the real matrix engine (n/a cells, no victim started).
//! The narration itself is tested on hand-built cells in `src/runner/presenter.rs`.

use std::path::PathBuf;

use confidump::model::{ScenarioInfo, Texts};
use confidump::runner::matrix::{RunEnv, Scenario};
use confidump::runner::presenter;

fn scenario(name: &str, en: &str, ja: &str) -> Scenario {
    Scenario {
        info: ScenarioInfo {
            name: name.into(),
            title: Texts {
                en: en.into(),
                ja: ja.into(),
            },
            holds: Texts {
                en: "a key in a register-only vault".into(),
                ja: "レジスタだけの金庫に鍵".into(),
            },
            lesson: Texts {
                en: "What cannot run here proves nothing.".into(),
                ja: "ここで実行できないものは何も証明しない。".into(),
            },
            stand_in_for: None,
            unavailable: Some("needs hardware this host lacks".into()),
        },
    }
}

fn env() -> RunEnv {
    RunEnv {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_confidump")),
    }
}

type Ran = (String, Option<confidump::model::MatrixReport>);

fn run(lang: &str, input: &str) -> std::io::Result<Ran> {
    let scenarios = vec![
        scenario("vault-a", "First vault", "一つ目の金庫"),
        scenario("vault-b", "Second vault", "二つ目の金庫"),
    ];
    let mut out = Vec::new();
    let report = presenter::run(
        &scenarios,
        &env(),
        lang,
        false,
        &mut input.as_bytes(),
        &mut out,
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
    assert!(
        out.contains("FIRST VAULT") && out.contains("SECOND VAULT"),
        "{out}"
    );
    assert!(out.contains("needs hardware this host lacks"), "{out}");
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
    assert!(!out.contains("SECOND VAULT"), "{out}");
    assert_eq!(report.expect("first scenario ran").scenarios.len(), 1);
}

#[test]
fn japanese_narration() {
    let (out, report) = run("ja", "\n\n\n\n").expect("writing to a Vec cannot fail");
    for want in [
        "一つ目の金庫",
        "被害者が保持しているもの",
        "対象外",
        "デモは以上です。",
    ] {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    assert_eq!(report.expect("a report").lang, "ja");
}
