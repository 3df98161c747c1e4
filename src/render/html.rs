//! One self-contained HTML page: the matrix and each row's hex view. (Interface stub.)

use crate::model::MatrixReport;

/// The page, in `report.lang`.
pub fn render(_report: &MatrixReport) -> String {
    String::new()
}
