//! Words and views for a finished [`Attack`]: the verdict line first, then where, then the hex
//! view of the hit or of the region the kernel refused. Shared by `attack` and `demo`.

use std::fmt::Write;

use super::attack::{outcome_word, protection_label, refused_regions, Attack};
use crate::model::{hex_addr, Span, Verdict};
use crate::render::hexview;
use crate::render::style::{paint, GREEN_BOLD, RED_BOLD, YELLOW_BOLD};

/// `confidump's dump of pid N`, `a live read of pid N`, ...
pub fn what_was_attacked(a: &Attack) -> String {
    match a.path {
        super::attack::AttackPath::Dump => format!("confidump's dump of pid {}", a.pid),
        super::attack::AttackPath::LikeGcore => {
            format!("confidump's gcore-like dump of pid {}", a.pid)
        }
        super::attack::AttackPath::Gcore => format!("gdb's gcore of pid {}", a.pid),
        super::attack::AttackPath::Live => format!("a live read of pid {}", a.pid),
        super::attack::AttackPath::Qmp => {
            format!("QEMU's dump-guest-memory of its guest (QEMU pid {})", a.pid)
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The verdict line: one sentence, the outcome word first.
pub fn verdict_line(a: &Attack, color: bool) -> String {
    let r = &a.report;
    let what = what_was_attacked(a);
    match outcome_word(r) {
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
            let n = refused_regions(r).len();
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
            h.mapping,
            h.offset,
            h.len
        ));
    }
    if r.hits.len() > 12 {
        out.push(format!("... and {} more hits", r.hits.len() - 12));
    }
    if r.verdict == Verdict::NoLeak {
        for u in refused_regions(r) {
            let label = protection_label(&u.mapping)
                .map(|l| format!(" — {l}"))
                .unwrap_or_default();
            out.push(format!(
                "refused: {}-{} {} ({}){label}",
                hex_addr(u.start),
                hex_addr(u.end),
                if u.mapping.is_empty() {
                    "?"
                } else {
                    &u.mapping
                },
                u.reason
            ));
        }
        for x in r.absent.iter().take(8) {
            out.push(format!(
                "left out: {}-{} {} ({})",
                hex_addr(x.start),
                hex_addr(x.end),
                if x.mapping.is_empty() {
                    "?"
                } else {
                    &x.mapping
                },
                x.reason
            ));
        }
    }
    out
}

/// The window worth showing: around the first hit, or the start of the first refused region.
pub fn view_window(a: &Attack) -> Option<(String, Span, Vec<Span>)> {
    let r = &a.report;
    if let Some(h) = r.hits.first() {
        let start = h.vaddr.saturating_sub(16) & !15;
        let end = (h.vaddr.saturating_add(h.len).saturating_add(16) + 15) & !15;
        let hl = vec![Span::new(h.vaddr, h.vaddr.saturating_add(h.len))];
        return Some((
            format!("what root sees at hit 0 ({}):", h.mapping),
            Span::new(start, end),
            hl,
        ));
    }
    let u = refused_regions(r).into_iter().next()?;
    let end = u.end.min(u.start.saturating_add(64));
    Some((
        format!("what root sees in {} (read refused):", u.mapping),
        Span::new(u.start, end),
        Vec::new(),
    ))
}

/// Verdict line, where, then the view.
pub fn render(a: &Attack, color: bool) -> String {
    let mut out = verdict_line(a, color);
    out.push('\n');
    for l in where_lines(a) {
        let _ = writeln!(out, "  {l}");
    }
    if let Some((title, span, hl)) = view_window(a) {
        let _ = writeln!(out, "{title}");
        out.push_str(&hexview::render(
            a.source.as_ref(),
            span.start,
            span.len(),
            &hl,
            color,
        ));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
