//! Addresses: the half-open [`Span`], and the one way every report writes an address
//! (`0x` and lowercase hex) and reads it back, in text and in JSON.

use serde::Deserialize;

/// A half-open range of addresses `[start, end)` in the source's address space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
}

impl Span {
    /// A span; `end` is clamped so that it is never below `start`.
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            start,
            end: end.max(start),
        }
    }
    /// Number of bytes covered.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    /// True when the span covers nothing.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
    /// True when `addr` lies inside the span.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }
}

/// Formats an address the way every report shows it: `0x` and lowercase hex.
pub fn hex_addr(addr: u64) -> String {
    format!("{addr:#x}")
}

/// Parses an address as [`hex_addr`] writes it: `0x` (or `0X`) and hex digits.
pub fn parse_hex_addr(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u64::from_str_radix(digits, 16).ok()
}

pub(super) fn ser_hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex_addr(*v))
}

pub(super) fn de_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    // As written by `ser_hex`: lowercase `0x` only.
    s.starts_with("0x")
        .then(|| parse_hex_addr(&s))
        .flatten()
        .ok_or_else(|| serde::de::Error::custom(format!("bad address {s:?}")))
}
