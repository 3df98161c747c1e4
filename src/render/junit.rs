//! JUnit XML: one test case per matrix cell, so CI dashboards show the matrix as tests.
//!
//! `<testcase classname="confidump.demo.SCENARIO" name="ATTACK">`; a mismatch is a
//! `<failure>` (an `error` observation an `<error>`), an n/a cell that was expected to be n/a
//! is `<skipped>` with its reason. The document is written by `quick-junit`, which escapes
//! every attribute and text and drops what XML 1.0 cannot carry (C0 controls, terminal escape
//! sequences), so a reason quoting odd bytes cannot break the file.
//!
//! A required capability that no selected row stands for and that this host lacks (`demo
//! --require sgx --scenario plain`) is a failing case of its own, `confidump.require` /
//! `CAPABILITY`: the run exits 1 for it, and the file must say so too.

use std::fmt::Write;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::host::Requirement;
use crate::model::{Cell, MatrixReport, Outcome};

/// Errors of [`render`].
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    /// The document could not be serialized.
    #[error("cannot write the JUnit XML: {0}")]
    Serialize(#[from] quick_junit::SerializeError),
}

/// `s` without the two noncharacters XML 1.0 forbids and `quick-junit` keeps (U+FFFE, U+FFFF).
fn xml_chars(s: &str) -> String {
    s.replace(['\u{fffe}', '\u{ffff}'], "\u{fffd}")
}

fn details(c: &Cell) -> String {
    let mut d = String::new();
    if c.required {
        let _ = writeln!(
            d,
            "required by this run, but it cannot run here: {}",
            if c.reason.is_empty() {
                "(no reason given)"
            } else {
                &c.reason
            }
        );
    }
    let _ = write!(
        d,
        "expected: {}\nobserved: {}\n",
        c.expected.as_str(),
        c.observed.as_str()
    );
    for (k, v) in [
        ("where", &c.where_),
        ("reason", &c.reason),
        ("command", &c.command),
    ] {
        if !v.is_empty() {
            let _ = writeln!(d, "{k}: {v}");
        }
    }
    xml_chars(&d)
}

/// One cell as a test case.
fn test_case(c: &Cell) -> TestCase {
    let status = if !c.met() {
        let kind = if c.observed == Outcome::Error {
            NonSuccessKind::Error
        } else {
            NonSuccessKind::Failure
        };
        let message = if c.required {
            format!("required: {}", c.reason)
        } else {
            format!(
                "expected {}, observed {}",
                c.expected.as_str(),
                c.observed.as_str()
            )
        };
        let mut s = TestCaseStatus::non_success(kind);
        s.set_message(xml_chars(&message))
            .set_type(if c.required { "required" } else { "mismatch" })
            .set_description(details(c));
        s
    } else if c.observed == Outcome::NotApplicable {
        let mut s = TestCaseStatus::skipped();
        s.set_message(xml_chars(&c.reason));
        s
    } else {
        TestCaseStatus::success()
    };
    let met_and_ran = c.met() && c.observed != Outcome::NotApplicable;
    let mut case = TestCase::new(xml_chars(c.attack.as_str()), status);
    case.set_classname(xml_chars(&format!("confidump.demo.{}", c.scenario)))
        .set_time(Duration::from_millis(c.millis));
    if met_and_ran {
        case.set_system_out(details(c));
    }
    case
}

/// The XML document.
pub fn render(
    report: &MatrixReport,
    missing: &[(Requirement, String)],
) -> Result<String, JunitError> {
    render_with(report, missing, Vec::new())
}

/// [`render`] with more suites after the demo's (`demo --baseline`'s comparison).
pub fn render_with(
    report: &MatrixReport,
    missing: &[(Requirement, String)],
    extra: Vec<TestSuite>,
) -> Result<String, JunitError> {
    let time = Duration::from_millis(report.millis);
    let host = &report.host;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut suite = TestSuite::new("confidump.demo");
    suite.set_time(time);
    suite
        .extra
        .insert("hostname".into(), xml_chars(&host.hostname).into());
    suite.add_properties([
        Property::new("kernel", xml_chars(&host.kernel)),
        Property::new("core_pattern", xml_chars(&host.core_pattern)),
        Property::new("confidump", xml_chars(&host.confidump)),
        Property::new("memfd_secret", yes_no(host.memfd_secret)),
        Property::new("gcore", yes_no(host.gcore)),
    ]);
    suite.add_test_cases(report.cells.iter().map(test_case));
    suite.add_test_cases(missing.iter().map(|(r, why)| missing_case(*r, why)));
    let mut doc = Report::new("confidump demo");
    doc.set_time(time)
        .add_test_suite(suite)
        .add_test_suites(extra);
    let mut xml = doc.to_string()?;
    if !xml.ends_with('\n') {
        xml.push('\n');
    }
    Ok(xml)
}

/// A required capability that no row of the run stands for, missing on this host.
fn missing_case(r: Requirement, why: &str) -> TestCase {
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message(xml_chars(&format!(
        "required capability {} is missing: {why}",
        r.as_str()
    )))
    .set_type("required");
    let mut case = TestCase::new(r.as_str(), s);
    case.set_classname("confidump.require");
    case
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_required_capability_is_a_failure() {
        // A recorded run whose every cell was as expected.
        let report: MatrixReport =
            serde_json::from_str(include_str!("../../tests/golden/readme-demo.json")).unwrap();
        let xml = render(&report, &[(Requirement::Sgx, "needs SGX".into())]).unwrap();
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("classname=\"confidump.require\""), "{xml}");
        assert!(
            xml.contains("required capability sgx is missing: needs SGX"),
            "{xml}"
        );
        let none = render(&report, &[]).unwrap();
        assert!(none.contains("failures=\"0\""), "{none}");
    }

    #[test]
    fn what_xml_cannot_carry_is_dropped_or_replaced() {
        assert_eq!(xml_chars("x\u{fffe}y\u{ffff}"), "x\u{fffd}y\u{fffd}");
        let cell: Cell = serde_json::from_value(serde_json::json!({
            "scenario": "s", "attack": "dump", "expected": "leak", "observed": "unreadable",
            "where": "", "command": "", "millis": 1, "hits": 0, "fragments_only": false,
            "reason": "a<b>&\"' x\u{1}y\u{1b}[31mred\u{fffe}",
        }))
        .unwrap();
        let case = test_case(&cell);
        let mut report = Report::new("r");
        let mut suite = TestSuite::new("s");
        suite.add_test_case(case);
        report.add_test_suite(suite);
        let xml = report.to_string().unwrap();
        assert!(xml.contains("a&lt;b&gt;&amp;"), "{xml}");
        assert!(xml.contains(" xyred\u{fffd}"), "{xml}");
        assert!(!xml.contains('\u{1}') && !xml.contains('\u{1b}'), "{xml}");
    }
}
