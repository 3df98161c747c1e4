//! Putting a secret into its slot, and using it, without a copy anywhere else.
//!
//! Every function here works in place on the store's slot and scratch: random bytes come from
//! `getrandom` straight into the slot and are turned into text there; files and stdin are read
//! with raw `read(2)` straight into the slot (no `BufReader`, whose buffer would be an 8 KiB heap
//! copy). The victim runs these on the store's work stack, so locals and spills stay protected.
//! Nothing here allocates, formats or logs.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::protect::MAX_SECRET_LEN;

/// The prefix of a generated canary, and its number of random lowercase hex digits: the shape
/// the scanner's canary detector recognises, defined once there.
pub use crate::scan::needles::{CANARY_HEX_LEN, CANARY_PREFIX};
/// Length of a generated canary.
pub const CANARY_LEN: usize = CANARY_PREFIX.len() + CANARY_HEX_LEN;
/// Length of a generated card number.
pub const PAN_LEN: usize = 16;
/// Issuer prefix of generated card numbers: 4 (Visa-shaped, 16 digits). Random digits plus a
/// Luhn check digit; such numbers are what scanners for card data look for.
pub const PAN_PREFIX: u8 = b'4';

/// Why a secret could not be put into its slot. Carries no secret bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// The source was empty.
    #[error("the secret is empty")]
    Empty,
    /// The source was longer than [`MAX_SECRET_LEN`].
    #[error("the secret is longer than {MAX_SECRET_LEN} bytes")]
    TooLong,
    /// `read(2)` failed.
    #[error("reading the secret: {0}")]
    Read(nix::errno::Errno),
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Random,
    /// The slot is too small for what was asked (a bug, not an input error).
    #[error("the secret's slot is too small")]
    SlotTooSmall,
    /// The stop descriptor became readable (a stop signal arrived) while waiting for input.
    #[error("stopped while waiting for the secret")]
    Interrupted,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes a canary (`CONFIDUMP-` + 24 random lowercase hex digits) into `slot`.
pub(crate) fn generate_canary(slot: &mut [u8]) -> Result<usize, FillError> {
    let out = slot.get_mut(..CANARY_LEN).ok_or(FillError::SlotTooSmall)?;
    let (prefix, digits) = out.split_at_mut(CANARY_PREFIX.len());
    prefix.copy_from_slice(CANARY_PREFIX);
    // The random bytes go into the upper half of the digit area and are expanded downwards in
    // place: digit pair i (at 2i, 2i+1) is written only after byte i (at 12+i >= 2i+1) is read.
    let half = CANARY_HEX_LEN / 2;
    getrandom::getrandom(&mut digits[half..]).map_err(|_| FillError::Random)?;
    for i in 0..half {
        let b = digits[half + i];
        digits[2 * i] = HEX[usize::from(b >> 4)];
        digits[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    Ok(CANARY_LEN)
}

/// Copies a secret given on the command line into `slot` (the argv pitfall).
pub(crate) fn copy_secret(bytes: &[u8], slot: &mut [u8]) -> Result<usize, FillError> {
    if bytes.is_empty() {
        return Err(FillError::Empty);
    }
    let out = slot.get_mut(..bytes.len()).ok_or(FillError::TooLong)?;
    out.copy_from_slice(bytes);
    Ok(bytes.len())
}

/// Writes a random Luhn-valid 16-digit card number starting with [`PAN_PREFIX`] into `slot`.
pub(crate) fn generate_pan(slot: &mut [u8]) -> Result<usize, FillError> {
    let out = slot.get_mut(..PAN_LEN).ok_or(FillError::SlotTooSmall)?;
    out[0] = PAN_PREFIX;
    for i in 1..PAN_LEN - 1 {
        // Rejection sampling (bytes >= 250 are drawn again) keeps the digits uniform.
        loop {
            getrandom::getrandom(&mut out[i..=i]).map_err(|_| FillError::Random)?;
            if out[i] < 250 {
                out[i] = b'0' + out[i] % 10;
                break;
            }
        }
    }
    out[PAN_LEN - 1] = b'0' + luhn_check_digit(&out[..PAN_LEN - 1]);
    Ok(PAN_LEN)
}

/// The Luhn check digit (0-9) to append to the ASCII digits `payload`.
pub(crate) fn luhn_check_digit(payload: &[u8]) -> u8 {
    let mut sum: u32 = 0;
    // Counting from the right, the digit next to the check digit is doubled, then every other.
    for (i, &c) in payload.iter().rev().enumerate() {
        let mut d = u32::from(c.wrapping_sub(b'0') % 10);
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    // `sum % 10` is below 10, so the result fits a digit.
    ((10 - sum % 10) % 10) as u8
}

/// How a descriptor's content ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// Stop at the first newline (stdin), which is not part of the secret; bytes after it
    /// that arrived in the same read are wiped.
    Newline,
    /// Read to end of file; one trailing newline is not part of the secret (as `echo` writes).
    Eof,
}

/// Reads a secret from `fd` straight into `slot` with `read(2)`. Returns its length.
///
/// With `stop` (the victim's signalfd), each read first waits until `fd` or `stop` is
/// readable, so that a stop signal ends a victim still waiting for its secret on a pipe or tty.
pub(crate) fn read_secret(
    fd: BorrowedFd<'_>,
    slot: &mut [u8],
    until: Until,
    stop: Option<BorrowedFd<'_>>,
) -> Result<usize, FillError> {
    // Room for the longest secret plus its newline plus one byte, which tells "too long".
    let cap = MAX_SECRET_LEN + 2;
    if slot.len() < cap {
        return Err(FillError::SlotTooSmall);
    }
    let mut len = 0usize;
    let mut end = None;
    while len < cap {
        if let Some(stop) = stop {
            if let Err(e) = wait_readable(fd, stop) {
                wipe(&mut slot[..len]);
                return Err(e);
            }
        }
        let dest = &mut slot[len..cap];
        // read(2) straight into the store: no buffer of std's in between.
        let n = match nix::unistd::read(fd.as_raw_fd(), dest) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => {
                wipe(&mut slot[..len]);
                return Err(FillError::Read(errno));
            }
        };
        if n == 0 {
            break;
        }
        if until == Until::Newline {
            if let Some(p) = slot[len..len + n].iter().position(|&c| c == b'\n') {
                end = Some(len + p);
                len += n;
                break;
            }
        }
        len += n;
    }
    let secret_len = match (until, end) {
        (Until::Newline, Some(p)) => p,
        (Until::Eof, _) if len > 0 && slot[len - 1] == b'\n' => len - 1,
        _ => len,
    };
    // Whatever followed the secret (its newline, extra input) is not the secret: wipe it so the
    // slot holds exactly the secret followed by zeros.
    wipe(&mut slot[secret_len..len]);
    if secret_len > MAX_SECRET_LEN {
        wipe(&mut slot[..secret_len]);
        return Err(FillError::TooLong);
    }
    if secret_len == 0 {
        return Err(FillError::Empty);
    }
    Ok(secret_len)
}

/// Waits until `fd` has input (or its end, or an error, which the read then reports), or
/// until `stop` is readable, which is [`FillError::Interrupted`].
fn wait_readable(fd: BorrowedFd<'_>, stop: BorrowedFd<'_>) -> Result<(), FillError> {
    loop {
        let mut fds = [
            PollFd::new(fd, PollFlags::POLLIN),
            PollFd::new(stop, PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(FillError::Read(e)),
        }
        let [input, stopped] = fds.map(|f| f.revents().is_some_and(|r| !r.is_empty()));
        if stopped {
            return Err(FillError::Interrupted);
        }
        if input {
            return Ok(());
        }
    }
}

/// SHA-256 of `secret`, written into `out`.
pub(crate) fn sha256_into(secret: &[u8], out: &mut [u8; 32]) {
    out.copy_from_slice(&Sha256::digest(secret));
}

/// HMAC-SHA256 keyed by `secret` over the big-endian `counter`, written into `out`: the
/// periodic "use" of the secret.
pub(crate) fn hmac_tick(secret: &[u8], counter: u64, out: &mut [u8; 32]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(&counter.to_be_bytes());
    out.copy_from_slice(&mac.finalize().into_bytes());
    true
}

/// Volatile zeroing: these writes must not be optimised away.
fn wipe(bytes: &mut [u8]) {
    zeroize::Zeroize::zeroize(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luhn_valid(digits: &[u8]) -> bool {
        let (payload, check) = digits.split_at(digits.len() - 1);
        luhn_check_digit(payload) == check[0] - b'0'
    }

    #[test]
    fn luhn_matches_known_numbers() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"4242424242424242"));
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"4111111111111112"));
    }

    #[test]
    fn pan_is_16_luhn_valid_digits() {
        let mut slot = [0u8; 64];
        for _ in 0..50 {
            let n = generate_pan(&mut slot).unwrap();
            assert_eq!(n, 16);
            assert!(slot[..16].iter().all(u8::is_ascii_digit));
            assert_eq!(slot[0], b'4');
            assert!(luhn_valid(&slot[..16]));
        }
    }

    #[test]
    fn canary_shape() {
        let mut slot = [0u8; 64];
        assert_eq!(generate_canary(&mut slot).unwrap(), 34);
        assert!(slot.starts_with(b"CONFIDUMP-"));
        assert!(slot[10..34]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)));
        assert!(slot[34..].iter().all(|&c| c == 0));
    }

    fn read_from(bytes: &[u8], until: Until) -> (Result<usize, FillError>, Vec<u8>) {
        let f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &f, bytes).unwrap();
        std::io::Seek::rewind(&mut &f).unwrap();
        let mut slot = vec![0u8; MAX_SECRET_LEN + 64];
        let r = read_secret(std::os::fd::AsFd::as_fd(&f), &mut slot, until, None);
        (r, slot)
    }

    #[test]
    fn read_stops_at_newline_and_wipes_the_rest() {
        let (r, slot) = read_from(b"hunter2\nmore input", Until::Newline);
        assert_eq!(r, Ok(7));
        assert_eq!(&slot[..7], b"hunter2");
        assert!(slot[7..].iter().all(|&c| c == 0));
    }

    #[test]
    fn read_is_interrupted_by_the_stop_descriptor() {
        let (input_r, _input_w) = nix::unistd::pipe().unwrap();
        let (stop_r, stop_w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&stop_w, b"x").unwrap();
        let mut slot = vec![0u8; MAX_SECRET_LEN + 64];
        let r = read_secret(
            std::os::fd::AsFd::as_fd(&input_r),
            &mut slot,
            Until::Newline,
            Some(std::os::fd::AsFd::as_fd(&stop_r)),
        );
        assert_eq!(r, Err(FillError::Interrupted));
    }

    #[test]
    fn read_file_drops_one_trailing_newline() {
        assert_eq!(read_from(b"abc\n", Until::Eof).0, Ok(3));
        assert_eq!(read_from(b"abc\n\n", Until::Eof).0, Ok(4));
        assert_eq!(read_from(b"abc", Until::Eof).0, Ok(3));
    }

    #[test]
    fn read_limits() {
        assert_eq!(read_from(b"", Until::Eof).0, Err(FillError::Empty));
        assert_eq!(read_from(b"\n", Until::Newline).0, Err(FillError::Empty));
        let max = vec![b'x'; MAX_SECRET_LEN];
        assert_eq!(read_from(&max, Until::Eof).0, Ok(MAX_SECRET_LEN));
        let mut max_nl = max.clone();
        max_nl.push(b'\n');
        assert_eq!(read_from(&max_nl, Until::Newline).0, Ok(MAX_SECRET_LEN));
        let (r, slot) = read_from(&vec![b'x'; MAX_SECRET_LEN + 1], Until::Eof);
        assert_eq!(r, Err(FillError::TooLong));
        assert!(slot.iter().all(|&c| c == 0));
        let long = vec![b'x'; MAX_SECRET_LEN + 100];
        assert_eq!(read_from(&long, Until::Newline).0, Err(FillError::TooLong));
    }
}
