//! `confidump demo`: runs the matrix and assembles its report.

use std::time::Instant;

use super::matrix::{self, RunEnv, Scenario};
use crate::i18n::Lang;
use crate::model::{HostInfo, MatrixReport};

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
