//! Card numbers (PAN): the per-block digit-count prefilter and the validators (Luhn, issuer,
//! grouping, context) described in [`super`].

use std::ops::Range;

use zeroize::Zeroizing;

use super::{class, class_at, RawDetection, ALNUM, DIGIT, HEXLETTER, SEP};
use crate::model::DetectorKind;

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

/// Prefilter: a card number is at most [`PAN_SPAN_MAX`] (23) bytes holding at least 13
/// digits, so it touches at most 2 aligned 32-byte blocks and one of them holds at least 7 of
/// its digits. Digits are counted per block (a loop the compiler turns into SIMD compares and
/// adds); in random data about 1 block in 2,000 passes. The number's part in such a block is a
/// prefix of it, a suffix of 7 bytes or more, or 13 bytes or more inside it: in every case it
/// covers byte 0, 13 or 26, so only those bytes are tested (text, where most blocks pass, is
/// not walked byte by byte).
pub(super) fn search_cards(buf: &[u8], owned: Range<usize>, out: &mut Vec<RawDetection>) {
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
        || !crate::scan::needles::luhn_valid(&digits)
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
