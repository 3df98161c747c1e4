//! What to look for: needles (text or bytes) and hash-confirmed shapes, and the byte patterns
//! each expands to (raw, UTF-16LE, hex in both cases, base64 at the three alignments).

use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::model::Encoding;
use crate::secret::Secret;

/// Encoded variants shorter than this would match nearly everywhere (one base64 character of a
/// one-byte needle): they are dropped. The raw needle is always kept: its length is the
/// caller's choice.
const MIN_VARIANT_LEN: usize = 4;

/// The shape of a secret the attacker knows only by its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `CONFIDUMP-` followed by 24 lowercase hex digits (the victims' canaries).
    Canary,
    /// A run of exactly 16 ASCII digits that passes the Luhn check (a card number).
    Pan,
    /// Either of the above: for an attacker who has the hash but not the shape.
    Any,
}

/// The literal start of a canary.
pub const CANARY_PREFIX: &[u8] = b"CONFIDUMP-";
/// Hex digits after the prefix.
pub const CANARY_HEX_LEN: usize = 24;
/// Digits of a PAN.
pub const PAN_LEN: usize = 16;

/// Longest needle accepted by [`Needles::try_add_bytes`]. Each needle becomes about seven
/// patterns (raw, UTF-16LE, hex twice, base64 three times) of up to 2.7× its length, and the
/// search automaton costs memory in proportion to the pattern bytes: a cap keeps peak memory
/// independent of what a user types or a file holds. A longer secret is found by any
/// distinctive part of it.
pub const MAX_NEEDLE_LEN: usize = 4096;
/// Most needle bytes, all needles together, accepted by [`Needles::try_add_bytes`].
pub const MAX_NEEDLE_BYTES: usize = 16 * 1024;

/// A needle refused by the limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NeedleError {
    /// One needle is too long.
    #[error(
        "a needle of {len} bytes is longer than the {MAX_NEEDLE_LEN}-byte limit \
         (search a distinctive part of it instead)"
    )]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// All needles together are too long.
    #[error(
        "the needles add up to more than {MAX_NEEDLE_BYTES} bytes (the limit that keeps the \
         search's memory bounded): give fewer or shorter needles"
    )]
    TooMany,
}

/// Largest needle file read: far more than the needles' own limit allows, so the limit that
/// speaks is the needles' one, with its line number.
pub const NEEDLE_FILE_LIMIT: u64 = 1 << 20;

/// Needles shorter than this are weak: they match unrelated bytes too. Said, still searched.
pub const WEAK_NEEDLE: usize = 12;

/// The needles as a user gives them (`--needle`, `--needle-file`, `--sha256`, `--shape`),
/// numbered as documented: the texts, then each file's lines, then the digests.
#[derive(Debug, Clone, Copy)]
pub struct NeedleSpec<'a> {
    /// Texts to look for.
    pub texts: &'a [String],
    /// Files of one needle per line (empty lines ignored), read as secrets.
    pub files: &'a [std::path::PathBuf],
    /// SHA-256 digests (hex) of secrets known only by their hash.
    pub sha256: &'a [String],
    /// The shape of the hashed secrets.
    pub shape: Shape,
}

/// A needle option that cannot be searched; each names the option (or file and line).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// An empty `--needle`.
    #[error("--needle: empty needle")]
    Empty,
    /// A `--needle` over the limits.
    #[error("needle {index} (--needle)")]
    Text {
        /// Its number.
        index: usize,
        /// Which limit.
        #[source]
        source: NeedleError,
    },
    /// A needle file that cannot be read.
    #[error(transparent)]
    File(#[from] crate::files::input::InputError),
    /// A needle file's line over the limits.
    #[error("{}: line {line}", path.display())]
    Line {
        /// The file.
        path: std::path::PathBuf,
        /// The line (1-based).
        line: usize,
        /// Which limit.
        #[source]
        source: NeedleError,
    },
    /// A `--sha256` that is not a digest.
    #[error("--sha256 {given}: not 64 hex digits ({error})")]
    Hash {
        /// What was given.
        given: String,
        /// Why it is not one.
        error: hex::FromHexError,
    },
}

impl NeedleSpec<'_> {
    /// True when no needle is given.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty() && self.files.is_empty() && self.sha256.is_empty()
    }

    /// The needles, numbered as documented.
    pub fn build(&self) -> Result<Needles, SpecError> {
        let mut out = Needles::new();
        for (index, n) in self.texts.iter().enumerate() {
            if n.is_empty() {
                return Err(SpecError::Empty);
            }
            out.try_add_bytes(Secret::new(n.as_bytes().to_vec()))
                .map_err(|source| SpecError::Text { index, source })?;
        }
        for path in self.files {
            // Regular files only, size capped: /dev/zero or a FIFO is refused, not read.
            let data = Secret::new(crate::files::input::read_user_file(
                path,
                NEEDLE_FILE_LIMIT,
                "a needle file",
            )?);
            for (n, line) in data.expose().split(|&b| b == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.is_empty() {
                    out.try_add_bytes(Secret::new(line.to_vec()))
                        .map_err(|source| SpecError::Line {
                            path: path.clone(),
                            line: n + 1,
                            source,
                        })?;
                }
            }
        }
        for h in self.sha256 {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(h.trim(), &mut digest).map_err(|error| SpecError::Hash {
                given: h.clone(),
                error,
            })?;
            out.add_hash(self.shape, digest);
        }
        Ok(out)
    }

    /// The texts short enough to match unrelated bytes too (a prefix), as (number, length):
    /// their hits are not proof that the bytes are the secret.
    pub fn weak(&self) -> Vec<(usize, usize)> {
        self.texts
            .iter()
            .enumerate()
            .filter(|(_, n)| n.len() < WEAK_NEEDLE)
            .map(|(i, n)| (i, n.len()))
            .collect()
    }
}

enum Needle {
    Bytes(Secret),
    Hash { shape: Shape, sha256: [u8; 32] },
}

/// Everything one scan looks for. Needles are numbered 0, 1, ... in the order they are added;
/// that number is `Hit::needle`.
#[derive(Default)]
pub struct Needles {
    items: Vec<Needle>,
    detect: bool,
}

impl std::fmt::Debug for Needles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes: only how many needles there are.
        write!(f, "Needles({} items)", self.items.len())
    }
}

/// What a pattern stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatKind {
    /// An encoding of needle `.0`.
    Needle(usize, Encoding),
    /// The literal prefix of a canary, in the given encoding (raw or UTF-16LE).
    CanaryPrefix(Encoding),
}

/// One byte pattern handed to the automaton.
pub(crate) struct Pattern {
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    pub(crate) kind: PatKind,
}

impl Needles {
    /// No needles yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a needle searched as given and in every encoding; returns its number. For needles
    /// from a user or a file use [`Needles::try_add_bytes`], which enforces the limits.
    pub fn add_bytes(&mut self, needle: Secret) -> usize {
        self.items.push(Needle::Bytes(needle));
        self.items.len() - 1
    }

    /// [`Needles::add_bytes`], refusing a needle over [`MAX_NEEDLE_LEN`] or one that takes all
    /// needles over [`MAX_NEEDLE_BYTES`].
    pub fn try_add_bytes(&mut self, needle: Secret) -> Result<usize, NeedleError> {
        if needle.len() > MAX_NEEDLE_LEN {
            return Err(NeedleError::TooLong { len: needle.len() });
        }
        let total: usize = self
            .items
            .iter()
            .map(|n| match n {
                Needle::Bytes(b) => b.len(),
                Needle::Hash { .. } => 0,
            })
            .sum();
        if total.saturating_add(needle.len()) > MAX_NEEDLE_BYTES {
            return Err(NeedleError::TooMany);
        }
        Ok(self.add_bytes(needle))
    }

    /// Adds a secret known only by its SHA-256 and shape; returns its number.
    pub fn add_hash(&mut self, shape: Shape, sha256: [u8; 32]) -> usize {
        self.items.push(Needle::Hash { shape, sha256 });
        self.items.len() - 1
    }

    /// Also run the detectors (card numbers, PEM keys, JWTs, AWS key ids, canaries), which find
    /// secrets without being told them; results go to `ScanReport::detections`.
    pub fn enable_detectors(&mut self) {
        self.detect = true;
    }

    /// True when detectors are on.
    pub fn detectors_enabled(&self) -> bool {
        self.detect
    }

    /// Number of needles.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Needle numbers and hashes of the hash needles of `shape`.
    pub(crate) fn hashes(&self, shape: Shape) -> Vec<(usize, [u8; 32])> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Needle::Hash { shape: s, sha256 } if *s == shape || *s == Shape::Any => {
                    Some((i, *sha256))
                }
                _ => None,
            })
            .collect()
    }

    /// True when some hash needle has `shape`.
    pub(crate) fn wants(&self, shape: Shape) -> bool {
        !self.hashes(shape).is_empty()
    }

    /// All patterns, raw needles first so that with leftmost-first semantics a raw match is
    /// preferred where patterns start at the same place.
    pub(crate) fn patterns(&self) -> Vec<Pattern> {
        let mut raw = Vec::new();
        let mut other = Vec::new();
        for (i, n) in self.items.iter().enumerate() {
            let Needle::Bytes(s) = n else { continue };
            if s.is_empty() {
                continue;
            }
            raw.push(Pattern {
                bytes: Zeroizing::new(s.expose().to_vec()),
                kind: PatKind::Needle(i, Encoding::Raw),
            });
            for (enc, bytes) in variants(s.expose()) {
                if bytes.len() >= MIN_VARIANT_LEN
                    && !other
                        .iter()
                        .any(|p: &Pattern| *p.bytes == *bytes && p.kind == PatKind::Needle(i, enc))
                {
                    other.push(Pattern {
                        bytes,
                        kind: PatKind::Needle(i, enc),
                    });
                }
            }
        }
        if self.wants(Shape::Canary) {
            raw.push(Pattern {
                bytes: Zeroizing::new(CANARY_PREFIX.to_vec()),
                kind: PatKind::CanaryPrefix(Encoding::Raw),
            });
            raw.push(Pattern {
                bytes: utf16le(CANARY_PREFIX),
                kind: PatKind::CanaryPrefix(Encoding::Utf16le),
            });
        }
        raw.extend(other);
        raw
    }
}

/// The encoded forms of a needle (not the raw one).
pub(crate) fn variants(needle: &[u8]) -> Vec<(Encoding, Zeroizing<Vec<u8>>)> {
    let mut v = vec![
        (Encoding::Utf16le, utf16le(needle)),
        (
            Encoding::Hex,
            Zeroizing::new(hex::encode(needle).into_bytes()),
        ),
        (
            Encoding::Hex,
            Zeroizing::new(hex::encode_upper(needle).into_bytes()),
        ),
    ];
    for prefix in 0..3 {
        v.push((Encoding::Base64, base64_core(needle, prefix)));
    }
    v
}

/// UTF-16LE of the needle: proper UTF-16 when it is UTF-8 text, else each byte widened
/// (Latin-1), which is what a program converting bytes would hold.
pub(crate) fn utf16le(needle: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(needle.len() * 2));
    match std::str::from_utf8(needle) {
        Ok(s) => s
            .encode_utf16()
            .for_each(|u| out.extend_from_slice(&u.to_le_bytes())),
        Err(_) => needle.iter().for_each(|&b| out.extend_from_slice(&[b, 0])),
    }
    out
}

/// The base64 characters of `needle` that do not depend on its neighbours when it sits
/// `prefix` bytes (0, 1 or 2) after a 3-byte group boundary inside a larger base64 text.
pub(crate) fn base64_core(needle: &[u8], prefix: usize) -> Zeroizing<Vec<u8>> {
    let mut input = Zeroizing::new(vec![0u8; prefix]);
    input.extend_from_slice(needle);
    let enc = Zeroizing::new(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&*input));
    // Character j covers input bits [6j, 6j+6); keep it when those bits all belong to the
    // needle, i.e. lie in [8*prefix, 8*(prefix+len)).
    let lo = 8 * prefix;
    let hi = 8 * (prefix + needle.len());
    let first = lo.div_ceil(6);
    let last = hi / 6; // exclusive: 6*last + 6 <= hi  <=> last <= hi/6 - 1
    Zeroizing::new(
        enc.as_bytes()
            .get(first..last.max(first))
            .unwrap_or_default()
            .to_vec(),
    )
}

/// Luhn check over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        if !d.is_ascii_digit() {
            return false;
        }
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// True when `b` is `CONFIDUMP-` + 24 lowercase hex digits.
pub fn is_canary(b: &[u8]) -> bool {
    b.len() == CANARY_PREFIX.len() + CANARY_HEX_LEN
        && b.starts_with(CANARY_PREFIX)
        && b[CANARY_PREFIX.len()..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// SHA-256 of `b`.
pub(crate) fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_numbers_texts_then_file_lines_then_digests() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("n.txt");
        std::fs::write(&file, "first-line-needle\r\n\nsecond-line-needle\n").unwrap();
        let texts = vec!["hunter2".to_string()];
        let files = vec![file.clone()];
        let sha = vec!["00".repeat(32)];
        let spec = NeedleSpec {
            texts: &texts,
            files: &files,
            sha256: &sha,
            shape: Shape::Any,
        };
        assert!(!spec.is_empty());
        assert_eq!(spec.build().unwrap().len(), 4);
        assert_eq!(spec.weak(), vec![(0, 7)]);
        let bad = vec!["xyz".to_string()];
        let e = NeedleSpec {
            sha256: &bad,
            ..spec
        }
        .build()
        .unwrap_err();
        assert!(
            e.to_string().starts_with("--sha256 xyz: not 64 hex digits"),
            "{e}"
        );
        let empty = vec![String::new()];
        let e = NeedleSpec {
            texts: &empty,
            ..spec
        }
        .build()
        .unwrap_err();
        assert_eq!(e.to_string(), "--needle: empty needle");
        std::fs::write(
            &file,
            format!("ok-needle-here\n{}\n", "x".repeat(MAX_NEEDLE_LEN + 1)),
        )
        .unwrap();
        let e = spec.build().unwrap_err();
        assert_eq!(e.to_string(), format!("{}: line 2", file.display()));
    }

    #[test]
    fn base64_alignments_found_in_larger_text() {
        let needle = b"hunter2-secret";
        for pre in 0..3usize {
            let mut data = vec![b'#'; pre];
            data.extend_from_slice(needle);
            data.extend_from_slice(b"!!tail");
            let text = base64::engine::general_purpose::STANDARD.encode(&data);
            let core = base64_core(needle, pre);
            assert!(core.len() >= 16, "{pre}");
            assert!(
                text.as_bytes().windows(core.len()).any(|w| w == &core[..]),
                "prefix {pre}: {} not in {text}",
                String::from_utf8_lossy(&core)
            );
        }
    }

    #[test]
    fn variants_cover_encodings() {
        let v = variants(b"Ab");
        assert!(v
            .iter()
            .any(|(e, b)| *e == Encoding::Utf16le && &b[..] == b"A\0b\0"));
        assert!(v
            .iter()
            .any(|(e, b)| *e == Encoding::Hex && &b[..] == b"4162"));
        let v = variants(b"\xab\xcd");
        assert!(v.iter().any(|(_, b)| &b[..] == b"abcd"));
        assert!(v.iter().any(|(_, b)| &b[..] == b"ABCD"));
    }

    #[test]
    fn luhn_and_canary() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(is_canary(b"CONFIDUMP-0123456789abcdef01234567"));
        assert!(!is_canary(b"CONFIDUMP-0123456789ABCDEF01234567"));
        assert!(!is_canary(b"CONFIDUMP-0123"));
    }

    #[test]
    fn numbering_follows_insertion() {
        let mut n = Needles::new();
        assert_eq!(n.add_bytes(Secret::new(b"a".to_vec())), 0);
        assert_eq!(n.add_hash(Shape::Pan, [0; 32]), 1);
        assert_eq!(n.add_bytes(Secret::new(b"b".to_vec())), 2);
        assert_eq!(n.hashes(Shape::Pan), vec![(1, [0; 32])]);
        let pats = n.patterns();
        assert_eq!(pats[0].kind, PatKind::Needle(0, Encoding::Raw));
        assert_eq!(pats[1].kind, PatKind::Needle(2, Encoding::Raw));
    }
}
