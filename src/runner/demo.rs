//! `confidump demo`: runs the matrix and assembles its report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::matrix::{self, RunEnv, Scenario};
use super::select::{self, PlatformSource, SelectError, Selection};
use crate::host::Requirement;
use crate::i18n::Lang;
use crate::model::{HostInfo, MatrixReport};
use crate::scenario::{self, ScenarioError};

/// The flags of `confidump demo` that choose what runs, as the library takes them.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions<'a> {
    /// More scenario files (`--scenario-dir`).
    pub scenario_dir: Option<&'a Path>,
    /// Only these rows (`--scenario`; none: every row).
    pub names: &'a [String],
    /// `--platform` or `--expect-file`.
    pub platform: PlatformSource<'a>,
    /// `--require`.
    pub require: &'a [String],
    /// The report's language.
    pub lang: Lang,
}

/// Why a demo could not start; each says the same as the error it wraps.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A scenario file.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// This program (the victims run it) could not be found.
    #[error("finding this program to start the victims")]
    Exe(#[source] std::io::Error),
    /// The rows, platform or requirements asked for.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// Not root: what no row can mean as an ordinary user (see [`select::needs_root`]).
    #[error("{0}")]
    NeedsRoot(String),
}

/// A demo ready to run: its rows as this host runs them, their environment, and the
/// capabilities whose rows must run.
#[derive(Debug)]
pub struct Planned {
    /// The rows, `n/a` reasons set for this host.
    pub scenarios: Vec<Scenario>,
    /// What the runner knows of this host.
    pub env: RunEnv,
    /// Capabilities whose rows must run.
    pub required: BTreeSet<Requirement>,
}

fn load(opts: &DemoOptions<'_>) -> Result<(Vec<Scenario>, PathBuf), DemoError> {
    let all = scenario::load_all(opts.scenario_dir)?;
    let exe = std::env::current_exe().map_err(DemoError::Exe)?;
    Ok((all, exe))
}

/// `demo --list`: every scenario, as this host would run it.
pub fn listed(opts: &DemoOptions<'_>) -> Result<Vec<Scenario>, DemoError> {
    let (all, exe) = load(opts)?;
    Ok(matrix::for_host(
        all,
        &RunEnv::probe(exe).in_lang(opts.lang),
    ))
}

/// The rows `opts` selects, and this program's path; refused, before anything starts, when
/// not run as root (`again`: the command's arguments, to say what to type instead).
pub fn select_rows(
    opts: &DemoOptions<'_>,
    again: &[String],
) -> Result<(Selection, PathBuf), DemoError> {
    let (all, exe) = load(opts)?;
    let sel = select::select(all, opts.names, opts.platform, opts.require)?;
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        let why = select::needs_root(&sel.scenarios, euid.as_raw(), again);
        return Err(DemoError::NeedsRoot(why));
    }
    Ok((sel, exe))
}

/// Probes this host for the selected rows; `prepare` runs first when a row needs the static
/// confidump (see [`needs_static_binary`]).
pub fn plan(sel: Selection, exe: PathBuf, lang: Lang, prepare: impl FnOnce()) -> Planned {
    let env = RunEnv::probe(exe).in_lang(lang);
    let scenarios = matrix::for_host(sel.scenarios, &env);
    if needs_static_binary(&scenarios) {
        prepare();
    }
    Planned {
        scenarios,
        env,
        required: sel.required,
    }
}

/// Marks the required cells of `report` that could not run, and returns the required
/// capabilities no selected row stands for that this host lacks, each with why.
pub fn judge(planned: &Planned, report: &mut MatrixReport) -> Vec<(Requirement, String)> {
    select::mark_required(&planned.scenarios, report, &planned.required);
    super::platform::unrowed_missing(&planned.scenarios, &planned.required, &planned.env.host)
}

/// The report as JSON on stdout shows it: a copy without the secrets' bytes when `redact`.
pub fn for_log(report: &MatrixReport, redact: bool) -> std::borrow::Cow<'_, MatrixReport> {
    if redact {
        let mut copy = report.clone();
        crate::redact::Redact::redact(&mut copy);
        std::borrow::Cow::Owned(copy)
    } else {
        std::borrow::Cow::Borrowed(report)
    }
}

/// Facts about this host for the report.
pub fn host_info(env: &RunEnv) -> HostInfo {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    HostInfo {
        kernel: read("/proc/sys/kernel/osrelease"),
        hostname: read("/proc/sys/kernel/hostname"),
        uid: {
            use std::os::unix::fs::MetadataExt;
            // /proc/self belongs to the effective uid of the process looking at it.
            std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
        },
        memfd_secret: env.memfd_secret.is_ok(),
        gcore: env.gcore.is_some(),
        core_pattern: env.core_pattern.clone(),
        confidump: env!("CARGO_PKG_VERSION").to_string(),
        firmware: super::bundle::firmware_summary(),
        qemu: super::bundle::qemu_summary(&env.host),
    }
}

/// Runs `scenarios` (concurrently, `jobs` at a time) and assembles the report. Rows that cannot
/// run here say why through `info.unavailable`, as [`matrix::for_host`] sets it.
pub fn run_demo(
    scenarios: &[Scenario],
    env: &RunEnv,
    lang: Lang,
    jobs: usize,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> MatrixReport {
    let started = Instant::now();
    let rows = matrix::run_matrix(scenarios, env, jobs, on_step);
    MatrixReport::new(
        host_info(env),
        lang,
        scenarios.iter().map(|s| s.info.clone()).collect(),
        rows.into_iter().flatten().collect(),
        millis_since(started),
    )
}

/// Whether any of `scenarios` runs the static confidump (a VM guest's `/init`, an OCI bundle),
/// which must then be found (or built) before any victim starts.
pub fn needs_static_binary(scenarios: &[Scenario]) -> bool {
    use crate::scenario::Context;
    scenarios
        .iter()
        .any(|s| matches!(s.spec.context, Context::Vm | Context::Container))
}

/// Runs scenario `i` of `scenarios` alone (the presenter's engine), its cells redacted when
/// `redact`; no cells past the end.
pub fn run_one(
    scenarios: &[Scenario],
    env: &RunEnv,
    i: usize,
    redact: bool,
    step: &mut dyn FnMut(&str),
) -> Vec<crate::model::Cell> {
    let Some(s) = scenarios.get(i) else {
        return Vec::new();
    };
    let mut cells = matrix::run_scenario(s, env, step);
    if redact {
        cells.iter_mut().for_each(crate::redact::Redact::redact);
    }
    cells
}

/// Milliseconds since `t`, for reports.
pub fn millis_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The most a saved result file may hold: a demo result with every view is a few MiB, a
/// captured log around it a little more. A larger file is refused before it is read.
pub const RESULT_LIMIT: u64 = 32 << 20;

/// Errors of reading a saved result (`demo --from`).
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// Not a regular file, too large, or unreadable.
    #[error(transparent)]
    Input(#[from] crate::files::input::InputError),
    /// Not the JSON of a `MatrixReport`.
    #[error("{}: not a demo result (`demo --format json`): {error}", path.display())]
    NotAResult {
        /// The file.
        path: std::path::PathBuf,
        /// What serde said.
        error: serde_json::Error,
    },
}

/// A result saved with `demo --format json --output FILE`, read bounded (regular files only: a
/// FIFO or /dev/zero is refused, not waited on), its mismatches counted again from its cells
/// (a file's own count is not trusted).
pub fn load_result(path: &std::path::Path) -> Result<MatrixReport, ResultError> {
    let text = crate::files::input::read_user_text(path, RESULT_LIMIT, "a demo result file")?;
    let mut report: MatrixReport =
        serde_json::from_str(&text).map_err(|error| ResultError::NotAResult {
            path: path.to_path_buf(),
            error,
        })?;
    report.mismatches = crate::model::count_mismatches(&report.cells);
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_vm_and_container_rows_need_the_static_binary() {
        let all = crate::scenario::builtin().unwrap();
        let plain: Vec<_> = all
            .iter()
            .filter(|s| s.info.name == "plain")
            .cloned()
            .collect();
        assert!(!needs_static_binary(&plain));
        assert!(needs_static_binary(&all));
    }

    #[test]
    fn json_for_a_log_is_a_redacted_copy_only_when_asked() {
        let golden =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/readme-demo.json");
        let report = load_result(&golden).unwrap();
        assert!(matches!(
            for_log(&report, false),
            std::borrow::Cow::Borrowed(_)
        ));
        let shown = for_log(&report, true);
        assert!(matches!(shown, std::borrow::Cow::Owned(_)));
        assert_eq!(shown.cells.len(), report.cells.len());
    }

    #[test]
    fn a_bad_row_name_is_refused_before_anything_is_probed() {
        let names = ["nope".to_string()];
        let opts = DemoOptions {
            scenario_dir: None,
            names: &names,
            platform: PlatformSource::None,
            require: &[],
            lang: Lang::En,
        };
        let e = select_rows(&opts, &[]).unwrap_err();
        assert!(matches!(e, DemoError::Select(_)), "{e}");
        assert!(
            e.to_string().starts_with("no scenario named \"nope\""),
            "{e}"
        );
    }

    #[test]
    fn a_saved_result_is_recounted_and_a_bad_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{}").unwrap();
        let e = load_result(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json: not a demo result"), "{e}");
        let golden =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/readme-demo.json");
        let report = load_result(&golden).unwrap();
        assert_eq!(
            report.mismatches,
            crate::model::count_mismatches(&report.cells)
        );
    }
}
