//! The demo matrix: every scenario × every attack path, each cell a real victim attacked for
//! real.
//!
//! One victim per scenario ([`super::row`]), started in its context ([`super::contexts`]),
//! attacked along each path ([`super::paths`]) and classified ([`super::classify`]).
//! Scenarios are independent, so [`run_matrix`] runs several at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub use super::contexts::{for_host, unavailable};
pub use super::row::run_scenario;
pub use crate::context::env::{passwd_lookup, RunEnv, User};
use crate::model::Cell;
pub use crate::scenario::Scenario;

/// Runs every scenario, `jobs` at a time (victims are independent; gdb's startup dominates,
/// so overlapping scenarios is what keeps the whole matrix short). Rows come back in the
/// order of `scenarios`.
pub fn run_matrix(
    scenarios: &[Scenario],
    env: &RunEnv,
    jobs: usize,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> Vec<Vec<Cell>> {
    // The slowest rows first (longest-first keeps the last worker from starting a long row
    // when the others are done); rows that cannot run cost nothing. Contexts take turns (the
    // first VM row, the first database row, the second VM row, ...): rows of one context
    // contend for the same thing (the VM rows wait for the first one's saved guest, see
    // `vm::snapshot`), rows of different ones much less.
    let mut turns: Vec<(crate::scenario::Context, usize)> = Vec::new();
    let keys: Vec<(bool, usize, std::cmp::Reverse<u32>)> = scenarios
        .iter()
        .map(|s| {
            if s.info.unavailable.is_some() {
                // Rows that cannot run go last.
                return (true, 0, std::cmp::Reverse(0));
            }
            let turn = match turns.iter_mut().find(|(c, _)| *c == s.spec.context) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    turns.push((s.spec.context, 1));
                    1
                }
            };
            let weight = super::contexts::host_for(s.spec.context).weight();
            (false, turn, std::cmp::Reverse(weight))
        })
        .collect();
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    order.sort_by_key(|&i| keys.get(i).copied());
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<Vec<Cell>>>> = Mutex::new(vec![None; scenarios.len()]);
    let step = Mutex::new(on_step);
    let jobs = jobs.clamp(1, scenarios.len().max(1));
    std::thread::scope(|sc| {
        for _ in 0..jobs {
            sc.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let Some(s) = scenarios.get(i) else { break };
                    let mut tell = |m: &str| {
                        if let Ok(mut f) = step.lock() {
                            f(m);
                        }
                    };
                    let cells = run_scenario(s, env, &mut tell);
                    if let Ok(mut r) = rows.lock() {
                        if let Some(slot) = r.get_mut(i) {
                            *slot = Some(cells);
                        }
                    }
                }
            });
        }
    });
    let rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
    rows.into_iter()
        .zip(scenarios)
        .map(|(r, s)| {
            r.unwrap_or_else(|| super::row::row_error(s, "the scenario's worker thread failed"))
        })
        .collect()
}
