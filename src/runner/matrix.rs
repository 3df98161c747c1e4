//! The demo matrix: every scenario × every attack path, each cell a real victim attacked for
//! real. (Interface stub: being implemented.)

use std::path::PathBuf;

use crate::model::{Cell, ScenarioInfo};

/// A scenario ready to run (loaded from `demo/scenarios/*.toml`).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What reports show about it.
    pub info: ScenarioInfo,
}

/// What the runner needs from the machine: this executable, to start victims.
#[derive(Debug, Clone)]
pub struct RunEnv {
    /// Path of the confidump executable.
    pub exe: PathBuf,
}

/// Runs one scenario: starts its victim(s), attacks along each path, returns one cell per
/// path. `on_step` is told what is happening (for progress indicators).
pub fn run_scenario(_s: &Scenario, _env: &RunEnv, _on_step: &mut dyn FnMut(&str)) -> Vec<Cell> {
    Vec::new()
}
