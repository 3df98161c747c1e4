//! The compiled needles and the search over one buffer.
//!
//! Why not one `AhoCorasick` over all patterns: its prefilter choice depends on the pattern
//! set, and for one needle the choice was a disaster. A needle's seven encodings (raw,
//! UTF-16LE, hex in both cases, base64 at three alignments) begin with few distinct bytes, so
//! aho-corasick picked its start-byte or rare-byte prefilter (`memchr2/3` on bytes like `4` or
//! `C`, each hit confirmed in the automaton) over Teddy, its SIMD searcher: one canary scanned
//! a core over ten times slower than two needles, which, having more distinct start bytes, got
//! Teddy (measurements: docs/performance.md, "Design measurements"). So the engine picks the
//! search itself:
//!
//! * Candidates come from Teddy (`aho_corasick::packed`), built directly (no prefilter
//!   heuristics) over the distinct *prefixes* of the patterns: their first [`PREFIX_LEN`]
//!   bytes. Teddy only fingerprints the first three bytes anyway, and short literals make its
//!   verification cheap; a long needle (up to any length) costs the same as a short one.
//! * Teddy takes at most [`TEDDY_MAX`] literals; more prefixes are split into several
//!   searchers, each run over the (cache-resident) chunk, their candidates merged.
//!   One-byte prefixes go in groups of at most 16 (Teddy's limit for them).
//! * Where Teddy cannot run (no SSSE3), a leftmost-first `AhoCorasick` over the prefixes.
//!
//! Each candidate position is then checked against every full pattern beginning with that
//! byte, so every occurrence of every pattern is reported, overlapping or not.

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::needles::{
    is_canary, luhn_valid, sha256, PatKind, Pattern, CANARY_HEX_LEN, CANARY_PREFIX, PAN_LEN,
};
use super::{Needles, ScanError, Shape};
use crate::model::Encoding;

/// Bytes of each pattern handed to the candidate search.
const PREFIX_LEN: usize = 8;
/// Literals per Teddy searcher: beyond 64 aho-corasick refuses to build one.
const TEDDY_MAX: usize = 64;
/// ... and at most 16 when they are one byte long.
const TEDDY_SHORT_MAX: usize = 16;

/// A candidate match inside one buffer.
pub(super) struct Found {
    pub(super) idx: usize,
    pub(super) len: usize,
    pub(super) needle: usize,
    pub(super) encoding: Encoding,
}

/// One candidate searcher over a group of prefixes.
enum Finder {
    Teddy(packed::Searcher),
    /// Where Teddy cannot be built (no SSSE3). LeftmostFirst: only the position matters, and
    /// leftmost semantics never skip a position where some prefix starts.
    Automaton(AhoCorasick),
}

impl Finder {
    fn build(group: &[&[u8]], teddy: bool) -> Result<Self, ScanError> {
        let t = if teddy {
            packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(group.iter().copied())
                .build()
        } else {
            None
        };
        Ok(match t {
            Some(t) => Finder::Teddy(t),
            None => Finder::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(group)?,
            ),
        })
    }

    /// The first candidate starting in `at..end`.
    #[inline]
    fn next(&self, buf: &[u8], at: usize, end: usize) -> Option<usize> {
        let s = match self {
            Finder::Teddy(t) => t.find_in(buf, aho_corasick::Span::from(at..buf.len()))?,
            Finder::Automaton(ac) => ac.find(Input::new(buf).span(at..buf.len()))?,
        }
        .start();
        (s < end).then_some(s)
    }
}

/// The compiled needles.
pub(super) struct Engine {
    finders: Vec<Finder>,
    pats: Vec<Pattern>,
    /// Indices into `pats` by first byte.
    by_first: Vec<Vec<usize>>,
    canary: Vec<(usize, [u8; 32])>,
    pan: Vec<(usize, [u8; 32])>,
    /// Longest thing that must be seen whole: a pattern or a shape candidate.
    pub(super) max_len: usize,
}

impl Engine {
    pub(super) fn new(needles: &Needles) -> Result<Self, ScanError> {
        Self::with_finder(needles, true)
    }

    /// `teddy: false` forces the automaton (tests compare the two).
    pub(super) fn with_finder(needles: &Needles, teddy: bool) -> Result<Self, ScanError> {
        let pats = needles.patterns();
        let canary = needles.hashes(Shape::Canary);
        let pan = needles.hashes(Shape::Pan);
        let mut prefixes: Vec<&[u8]> = pats
            .iter()
            .map(|p| &p.bytes[..p.bytes.len().min(PREFIX_LEN)])
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        // Teddy with one-byte literals takes at most 16 of them; longer ones up to 64.
        let (short, long): (Vec<&[u8]>, Vec<&[u8]>) = prefixes.iter().partition(|p| p.len() == 1);
        let finders = short
            .chunks(TEDDY_SHORT_MAX)
            .chain(long.chunks(TEDDY_MAX))
            .map(|group| Finder::build(group, teddy))
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_first = vec![Vec::new(); 256];
        for (i, p) in pats.iter().enumerate() {
            if let Some(&b) = p.bytes.first() {
                by_first[usize::from(b)].push(i);
            }
        }
        let mut max_len = pats.iter().map(|p| p.bytes.len()).max().unwrap_or(0);
        if !canary.is_empty() {
            max_len = max_len.max(2 * (CANARY_PREFIX.len() + CANARY_HEX_LEN));
        }
        if !pan.is_empty() {
            max_len = max_len.max(PAN_LEN);
        }
        Ok(Self {
            finders,
            pats,
            by_first,
            canary,
            pan,
            max_len,
        })
    }

    /// True when some pattern is zeros alone (a needle of NUL bytes from a needle file): such
    /// a pattern matches inside never-populated memory, which then cannot be skipped.
    pub(super) fn matches_zeros(&self) -> bool {
        self.pats.iter().any(|p| p.bytes.iter().all(|&b| b == 0))
    }

    /// Every match starting in `buf[owned]`. `cands` is the caller's scratch for merging
    /// several searchers' candidates (the engine is shared by the scan's workers, so it
    /// holds none itself).
    pub(super) fn search(
        &self,
        buf: &[u8],
        owned: std::ops::Range<usize>,
        out: &mut Vec<Found>,
        cands: &mut Vec<usize>,
    ) {
        let end = owned.end.min(buf.len());
        match &self.finders[..] {
            [] => {}
            [one] => {
                let mut at = owned.start;
                while let Some(s) = one.next(buf, at, end) {
                    self.verify(buf, s, out);
                    at = s + 1;
                }
            }
            several => {
                cands.clear();
                for f in several {
                    let mut at = owned.start;
                    while let Some(s) = f.next(buf, at, end) {
                        cands.push(s);
                        at = s + 1;
                    }
                }
                cands.sort_unstable();
                cands.dedup();
                for &s in cands.iter() {
                    self.verify(buf, s, out);
                }
            }
        }
        if !self.pan.is_empty() {
            self.search_pan(buf, owned, out);
        }
    }

    /// Every full pattern starting at `s`.
    fn verify(&self, buf: &[u8], s: usize, out: &mut Vec<Found>) {
        let rest = &buf[s..];
        let Some(&first) = rest.first() else { return };
        for &i in &self.by_first[usize::from(first)] {
            let p = &self.pats[i];
            if !rest.starts_with(&p.bytes) {
                continue;
            }
            match p.kind {
                PatKind::Needle(needle, encoding) => out.push(Found {
                    idx: s,
                    len: p.bytes.len(),
                    needle,
                    encoding,
                }),
                PatKind::CanaryPrefix(enc) => self.check_canary(rest, s, enc, out),
            }
        }
    }

    fn check_canary(&self, rest: &[u8], idx: usize, enc: Encoding, out: &mut Vec<Found>) {
        let n = CANARY_PREFIX.len() + CANARY_HEX_LEN;
        let (cand, len): (Vec<u8>, usize) = match enc {
            Encoding::Utf16le => {
                let Some(w) = rest.get(..2 * n) else { return };
                if w.chunks(2).any(|c| c.get(1) != Some(&0)) {
                    return;
                }
                (w.iter().step_by(2).copied().collect(), 2 * n)
            }
            _ => match rest.get(..n) {
                Some(w) => (w.to_vec(), n),
                None => return,
            },
        };
        let cand = zeroize::Zeroizing::new(cand);
        if !is_canary(&cand) {
            return;
        }
        let h = sha256(&cand);
        for (needle, _) in self.canary.iter().filter(|(_, want)| *want == h) {
            out.push(Found {
                idx,
                len,
                needle: *needle,
                encoding: enc,
            });
        }
    }

    /// Runs of exactly 16 digits, Luhn-valid, confirmed by hash. A run of 16 contains exactly
    /// one index that is a multiple of 16, so only those bytes are tested first: a cheap
    /// prefilter that keeps this far from the speed of a per-byte regex.
    fn search_pan(&self, buf: &[u8], owned: std::ops::Range<usize>, out: &mut Vec<Found>) {
        // A run starting in `owned` holds a multiple of 16 at or after its start: begin at the
        // last one before `owned` (a chunk is searched in several windows; each starts here).
        let mut p = owned.start / PAN_LEN * PAN_LEN;
        while p < buf.len() {
            if !buf[p].is_ascii_digit() {
                p += PAN_LEN;
                continue;
            }
            let mut s = p;
            while s > 0 && buf[s - 1].is_ascii_digit() {
                s -= 1;
            }
            let mut e = p;
            while e < buf.len() && buf[e].is_ascii_digit() {
                e += 1;
            }
            if e - s == PAN_LEN && owned.contains(&s) && luhn_valid(&buf[s..e]) {
                let h = sha256(&buf[s..e]);
                for (needle, _) in self.pan.iter().filter(|(_, want)| *want == h) {
                    out.push(Found {
                        idx: s,
                        len: PAN_LEN,
                        needle: *needle,
                        encoding: Encoding::Raw,
                    });
                }
            }
            // Next multiple of 16 after the run.
            p = (e / PAN_LEN + 1) * PAN_LEN;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    /// Every (start, needle, encoding, len) found by a brute-force search of every pattern.
    fn naive(needles: &Needles, buf: &[u8]) -> Vec<(usize, usize, &'static str, usize)> {
        let mut out = Vec::new();
        for p in needles.patterns() {
            let PatKind::Needle(n, enc) = p.kind else {
                continue;
            };
            for s in 0..buf.len() {
                if buf[s..].starts_with(&p.bytes) {
                    out.push((s, n, enc.as_str(), p.bytes.len()));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn run(engine: &Engine, buf: &[u8]) -> Vec<(usize, usize, &'static str, usize)> {
        let mut found = Vec::new();
        engine.search(buf, 0..buf.len(), &mut found, &mut Vec::new());
        let mut out: Vec<_> = found
            .iter()
            .map(|f| (f.idx, f.needle, f.encoding.as_str(), f.len))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Needles of every length from 1 to 64 and a few long ones (canary-shaped among them),
    /// planted in every encoding in pseudo-random bytes, some overlapping.
    fn fixture() -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut list: Vec<Vec<u8>> = (1..=64)
            .map(|len| (0..len).map(|_| b'A' + (rnd() % 26) as u8).collect())
            .collect();
        list.push(b"CONFIDUMP-0123456789abcdef01234567".to_vec());
        list.push(b"CONFIDUMP-0123456789abcdef01234568".to_vec());
        list.push((0..300).map(|_| (rnd() % 256) as u8).collect());
        list.push((0..4096).map(|_| b'a' + (rnd() % 26) as u8).collect());
        let mut buf: Vec<u8> = (0..1 << 20).map(|_| (rnd() % 256) as u8).collect();
        let mut at = 100usize;
        for n in &list {
            let mut forms: Vec<Vec<u8>> = vec![n.clone()];
            forms.extend(
                super::super::needles::variants(n)
                    .into_iter()
                    .map(|(_, b)| b.to_vec()),
            );
            for (j, f) in forms.iter().enumerate() {
                buf[at..at + f.len()].copy_from_slice(f);
                // Every other form is overlapped by the next one; the raw form stays whole.
                at += if j % 2 == 1 {
                    f.len() / 2 + 1
                } else {
                    f.len() + 7
                };
            }
        }
        assert!(at < buf.len());
        (list, buf)
    }

    fn needles(list: &[&Vec<u8>]) -> Needles {
        let mut n = Needles::new();
        for b in list {
            n.add_bytes(Secret::new(b.to_vec()));
        }
        n
    }

    #[test]
    fn one_needle_and_many_find_the_same_hits_as_brute_force() {
        let (list, buf) = fixture();
        let all = needles(&list.iter().collect::<Vec<_>>());
        let engine = Engine::new(&all).unwrap();
        // 68 needles in all encodings: several Teddy searchers merged.
        assert!(engine.finders.len() > 1);
        assert!(engine.finders.iter().all(|f| matches!(f, Finder::Teddy(_))));
        let want = naive(&all, &buf);
        assert!(want.len() >= list.len() * 4, "fixture planted too little");
        assert_eq!(run(&engine, &buf), want);
        assert_eq!(run(&Engine::with_finder(&all, false).unwrap(), &buf), want);
        // Each needle alone (one Teddy searcher) finds what it found among all the others.
        for (i, n) in list.iter().enumerate() {
            let one = needles(&[n]);
            let engine = Engine::new(&one).unwrap();
            let alone: Vec<_> = run(&engine, &buf)
                .into_iter()
                .map(|(s, _, e, l)| (s, i, e, l))
                .collect();
            let among: Vec<_> = want.iter().copied().filter(|h| h.1 == i).collect();
            assert_eq!(alone, among, "needle of length {}", n.len());
            assert!(!alone.is_empty());
        }
    }
}
