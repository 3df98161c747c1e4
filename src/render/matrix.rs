//! The terminal matrix: rows = scenarios, columns = attack paths. (Interface stub.)

use crate::model::MatrixReport;

/// The table, a lesson under each row, in `report.lang`.
pub fn render_table(_report: &MatrixReport, _color: bool) -> String {
    String::new()
}
