//! Presenter mode: one scenario at a time, Enter to continue. (Interface stub.)

use std::io::{BufRead, Write};

use super::matrix::{RunEnv, Scenario};
use crate::model::MatrixReport;

/// Runs `scenarios` one at a time, narrating in `lang`, waiting for Enter on `input` between
/// steps; returns the report of everything that ran.
pub fn run(
    _scenarios: &[Scenario],
    _env: &RunEnv,
    _lang: &str,
    _color: bool,
    _input: &mut dyn BufRead,
    _out: &mut dyn Write,
) -> std::io::Result<Option<MatrixReport>> {
    Ok(None)
}
