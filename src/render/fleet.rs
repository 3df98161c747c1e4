//! A fleet report: several `demo --format json` results, one per node, merged into one matrix
//! with a column per node (`confidump report`).
//!
//! Input is the JSON `demo --format json` prints ([`crate::model::MatrixReport`]); this module
//! reads it through its own view ([`NodeResult`]) of only the fields it needs, so a node running
//! a newer confidump (more fields) still merges. A result may sit inside a captured log (what
//! `kubectl logs` gives): [`parse_result`] starts at the first line that opens a JSON object and
//! stops where that object ends.
//!
//! Pure functions: text in, text out; the caller reads the files and chooses the exit code.
//!
//! Nothing in a node's file is trusted: the mismatches are counted from its cells (a file's
//! own `"mismatches"` is shown beside them when it differs, never believed), a file that
//! lists a cell twice is refused, and every string it carries is drawn through
//! [`super::sanitize`] (the JSON output through [`super::sanitize::json_text`], by the caller).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use unicode_width::UnicodeWidthStr;

use super::sanitize::{visible, visible_string};
use super::style::{paint, BOLD, DIM, GREEN_BOLD, RED_BOLD};
use crate::model::Outcome;

/// The part of a demo result a fleet report reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NodeResult {
    /// The machine.
    #[serde(default)]
    pub host: NodeHost,
    /// Every cell, scenario by scenario.
    pub cells: Vec<NodeCell>,
    /// Cells whose observation differed from the expectation, as the node claims to have
    /// counted them: shown when it differs from the cells, never believed.
    #[serde(default)]
    pub mismatches: u64,
}

/// The machine a result comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NodeHost {
    /// `uname -r`.
    #[serde(default)]
    pub kernel: String,
    /// Hostname (in a pod: the pod's name).
    #[serde(default)]
    pub hostname: String,
    /// confidump's version.
    #[serde(default)]
    pub confidump: String,
    /// Every other fact the result names (`firmware`, `qemu`, `core_pattern`, …): compared by
    /// `report --baseline` ([`super::baseline`]), whatever this confidump knows of them.
    #[serde(flatten)]
    pub facts: BTreeMap<String, serde_json::Value>,
}

/// One cell of a node's result.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NodeCell {
    /// Scenario name.
    pub scenario: String,
    /// Attack path.
    pub attack: String,
    /// What the scenario (or the platform's expectation file) says should happen.
    pub expected: Outcome,
    /// What happened.
    pub observed: Outcome,
    /// False when the path could not run on that node (schema 2); a schema 1 result wrote
    /// `expected: n/a` instead and has no such field.
    #[serde(default = "yes")]
    pub runnable: bool,
    /// Why (refused read, n/a, error).
    #[serde(default)]
    pub reason: String,
    /// The run required this cell and it could not run: a mismatch whatever the outcomes say.
    #[serde(default)]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// Why a result could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FleetError {
    /// No line opens a JSON object.
    #[error("no JSON result in it (expected the output of `confidump demo --format json`)")]
    NoJson,
    /// The JSON is not a demo result.
    #[error("{line}:{column}: not a `demo --format json` result: {message}")]
    Invalid {
        /// 1-based line in the whole input.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// One scenario × attack path twice: no demo run writes that, and a second copy could
    /// hide the first one's mismatch.
    #[error("{scenario}/{attack} is listed twice: not the result of one demo run")]
    Duplicate {
        /// The scenario.
        scenario: String,
        /// The attack path.
        attack: String,
    },
}

/// Reads one node's result from `text`: the JSON alone, or a log that holds it (see the
/// module docs).
pub fn parse_result(text: &str) -> Result<NodeResult, FleetError> {
    let mut offset = 0;
    let mut lines_before = 0;
    let start = loop {
        let Some(line) = text
            .get(offset..)
            .and_then(|t| t.split_inclusive('\n').next())
        else {
            return Err(FleetError::NoJson);
        };
        if line.trim_start().starts_with('{') {
            break offset + (line.len() - line.trim_start().len());
        }
        offset += line.len();
        lines_before += 1;
    };
    let json = text.get(start..).ok_or(FleetError::NoJson)?;
    let mut stream = serde_json::Deserializer::from_str(json).into_iter::<NodeResult>();
    match stream.next() {
        Some(Ok(r)) => {
            let mut seen = std::collections::BTreeSet::new();
            for c in &r.cells {
                if !seen.insert((c.scenario.as_str(), c.attack.as_str())) {
                    return Err(FleetError::Duplicate {
                        scenario: super::sanitize::visible_string(&c.scenario),
                        attack: super::sanitize::visible_string(&c.attack),
                    });
                }
            }
            Ok(r)
        }
        Some(Err(e)) => Err(FleetError::Invalid {
            line: e.line() + lines_before,
            column: e.column(),
            message: e.to_string(),
        }),
        None => Err(FleetError::NoJson),
    }
}

/// One node of the fleet: a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetNode {
    /// The column's name (the file's name, or `NAME=` given on the command line).
    pub label: String,
    /// Hostname in the result.
    pub hostname: String,
    /// Kernel in the result.
    pub kernel: String,
    /// confidump version in the result.
    pub confidump: String,
    /// Cells of this node that missed their expectation, counted here from its cells.
    pub mismatches: usize,
    /// What the node's file says it counted, when that differs from its cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_mismatches: Option<u64>,
}

/// One node's cell of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetCell {
    /// What that node expected (platforms may expect differently).
    pub expected: Outcome,
    /// What that node observed.
    pub observed: Outcome,
    /// Whether the path could run on that node.
    pub runnable: bool,
    /// Why, as the node said.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The node's run required this cell and it could not run (a mismatch).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

impl FleetCell {
    /// The node's observation met its expectation (a required cell that could not run never
    /// does, as in [`crate::model::Cell::met`]).
    pub fn met(&self) -> bool {
        crate::model::met(self.expected, self.observed, self.runnable, self.required)
    }
}

/// One scenario × attack path across the fleet: a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetRow {
    /// Scenario name.
    pub scenario: String,
    /// Attack path.
    pub attack: String,
    /// Per node label: its cell; a node that did not run this cell has none.
    pub nodes: BTreeMap<String, FleetCell>,
}

impl FleetRow {
    /// Every node that ran it observed the same outcome.
    pub fn agree(&self) -> bool {
        let mut it = self.nodes.values().map(|c| c.observed);
        let first = it.next();
        it.all(|o| Some(o) == first)
    }
    /// Every node that ran it met its expectation.
    pub fn met(&self) -> bool {
        self.nodes.values().all(FleetCell::met)
    }
    /// The expectation when every node has the same one.
    pub fn expected(&self) -> Option<Outcome> {
        let mut it = self.nodes.values().map(|c| c.expected);
        let first = it.next()?;
        it.all(|e| e == first).then_some(first)
    }
}

/// The merged matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// The columns, in the order given.
    pub nodes: Vec<FleetNode>,
    /// The rows, in the order first seen.
    pub rows: Vec<FleetRow>,
    /// Sum of the nodes' mismatches (saturating; it is bounded by the cells read anyway).
    pub mismatches: usize,
}

/// Merges labelled results into one matrix.
pub fn merge(results: Vec<(String, NodeResult)>) -> Fleet {
    let mut nodes = Vec::with_capacity(results.len());
    let mut rows: Vec<FleetRow> = Vec::new();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (label, r) in results {
        // Counted from the cells, never taken from the file.
        let mut missed = 0usize;
        for c in r.cells {
            let key = (c.scenario.clone(), c.attack.clone());
            let i = *index.entry(key).or_insert_with(|| {
                rows.push(FleetRow {
                    scenario: c.scenario.clone(),
                    attack: c.attack.clone(),
                    nodes: BTreeMap::new(),
                });
                rows.len() - 1
            });
            let cell = FleetCell {
                expected: c.expected,
                observed: c.observed,
                runnable: c.runnable,
                reason: c.reason,
                required: c.required,
            };
            if !cell.met() {
                missed = missed.saturating_add(1);
            }
            if let Some(row) = rows.get_mut(i) {
                row.nodes.insert(label.clone(), cell);
            }
        }
        let claimed = u64::try_from(missed).ok() != Some(r.mismatches);
        nodes.push(FleetNode {
            label,
            hostname: r.host.hostname,
            kernel: r.host.kernel,
            confidump: r.host.confidump,
            mismatches: missed,
            claimed_mismatches: claimed.then_some(r.mismatches),
        });
    }
    let mismatches = nodes
        .iter()
        .fold(0usize, |sum, n| sum.saturating_add(n.mismatches));
    Fleet {
        nodes,
        rows,
        mismatches,
    }
}

/// One line of the node block: its name, and how to get it from a node.
type NodeFact = fn(&FleetNode) -> String;

/// The text matrix: a block of node facts, then one line per scenario × attack path with each
/// node's observation; `✗` marks a cell that missed its node's expectation, `≠` a row on which
/// nodes disagree, `-` a cell a node did not run. `only_problems` keeps only rows with a `✗`
/// or a `≠`. Every string from a node's file (and each label, a file's name) is drawn through
/// [`visible`]: a control character in it is shown, never sent to the terminal.
pub fn render_text(fleet: &Fleet, only_problems: bool, color: bool) -> String {
    let mut out = String::new();
    // Row keys (as the files spell them) and what is drawn for each.
    let labels: Vec<&str> = fleet.nodes.iter().map(|n| n.label.as_str()).collect();
    let shown: Vec<String> = labels.iter().map(|l| visible_string(l)).collect();
    let rows: Vec<&FleetRow> = fleet
        .rows
        .iter()
        .filter(|r| !only_problems || !r.met() || !r.agree())
        .collect();

    // Cell texts first, so that every column is as wide as its widest entry.
    let cell_text = |row: &FleetRow, label: &str| match row.nodes.get(label) {
        None => "-".to_string(),
        Some(c) if c.met() => c.observed.as_str().to_string(),
        Some(c) => format!("{} ✗", c.observed.as_str()),
    };
    let head = ["SCENARIO", "ATTACK", "EXPECTED"];
    let facts: [(&str, NodeFact); 4] = [
        ("host", |n| visible_string(&n.hostname)),
        ("kernel", |n| visible_string(&n.kernel)),
        ("confidump", |n| visible_string(&n.confidump)),
        ("mismatches", |n| n.mismatches.to_string()),
    ];
    let w = |s: &str| UnicodeWidthStr::width(s);
    let mut w0 = rows
        .iter()
        .map(|r| w(&visible(&r.scenario)))
        .chain([w(head[0])])
        .max()
        .unwrap_or(0);
    w0 = w0.max(facts.iter().map(|(k, _)| w(k)).max().unwrap_or(0));
    let w1 = rows
        .iter()
        .map(|r| w(&visible(&r.attack)))
        .chain([w(head[1])])
        .max()
        .unwrap_or(0);
    let expected_text = |r: &FleetRow| r.expected().map_or("varies", |e| e.as_str());
    let w2 = rows
        .iter()
        .map(|r| w(expected_text(r)))
        .chain([w(head[2])])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = fleet
        .nodes
        .iter()
        .map(|n| {
            rows.iter()
                .map(|r| w(&cell_text(r, &n.label)))
                .chain(facts.iter().map(|(_, f)| w(&f(n))))
                .chain([w(&visible(&n.label))])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |s: &str, width: usize| format!("{s}{}", " ".repeat(width.saturating_sub(w(s))));
    let lead = w0 + w1 + w2 + 4;

    // The nodes, one fact per line.
    let _ = write!(out, "{}", paint(&pad("NODE", lead), BOLD, color));
    for (label, width) in shown.iter().zip(&widths) {
        let _ = write!(out, "  {}", paint(&pad(label, *width), BOLD, color));
    }
    out.push('\n');
    for (name, f) in &facts {
        let _ = write!(out, "{}", pad(name, lead));
        for (n, width) in fleet.nodes.iter().zip(&widths) {
            let text = pad(&f(n), *width);
            let style = match (*name, n.mismatches) {
                ("mismatches", 0) => GREEN_BOLD,
                ("mismatches", _) => RED_BOLD,
                _ => "",
            };
            let _ = write!(out, "  {}", paint(&text, style, color && !style.is_empty()));
        }
        out.push('\n');
    }
    out.push('\n');

    // The matrix.
    let _ = write!(
        out,
        "{}",
        paint(
            &format!(
                "{}  {}  {}",
                pad(head[0], w0),
                pad(head[1], w1),
                pad(head[2], w2)
            ),
            BOLD,
            color
        )
    );
    for (label, width) in shown.iter().zip(&widths) {
        let _ = write!(out, "  {}", paint(&pad(label, *width), BOLD, color));
    }
    out.push('\n');
    for r in &rows {
        let _ = write!(
            out,
            "{}  {}  {}",
            pad(&visible(&r.scenario), w0),
            pad(&visible(&r.attack), w1),
            pad(expected_text(r), w2)
        );
        for (label, width) in labels.iter().zip(&widths) {
            let text = pad(&cell_text(r, label), *width);
            let style = match r.nodes.get(*label) {
                None => DIM,
                Some(c) if !c.met() => RED_BOLD,
                Some(_) => "",
            };
            let _ = write!(out, "  {}", paint(&text, style, color && !style.is_empty()));
        }
        if !r.agree() {
            out.push_str("  ≠");
        }
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str(if only_problems {
            "(no row where a node missed its expectation or nodes disagree)\n"
        } else {
            "(no cells)\n"
        });
    }

    // Why, for each cell that missed its expectation: the node's own words.
    let missed: Vec<(&FleetRow, &str, &FleetCell)> = rows
        .iter()
        .flat_map(|r| {
            labels
                .iter()
                .filter_map(move |l| r.nodes.get(*l).map(|c| (*r, *l, c)))
        })
        .filter(|(_, _, c)| !c.met())
        .collect();
    if !missed.is_empty() {
        out.push('\n');
        for (r, label, c) in missed {
            let why = if c.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", visible(&c.reason))
            };
            // A required cell that could not run missed for that reason, not for its outcome.
            let what = if c.required && !c.runnable {
                format!("required, could not run (expected {})", c.expected.as_str())
            } else {
                format!(
                    "expected {}, observed {}",
                    c.expected.as_str(),
                    c.observed.as_str()
                )
            };
            let _ = writeln!(
                out,
                "✗ {} {}/{}: {what}{why}",
                visible(label),
                visible(&r.scenario),
                visible(&r.attack),
            );
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "✗ missed the node's expectation   ≠ nodes disagree   - not run on that node"
    );
    // A node whose file counts differently from its cells: said, not believed.
    for n in &fleet.nodes {
        if let Some(claimed) = n.claimed_mismatches {
            let _ = writeln!(
                out,
                "{} says {claimed} mismatch(es) but its cells show {}: the cells count",
                visible(&n.label),
                n.mismatches
            );
        }
    }
    let failing = fleet.nodes.iter().filter(|n| n.mismatches > 0).count();
    let summary = format!(
        "{} node(s), {} with mismatches; {} mismatch(es) in all",
        fleet.nodes.len(),
        failing,
        fleet.mismatches
    );
    let style = if failing == 0 { GREEN_BOLD } else { RED_BOLD };
    let _ = writeln!(out, "{}", paint(&summary, style, color));
    // Padding after the last column is noise in logs and diffs.
    out.lines()
        .map(|l| format!("{}\n", l.trim_end_matches(' ')))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(host: &str, cells: &[(&str, &str, &str, &str)]) -> String {
        let mismatches = cells.iter().filter(|(_, _, e, o)| e != o).count();
        let cells: Vec<String> = cells
            .iter()
            .map(|(s, a, e, o)| {
                format!(
                    r#"{{"scenario":"{s}","attack":"{a}","expected":"{e}","observed":"{o}","where":"","reason":"why {host}","command":"","millis":1,"hits":0,"fragments_only":false}}"#
                )
            })
            .collect();
        format!(
            r#"{{"host":{{"kernel":"6.1","hostname":"{host}","uid":0,"memfd_secret":true,"gcore":true,"core_pattern":"core","confidump":"0.1.0"}},"lang":"en","scenarios":[],"attacks":["dump","live"],"cells":[{}],"mismatches":{mismatches},"millis":5}}"#,
            cells.join(",")
        )
    }

    #[test]
    fn schema_1_and_schema_2_results_keep_their_meaning() {
        // Schema 1 (no `runnable`): a cell the host could not run said `expected: n/a`.
        let old = parse_result(&result("old", &[("sgx", "dump", "n/a", "n/a")])).unwrap();
        // Schema 2: the claim stays, `runnable` says it could not run; a runnable cell that
        // gave n/a where a leak was claimed is a miss; a required one is a miss whatever it says.
        let cell = |expected: &str, runnable: bool, required: bool| {
            format!(
                r#"{{"scenario":"sgx","attack":"dump","expected":"{expected}","observed":"n/a","runnable":{runnable},"required":{required},"where":"","reason":"needs SGX","command":"","millis":1,"hits":0,"fragments_only":false}}"#
            )
        };
        let new = |c: String| {
            parse_result(&format!(
                r#"{{"schema":2,"host":{{"hostname":"new"}},"cells":[{c}],"mismatches":0}}"#
            ))
            .unwrap()
        };
        let fleet = merge(vec![
            ("old".into(), old),
            ("new".into(), new(cell("unreadable", false, false))),
            ("ran".into(), new(cell("unreadable", true, false))),
            ("req".into(), new(cell("unreadable", false, true))),
        ]);
        let row = &fleet.rows[0];
        let met = |n: &str| row.nodes[n].met();
        assert!(met("old") && met("new"), "{row:?}");
        assert!(!met("ran") && !met("req"), "{row:?}");
        assert_eq!(fleet.mismatches, 2);
    }

    #[test]
    fn a_result_inside_a_log() {
        let json = result("a", &[("plain", "dump", "leak", "leak")]);
        let log = format!("confidump: starting\nsome noise {{ not json\n{json}\nconfidump: done\n");
        // The noise line does not start with `{`; the result does.
        let r = parse_result(&log).unwrap();
        assert_eq!(r.host.hostname, "a");
        assert_eq!(r.cells.len(), 1);
        assert_eq!(parse_result("no json here\n"), Err(FleetError::NoJson));
        let err = parse_result("line one\n{\"host\": 3}\n").unwrap_err();
        assert!(
            matches!(err, FleetError::Invalid { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn merge_and_render() {
        let a = parse_result(&result(
            "node-a",
            &[
                ("plain", "dump", "leak", "leak"),
                ("sgx", "live", "unreadable", "unreadable"),
            ],
        ))
        .unwrap();
        let b = parse_result(&result(
            "node-b",
            &[
                ("plain", "dump", "leak", "leak"),
                ("sgx", "live", "unreadable", "n/a"),
            ],
        ))
        .unwrap();
        let c = parse_result(&result("node-c", &[("plain", "dump", "leak", "leak")])).unwrap();
        let fleet = merge(vec![("a".into(), a), ("b".into(), b), ("c".into(), c)]);
        assert_eq!(fleet.rows.len(), 2);
        assert_eq!(fleet.mismatches, 1);
        assert!(fleet.rows[0].agree() && fleet.rows[0].met());
        assert!(!fleet.rows[1].agree() && !fleet.rows[1].met());
        let text = render_text(&fleet, false, false);
        assert!(
            text.lines().any(|l| l.starts_with("sgx")
                && !l.contains("unreadable ✗")
                && l.contains("n/a ✗")
                && l.ends_with('≠')
                && l.contains(" - ")),
            "{text}"
        );
        assert!(text.contains("✗ b sgx/live: expected unreadable, observed n/a: why node-b"));
        assert!(text.contains("3 node(s), 1 with mismatches"));
        let only = render_text(&fleet, true, false);
        assert!(!only.lines().any(|l| l.starts_with("plain")), "{only}");
        assert!(only.lines().any(|l| l.starts_with("sgx")));
        let json = serde_json::to_value(&fleet).unwrap();
        assert_eq!(json["rows"][1]["nodes"]["b"]["observed"], "n/a");
        assert_eq!(json["nodes"][2]["hostname"], "node-c");
    }
}
