//! Expectation files per platform: `demo/expect/*.toml`, built in (`demo --platform NAME`),
//! or any file (`demo --expect-file FILE`).
//!
//! A platform names the capabilities a node of that kind must have (`require`), the rows to
//! run there (`rows`), and the cells whose expectation differs on that platform (`[[cell]]`).
//! A required row that cannot run is a failure, not an `n/a` that passes: a node that lost its
//! SGX driver or its SNP firmware must fail its regression run.
//!
//! ```toml
//! name = "azure-dcsv3"
//! description.en = "an SGX VM: the enclave rows must run and hold"
//! description.ja = "SGX の VM（エンクレーブの行が実行でき、守られること）"   # optional
//! require = ["sgx"]
//! rows = ["plain", "sgx"]
//! [[cell]]                 # optional, repeatable
//! scenario = "sgx"
//! attack = "dump"
//! expect = "unreadable"
//! ```
//!
//! Errors name `FILE:LINE:COL`, as scenario files do ([`crate::files::toml_at`]).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::files::toml_at::{self, TomlError};
use crate::host::{HostFacts, Requirement};
use crate::i18n::Lang;
use crate::model::{AttackKind, Cell, CvmProfile, Outcome, Texts};
use crate::scenario::{Scenario, Spec};

/// The built-in platforms: (name, file text).
const BUILTIN: &[(&str, &str)] = &[
    ("linux", include_str!("../../demo/expect/linux.toml")),
    (
        "azure-dcsv3",
        include_str!("../../demo/expect/azure-dcsv3.toml"),
    ),
    (
        "azure-cvm",
        include_str!("../../demo/expect/azure-cvm.toml"),
    ),
    ("snp-host", include_str!("../../demo/expect/snp-host.toml")),
    ("tdx-host", include_str!("../../demo/expect/tdx-host.toml")),
];

/// Expectation files are small; a larger one is a mistake.
const FILE_LIMIT: u64 = 1 << 20;

/// One cell whose expectation differs on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellExpect {
    /// The row.
    pub scenario: String,
    /// The column.
    pub attack: AttackKind,
    /// What this platform expects there.
    pub expect: Outcome,
}

/// A parsed expectation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Its name (`linux`, `azure-dcsv3`, ...).
    pub name: String,
    /// One line on what it is, in the languages the file gives.
    pub description: Texts,
    /// Capabilities a node of this kind must have.
    pub require: Vec<Requirement>,
    /// The rows to run, in order (empty: every row).
    pub rows: Vec<String>,
    /// Cells whose expectation differs here.
    pub cells: Vec<CellExpect>,
}

/// Errors of expectation files.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Not valid for the schema: `FILE:LINE:COL: message`, made as a scenario file's are.
    #[error(transparent)]
    Invalid(#[from] TomlError),
    /// `--platform NAME` names no built-in platform.
    #[error("no platform named {name:?}; valid names: {valid}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The valid names.
        valid: String,
    },
    /// The file could not be read.
    #[error("reading an expectation file: {0}")]
    Io(#[from] crate::files::input::InputError),
    /// The built-in scenarios, whose rows a built-in platform names, could not be loaded.
    #[error(transparent)]
    Scenarios(#[from] crate::scenario::ScenarioError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCell {
    scenario: toml::Spanned<String>,
    attack: AttackKind,
    expect: toml::Spanned<Outcome>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    name: String,
    #[serde(default)]
    description: RawDescription,
    #[serde(default)]
    require: Vec<Requirement>,
    #[serde(default)]
    rows: Vec<toml::Spanned<String>>,
    #[serde(default)]
    cell: Vec<RawCell>,
}

/// `description = "…"` (English only, as files written before it had a Japanese side say it)
/// or `description.en` and `description.ja`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDescription {
    English(String),
    Both(Texts),
}

impl Default for RawDescription {
    fn default() -> Self {
        RawDescription::English(String::new())
    }
}

impl From<RawDescription> for Texts {
    fn from(d: RawDescription) -> Self {
        match d {
            RawDescription::English(en) => Texts::new(en, ""),
            RawDescription::Both(t) => t,
        }
    }
}

fn invalid(
    file: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    msg: &str,
) -> PlatformError {
    PlatformError::Invalid(TomlError::at(file, text, span, msg))
}

/// Parses an expectation file's text; `file` names it in errors, `valid_rows` are the
/// scenario names a row or cell may name.
pub fn parse(file: &str, text: &str, valid_rows: &[String]) -> Result<Platform, PlatformError> {
    let raw: RawPlatform = toml_at::parse(file, text)?;
    let check_row = |name: &toml::Spanned<String>| {
        if valid_rows.iter().any(|v| v == name.get_ref()) {
            Ok(name.get_ref().clone())
        } else {
            Err(invalid(
                file,
                text,
                Some(name.span()),
                &format!(
                    "no row named {:?}; valid rows: {}",
                    name.get_ref(),
                    valid_rows.join(", ")
                ),
            ))
        }
    };
    let rows = raw
        .rows
        .iter()
        .map(check_row)
        .collect::<Result<Vec<_>, _>>()?;
    let mut cells: Vec<CellExpect> = Vec::new();
    for (i, c) in raw.cell.iter().enumerate() {
        let scenario = check_row(&c.scenario)?;
        // A second [[cell]] for the same cell would silently replace the first: refused, with
        // where the first one is.
        let first = raw
            .cell
            .iter()
            .take(i)
            .find(|o| o.scenario.get_ref() == c.scenario.get_ref() && o.attack == c.attack);
        if let Some(first) = first {
            let (line, column) = toml_at::line_col(text, first.scenario.span().start);
            return Err(invalid(
                file,
                text,
                Some(c.scenario.span()),
                &format!(
                    "the cell {}/{} is already given at {line}:{column} (expect = {:?}): \
                     give each cell once",
                    c.scenario.get_ref(),
                    c.attack.as_str(),
                    first.expect.get_ref().as_str()
                ),
            ));
        }
        if *c.expect.get_ref() == Outcome::Error {
            return Err(invalid(
                file,
                text,
                Some(c.expect.span()),
                "expect takes leak, unreadable, absent, not-found or n/a",
            ));
        }
        cells.push(CellExpect {
            scenario,
            attack: c.attack,
            expect: *c.expect.get_ref(),
        });
    }
    let mut require = raw.require;
    require.sort();
    require.dedup();
    Ok(Platform {
        name: raw.name,
        description: raw.description.into(),
        require,
        rows,
        cells,
    })
}

/// The built-in platform names, comma-separated.
pub fn names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The built-in platform `name`.
pub fn builtin(name: &str, valid_rows: &[String]) -> Result<Platform, PlatformError> {
    let (file, text) =
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| PlatformError::Unknown {
                name: name.to_string(),
                valid: names(),
            })?;
    parse(&format!("demo/expect/{file}.toml"), text, valid_rows)
}

/// An expectation file named by the user.
pub fn load_file(path: &Path, valid_rows: &[String]) -> Result<Platform, PlatformError> {
    let text = crate::files::input::read_user_text(path, FILE_LIMIT, "an expectation file")?;
    parse(&path.display().to_string(), &text, valid_rows)
}

impl Platform {
    /// The platform's cell expectations applied to `scenarios`.
    pub fn apply(&self, mut scenarios: Vec<Scenario>) -> Vec<Scenario> {
        for c in &self.cells {
            for s in scenarios.iter_mut().filter(|s| s.info.name == c.scenario) {
                s.spec.expect.insert(c.attack, c.expect);
            }
        }
        scenarios
    }
}

/// What a row needs from the host: its `requires`, and what its context implies (a `cvm`
/// row needs that CVM's host).
pub fn row_requirements(spec: &Spec) -> BTreeSet<Requirement> {
    let mut all: BTreeSet<Requirement> = spec.requires.iter().copied().collect();
    match spec.cvm {
        Some(CvmProfile::SevSnp) => {
            all.insert(Requirement::SevSnpHost);
        }
        Some(CvmProfile::Tdx) => {
            all.insert(Requirement::TdxHost);
        }
        None => {}
    }
    all
}

/// Whether the run requires `s`'s row.
pub fn row_required(s: &Scenario, required: &BTreeSet<Requirement>) -> bool {
    row_requirements(&s.spec)
        .iter()
        .any(|r| required.contains(r))
}

/// Marks the cells of required rows that could not run (not runnable where the scenario
/// expects a result): each becomes a failure that keeps its reason. Returns how many were marked.
pub fn mark_required(
    scenarios: &[Scenario],
    cells: &mut [Cell],
    required: &BTreeSet<Requirement>,
) -> usize {
    let mut marked = 0;
    for c in cells.iter_mut() {
        let Some(s) = scenarios.iter().find(|s| s.info.name == c.scenario) else {
            continue;
        };
        if row_required(s, required) && !c.runnable && c.expected != Outcome::NotApplicable {
            c.required = true;
            marked += 1;
        }
    }
    marked
}

/// Required capabilities that no row of `scenarios` stands for, each with why this host lacks
/// it (checked directly: there is no row to turn `n/a`).
pub fn unrowed_missing(
    scenarios: &[Scenario],
    required: &BTreeSet<Requirement>,
    f: &HostFacts,
) -> Vec<(Requirement, String)> {
    required
        .iter()
        .filter(|r| {
            !scenarios
                .iter()
                .any(|s| row_requirements(&s.spec).contains(r))
        })
        .filter_map(|r| super::contexts::requirement_missing(*r, f).map(|why| (*r, why.en)))
        .collect()
}

/// What a platform requires of this host (`doctor --platform`).
#[derive(Debug)]
pub struct HostCheck {
    /// The platform.
    pub platform: Platform,
    /// Each required capability (doctor's name) and, when this host lacks it, why.
    pub checks: Vec<(&'static str, Option<String>)>,
    /// How many are lacking.
    pub lacking: usize,
}

/// `doctor --platform NAME`: the built-in platform `name`, checked against this host's facts
/// `f`, the reasons in `lang`.
pub fn check_builtin(name: &str, f: &HostFacts, lang: Lang) -> Result<HostCheck, PlatformError> {
    let rows: Vec<String> = crate::scenario::builtin()?
        .into_iter()
        .map(|s| s.info.name)
        .collect();
    Ok(check_host(builtin(name, &rows)?, f, lang))
}

/// Checks `platform` against this host's facts `f`, the reasons in `lang`.
pub fn check_host(platform: Platform, f: &HostFacts, lang: Lang) -> HostCheck {
    let checks: Vec<(&'static str, Option<String>)> = platform
        .require
        .iter()
        .map(|r| {
            let why = super::contexts::requirement_missing(*r, f).map(|t| t.get(lang).to_string());
            (r.as_str(), why)
        })
        .collect();
    let lacking = checks.iter().filter(|(_, m)| m.is_some()).count();
    HostCheck {
        platform,
        checks,
        lacking,
    }
}

/// Parses `--require a,b` names (as doctor spells them).
pub fn parse_requirements(names: &[String]) -> Result<BTreeSet<Requirement>, String> {
    names
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            Requirement::from_name(n).ok_or_else(|| {
                format!(
                    "unknown requirement {n:?}; valid names: {}",
                    Requirement::names()
                )
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn rows() -> Vec<String> {
        crate::scenario::builtin()
            .unwrap()
            .into_iter()
            .map(|s| s.info.name)
            .collect()
    }

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let p = builtin(name, &rows()).unwrap();
            assert_eq!(&p.name, name);
        }
    }

    /// A description in both languages, or in English alone as older files say it; every
    /// built-in platform has its Japanese.
    #[test]
    fn description_in_one_or_both_languages() {
        let one = parse(
            "f.toml",
            "name = \"x\"\ndescription = \"a host\"\n",
            &rows(),
        )
        .unwrap();
        assert_eq!(one.description.get(Lang::Ja), "a host");
        let both = "name = \"x\"\ndescription.en = \"a host\"\ndescription.ja = \"ホスト\"\n";
        let both = parse("f.toml", both, &rows()).unwrap();
        assert_eq!(both.description.get(Lang::En), "a host");
        assert_eq!(both.description.get(Lang::Ja), "ホスト");
        for (name, _) in BUILTIN {
            let p = builtin(name, &rows()).unwrap();
            assert!(!p.description.ja.is_empty(), "{name} has no description.ja");
        }
    }

    #[test]
    fn unknown_row_names_the_valid_ones() {
        let text = "name = \"x\"\nrows = [\"plain\", \"nope\"]\n";
        let e = parse("f.toml", text, &rows()).unwrap_err().to_string();
        assert!(e.starts_with("f.toml:2:18: no row named \"nope\""), "{e}");
        assert!(e.contains("plain, dontdump"), "{e}");
    }

    #[test]
    fn a_cell_given_twice_is_refused_where_it_is_repeated() {
        let text = "name = \"x\"\n\
                    [[cell]]\nscenario = \"plain\"\nattack = \"dump\"\nexpect = \"leak\"\n\
                    [[cell]]\nscenario = \"plain\"\nattack = \"gcore\"\nexpect = \"leak\"\n\
                    [[cell]]\nscenario = \"plain\"\nattack = \"dump\"\nexpect = \"absent\"\n";
        let e = parse("f.toml", text, &rows()).unwrap_err().to_string();
        assert!(
            e.starts_with("f.toml:11:12: the cell plain/dump is already given at 3:12"),
            "{e}"
        );
    }

    #[test]
    fn a_host_check_counts_what_is_lacking() {
        let p = builtin("azure-dcsv3", &rows()).unwrap();
        let c = check_host(p, &HostFacts::shared(), Lang::En);
        assert_eq!(c.checks.len(), c.platform.require.len());
        assert_eq!(
            c.lacking,
            c.checks.iter().filter(|(_, m)| m.is_some()).count()
        );
        let named = check_builtin("azure-dcsv3", &HostFacts::shared(), Lang::En).unwrap();
        assert_eq!(named.checks, c.checks);
        let e = check_builtin("nosuch", &HostFacts::shared(), Lang::En).unwrap_err();
        assert!(matches!(e, PlatformError::Unknown { .. }), "{e}");
    }

    #[test]
    fn requirements_parse_by_doctor_names() {
        let r = parse_requirements(&["sgx,sev-snp-host".into()]).unwrap();
        assert!(r.contains(&Requirement::Sgx) && r.contains(&Requirement::SevSnpHost));
        assert!(parse_requirements(&["sgxx".into()]).is_err());
    }
}
