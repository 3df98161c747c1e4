//! One row of the matrix: a scenario's victim started in its context and attacked along every
//! path, one cell per path. The row never asks which context it has: the running victim says
//! what to attack and which paths apply ([`crate::context`]).

use std::time::Instant;

use super::classify::{needles_for, Observation};
use super::contexts::{host_for, unavailable};
use super::paths;
use crate::context::env::RunEnv;
use crate::context::{Plan, StartError};
use crate::model::{AttackKind, Cell, Outcome};
use crate::scenario::Scenario;

/// Runs one scenario: starts its victim, attacks along each path, returns one cell per path
/// (in [`AttackKind::ALL`] order). `on_step` is told what is happening.
pub fn run_scenario(s: &Scenario, env: &RunEnv, on_step: &mut dyn FnMut(&str)) -> Vec<Cell> {
    let name = &s.info.name;
    // Rows prepared by `for_host` already know; others are checked here.
    if let Some(reason) = s.info.unavailable.clone().or_else(|| unavailable(s, env)) {
        on_step(&format!("{name}: n/a ({reason})"));
        return row_na(s, &reason);
    }
    let mut victim = match host_for(s.spec.context).start(s, env, on_step) {
        Ok(v) => v,
        Err(StartError::Unavailable(reason)) => return row_na(s, &reason),
        Err(StartError::Failed(reason)) => return row_error(s, &reason),
    };
    let needles = {
        let r = victim.ready();
        needles_for(r.secret_sha256, r.secret.as_ref(), s.spec.search)
    };
    // Paths that end the victim go last; cells keep column order.
    let order = AttackKind::ALL
        .into_iter()
        .filter(|a| !paths::ends_victim(*a))
        .chain(
            AttackKind::ALL
                .into_iter()
                .filter(|a| paths::ends_victim(*a)),
        );
    let mut cells: Vec<Cell> = Vec::new();
    for attack in order {
        on_step(&format!("{name}: {attack}"));
        let t = Instant::now();
        let command = paths::command(attack, victim.ready());
        let cell = match victim.plan(attack, env) {
            Plan::Run => {
                let obs = paths::run(
                    attack,
                    victim.as_mut(),
                    &needles,
                    env,
                    s.spec.show.as_deref(),
                );
                cell_of(s, attack, command, millis_since(t), obs, false)
            }
            // A path the host lacks a tool for still shows the command that would run.
            Plan::NotApplicable { reason, host_lacks } => cell_of(
                s,
                attack,
                if host_lacks { command } else { String::new() },
                millis_since(t),
                Observation::na(reason),
                host_lacks,
            ),
        };
        cells.push(cell);
    }
    victim.stop(on_step);
    cells.sort_by_key(|c| c.attack);
    cells
}

/// The cells of a row that cannot run: every one n/a with the same reason.
fn row_na(s: &Scenario, reason: &str) -> Vec<Cell> {
    AttackKind::ALL
        .iter()
        .map(|&a| cell_of(s, a, String::new(), 0, Observation::na(reason), true))
        .collect()
}

/// The cells of a row whose victim failed: every one an error with the same reason.
pub(crate) fn row_error(s: &Scenario, reason: &str) -> Vec<Cell> {
    AttackKind::ALL
        .iter()
        .map(|&a| cell_of(s, a, String::new(), 0, Observation::error(reason), false))
        .collect()
}

/// Builds a cell. `expected` is always the scenario's claim; when `host_lacks` (the attack
/// cannot run here for a missing capability) the cell says so in `runnable` instead.
fn cell_of(
    s: &Scenario,
    attack: AttackKind,
    command: String,
    millis: u64,
    o: Observation,
    host_lacks: bool,
) -> Cell {
    Cell {
        scenario: s.info.name.clone(),
        attack,
        expected: s.spec.expected(attack),
        runnable: !(host_lacks && o.outcome == Outcome::NotApplicable),
        observed: o.outcome,
        where_: o.where_,
        reason: o.reason,
        command,
        millis,
        hits: o.hits,
        fragments_only: o.fragments_only,
        // The count is the findings by kind, summed: one source for both fields.
        detections: o.detected.values().sum(),
        detected: o.detected,
        view: o.view,
        required: false,
    }
}

fn millis_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}
