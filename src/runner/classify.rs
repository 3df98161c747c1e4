//! What one attack gave, in the matrix's words: classification of a finished scan.
//!
//! Classification is honest: a cell is `leak` when the secret (or, where the scenario says
//! so, a fragment of it) was found; `unreadable` only when a read of the secret's region was
//! really refused; `absent` when the tool left the region out without reading it (which proves
//! nothing); `not-found` when the region was read and held nothing. The runner knows the
//! secret's region from the victim's ready line when the victim can tell it; the attacker is
//! given only the SHA-256.

use std::collections::BTreeMap;

use crate::i18n::{t, tf, Lang};
use crate::memory::window::{around_hit, at_region, capture};
use crate::memory::MemorySource;
use crate::model::{hex_addr, DetectorKind, HexWindow, Outcome, ScanReport, Span, Texts};
use crate::procfs::maps::Mapping;
use crate::scan::needles::{sha256, CANARY_HEX_LEN};
use crate::scan::{Needles, Shape};
use crate::secret::Secret;

use crate::scenario::Search;

/// Length of the fragments searched with `search = "fragments"`.
const FRAGMENT: usize = 8;

/// What one attack gave, before it becomes a [`crate::model::Cell`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The outcome.
    pub outcome: Outcome,
    /// Where a leak sits, or the refused / left-out mapping.
    pub where_: String,
    /// Why.
    pub reason: String,
    /// Number of hits.
    pub hits: usize,
    /// Only fragments of the secret were found.
    pub fragments_only: bool,
    /// Detector findings by kind.
    pub detected: BTreeMap<DetectorKind, usize>,
    /// What the attacker saw.
    pub view: Option<HexWindow>,
}

impl Observation {
    /// An outcome with a reason and nothing else.
    pub fn simple(outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            where_: String::new(),
            reason: reason.into(),
            hits: 0,
            fragments_only: false,
            detected: BTreeMap::new(),
            view: None,
        }
    }
    /// n/a, with why.
    pub fn na(reason: impl Into<String>) -> Self {
        Self::simple(Outcome::NotApplicable, reason)
    }
    /// An error, with what failed.
    pub fn error(reason: impl Into<String>) -> Self {
        Self::simple(Outcome::Error, reason)
    }
}

pub use crate::context::chain;

/// True when `[start, end)` overlaps `a`.
pub fn overlaps(a: Span, start: u64, end: u64) -> bool {
    a.start < end && start < a.end
}

/// The name `/proc/PID/maps` gives the mapping at `addr`, for cores (gdb's, the kernel's)
/// that do not name anonymous memory: root reads the same maps file, so this is no help the
/// attacker would not have.
fn live_name<'a>(maps: &'a [Mapping], addr: u64, from_source: &'a str) -> &'a str {
    if from_source != "[anon]" && !from_source.is_empty() {
        return from_source;
    }
    maps.iter()
        .find(|m| m.span.contains(addr))
        .map_or(from_source, |m| m.display_name())
}

/// Detector findings counted by kind.
pub fn by_kind(report: &ScanReport) -> BTreeMap<DetectorKind, usize> {
    let mut m = BTreeMap::new();
    for d in &report.detections {
        *m.entry(d.kind).or_insert(0) += 1;
    }
    m
}

/// What the attacker searches for: the secret by hash (needle 0) and, with `fragments` when
/// the runner knows the secret, every 8-byte window of its random part (the constant prefix
/// also sits in our binary); detectors on.
pub fn needles_for(sha: [u8; 32], secret: Option<&Secret>, search: Search) -> Needles {
    let mut n = Needles::new();
    n.add_hash(Shape::Canary, sha);
    if let (Search::Fragments, Some(secret)) = (search, secret) {
        let bytes = secret.expose();
        let random = bytes
            .get(bytes.len().saturating_sub(CANARY_HEX_LEN)..)
            .unwrap_or(&[]);
        for w in random.windows(FRAGMENT) {
            n.add_bytes(Secret::new(w.to_vec()));
        }
    }
    n.enable_detectors();
    n
}

/// The needles of a secret the runner holds.
pub fn needles_of(secret: &Secret, search: Search) -> Needles {
    needles_for(sha256(secret.expose()), Some(secret), search)
}

/// Classifies a finished scan of `source` for a secret held in `region` (when the victim told
/// where; `None`: the attacker only has the search). `maps` is the attacked process's
/// `/proc/PID/maps`, read while it ran, to name what a core leaves unnamed. `show` names the
/// region whose copy a leak's view shows, when the scenario's lesson is about one copy (the
/// argv row: `[stack]`); else the view shows the first hit.
pub fn classify(
    report: &ScanReport,
    source: &dyn MemorySource,
    region: Option<Span>,
    maps: &[Mapping],
    what: &str,
    show: Option<&str>,
    lang: Lang,
) -> Observation {
    let detected = by_kind(report);
    if let Some(first) = report.hits.first() {
        let shown = show
            .and_then(|name| {
                report
                    .hits
                    .iter()
                    .find(|h| live_name(maps, h.vaddr, &h.mapping) == name)
            })
            .unwrap_or(first);
        return leak(report, source, region, maps, what, shown, lang);
    }
    let Some(region) = region else {
        // Where the secret would sit is unknown (a guest's memory seen from the host): no hit
        // means "not found in anything read", what a confidential VM gives.
        return Observation {
            detected,
            ..Observation::simple(Outcome::NotFound, {
                let mib = report.bytes_scanned as f64 / (1024.0 * 1024.0);
                // A particle right after a Latin word takes a space (`QEMU の
                // dump-guest-memory で`), as everywhere in the Japanese texts.
                let gap = if what.ends_with(|c: char| c.is_ascii_alphanumeric()) {
                    " "
                } else {
                    ""
                };
                Texts::new(
                    format!("no plaintext of the secret in {mib:.0} MiB read by {what}"),
                    format!("{what}{gap}で読んだ {mib:.0} MiB に秘密の平文はなかった。"),
                )
                .into_lang(lang)
            })
        };
    };
    let view_of = |title: String| Some(capture(source, &title, at_region(region.start), &[]));
    if let Some(u) = report
        .unreadable
        .iter()
        .find(|u| overlaps(region, u.start, u.end))
    {
        return Observation {
            outcome: Outcome::Unreadable,
            where_: live_name(maps, region.start, &u.mapping).to_string(),
            reason: refused(lang, &u.reason),
            hits: 0,
            fragments_only: false,
            detected,
            view: view_of(tf(lang, "view.refused", &[&u.mapping, &what])),
        };
    }
    let absent = report
        .absent
        .iter()
        .find(|a| overlaps(region, a.start, a.end))
        .map(|a| {
            (
                live_name(maps, region.start, &a.mapping).to_string(),
                a.reason.clone(),
            )
        });
    let covered = source
        .regions()
        .iter()
        .any(|r| overlaps(region, r.span.start, r.span.end));
    let absent = absent.or_else(|| {
        (!covered).then(|| {
            (
                live_name(maps, region.start, "").to_string(),
                format!(
                    "no segment of the dump covers {}-{}: the tool left it out without reading it",
                    hex_addr(region.start),
                    hex_addr(region.end)
                ),
            )
        })
    });
    if let Some((mapping, reason)) = absent {
        let view = view_of(tf(lang, "view.left-out", &[&mapping, &what]));
        return Observation {
            outcome: Outcome::Absent,
            where_: mapping,
            reason: Texts::new(reason, "ツールがこの領域を読まずにダンプから外した。")
                .into_lang(lang),
            hits: 0,
            fragments_only: false,
            detected,
            view,
        };
    }
    Observation {
        detected,
        ..Observation::simple(
            Outcome::NotFound,
            tf(
                lang,
                "reason.region-read",
                &[&hex_addr(region.start), &hex_addr(region.end)],
            ),
        )
    }
}

/// The errno of a refusal (`EIO (5)` of `EIO (5): I/O error`): technical, the same in both
/// languages.
pub fn errno_part(reason: &str) -> &str {
    reason.split(':').next().unwrap_or(reason).trim()
}

/// A refused read in `lang`: the reader's own words in English; in Japanese, who refused and
/// the errno as the kernel gave it.
pub fn refused(lang: Lang, reason: &str) -> String {
    Texts::new(
        reason,
        format!(
            "カーネル（または CPU）が読み取りを拒否した（{}）。",
            errno_part(reason)
        ),
    )
    .into_lang(lang)
}

/// A scan with hits: where they sit, whether only fragments, the view around `first` (the hit
/// the view shows).
fn leak(
    report: &ScanReport,
    source: &dyn MemorySource,
    region: Option<Span>,
    maps: &[Mapping],
    what: &str,
    first: &crate::model::Hit,
    lang: Lang,
) -> Observation {
    let detected = by_kind(report);
    let mut places: Vec<&str> = Vec::new();
    for h in &report.hits {
        let name = live_name(maps, h.vaddr, &h.mapping);
        if !places.contains(&name) {
            places.push(name);
        }
    }
    // Needle 0 is the whole secret (by hash); the others are fragments of it.
    let fragments_only = report.hits.iter().all(|h| h.needle != 0);
    let hl: Vec<Span> = report
        .hits
        .iter()
        .map(|h| Span::new(h.vaddr, h.vaddr.saturating_add(h.len)))
        .collect();
    let at = live_name(maps, first.vaddr, &first.mapping);
    let title = tf(lang, "view.leak", &[&at, &hex_addr(first.vaddr), &what]);
    let mut reason: Vec<String> = Vec::new();
    if fragments_only {
        reason.push(t(lang, "reason.fragments").to_string());
    }
    // The residue lesson: the copy leaks although the secret's own region held.
    if let Some((region, u)) = region.and_then(|r| {
        report
            .unreadable
            .iter()
            .find(|u| overlaps(r, u.start, u.end))
            .map(|u| (r, u))
    }) {
        let own = live_name(maps, region.start, &u.mapping);
        reason.push(
            Texts::new(
                format!(
                    "its own region {own} still refused the read (????: {})",
                    u.reason
                ),
                format!(
                    "秘密を置いた領域 {own} そのものは読み取りを拒否した（????。{}）",
                    errno_part(&u.reason)
                ),
            )
            .into_lang(lang),
        );
    }
    Observation {
        outcome: Outcome::Leak,
        where_: places.join(", "),
        // Clauses after `; ` in English, sentences in Japanese.
        reason: Texts::new(
            reason.join("; "),
            reason.iter().map(|r| format!("{r}。")).collect::<String>(),
        )
        .into_lang(lang),
        hits: report.hits.len(),
        fragments_only,
        detected,
        view: Some(capture(
            source,
            &title,
            around_hit(first.vaddr, first.len),
            &hl,
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fragments_skip_the_constant_prefix() {
        let s = Secret::new(b"CONFIDUMP-0123456789abcdef01234567".to_vec());
        let n = needles_of(&s, Search::Fragments);
        // hash + (24 - 8 + 1) windows of the random part
        assert_eq!(n.len(), 1 + 17);
        assert_eq!(needles_of(&s, Search::Hash).len(), 1);
    }
}
