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

use crate::model::DetectorKind;

mod cards;
mod literals;

use cards::search_cards;
use literals::{aws_at, canary_at, jwt_at, pem_at};

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

/// The canary shape, shared with the hash-confirmed needles.
use super::needles::CANARY_PREFIX;

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
