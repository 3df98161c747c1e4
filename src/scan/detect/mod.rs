//! Detectors: secrets found without being told them (issue 3, item 3: an attacker who knows
//! nothing). Card numbers (PAN), PEM private keys, JWTs, AWS access key ids and confidump
//! canaries.
//!
//! They run on the scanner's single pass: each chunk the scanner reads is handed to
//! [`Detectors::search`] right after the needle search, so memory is read once. Only matches that
//! *start* in the chunk's owned range are reported; the scanner gives [`LOOK_BEHIND`] bytes
//! before it (to judge a match's left context) and [`MAX_LEN`] bytes after it (the longest
//! block we report, a PEM key), so a match straddling chunks is found exactly once.
//!
//! Speed comes from cheap prefilters, never from a regex over every byte:
//! - card numbers: a card number is at most 23 bytes holding at least 13 digits, so one of
//!   the aligned 16-byte blocks it touches holds 5 digits or more; digits are counted per block
//!   (SIMD compares, no branch per byte) and only such blocks are parsed byte by byte. (A first
//!   version tested one byte in every 13, like `search_pan`: stride loads stalled and it cost
//!   more than the needle search itself);
//! - everything else starts with a literal (`-----BEGIN `, `eyJ`, `AKIA`/`ASIA`/`ABIA`/`ACCA`,
//!   `CONFIDUMP-`), found by one aho-corasick automaton in leftmost-first mode (the mode its
//!   SIMD search runs in); each hit is then validated by hand (no regex crate).
//!
//! False-positive control for card numbers follows the ideas of bulk_extractor's `accts`
//! scanner (ideas only, no code): Luhn; issuer prefix consistent with the length; usual
//! groupings only (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3, ...), one separator kind per number;
//! rejected when touching `[0-9A-Za-z]`, when sitting in a hex-dump-like context, when
//! repeating one digit or counting up or down.
//!
//! Cost and accuracy (`scripts/bench-detect.sh`; measurements: docs/performance.md, "Design
//! measurements"):
//! - speed: `--detect` roughly doubles the time of a plain needle scan and stays faster than
//!   `grep -E` for card-like digit runs; the detectors are fast on random data and slower on
//!   text-like log lines, where most 32-byte blocks hold digits to parse.
//! - false positives: none in random bytes, log-like text or the cores of ordinary processes
//!   (`random_data_has_no_cards`). A field of 16 hex digits that happen to be all decimal is
//!   indistinguishable from a card number: text with one hash per line yields such
//!   Luhn-valid hits.
//!
//! Not covered: UTF-16 text, Maestro and other minor issuers, PEM blocks whose END line is
//! missing or farther than [`PEM_MAX_LEN`] (truncated copies), JWE (5-part) tokens.

use std::ops::Range;

use aho_corasick::{AhoCorasick, Input, MatchKind};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::model::DetectorKind;

/// Longest PEM block reported: the END line is only searched this far from BEGIN. An RSA-8192
/// key is ~6.3 KiB of PEM; 16 KiB leaves room for encrypted-key headers and CRLF line ends.
pub const PEM_MAX_LEN: usize = 16 * 1024;
/// Longest JWT accepted; real ones are well under 2 KiB.
pub const JWT_MAX_LEN: usize = 8 * 1024;
/// Longest detection, hence the overlap the scanner must give after a chunk's owned range.
pub const MAX_LEN: usize = PEM_MAX_LEN;
/// Bytes of left context the scanner gives before a chunk's owned range: enough to see the
/// hex context of a card number and where a separated digit run really starts.
pub const LOOK_BEHIND: usize = 64;

/// Shortest card number.
const PAN_MIN: usize = 13;
/// Longest card number.
const PAN_MAX: usize = 19;
/// Longest card number as written: 19 digits in groups 4-4-4-4-3.
const PAN_SPAN_MAX: usize = PAN_MAX + 4;
/// Prefilter block size and the digits a block of a card number holds at least
/// (13 digits over at most 2 blocks), and the bytes of a block tested when it has them.
const BLOCK: usize = 32;
const BLOCK_MIN_DIGITS: u8 = 7;
const BLOCK_SAMPLES: [usize; 3] = [0, 13, 26];
/// Bytes of context inspected on each side of a card number for a hex dump.
const HEX_CONTEXT: usize = 16;
/// Base64 characters a PEM body needs at least (a tiny EC key has ~160).
const PEM_MIN_BODY: usize = 64;
/// Minimum lengths of JWT parts: a header with `"alg"` is at least `{"alg":"x"}` (15 bytes,
/// 20 characters); a signature (HS256: 43 characters) is never shorter than 16.
const JWT_MIN_HEADER: usize = 20;
const JWT_MIN_PAYLOAD: usize = 4;
const JWT_MIN_SIG: usize = 16;
/// Characters of an AWS access key id.
const AWS_LEN: usize = 20;
/// The canary shape, shared with the hash-confirmed needles.
use super::needles::{CANARY_HEX_LEN, CANARY_PREFIX};

const DIGIT: u8 = 1;
const SEP: u8 = 2;
const ALNUM: u8 = 4;
const HEXLETTER: u8 = 8;
const B64URL: u8 = 16;
const B32UP: u8 = 32;

/// Byte classes, so the hot loop tests one table load per sampled byte.
static CLASS: [u8; 256] = class_table();

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0usize;
    while i < 256 {
        let c = i as u8; // i < 256: lossless
        let mut v = 0u8;
        if c.is_ascii_digit() {
            v |= DIGIT | ALNUM | B64URL;
        }
        if c == b' ' || c == b'-' {
            v |= SEP;
        }
        if c.is_ascii_alphabetic() {
            v |= ALNUM | B64URL;
        }
        if matches!(c, b'a'..=b'f' | b'A'..=b'F') {
            v |= HEXLETTER;
        }
        if c == b'-' || c == b'_' {
            v |= B64URL;
        }
        if c.is_ascii_uppercase() || matches!(c, b'2'..=b'7') {
            v |= B32UP;
        }
        t[i] = v;
        i += 1;
    }
    t
}

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

fn class_at(buf: &[u8], i: usize) -> u8 {
    buf.get(i).map_or(0, |&b| class(b))
}

/// One detection inside a buffer; the scanner turns it into a [`crate::model::Detection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDetection {
    /// Index of the first byte in the buffer.
    pub idx: usize,
    /// Length in bytes.
    pub len: usize,
    /// What it is.
    pub kind: DetectorKind,
    /// Redacted preview: never the whole secret.
    pub preview: String,
}

/// What a literal prefix starts.
#[derive(Debug, Clone, Copy)]
enum Prefix {
    Pem,
    Jwt,
    Aws,
    Canary,
}

const PEM_BEGIN: &[u8] = b"-----BEGIN ";
/// Longest literal prefix (`-----BEGIN `).
const PREFIX_MAX: usize = 11;
const _: () = assert!(PEM_BEGIN.len() == PREFIX_MAX && CANARY_PREFIX.len() <= PREFIX_MAX);
const PEM_END: &[u8] = b"-----END ";
const PREFIXES: [(&[u8], Prefix); 7] = [
    (PEM_BEGIN, Prefix::Pem),
    (b"eyJ", Prefix::Jwt),
    (b"AKIA", Prefix::Aws),
    (b"ASIA", Prefix::Aws),
    (b"ABIA", Prefix::Aws),
    (b"ACCA", Prefix::Aws),
    (CANARY_PREFIX, Prefix::Canary),
];

/// The compiled detectors; build once per scan.
pub struct Detectors {
    ac: AhoCorasick,
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Detectors")
    }
}

impl Detectors {
    /// Compiles the literal prefixes.
    pub fn new() -> Result<Self, aho_corasick::BuildError> {
        // LeftmostFirst: Teddy (SIMD) only runs with leftmost kinds. No two prefixes can
        // start at the same byte (distinct first bytes or distinct second bytes), so
        // leftmost-first hides nothing.
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(PREFIXES.iter().map(|(p, _)| *p))?;
        Ok(Self { ac })
    }

    /// Every detection starting in `buf[owned]`, appended to `out`. `buf` should extend
    /// [`LOOK_BEHIND`] bytes before `owned` and [`MAX_LEN`] after it, or to the edge of the
    /// readable memory: a buffer edge is taken as the edge of the data.
    pub fn search(&self, buf: &[u8], owned: Range<usize>, out: &mut Vec<RawDetection>) {
        let owned = owned.start.min(buf.len())..owned.end.min(buf.len());
        search_cards(buf, owned.clone(), out);
        // Prefixes must start in owned: the automaton never needs to look past owned.end plus
        // the longest prefix (without this bound, a chunk with no prefix in it would also be
        // searched through its whole 16 KiB overlap). Validation still sees all of `buf`.
        let reach = owned.end.saturating_add(PREFIX_MAX).min(buf.len());
        let mut at = owned.start;
        while at < owned.end {
            let Some(m) = self.ac.find(Input::new(buf).span(at..reach)) else {
                break;
            };
            let s = m.start();
            if s >= owned.end {
                break;
            }
            let kind = PREFIXES.get(m.pattern().as_usize()).map(|(_, k)| *k);
            let found = match kind {
                Some(Prefix::Pem) => pem_at(buf, s),
                Some(Prefix::Jwt) => jwt_at(buf, s),
                Some(Prefix::Aws) => aws_at(buf, s),
                Some(Prefix::Canary) => canary_at(buf, s),
                None => None,
            };
            if let Some(d) = found {
                out.push(d);
            }
            at = s.saturating_add(1);
        }
    }
}

/// Convenience for callers holding one buffer: every detection in all of it.
pub fn detect_all(buf: &[u8]) -> Result<Vec<RawDetection>, aho_corasick::BuildError> {
    let mut out = Vec::new();
    Detectors::new()?.search(buf, 0..buf.len(), &mut out);
    out.sort_by_key(|d| (d.idx, d.kind));
    Ok(out)
}

// ----- Card numbers -----

/// Prefilter: a card number is at most [`PAN_SPAN_MAX`] (23) bytes holding at least 13
/// digits, so it touches at most 2 aligned 32-byte blocks and one of them holds at least 7 of
/// its digits. Digits are counted per block (a loop the compiler turns into SIMD compares and
/// adds); in random data about 1 block in 2,000 passes. The number's part in such a block is a
/// prefix of it, a suffix of 7 bytes or more, or 13 bytes or more inside it: in every case it
/// covers byte 0, 13 or 26, so only those bytes are tested (text, where most blocks pass, is
/// not walked byte by byte).
fn search_cards(buf: &[u8], owned: Range<usize>, out: &mut Vec<RawDetection>) {
    // Candidates start in owned, so they end before owned.end + PAN_SPAN_MAX.
    let lo = owned.start.min(buf.len());
    let hi = owned.end.saturating_add(PAN_SPAN_MAX).min(buf.len());
    let Some(region) = buf.get(lo..hi) else {
        return;
    };
    // Bytes before `next` belong to a run already parsed.
    let mut next = lo;
    let blocks = region.chunks_exact(BLOCK);
    let tail = blocks.remainder().len();
    for (k, block) in blocks.enumerate() {
        // A u8 sum (at most 32) keeps the whole count in SIMD registers.
        let digits = block
            .iter()
            .fold(0u8, |n, b| n + u8::from(b.wrapping_sub(b'0') < 10));
        if digits >= BLOCK_MIN_DIGITS {
            let start = lo + k * BLOCK;
            for at in BLOCK_SAMPLES {
                sample(buf, start + at, &owned, &mut next, out);
            }
        }
    }
    // The last partial block (at most 15 bytes) is tested byte by byte.
    for p in hi - tail..hi {
        sample(buf, p, &owned, &mut next, out);
    }
}

/// When `buf[p]` can be part of a card number (a digit, or a separator next to one), parses
/// the maximal run of digits and separators around it, unless that run was parsed already.
fn sample(
    buf: &[u8],
    p: usize,
    owned: &Range<usize>,
    next: &mut usize,
    out: &mut Vec<RawDetection>,
) {
    if p < *next {
        return;
    }
    let c = class_at(buf, p);
    let hit = c & DIGIT != 0
        || (c & SEP != 0
            && (class_at(buf, p.wrapping_sub(1)) & DIGIT != 0
                || class_at(buf, p + 1) & DIGIT != 0));
    if !hit {
        return;
    }
    let mut s = p;
    while s > 0 && class_at(buf, s - 1) & (DIGIT | SEP) != 0 {
        s -= 1;
    }
    let mut e = p + 1;
    while e < buf.len() && class_at(buf, e) & (DIGIT | SEP) != 0 {
        e += 1;
    }
    if e - s >= PAN_MIN {
        cards_in_run(buf, s..e, owned, out);
    }
    // buf[e] is neither a digit nor a separator: the next run starts after it.
    *next = e + 1;
}

/// Splits a maximal run of digits and separators into segments (digit groups joined by
/// single separators) and checks each.
fn cards_in_run(buf: &[u8], run: Range<usize>, owned: &Range<usize>, out: &mut Vec<RawDetection>) {
    let mut i = run.start;
    while i < run.end {
        if class_at(buf, i) & DIGIT == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i;
        loop {
            while j < run.end && class_at(buf, j) & DIGIT != 0 {
                j += 1;
            }
            if j + 1 < run.end && class_at(buf, j) & SEP != 0 && class_at(buf, j + 1) & DIGIT != 0 {
                j += 1;
                continue;
            }
            break;
        }
        // A segment that does not start in owned belongs to another chunk, except for its
        // single long groups (checked below on their own).
        check_segment(buf, start..j, owned, out);
        i = j;
    }
}

fn check_segment(buf: &[u8], seg: Range<usize>, owned: &Range<usize>, out: &mut Vec<RawDetection>) {
    let Some(bytes) = buf.get(seg.clone()) else {
        return;
    };
    // Shorter than 13 bytes cannot hold 13 digits; longer than 19 digits + 7 separators
    // cannot be one number, but may hold one long group.
    if bytes.len() < PAN_MIN {
        return;
    }
    // Touching a letter or digit: part of an identifier, a hash or a longer number.
    if class_at(buf, seg.start.wrapping_sub(1)) & ALNUM != 0 || class_at(buf, seg.end) & ALNUM != 0
    {
        return;
    }
    // Cheap rejections first, without allocating: text holds many short or mixed runs
    // ("2026-05-17 12").
    let mut ndigits = 0usize;
    let mut first_sep: Option<u8> = None;
    for &b in bytes {
        if b.is_ascii_digit() {
            ndigits += 1;
        } else if *first_sep.get_or_insert(b) != b {
            return; // mixed separators
        }
    }
    if ndigits < PAN_MIN || hex_context(buf, &seg) {
        return;
    }
    // Groups of digits (one separator kind, checked above).
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut g = seg.start;
    for (k, &b) in bytes.iter().enumerate() {
        if class(b) & SEP != 0 {
            let here = seg.start + k;
            groups.push(g..here);
            g = here + 1;
        }
    }
    groups.push(g..seg.end);
    let lens: Vec<usize> = groups.iter().map(|r| r.len()).collect();
    // The whole segment, then without a short (1-3 digit) group at either end: "6 5555 5555
    // 5555 4444" and "4111 1111 1111 1111 12" hold a card number as written; a 4-digit group
    // at an end makes a longer number, which stays rejected.
    let last = groups.len() - 1;
    let short = |i: usize| lens.get(i).is_some_and(|&l| l <= 3);
    let mut windows = vec![(0, last)];
    if last >= 1 && short(0) {
        windows.push((1, last));
    }
    if last >= 1 && short(last) {
        windows.push((0, last - 1));
    }
    if last >= 2 && short(0) && short(last) {
        windows.push((1, last - 1));
    }
    for (i, j) in windows {
        let (Some(first), Some(end), Some(ls)) = (groups.get(i), groups.get(j), lens.get(i..=j))
        else {
            continue;
        };
        if owned.contains(&first.start) && grouping_ok(ls, ls.iter().sum()) {
            if let Some(d) = card(buf, first.start..end.end) {
                out.push(d);
                return;
            }
        }
    }
    // "qty 2 4111111111111111": one long group inside a separated segment still counts.
    if groups.len() > 1 {
        for r in groups
            .into_iter()
            .filter(|r| (PAN_MIN..=PAN_MAX).contains(&r.len()) && owned.contains(&r.start))
        {
            if let Some(d) = card(buf, r) {
                out.push(d);
            }
        }
    }
}

/// The usual ways card numbers are written.
fn grouping_ok(lens: &[usize], ndigits: usize) -> bool {
    if !(PAN_MIN..=PAN_MAX).contains(&ndigits) {
        return false;
    }
    match lens {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [head @ .., last] => {
            head.len() >= 3 && head.iter().all(|&l| l == 4) && (1..=4).contains(last)
        }
        [] => false,
    }
}

/// True when the bytes around a segment look like a hex dump: on one side, up to 16 bytes of
/// hex digits and separators holding a hex letter, a digit and at least 4 hex digits. Words
/// made of a–f only ("added", "face") hold no digit and pass.
fn hex_context(buf: &[u8], seg: &Range<usize>) -> bool {
    let side = |it: &mut dyn Iterator<Item = &u8>| {
        let (mut hex, mut letters, mut digits) = (0usize, 0usize, 0usize);
        for &b in it.take(HEX_CONTEXT) {
            let c = class(b);
            if c & DIGIT != 0 {
                digits += 1;
                hex += 1;
            } else if c & HEXLETTER != 0 {
                letters += 1;
                hex += 1;
            } else if c & SEP == 0 {
                break;
            }
        }
        hex >= 4 && letters >= 1 && digits >= 1
    };
    let before = buf.get(..seg.start).unwrap_or_default();
    let after = buf.get(seg.end..).unwrap_or_default();
    side(&mut before.iter().rev()) || side(&mut after.iter())
}

/// Validates the digits of `r` as a card number and builds its detection.
fn card(buf: &[u8], r: Range<usize>) -> Option<RawDetection> {
    let digits: Zeroizing<Vec<u8>> = Zeroizing::new(
        buf.get(r.clone())?
            .iter()
            .copied()
            .filter(u8::is_ascii_digit)
            .collect(),
    );
    if !(PAN_MIN..=PAN_MAX).contains(&digits.len())
        || !issuer_ok(&digits)
        || trivial(&digits)
        || !super::needles::luhn_valid(&digits)
    {
        return None;
    }
    Some(RawDetection {
        idx: r.start,
        len: r.len(),
        kind: DetectorKind::CardNumber,
        preview: card_preview(&digits),
    })
}

/// The number formed by the first `n` digits.
fn prefix_num(d: &[u8], n: usize) -> u32 {
    d.iter()
        .take(n)
        .fold(0u32, |acc, &c| acc * 10 + u32::from(c.wrapping_sub(b'0')))
}

/// Issuer identification number consistent with the length (Maestro left out: its prefixes
/// and 12–19 lengths would admit too much).
fn issuer_ok(d: &[u8]) -> bool {
    let n = d.len();
    let (p1, p2, p3, p4) = (
        prefix_num(d, 1),
        prefix_num(d, 2),
        prefix_num(d, 3),
        prefix_num(d, 4),
    );
    let visa = p1 == 4 && matches!(n, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16;
    let amex = matches!(p2, 34 | 37) && n == 15;
    let discover = (p4 == 6011 || p2 == 65 || (644..=649).contains(&p3)) && (16..=19).contains(&n);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&n);
    let diners = (matches!(p2, 36 | 38 | 39) || (300..=305).contains(&p3) || p4 == 3095)
        && (14..=16).contains(&n);
    let unionpay = p2 == 62 && (16..=19).contains(&n);
    visa || mastercard || amex || discover || jcb || diners || unionpay
}

/// One repeated digit, or counting up or down (mod 10): never a real number.
fn trivial(d: &[u8]) -> bool {
    // Digits are ASCII digits here, so `c - b'0'` is 0..=9 and `+ k` stays below 19.
    let steps = |k: u8| {
        d.windows(2).all(|w| match w {
            [a, b] => (a.wrapping_sub(b'0') + k) % 10 == b.wrapping_sub(b'0'),
            _ => false,
        })
    };
    steps(0) || steps(1) || steps(9)
}

/// `4111 11** **** 1111`: first 6 and last 4 digits (what PCI DSS allows to show), in groups of 4.
fn card_preview(d: &[u8]) -> String {
    let n = d.len();
    let masked: Vec<u8> = d
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < 6 || i + 4 >= n { c } else { b'*' })
        .collect();
    masked
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

// ----- Literal-prefixed detectors -----

/// `-----BEGIN <LABEL>PRIVATE KEY-----`, a base64 body, and the matching END line within
/// [`PEM_MAX_LEN`].
fn pem_at(buf: &[u8], s: usize) -> Option<RawDetection> {
    let rest = buf.get(s..)?.get(..PEM_MAX_LEN.min(buf.len() - s))?;
    let after_begin = rest.get(PEM_BEGIN.len()..)?;
    let label_len = memchr::memmem::find(after_begin.get(..after_begin.len().min(64))?, b"-----")?;
    let label = after_begin.get(..label_len)?;
    if !label.ends_with(b"PRIVATE KEY")
        || !label.iter().all(|&c| c.is_ascii_uppercase() || c == b' ')
    {
        return None;
    }
    let body_start = PEM_BEGIN.len() + label_len + 5;
    let body_and_end = rest.get(body_start..)?;
    let end_rel = memchr::memmem::find(body_and_end, PEM_END)?;
    let body = body_and_end.get(..end_rel)?;
    let end_line = body_and_end.get(end_rel + PEM_END.len()..)?;
    if !end_line.starts_with(label) || end_line.get(label.len()..)?.get(..5)? != b"-----" {
        return None;
    }
    // Body: base64, line breaks, and the `Proc-Type:`/`DEK-Info:` headers of encrypted keys.
    let mut b64 = 0usize;
    for &c in body {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => b64 += 1,
            b'=' | b'\r' | b'\n' | b' ' | b'\t' | b':' | b',' | b'-' => {}
            _ => return None,
        }
    }
    if b64 < PEM_MIN_BODY {
        return None;
    }
    let len = body_start + end_rel + PEM_END.len() + label.len() + 5;
    Some(RawDetection {
        idx: s,
        len,
        kind: DetectorKind::PemPrivateKey,
        preview: format!(
            "-----BEGIN {}----- ({len} bytes)",
            String::from_utf8_lossy(label)
        ),
    })
}

/// Length of the run of base64url characters at `buf[i..]`, at most `cap`.
fn b64url_run(buf: &[u8], i: usize, cap: usize) -> usize {
    buf.get(i..)
        .unwrap_or_default()
        .iter()
        .take(cap.saturating_add(1))
        .take_while(|&&c| class(c) & B64URL != 0)
        .count()
}

/// `eyJ...` header `.` payload `.` signature; the header must decode to a JSON object with
/// `"alg"`.
fn jwt_at(buf: &[u8], s: usize) -> Option<RawDetection> {
    if class_at(buf, s.wrapping_sub(1)) & B64URL != 0 || buf.get(s.wrapping_sub(1)) == Some(&b'.') {
        return None;
    }
    let h = b64url_run(buf, s, 1024);
    if !(JWT_MIN_HEADER..=1024).contains(&h) || buf.get(s + h) != Some(&b'.') {
        return None;
    }
    let p_at = s + h + 1;
    let p = b64url_run(buf, p_at, JWT_MAX_LEN);
    if p < JWT_MIN_PAYLOAD || buf.get(p_at + p) != Some(&b'.') {
        return None;
    }
    let g_at = p_at + p + 1;
    let g = b64url_run(buf, g_at, JWT_MAX_LEN);
    let len = g_at + g - s;
    if g < JWT_MIN_SIG || len > JWT_MAX_LEN {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let header = engine.decode(buf.get(s..s + h)?).ok()?;
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header).ok()?;
    if !json.get("alg").is_some_and(serde_json::Value::is_string) {
        return None;
    }
    Some(RawDetection {
        idx: s,
        len,
        kind: DetectorKind::Jwt,
        preview: format!(
            "{}…(header only)",
            String::from_utf8_lossy(buf.get(s..s + 10)?)
        ),
    })
}

/// `(AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}` with non-alphanumeric bytes on both sides.
fn aws_at(buf: &[u8], s: usize) -> Option<RawDetection> {
    if class_at(buf, s.wrapping_sub(1)) & ALNUM != 0 || class_at(buf, s + AWS_LEN) & ALNUM != 0 {
        return None;
    }
    let id = buf.get(s..s + AWS_LEN)?;
    if !id.get(4..)?.iter().all(|&c| class(c) & B32UP != 0) {
        return None;
    }
    Some(RawDetection {
        idx: s,
        len: AWS_LEN,
        kind: DetectorKind::AwsAccessKeyId,
        preview: format!(
            "{}…{}",
            String::from_utf8_lossy(id.get(..4)?),
            String::from_utf8_lossy(id.get(AWS_LEN - 4..)?)
        ),
    })
}

/// `CONFIDUMP-` + 24 lowercase hex digits, not followed by a letter or digit.
fn canary_at(buf: &[u8], s: usize) -> Option<RawDetection> {
    let n = CANARY_PREFIX.len() + CANARY_HEX_LEN;
    let cand = buf.get(s..s + n)?;
    if !super::needles::is_canary(cand) || class_at(buf, s + n) & ALNUM != 0 {
        return None;
    }
    Some(RawDetection {
        idx: s,
        len: n,
        kind: DetectorKind::Canary,
        preview: format!(
            "{}{}…",
            String::from_utf8_lossy(CANARY_PREFIX),
            String::from_utf8_lossy(cand.get(CANARY_PREFIX.len()..CANARY_PREFIX.len() + 4)?)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(buf: &[u8]) -> Vec<(usize, DetectorKind, String)> {
        detect_all(buf)
            .unwrap()
            .into_iter()
            .map(|d| (d.idx, d.kind, d.preview))
            .collect()
    }

    fn cards(text: &str) -> Vec<String> {
        detect_all(text.as_bytes())
            .unwrap()
            .into_iter()
            .filter(|d| d.kind == DetectorKind::CardNumber)
            .map(|d| text[d.idx..d.idx + d.len].to_string())
            .collect()
    }

    #[test]
    fn card_numbers_of_several_issuers_and_groupings() {
        for c in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "2223003122003222",
            "3782 822463 10005",
            "371449635398431",
            "6011111111111117",
            "3530111333300000",
            "3056 930902 5904",
            "6200000000000005",
            "4222222222222",
            "5555 5555 5555 4444",
        ] {
            let text = format!("card: {c}, exp 12/29");
            assert_eq!(cards(&text), vec![c.to_string()], "{c}");
        }
        let got = kinds(b"x 4111 1111 1111 1111 y");
        assert_eq!(got[0].2, "4111 11** **** 1111");
        assert_eq!(got[0].0, 2);
    }

    #[test]
    fn cards_found_at_every_alignment() {
        // The block prefilter tests only 3 bytes of a 32-byte block: a number must be found
        // whatever its alignment, in text and next to digits in the neighbouring block.
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4222222222222",
            "3782-822463-10005",
        ] {
            for pad in 0..70 {
                let mut t = "x.".repeat(pad);
                t.push(' ');
                t.push_str(card);
                t.push_str(", 12/34 5678.90 1234");
                assert_eq!(cards(&t), vec![card.to_string()], "{card} at {pad}");
            }
        }
    }

    #[test]
    fn card_near_misses_rejected() {
        for text in [
            "card 4111111111111112 luhn invalid",
            "in a 25 digit run 4111111111111111000000000",
            "9994111111111111111",
            "hex dump 0000: 3f2a 4111 1111 1111 1111 9bcd ef01",
            "deadbeef4111111111111111cafe",
            "id=x4111111111111111",
            "all same 0000000000000000 and 4444444444444444",
            "sequence 1234567890123456 or 9876543210987654",
            "mixed 4111-1111 1111-1111",
            "groups 41111 11111 11111 1",
            "unknown issuer 9111111111111119",
            "visa of length 15 411111111111116",
        ] {
            assert!(cards(text).is_empty(), "{text}: {:?}", cards(text));
        }
        // A short group next to a number does not hide it; a 4-digit one makes a longer number.
        assert_eq!(
            cards("6 5555 5555 5555 4444 12"),
            vec!["5555 5555 5555 4444"]
        );
        assert!(cards("1234 5555 5555 5555 4444").is_empty());
        // A word made of hex letters is not a hex dump.
        assert_eq!(
            cards("Added 4111 1111 1111 1111"),
            vec!["4111 1111 1111 1111"]
        );
    }

    #[test]
    fn random_data_has_no_cards() {
        // 64 MiB of xorshift output: random memory (keys, compressed or encrypted data).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut buf = vec![0u8; 64 << 20];
        for c in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        let got = detect_all(&buf).unwrap();
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn pem_block_whole_extent() {
        let body = "MIIEowIBAAKCAQEAtest".repeat(20);
        let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----");
        let text = format!("junk {pem}\nmore");
        let got = detect_all(text.as_bytes()).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].idx, got[0].len), (5, pem.len()));
        assert_eq!(
            got[0].preview,
            format!("-----BEGIN RSA PRIVATE KEY----- ({} bytes)", pem.len())
        );
        let ssh = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\r\n{body}\r\n-----END OPENSSH PRIVATE KEY-----\r\n"
        );
        assert_eq!(detect_all(ssh.as_bytes()).unwrap().len(), 1);
        // Public keys, mismatched END, and no END are not private-key blocks.
        for t in [
            format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"),
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"),
            format!("-----BEGIN PRIVATE KEY-----\n{body}\n"),
            "-----BEGIN PRIVATE KEY-----\nshort\n-----END PRIVATE KEY-----".to_string(),
        ] {
            assert!(detect_all(t.as_bytes()).unwrap().is_empty(), "{t}");
        }
    }

    #[test]
    fn jwt_needs_json_header_with_alg() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let text = format!("Authorization: Bearer {jwt}\r\n");
        let got = detect_all(text.as_bytes()).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].idx, got[0].len), (22, jwt.len()));
        assert_eq!(got[0].preview, "eyJhbGciOi…(header only)");
        // eyJ + base64 of `{"foo":"bar","x":1}`: JSON, but no alg.
        let no_alg =
            "eyJmb28iOiJiYXIiLCJ4IjoxfQ.eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV";
        // eyJ + garbage that does not decode to JSON.
        let not_json =
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXV.eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV";
        let short_sig = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.abc";
        for t in [no_alg, not_json, short_sig] {
            assert!(detect_all(t.as_bytes()).unwrap().is_empty(), "{t}");
        }
    }

    #[test]
    fn aws_and_canary() {
        let got = kinds(b"key=AKIAIOSFODNN7EXAMPLE; CONFIDUMP-1a2b3c4d5e6f7a8b9c0d1e2f.");
        assert_eq!(
            got,
            vec![
                (4, DetectorKind::AwsAccessKeyId, "AKIA…MPLE".to_string()),
                (26, DetectorKind::Canary, "CONFIDUMP-1a2b…".to_string()),
            ]
        );
        for t in [
            &b"XAKIAIOSFODNN7EXAMPLE"[..],
            b"AKIAIOSFODNN7EXAMPLEX",
            b"AKIAIOSFODNN7EXAMPL1",
            b"CONFIDUMP-1a2b3c4d5e6f7a8b9c0d1e2fa",
            b"CONFIDUMP-1A2B3C4D5E6F7A8B9C0D1E2F",
        ] {
            assert!(
                detect_all(t).unwrap().is_empty(),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
    }

    #[test]
    fn owned_range_reports_each_match_once() {
        // Split one buffer into windows the way the scanner does and check that every
        // detection is reported by exactly one window.
        let mut text = Vec::new();
        for i in 0..200 {
            text.extend_from_slice(
                format!("row {i}: 4111 1111 1111 1111 AKIAIOSFODNN7EXAMPLE 7 5555 5555 5555 4444 ")
                    .as_bytes(),
            );
        }
        let whole = detect_all(&text).unwrap();
        let d = Detectors::new().unwrap();
        for step in [1usize, 13, 16, 17, 64, 100, 4096] {
            let mut got = Vec::new();
            let mut a = 0;
            while a < text.len() {
                let b = (a + step).min(text.len());
                let lo = a.saturating_sub(LOOK_BEHIND);
                let hi = (b + MAX_LEN).min(text.len());
                let mut part = Vec::new();
                d.search(&text[lo..hi], a - lo..b - lo, &mut part);
                got.extend(part.into_iter().map(|mut r| {
                    r.idx += lo;
                    r
                }));
                a = b;
            }
            got.sort_by_key(|d| (d.idx, d.kind));
            assert_eq!(got, whole, "step {step}");
        }
        assert_eq!(whole.len(), 600);
    }
}
