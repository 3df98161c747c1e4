//! Which renderer draws a report for stdout or `--output`: the text view for people, or the
//! JSON contract for scripts, for a demo matrix, a scan and an attack alike.

use crate::model::{MatrixReport, ScanReport};
use crate::runner::attack::Attack;

/// A demo's matrix: its text `view` fitted to the terminal, or its JSON (pretty, one final
/// newline).
pub fn matrix(
    report: &MatrixReport,
    json: bool,
    view: super::summary::View,
    color: bool,
) -> Result<String, serde_json::Error> {
    Ok(if json {
        format!("{}\n", serde_json::to_string_pretty(report)?)
    } else {
        super::summary::render(report, view, color, super::term::width())
    })
}

/// A scan's report: the verdict line and its hits, or the `ScanReport` JSON.
pub fn scan(report: &ScanReport, json: bool, color: bool) -> Result<String, serde_json::Error> {
    Ok(if json {
        format!("{}\n", super::json::render_report(report)?)
    } else {
        super::text::render_report(report, color)
    })
}

/// An attack: the presenter's view, or its scan report's JSON.
pub fn attack(a: &Attack, json: bool, color: bool) -> Result<String, serde_json::Error> {
    Ok(if json {
        format!("{}\n", super::json::render_report(&a.report)?)
    } else {
        super::attack::render(a, color)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_is_the_serde_shape_and_ends_its_line() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/readme-demo.json");
        let report: MatrixReport =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let details = crate::render::summary::View::Details;
        let json = matrix(&report, true, details, false).unwrap();
        assert!(json.ends_with("}\n"));
        let back: MatrixReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.cells.len(), report.cells.len());
        assert!(!matrix(&report, false, details, false)
            .unwrap()
            .starts_with('{'));
    }
}
