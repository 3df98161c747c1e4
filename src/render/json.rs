//! The JSON report: exactly the serde shape of [`ScanReport`], the contract scripts parse.

use crate::model::ScanReport;

/// Pretty-printed JSON of the report.
pub fn render_report(report: &ScanReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
