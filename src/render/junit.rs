//! JUnit XML: one test case per matrix cell, so CI dashboards show the matrix as tests.
//!
//! `<testcase classname="confidump.demo.SCENARIO" name="ATTACK">`; a mismatch is a
//! `<failure>` (an `error` observation an `<error>`), an n/a cell that was expected to be n/a
//! is `<skipped>` with its reason. Every attribute and text is XML-escaped, and characters XML
//! 1.0 cannot carry (most C0 controls) are replaced, so a reason quoting odd bytes cannot
//! break the file.

use std::fmt::Write;

use crate::model::{Cell, MatrixReport, Outcome};

/// Escapes `s` for XML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn secs(millis: u64) -> String {
    format!("{}.{:03}", millis / 1000, millis % 1000)
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
    d
}

/// The XML document.
pub fn render(report: &MatrixReport) -> String {
    let cells = &report.cells;
    let failures = cells
        .iter()
        .filter(|c| !c.met() && c.observed != Outcome::Error)
        .count();
    let errors = cells
        .iter()
        .filter(|c| !c.met() && c.observed == Outcome::Error)
        .count();
    let skipped = cells
        .iter()
        .filter(|c| c.met() && c.observed == Outcome::NotApplicable)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"confidump demo\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\">",
        cells.len(),
        secs(report.millis)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"confidump.demo\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\" hostname=\"{}\">",
        cells.len(),
        secs(report.millis),
        escape(&report.host.hostname)
    );
    let _ = writeln!(out, "    <properties>");
    for (k, v) in [
        ("kernel", report.host.kernel.as_str()),
        ("core_pattern", report.host.core_pattern.as_str()),
        ("confidump", report.host.confidump.as_str()),
        (
            "memfd_secret",
            if report.host.memfd_secret {
                "yes"
            } else {
                "no"
            },
        ),
        ("gcore", if report.host.gcore { "yes" } else { "no" }),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{k}\" value=\"{}\"/>",
            escape(v)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for c in cells {
        let _ = write!(
            out,
            "    <testcase classname=\"confidump.demo.{}\" name=\"{}\" time=\"{}\"",
            escape(&c.scenario),
            escape(c.attack.as_str()),
            secs(c.millis)
        );
        if !c.met() {
            let tag = if c.observed == Outcome::Error {
                "error"
            } else {
                "failure"
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
            let kind = if c.required { "required" } else { "mismatch" };
            let _ = writeln!(
                out,
                ">\n      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>\n    </testcase>",
                escape(&message),
                escape(&details(c))
            );
        } else if c.observed == Outcome::NotApplicable {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                escape(&c.reason)
            );
        } else {
            let _ = writeln!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                escape(&details(c))
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("x\u{1}y"), "x\u{fffd}y");
    }
}
