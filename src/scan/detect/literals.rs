//! The literal-prefixed detectors: PEM private keys, JWTs, AWS access key ids and confidump
//! canaries, each validated by hand after the prefix automaton of [`super::Detectors`] found it.

use base64::Engine as _;

use super::{class, class_at, RawDetection, ALNUM, B32UP, B64URL, PEM_BEGIN, PEM_END};
use super::{JWT_MAX_LEN, PEM_MAX_LEN};
use crate::model::DetectorKind;
use crate::scan::needles::{CANARY_HEX_LEN, CANARY_PREFIX};

/// Base64 characters a PEM body needs at least (a tiny EC key has ~160).
const PEM_MIN_BODY: usize = 64;
/// Minimum lengths of JWT parts: a header with `"alg"` is at least `{"alg":"x"}` (15 bytes,
/// 20 characters); a signature (HS256: 43 characters) is never shorter than 16.
const JWT_MIN_HEADER: usize = 20;
const JWT_MIN_PAYLOAD: usize = 4;
const JWT_MIN_SIG: usize = 16;
/// Characters of an AWS access key id.
const AWS_LEN: usize = 20;

/// `-----BEGIN <LABEL>PRIVATE KEY-----`, a base64 body, and the matching END line within
/// [`PEM_MAX_LEN`].
pub(super) fn pem_at(buf: &[u8], s: usize) -> Option<RawDetection> {
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
pub(super) fn jwt_at(buf: &[u8], s: usize) -> Option<RawDetection> {
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
pub(super) fn aws_at(buf: &[u8], s: usize) -> Option<RawDetection> {
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
pub(super) fn canary_at(buf: &[u8], s: usize) -> Option<RawDetection> {
    let n = CANARY_PREFIX.len() + CANARY_HEX_LEN;
    let cand = buf.get(s..s + n)?;
    if !crate::scan::needles::is_canary(cand) || class_at(buf, s + n) & ALNUM != 0 {
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
