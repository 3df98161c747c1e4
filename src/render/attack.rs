//! Words and views for a finished [`Attack`] (`confidump attack`): the verdict line first,
//! then where, then the hex view the attack captured of the hit or of the region the kernel
//! refused.

use std::fmt::Write;

use super::hexview;
use super::style::{paint, GREEN_BOLD, RED_BOLD, YELLOW_BOLD};
use crate::model::{hex_addr, ScanReport, Verdict};
use crate::runner::attack::{Attack, AttackPath};

/// `confidump's dump of pid N`, `a live read of pid N`, ...
pub fn what_was_attacked(a: &Attack) -> String {
    match a.path {
        AttackPath::Dump => format!("confidump's dump of pid {}", a.pid),
        AttackPath::LikeGcore => format!("confidump's gcore-like dump of pid {}", a.pid),
        AttackPath::Gcore => format!("gdb's gcore of pid {}", a.pid),
        AttackPath::Live => format!("a live read of pid {}", a.pid),
        AttackPath::Qmp => {
            format!("QEMU's dump-guest-memory of its guest (QEMU pid {})", a.pid)
        }
    }
}

/// What an unreadable mapping is, in words a room understands. Honest labels: memfd_secret is
/// a stand-in for an enclave, never called one.
pub fn protection_label(mapping: &str) -> Option<&'static str> {
    if mapping.starts_with("/secretmem") {
        Some("memfd_secret: kernel-enforced, a stand-in for an enclave (not SGX)")
    } else if mapping.starts_with("/dev/sgx") {
        Some("SGX enclave memory")
    } else {
        None
    }
}

/// The outcome of a scan in one word, for `attack`'s verdict line: LEAK, PROTECTED (a read was
/// refused and nothing was found), NOT FOUND (nothing refused, nothing found; absence may be a
/// left-out region).
pub fn scan_word(report: &ScanReport) -> &'static str {
    match report.verdict {
        Verdict::Leak => "LEAK",
        Verdict::NoLeak if !report.refused().is_empty() => "PROTECTED",
        Verdict::NoLeak => "NOT FOUND",
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The verdict line: one sentence, the outcome word first.
pub fn verdict_line(a: &Attack, color: bool) -> String {
    let r = &a.report;
    let what = what_was_attacked(a);
    match scan_word(r) {
        "LEAK" => {
            let n = r.hits.len();
            format!(
                "{}: the secret is readable in {what}: {n} hit{} ({} searched)",
                paint("LEAK", RED_BOLD, color),
                if n == 1 { "" } else { "s" },
                mib(r.bytes_scanned)
            )
        }
        "PROTECTED" => {
            let n = r.refused().len();
            format!(
                "{}: no trace of the secret in {what} ({} searched); the kernel refused to read {n} region{}",
                paint("PROTECTED", GREEN_BOLD, color),
                mib(r.bytes_scanned),
                if n == 1 { "" } else { "s" }
            )
        }
        _ if !r.absent.is_empty() => format!(
            "{}: no trace of the secret in {what} ({} searched), but the dump left out {} range{} without reading {}: absence proves nothing",
            paint("NOT FOUND", YELLOW_BOLD, color),
            mib(r.bytes_scanned),
            r.absent.len(),
            if r.absent.len() == 1 { "" } else { "s" },
            if r.absent.len() == 1 { "it" } else { "them" },
        ),
        _ => format!(
            "{}: no trace of the secret in {what} ({} searched) and nothing was refused",
            paint("NOT FOUND", YELLOW_BOLD, color),
            mib(r.bytes_scanned)
        ),
    }
}

/// Where: one line per hit, or per refused / left-out range.
pub fn where_lines(a: &Attack) -> Vec<String> {
    let r = &a.report;
    let mut out = Vec::new();
    for (k, h) in r.hits.iter().enumerate().take(12) {
        out.push(format!(
            "hit {k}: {} at {} in {} (offset {}, {} bytes)",
            h.encoding.as_str(),
            hex_addr(h.vaddr),
            super::text::shown_mapping(&h.mapping),
            h.offset,
            h.len
        ));
    }
    if r.hits.len() > 12 {
        out.push(format!("... and {} more hits", r.hits.len() - 12));
    }
    let copies: Vec<_> = r.public_hits.iter().filter(|p| p.copy).collect();
    if let Some(first) = copies.first() {
        out.push(format!(
            "also in the program's own text: {} match{} (first at {} in {}) copy {}, not the secret",
            copies.len(),
            if copies.len() == 1 { "" } else { "es" },
            hex_addr(first.finding.vaddr),
            crate::render::sanitize::visible(&first.finding.mapping),
            crate::render::sanitize::visible(&first.file),
        ));
    }
    if r.verdict == Verdict::NoLeak {
        for u in r.refused() {
            let label = protection_label(&u.mapping)
                .map(|l| format!(" — {l}"))
                .unwrap_or_default();
            out.push(format!(
                "refused: {}-{} {} ({}){label}",
                hex_addr(u.start),
                hex_addr(u.end),
                super::text::shown_mapping(&u.mapping),
                super::sanitize::visible(&u.reason)
            ));
        }
        for x in r.absent.iter().take(8) {
            out.push(format!(
                "left out: {}-{} {} ({})",
                hex_addr(x.start),
                hex_addr(x.end),
                super::text::shown_mapping(&x.mapping),
                super::sanitize::visible(&x.reason)
            ));
        }
    }
    out
}

/// Verdict line, where, then the view.
pub fn render(a: &Attack, color: bool) -> String {
    let mut out = verdict_line(a, color);
    out.push('\n');
    for l in where_lines(a) {
        let _ = writeln!(out, "  {l}");
    }
    if let Some(w) = &a.view {
        let _ = writeln!(out, "{}", super::sanitize::visible(&w.title));
        out.push_str(&hexview::render(w, color));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
