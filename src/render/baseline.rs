//! What changed since last time: two demo results of one machine (`report --baseline OLD NEW`,
//! `demo --baseline OLD`) compared cell by cell, each differing cell marked a regression, an
//! improvement or another change, with the host facts that changed beside them.
//!
//! The rules, on the strength of what a cell shows (weakest first: `leak`, `absent` — the
//! tool left the region out, which proves nothing —, `not-found`, `unreadable` — a real
//! refusal, `????`):
//! * **regression**: a path that was refused, absent or not found now leaks; `????` became
//!   `absent`; any other step down that scale (`unreadable` to `not-found`, `not-found` to
//!   `absent`); a cell the run requires became `n/a`; an attack that ran now ends in `error`;
//!   a path that could not run before runs now and misses its expectation.
//! * **improvement**: a step up that scale; an `error` that is gone; a path that could not run
//!   before runs now and meets its expectation.
//! * **changed**: a cell that is not required no longer runs here (`n/a`: the host lost a
//!   tool, which is not a protection), and a cell only one of the two results has.
//!
//! Input is read as [`super::fleet`] reads a node's result (from a log, duplicates refused,
//! nothing in the file trusted); every string from a file is drawn through
//! [`super::sanitize`]. Pure functions: the caller reads files and chooses the exit code.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::fleet::{NodeCell, NodeResult};
use super::sanitize::visible_string;
use super::style::{paint, BOLD, GREEN_BOLD, RED_BOLD};
use crate::model::Outcome;

/// How a differing cell changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Weaker protection or evidence than before, or a required cell lost (see module docs).
    Regression,
    /// Stronger than before.
    Improvement,
    /// Neither: the cell stopped running without being required, or is in one result only.
    Changed,
}

impl Change {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Regression => "regression",
            Change::Improvement => "improvement",
            Change::Changed => "changed",
        }
    }
}

/// One cell whose result differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellChange {
    /// Scenario.
    pub scenario: String,
    /// Attack path.
    pub attack: String,
    /// Observed in the old result (`None`: not in it).
    pub old: Option<Outcome>,
    /// Observed in the new result (`None`: not in it).
    pub new: Option<Outcome>,
    /// Its mark.
    pub change: Change,
    /// Which rule marked it, in words.
    pub why: String,
    /// The new result's reason for the cell (refusal, n/a, error), as the file says it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// One host fact that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactChange {
    /// Its name in the result (`kernel`, `firmware`, `qemu`, …).
    pub fact: String,
    /// Old value (empty: not in the old result).
    pub old: String,
    /// New value.
    pub new: String,
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Baseline {
    /// What the old result is called (its file).
    pub old: String,
    /// What the new result is called.
    pub new: String,
    /// Host facts that changed, by name.
    pub host: Vec<FactChange>,
    /// Cells that changed, in the new result's order (then the old-only ones).
    pub cells: Vec<CellChange>,
    /// Regressions among `cells`.
    pub regressions: usize,
    /// Improvements among `cells`.
    pub improvements: usize,
}

/// Where an outcome stands on the scale of the module docs; `None` off it (`n/a`, `error`).
fn strength(o: Outcome) -> Option<u8> {
    match o {
        Outcome::Leak => Some(0),
        Outcome::Absent => Some(1),
        Outcome::NotFound => Some(2),
        Outcome::Unreadable => Some(3),
        Outcome::NotApplicable | Outcome::Error => None,
    }
}

/// Whether a cell did not run (the path cannot run on that host).
fn not_run(c: &NodeCell) -> bool {
    c.observed == Outcome::NotApplicable
}

fn met(c: &NodeCell) -> bool {
    crate::model::met(c.expected, c.observed, c.runnable, c.required)
}

/// How `old` became `new`, by the module's rules; `None` when the observation is the same.
pub fn classify(old: &NodeCell, new: &NodeCell) -> Option<(Change, String)> {
    use Change::{Changed, Improvement, Regression};
    let (o, n) = (old.observed, new.observed);
    if o == n {
        return None;
    }
    let mark = match (strength(o), strength(n)) {
        _ if n == Outcome::Error => (Regression, "the attack now ends in an error".into()),
        _ if o == Outcome::Error => (Improvement, "the attack no longer ends in an error".into()),
        _ if not_run(new) && (new.required || old.required) => {
            (Regression, "a required cell became n/a".into())
        }
        _ if not_run(new) => (Changed, "no longer runs here (not required)".into()),
        _ if not_run(old) && met(new) => (Improvement, "now runs, as expected".into()),
        _ if not_run(old) => (Regression, "now runs, and misses its expectation".into()),
        (Some(a), Some(b)) if b < a => {
            let why = match (o, n) {
                (_, Outcome::Leak) => format!("now leaks (was {})", said(o)),
                (Outcome::Unreadable, Outcome::Absent) => {
                    "???? became absent: a refusal is now unproven".into()
                }
                _ => format!("weaker than before ({} → {})", said(o), said(n)),
            };
            (Regression, why)
        }
        (Some(_), Some(_)) => (
            Improvement,
            format!("stronger than before ({} → {})", said(o), said(n)),
        ),
        // Every outcome off the scale is handled above.
        _ => (Changed, "changed".into()),
    };
    Some(mark)
}

/// An outcome in words, with `????` for a refusal.
fn said(o: Outcome) -> &'static str {
    match o {
        Outcome::Unreadable => "refused: ????",
        Outcome::Absent => "absent",
        Outcome::NotFound => "not found",
        other => other.as_str(),
    }
}

/// A host fact as text: a string as it is, anything else as JSON.
fn fact_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares `new` with `old` (see the module docs); `old_name` and `new_name` label them.
pub fn compare(old_name: &str, old: &NodeResult, new_name: &str, new: &NodeResult) -> Baseline {
    let facts = |r: &NodeResult| {
        let mut m: BTreeMap<String, String> = r
            .host
            .facts
            .iter()
            .map(|(k, v)| (k.clone(), fact_text(v)))
            .collect();
        m.insert("kernel".into(), r.host.kernel.clone());
        m.insert("hostname".into(), r.host.hostname.clone());
        m.insert("confidump".into(), r.host.confidump.clone());
        m
    };
    let (fo, fnew) = (facts(old), facts(new));
    let mut host = Vec::new();
    // The ones the issue names first, then the rest by name.
    let first = ["kernel", "firmware", "qemu"];
    let mut names: Vec<&String> = fo.keys().chain(fnew.keys()).collect();
    names.sort_by_key(|k| (first.iter().position(|f| f == k).unwrap_or(first.len()), *k));
    names.dedup();
    for name in names {
        let (a, b) = (fo.get(name), fnew.get(name));
        if a != b {
            host.push(FactChange {
                fact: name.clone(),
                old: a.cloned().unwrap_or_default(),
                new: b.cloned().unwrap_or_default(),
            });
        }
    }

    let key = |c: &NodeCell| (c.scenario.clone(), c.attack.clone());
    let old_cells: BTreeMap<(String, String), &NodeCell> =
        old.cells.iter().map(|c| (key(c), c)).collect();
    let new_keys: std::collections::BTreeSet<(String, String)> =
        new.cells.iter().map(key).collect();
    let mut cells = Vec::new();
    for n in &new.cells {
        let change = match old_cells.get(&key(n)) {
            Some(o) => classify(o, n).map(|(change, why)| (Some(o.observed), change, why)),
            None => Some((None, Change::Changed, "not in the old result".into())),
        };
        if let Some((old_obs, change, why)) = change {
            cells.push(CellChange {
                scenario: n.scenario.clone(),
                attack: n.attack.clone(),
                old: old_obs,
                new: Some(n.observed),
                change,
                why,
                reason: n.reason.clone(),
            });
        }
    }
    for o in old.cells.iter().filter(|c| !new_keys.contains(&key(c))) {
        cells.push(CellChange {
            scenario: o.scenario.clone(),
            attack: o.attack.clone(),
            old: Some(o.observed),
            new: None,
            change: Change::Changed,
            why: "not in the new result".into(),
            reason: String::new(),
        });
    }
    let count = |k: Change| cells.iter().filter(|c| c.change == k).count();
    Baseline {
        old: old_name.to_string(),
        new: new_name.to_string(),
        host,
        regressions: count(Change::Regression),
        improvements: count(Change::Improvement),
        cells,
    }
}

fn outcome_text(o: Option<Outcome>) -> &'static str {
    o.map_or("-", |o| o.as_str())
}

/// The comparison as text: the host facts that changed, then one line per changed cell, then
/// the counts. Strings from the files are drawn through [`visible_string`].
pub fn render_text(b: &Baseline, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint(
            &format!(
                "What changed from {} to {}",
                visible_string(&b.old),
                visible_string(&b.new)
            ),
            BOLD,
            color
        )
    );
    out.push_str("\nHost facts that changed:\n");
    if b.host.is_empty() {
        out.push_str("  (none)\n");
    }
    let wf = b.host.iter().map(|h| h.fact.len()).max().unwrap_or(0);
    for h in &b.host {
        let shown = |s: &str| {
            if s.is_empty() {
                "(not given)".to_string()
            } else {
                visible_string(s)
            }
        };
        let _ = writeln!(
            out,
            "  {:wf$}  {} → {}",
            visible_string(&h.fact),
            shown(&h.old),
            shown(&h.new)
        );
    }
    out.push_str("\nCells that changed:\n");
    if b.cells.is_empty() {
        out.push_str("  (none)\n");
    }
    let rows: Vec<[String; 4]> = b
        .cells
        .iter()
        .map(|c| {
            [
                c.change.as_str().to_uppercase(),
                visible_string(&c.scenario),
                visible_string(&c.attack),
                format!("{} → {}", outcome_text(c.old), outcome_text(c.new)),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |s| s.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    for (r, c) in rows.iter().zip(&b.cells) {
        let [mark, scenario, attack, arrow] = r;
        let code = match c.change {
            Change::Regression => RED_BOLD,
            Change::Improvement => GREEN_BOLD,
            Change::Changed => BOLD,
        };
        let mut line = format!(
            "  {}  {scenario:w1$}  {attack:w2$}  {arrow:w3$}  {}",
            paint(&format!("{mark:w0$}"), code, color),
            c.why
        );
        if !c.reason.is_empty() && c.change == Change::Regression {
            let _ = write!(line, " ({})", visible_string(&c.reason));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let others = b.cells.len() - b.regressions - b.improvements;
    let _ = writeln!(
        out,
        "\n{} regression(s), {} improvement(s), {} other change(s)",
        b.regressions, b.improvements, others
    );
    out
}

/// Errors of [`junit`].
#[derive(Debug, thiserror::Error)]
#[error("cannot write the JUnit XML: {0}")]
pub struct JunitError(#[from] quick_junit::SerializeError);

/// The comparison as a JUnit suite `confidump.baseline`: one case per changed cell (classname
/// `confidump.baseline.SCENARIO`, name the attack path), a regression a `<failure>`; the host
/// facts that changed are its properties.
pub fn suite(b: &Baseline) -> TestSuite {
    let clean = |s: &str| s.replace(['\u{fffe}', '\u{ffff}'], "\u{fffd}");
    let mut suite = TestSuite::new("confidump.baseline");
    suite.add_properties(b.host.iter().map(|h| {
        Property::new(
            clean(&format!("host.{}", h.fact)),
            clean(&format!("{} → {}", h.old, h.new)),
        )
    }));
    suite.add_test_cases(b.cells.iter().map(|c| {
        let text = format!(
            "{}/{}: {} → {}: {}",
            c.scenario,
            c.attack,
            outcome_text(c.old),
            outcome_text(c.new),
            c.why
        );
        let status = if c.change == Change::Regression {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(clean(&text)).set_type("regression");
            if !c.reason.is_empty() {
                s.set_description(clean(&c.reason));
            }
            s
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(clean(&c.attack), status);
        case.set_classname(clean(&format!("confidump.baseline.{}", c.scenario)));
        if c.change != Change::Regression {
            case.set_system_out(clean(&format!("{}: {text}", c.change.as_str())));
        }
        case
    }));
    suite
}

/// [`suite`] as a whole JUnit document.
pub fn junit(b: &Baseline) -> Result<String, JunitError> {
    let mut doc = Report::new("confidump baseline");
    doc.add_test_suite(suite(b));
    let mut xml = doc.to_string()?;
    if !xml.ends_with('\n') {
        xml.push('\n');
    }
    Ok(xml)
}

/// A result as this module reads it, from a report of this run (`demo --baseline`).
pub fn node_result(report: &crate::model::MatrixReport) -> Result<NodeResult, serde_json::Error> {
    serde_json::to_value(report).and_then(serde_json::from_value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cell(observed: &str, expected: &str, runnable: bool, required: bool) -> NodeCell {
        serde_json::from_value(serde_json::json!({
            "scenario": "s", "attack": "live", "expected": expected, "observed": observed,
            "runnable": runnable, "required": required
        }))
        .unwrap()
    }

    #[test]
    fn the_issue_rules() {
        let c = |o, n| {
            classify(
                &cell(o, "unreadable", true, false),
                &cell(n, "unreadable", true, false),
            )
        };
        for was in ["unreadable", "absent", "not-found"] {
            let (k, why) = c(was, "leak").unwrap();
            assert_eq!(k, Change::Regression, "{was}");
            assert!(why.starts_with("now leaks"), "{why}");
        }
        assert_eq!(c("unreadable", "absent").unwrap().0, Change::Regression);
        assert_eq!(c("leak", "unreadable").unwrap().0, Change::Improvement);
        assert_eq!(c("absent", "unreadable").unwrap().0, Change::Improvement);
        assert_eq!(c("leak", "error").unwrap().0, Change::Regression);
        assert_eq!(c("error", "leak").unwrap().0, Change::Improvement);
        assert!(c("leak", "leak").is_none());
        // A required row that became n/a; the same cell not required is only a change.
        let req = classify(
            &cell("leak", "leak", true, false),
            &cell("n/a", "leak", false, true),
        );
        assert_eq!(req.unwrap().0, Change::Regression);
        let not = classify(
            &cell("leak", "leak", true, false),
            &cell("n/a", "leak", false, false),
        );
        assert_eq!(not.unwrap().0, Change::Changed);
        // Now runs: as expected, or not.
        let ran = classify(
            &cell("n/a", "leak", false, false),
            &cell("leak", "leak", true, false),
        );
        assert_eq!(ran.unwrap().0, Change::Improvement);
        let missed = classify(
            &cell("n/a", "unreadable", false, false),
            &cell("leak", "unreadable", true, false),
        );
        assert_eq!(missed.unwrap().0, Change::Regression);
    }
}
