//! The human report: a verdict line first, then one line per hit, then what could not be read
//! and what the dump left out.

use std::fmt::Write;

use super::sanitize::visible;
use super::style::{paint, DIM, GREEN_BOLD, RED_BOLD, YELLOW};
use crate::model::{hex_addr, DetectorKind, ScanReport, Verdict};

/// A mapping's name as drawn: `?` when unknown; a name comes from the source (a core's notes,
/// a process's maps: a file name can hold anything), so it goes through [`visible`].
pub(crate) fn shown_mapping(name: &str) -> std::borrow::Cow<'_, str> {
    if name.is_empty() {
        std::borrow::Cow::Borrowed("?")
    } else {
        visible(name)
    }
}

/// Absent ranges listed before the rest are summarised: a kernel core has one per file mapping.
const MAX_ABSENT_LINES: usize = 20;

/// The verdict line alone, e.g. `LEAK: 2 hits in core file x (gdb)`.
pub fn verdict_line(report: &ScanReport, color: bool) -> String {
    let unreadable = match report.unreadable.as_slice() {
        [] => String::new(),
        [u] => format!(
            ", 1 unreadable region ({} {})",
            shown_mapping(&u.mapping),
            visible(&u.reason)
        ),
        many => format!(", {} unreadable regions", many.len()),
    };
    match report.verdict {
        Verdict::Leak => {
            let n = report.hits.len() as u64 + report.hits_more;
            let d = report.detections.len() as u64 + report.detections_more;
            // Detections are counted here too: a leak with 0 hits would read as a contradiction.
            let detected = match d {
                0 => String::new(),
                1 => ", 1 detection".to_string(),
                _ => format!(", {d} detections"),
            };
            format!(
                "{}: {n} hit{}{detected} in {}, {} bytes scanned{unreadable}",
                paint("LEAK", RED_BOLD, color),
                if n == 1 { "" } else { "s" },
                visible(&report.source),
                report.bytes_scanned
            )
        }
        Verdict::NoLeak => format!(
            "{}: {}, {} bytes scanned in {} regions{unreadable}",
            paint("no leak", GREEN_BOLD, color),
            visible(&report.source),
            report.bytes_scanned,
            report.regions
        ),
    }
}

/// Singular and plural names of a detector kind, as the summary line shows them.
fn kind_words(kind: DetectorKind) -> (&'static str, &'static str) {
    match kind {
        DetectorKind::CardNumber => ("card number", "card numbers"),
        DetectorKind::PemPrivateKey => ("PEM private key", "PEM private keys"),
        DetectorKind::Jwt => ("JWT", "JWTs"),
        DetectorKind::AwsAccessKeyId => ("AWS access key id", "AWS access key ids"),
        DetectorKind::Canary => ("canary", "canaries"),
    }
}

/// `found 1 card number, 1 PEM private key (detectors)`, or `None` without detections.
pub fn detections_line(report: &ScanReport) -> Option<String> {
    if report.detections.is_empty() {
        return None;
    }
    let mut counts: Vec<(DetectorKind, usize)> = Vec::new();
    for d in &report.detections {
        match counts.iter_mut().find(|(k, _)| *k == d.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((d.kind, 1)),
        }
    }
    counts.sort_by_key(|(k, _)| *k);
    let mut parts: Vec<String> = counts
        .iter()
        .map(|&(k, n)| {
            let (one, many) = kind_words(k);
            format!("{n} {}", if n == 1 { one } else { many })
        })
        .collect();
    if report.detections_more > 0 {
        parts.push(format!("… and {} more", report.detections_more));
    }
    Some(format!("found {} (detectors)", parts.join(", ")))
}

/// The whole text report.
pub fn render_report(report: &ScanReport, color: bool) -> String {
    let mut out = verdict_line(report, color);
    out.push('\n');
    if let Some(line) = detections_line(report) {
        let _ = writeln!(out, "{line}");
    }
    for d in &report.detections {
        // The preview is redacted by the detector; the full secret never reaches a report.
        let _ = writeln!(
            out,
            "  {:<17} {} at {} in {} (offset {}, {} bytes)",
            d.kind.as_str(),
            visible(&d.preview),
            paint(&hex_addr(d.vaddr), RED_BOLD, color),
            shown_mapping(&d.mapping),
            hex_addr(d.offset),
            d.len
        );
    }
    for (k, h) in report.hits.iter().enumerate() {
        let _ = writeln!(
            out,
            "  hit {k}: needle {} {:<8} at {} in {} (offset {})",
            h.needle,
            h.encoding.as_str(),
            paint(&hex_addr(h.vaddr), RED_BOLD, color),
            shown_mapping(&h.mapping),
            hex_addr(h.offset)
        );
    }
    if report.hits_more > 0 {
        let _ = writeln!(
            out,
            "  … and {} more hits past the first {MAX} (not listed, not checked against the files on disk: counted as leaks)",
            report.hits_more,
            MAX = crate::scan::MAX_FINDINGS
        );
    }
    push_public(&mut out, report);
    for u in &report.unreadable {
        let _ = writeln!(
            out,
            "  {} {}-{} ({} bytes) {}: {}",
            paint("unreadable", YELLOW, color),
            hex_addr(u.start),
            hex_addr(u.end),
            u.end.saturating_sub(u.start),
            shown_mapping(&u.mapping),
            visible(&u.reason)
        );
    }
    for a in report.absent.iter().take(MAX_ABSENT_LINES) {
        let _ = writeln!(
            out,
            "  {} {}-{} ({} bytes) {}: {}",
            paint("absent", DIM, color),
            hex_addr(a.start),
            hex_addr(a.end),
            a.end.saturating_sub(a.start),
            shown_mapping(&a.mapping),
            visible(&a.reason)
        );
    }
    if report.absent.len() > MAX_ABSENT_LINES {
        let _ = writeln!(
            out,
            "  ... and {} more absent ranges (--format json lists all)",
            report.absent.len() - MAX_ABSENT_LINES
        );
    }
    out
}

/// Public constants, apart from the findings: `found in the file `libgnutls.so…` itself:
/// public` (see `crate::scan::public`). They never count as a leak.
fn push_public(out: &mut String, report: &ScanReport) {
    let n = report.public_detections.len() + report.public_hits.len();
    if n == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "{n} public constant{} (the file on disk holds the same bytes; not a leak):",
        if n == 1 { "" } else { "s" }
    );
    let lines = report
        .public_detections
        .iter()
        .map(|p| (p.finding.kind.as_str().to_string(), p.finding.vaddr, p))
        .map(|(what, vaddr, p)| (what, vaddr, &p.file, p.file_offset, false))
        .chain(report.public_hits.iter().map(|p| {
            let what = format!(
                "needle {} {}",
                p.finding.needle,
                p.finding.encoding.as_str()
            );
            (what, p.finding.vaddr, &p.file, p.file_offset, p.copy)
        }));
    for (what, vaddr, file, offset, copy) in lines.take(MAX_ABSENT_LINES) {
        let _ = if copy {
            writeln!(
                out,
                "  {what:<17} at {}: a copy of the program's own text ({} at offset {}), not the secret",
                hex_addr(vaddr),
                visible(file),
                hex_addr(offset)
            )
        } else {
            writeln!(
                out,
                "  {what:<17} at {}: found in the file {} itself (offset {}): public",
                hex_addr(vaddr),
                visible(file),
                hex_addr(offset)
            )
        };
    }
    if n > MAX_ABSENT_LINES {
        let _ = writeln!(
            out,
            "  ... and {} more public constants (--format json lists all)",
            n - MAX_ABSENT_LINES
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Encoding, Hit, Unreadable};

    #[test]
    fn verdict_first_then_hits() {
        let mut r = ScanReport {
            source: "pid 1 (live)".into(),
            bytes_scanned: 4096,
            bytes_unpopulated: 0,
            regions: 3,
            verdict: Verdict::NoLeak,
            hits: vec![],
            hits_more: 0,
            unreadable: vec![Unreadable {
                start: 0x1000,
                end: 0x2000,
                reason: "EIO (5): Input/output error".into(),
                mapping: "/secretmem (deleted)".into(),
            }],
            absent: vec![],
            detections: vec![],
            detections_more: 0,
            public_hits: vec![],
            public_detections: vec![],
        };
        let t = render_report(&r, false);
        assert!(t.starts_with("no leak: pid 1 (live), 4096 bytes scanned in 3 regions, 1 unreadable region (/secretmem (deleted) EIO"), "{t}");
        r.verdict = Verdict::Leak;
        r.hits.push(Hit {
            needle: 0,
            encoding: Encoding::Base64,
            vaddr: 0x10,
            len: 4,
            mapping: "[heap]".into(),
            offset: 0x10,
        });
        let t = render_report(&r, false);
        assert!(t.starts_with("LEAK: 1 hit"), "{t}");
        assert!(t.contains("needle 0 base64"), "{t}");
        assert!(!render_report(&r, false).contains('\x1b'));
        // Past the cap: the summary counts every hit, the list says how many it leaves out.
        r.hits_more = 41;
        let t = render_report(&r, false);
        assert!(t.starts_with("LEAK: 42 hits"), "{t}");
        assert!(
            t.contains("… and 41 more hits past the first 10000 (not listed"),
            "{t}"
        );
        r.hits_more = 0;
        r.detections = vec![
            crate::model::Detection {
                kind: DetectorKind::PemPrivateKey,
                vaddr: 0x20,
                len: 1675,
                mapping: "[heap]".into(),
                offset: 0x20,
                preview: "-----BEGIN RSA PRIVATE KEY----- (1675 bytes)".into(),
            },
            crate::model::Detection {
                kind: DetectorKind::CardNumber,
                vaddr: 0x30,
                len: 16,
                mapping: "[stack]".into(),
                offset: 0x30,
                preview: "4111 11** **** 1111".into(),
            },
        ];
        let t = render_report(&r, false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("LEAK: 1 hit, 2 detections"), "{t}");
        assert_eq!(
            lines[1], "found 1 card number, 1 PEM private key (detectors)",
            "{t}"
        );
        assert!(
            t.contains("card-number       4111 11** **** 1111 at 0x30 in [stack]"),
            "{t}"
        );
    }
}
