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

/// Milliseconds since `t`, for reports.
pub fn millis_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
