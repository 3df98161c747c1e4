//! `--expect`: whether a scan's verdict is the one a gate asks for. A gate never passes on
//! absence: "no leak" holds only where every range the tool left out was also refused to a
//! reader (a kernel mechanism said no), never where it was just skipped.

use std::fmt;

use crate::model::{hex_addr, Absent, ScanReport, Verdict};

/// The verdict a gate asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// At least one hit or detection.
    Leak,
    /// None, and every range left out also refused.
    NoLeak,
}

/// What the gate says of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// The verdict is the one asked for (or none was asked for).
    Met,
    /// The verdict differs.
    Differs,
    /// No leak, but ranges were left out without being read: nothing is proven.
    Unproven(Unproven),
}

/// The ranges a `no-leak` gate found left out and not refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unproven {
    /// How many.
    pub count: usize,
    /// The first of them.
    pub first: Absent,
}

/// Judges `report` against `expect`.
pub fn judge(expect: Option<Expect>, report: &ScanReport) -> Gate {
    let verdict = report.verdict;
    let wanted = match expect {
        Some(Expect::Leak) => Verdict::Leak,
        Some(Expect::NoLeak) => Verdict::NoLeak,
        None => verdict,
    };
    if wanted != verdict {
        return Gate::Differs;
    }
    if expect == Some(Expect::NoLeak) {
        let refused = report.refused();
        let unproven: Vec<&Absent> = report
            .absent
            .iter()
            .filter(|a| !refused.iter().any(|u| u.start <= a.start && a.end <= u.end))
            .collect();
        if let Some(first) = unproven.first() {
            return Gate::Unproven(Unproven {
                count: unproven.len(),
                first: (*first).clone(),
            });
        }
    }
    Gate::Met
}

impl fmt::Display for Unproven {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = &self.first;
        write!(
            f,
            "--expect no-leak not met: absent proves nothing: {} range{} left out without being read (first: {}-{} {}: {}); only a refused read proves protection (--via dump or --via live)",
            self.count,
            if self.count == 1 { " was" } else { "s were" },
            hex_addr(first.start),
            hex_addr(first.end),
            if first.mapping.is_empty() { "?" } else { &first.mapping },
            first.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(verdict: Verdict, absent: Vec<Absent>) -> ScanReport {
        let mut r: ScanReport = serde_json::from_value(serde_json::json!({
            "source": "x", "verdict": "no-leak", "hits": [], "unreadable": [], "absent": [],
            "bytes_scanned": 0, "regions": 0,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        r.verdict = verdict;
        r.absent = absent;
        r
    }

    #[test]
    fn absence_never_passes_a_no_leak_gate() {
        let gap = Absent {
            start: 0x1000,
            end: 0x2000,
            reason: "dd".into(),
            mapping: String::new(),
        };
        assert_eq!(judge(None, &report(Verdict::Leak, vec![])), Gate::Met);
        assert_eq!(
            judge(Some(Expect::NoLeak), &report(Verdict::Leak, vec![])),
            Gate::Differs
        );
        assert_eq!(
            judge(Some(Expect::NoLeak), &report(Verdict::NoLeak, vec![])),
            Gate::Met
        );
        let Gate::Unproven(u) = judge(Some(Expect::NoLeak), &report(Verdict::NoLeak, vec![gap]))
        else {
            panic!("absence passed");
        };
        assert_eq!(u.count, 1);
        assert!(u.to_string().contains("1 range was left out"), "{u}");
        assert!(u.to_string().contains("-0x2000 ?: dd"), "{u}");
    }
}
