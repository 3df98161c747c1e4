//! Which rows a `demo` run covers and what it requires: `--scenario`, `--platform` or
//! `--expect-file`, and `--require`, combined in one place; the required cells marked after the
//! run; and why an ordinary user is refused before anything starts.

use std::collections::BTreeSet;
use std::path::Path;

use super::matrix::Scenario;
use super::platform::{self, PlatformError};
use crate::host::Requirement;
use crate::model::{count_mismatches, MatrixReport};
use crate::scenario::{self, ScenarioError};

/// Where a run's expectations come from: a built-in platform, a file, or neither.
#[derive(Debug, Clone, Copy)]
pub enum PlatformSource<'a> {
    /// `--platform NAME`.
    Builtin(&'a str),
    /// `--expect-file FILE`.
    File(&'a Path),
    /// Neither.
    None,
}

impl<'a> PlatformSource<'a> {
    /// From `--platform` and `--expect-file` (the platform wins; clap forbids both).
    pub fn from_flags(platform: Option<&'a str>, file: Option<&'a Path>) -> Self {
        match (platform, file) {
            (Some(name), _) => PlatformSource::Builtin(name),
            (None, Some(file)) => PlatformSource::File(file),
            (None, None) => PlatformSource::None,
        }
    }
}

/// The rows to run and the capabilities whose rows must run.
#[derive(Debug)]
pub struct Selection {
    /// The selected scenarios, the platform's cell expectations applied.
    pub scenarios: Vec<Scenario>,
    /// `--require` and the platform's required capabilities.
    pub required: BTreeSet<Requirement>,
}

/// Errors of selecting the rows; each says the same as the error it wraps.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A bad platform name or expectation file.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// An unknown `--require` name.
    #[error("{0}")]
    Require(String),
    /// An unknown `--scenario` name.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

/// Selects from `all`: `--scenario` `names` narrow the run; without them a platform's rows are
/// the run (all rows without a platform). The platform adds its required capabilities to
/// `require`'s and its cell expectations to the rows.
pub fn select(
    all: Vec<Scenario>,
    names: &[String],
    source: PlatformSource<'_>,
    require: &[String],
) -> Result<Selection, SelectError> {
    let valid: Vec<String> = all.iter().map(|s| s.info.name.clone()).collect();
    let platform = match source {
        PlatformSource::Builtin(name) => Some(platform::builtin(name, &valid)?),
        PlatformSource::File(file) => Some(platform::load_file(file, &valid)?),
        PlatformSource::None => None,
    };
    let mut required = platform::parse_requirements(require).map_err(SelectError::Require)?;
    let names = match &platform {
        Some(p) if names.is_empty() => p.rows.clone(),
        _ => names.to_vec(),
    };
    let mut scenarios = scenario::select(all, &names)?;
    if let Some(p) = &platform {
        required.extend(p.require.iter().copied());
        scenarios = p.apply(scenarios);
    }
    Ok(Selection {
        scenarios,
        required,
    })
}

/// The built-in rows that cannot run where `env` was probed, each with the reason the demo's
/// `n/a` gives (the runner's own check, over the same host probe).
pub fn unavailable_rows(
    env: &super::matrix::RunEnv,
) -> Result<Vec<(String, String)>, ScenarioError> {
    Ok(super::matrix::for_host(scenario::builtin()?, env)
        .into_iter()
        .filter_map(|s| s.info.unavailable.map(|why| (s.info.name, why)))
        .collect())
}

/// Marks the required cells that could not run (failures) and recounts the mismatches.
pub fn mark_required(
    scenarios: &[Scenario],
    report: &mut MatrixReport,
    required: &BTreeSet<Requirement>,
) {
    platform::mark_required(scenarios, &mut report.cells, required);
    report.mismatches = count_mismatches(&report.cells);
}

/// Why `demo` stops at once for an ordinary user (`euid`), and how to run it again (`args`:
/// the command line after the program's name).
///
/// Is there a row an ordinary user could run honestly? No: every row has root's columns
/// (confidump's dump, gcore, the kernel's core, a live read), whose verdicts mean "root was
/// refused" or "root read it". As another uid, a refusal would be that user's own limit (the
/// uid rule, a non-dumpable victim, yama), not the victim's protection — the demo would teach
/// the wrong lesson — and the same-uid column must start its victim as another user, which
/// only root can. So the answer is the same for every selection.
pub fn needs_root(selected: &[Scenario], euid: u32, args: &[String]) -> String {
    let names: Vec<&str> = selected.iter().map(|s| s.info.name.as_str()).collect();
    let rows = match names.len() {
        0 => "every row".to_string(),
        1 => format!("the row {}", names.join("")),
        n if n <= 6 => format!("all {n} selected rows ({})", names.join(", ")),
        n => format!(
            "all {n} selected rows ({}, and {} more)",
            names[..5].join(", "),
            n - 5
        ),
    };
    let again: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    format!(
        "demo needs root, and this is uid {euid}: {rows} attack their victims as root would \
         (only root's CAP_SYS_PTRACE reads another user's or a non-dumpable process, and only \
         root can start the same-uid column's victim as another user), so as uid {euid} a \
         refused read would show your own limits, not the victim's protection; run it as: \
         sudo confidump {}",
        again.join(" ")
    )
}

/// `arg` as the shell reads it back: bare when plain, else in single quotes.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn all() -> Vec<Scenario> {
        scenario::builtin().unwrap()
    }

    #[test]
    fn names_narrow_the_run_and_a_platform_gives_its_rows() {
        let s = select(all(), &["plain".into()], PlatformSource::None, &[]).unwrap();
        assert_eq!(s.scenarios.len(), 1);
        assert!(s.required.is_empty());
        let every = select(all(), &[], PlatformSource::None, &[]).unwrap();
        assert_eq!(every.scenarios.len(), all().len());
        let valid: Vec<String> = all().into_iter().map(|s| s.info.name).collect();
        let p = platform::builtin("azure-dcsv3", &valid).unwrap();
        let on = select(all(), &[], PlatformSource::Builtin("azure-dcsv3"), &[]).unwrap();
        let mut names: Vec<_> = on.scenarios.iter().map(|s| s.info.name.clone()).collect();
        let mut rows = p.rows.clone();
        names.sort();
        rows.sort();
        assert_eq!(names, rows);
        assert!(p.require.iter().all(|r| on.required.contains(r)));
        let narrowed = select(
            all(),
            &["plain".into()],
            PlatformSource::Builtin("azure-dcsv3"),
            &["sgx".into()],
        )
        .unwrap();
        assert_eq!(narrowed.scenarios.len(), 1);
        assert!(narrowed.required.contains(&Requirement::Sgx));
    }

    #[test]
    fn bad_names_say_what_is_valid() {
        let e = select(all(), &["nope".into()], PlatformSource::None, &[]).unwrap_err();
        assert!(
            e.to_string().starts_with("no scenario named \"nope\""),
            "{e}"
        );
        let e = select(all(), &[], PlatformSource::None, &["sgxx".into()]).unwrap_err();
        assert!(
            e.to_string().contains("unknown requirement \"sgxx\""),
            "{e}"
        );
        assert!(select(all(), &[], PlatformSource::Builtin("mars"), &[]).is_err());
    }

    #[test]
    fn shell_quote_keeps_plain_words_bare() {
        assert_eq!(shell_quote("--scenario"), "--scenario");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn needs_root_names_the_rows_and_the_command_again() {
        let one = select(all(), &["plain".into()], PlatformSource::None, &[]).unwrap();
        let args = vec!["demo".to_string(), "--scenario".into(), "plain".into()];
        let text = needs_root(&one.scenarios, 1000, &args);
        assert!(text.starts_with("demo needs root, and this is uid 1000: the row plain "));
        assert!(
            text.ends_with("sudo confidump demo --scenario plain"),
            "{text}"
        );
        let many = needs_root(&all(), 1000, &[]);
        assert!(many.contains("more)"), "{many}");
        assert!(needs_root(&[], 5, &[]).contains("every row"));
    }
}
