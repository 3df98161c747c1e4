//! How the host starts a booted guest's victim: the guest waits, the host sends one line.
//!
//! The kernel starts `/init guest-init --await`. PID 1 mounts what it needs, prints
//! `MARKER waiting` on the console and blocks reading it. The host answers with one
//! [`StartLine`]: `start SEED MODE [container] [wire=console]`. The seed (32 bytes from the
//! host's `getrandom`) is added to the guest kernel's entropy pool and the CRNG is reseeded
//! before the victim makes its canary, for two reasons:
//!
//! * a guest restored from a snapshot ([`super::snapshot`]) starts with the random state the
//!   snapshot froze: without new entropy every restored guest would make the same canary;
//! * a TCG guest has no RDRAND and few interrupts, and its first `getrandom` waits for the
//!   CRNG to initialise (over a second; measurements: docs/performance.md, "Design
//!   measurements"); credited host entropy makes it ready at once.
//!
//! The seed is not the secret: the canary still comes from the guest's own CRNG, and the host
//! attacker learns only its SHA-256 (the ready line), as before.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::guest::{Wire, WireError, MARKER};
use crate::victim::Mode;

/// The word of the line a waiting guest prints.
pub const WAITING_WORD: &str = "waiting";
/// The first word of the host's answer.
pub const START_WORD: &str = "start";
/// Bytes of host entropy in a start line.
pub const SEED_LEN: usize = 32;

/// The word of the line that carries the Yama probe's result ([`YamaProbe`]).
pub const PROBE_WORD: &str = "yama-probe";

/// What the guest's root got from Yama: the errors of `dump`'s attach and `scan --pid`'s read
/// against another process, under `ptrace_scope` = `scope` (`None`: that one succeeded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct YamaProbe {
    /// The value set.
    pub scope: u8,
    /// `dump`'s attach (`Freeze::new`): its error, if refused.
    pub attach: Option<String>,
    /// `scan --pid`'s opening of the process (`LiveProcess::open`): its error, if refused.
    pub read: Option<String>,
    /// The `pod` column's attackers against a target holding the container runtime's default
    /// capabilities ([`super::probe::PodProbe`]).
    #[serde(default)]
    pub pod: Vec<super::probe::PodProbe>,
}

/// The probe result in a console line, if this is one.
pub fn parse_probe_line(line: &str) -> Option<YamaProbe> {
    let pos = line.find(MARKER)?;
    let rest = line.get(pos + MARKER.len()..)?.trim();
    serde_json::from_str(rest.strip_prefix(PROBE_WORD)?.trim()).ok()
}

/// Is this console line a guest saying it waits for its start line?
pub fn is_waiting_line(line: &str) -> bool {
    line.find(MARKER).is_some_and(|pos| {
        line.get(pos + MARKER.len()..)
            .is_some_and(|rest| rest.trim() == WAITING_WORD)
    })
}

/// Why a start line could not be made, or what is wrong with one the guest read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartError {
    /// No host entropy for the seed.
    #[error("getrandom: {0}")]
    Random(getrandom::Error),
    /// The line is not a start line.
    #[error("expected a {START_WORD:?} line from the host")]
    NotStart,
    /// No seed after the first word.
    #[error("the start line has no seed")]
    NoSeed,
    /// The seed is not [`SEED_LEN`] bytes in hex.
    #[error("the start line's seed: {0}")]
    Seed(hex::FromHexError),
    /// No mode after the seed.
    #[error("the start line has no mode")]
    NoMode,
    /// The mode is not a victim mode (the mode parser's words).
    #[error("the start line's mode: {0}")]
    Mode(String),
    /// `wire=` names no channel we built.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// `yama=` is not a `ptrace_scope` value.
    #[error("yama={0}: ptrace_scope is 0 to 3")]
    Yama(String),
    /// A word the start line does not have.
    #[error("unknown word {0:?} in the start line")]
    UnknownWord(String),
}

/// What the host tells a waiting guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartLine {
    /// Host entropy for the guest's CRNG.
    pub seed: [u8; SEED_LEN],
    /// The victim mode.
    pub mode: Mode,
    /// Run the victim in a container inside the guest.
    pub container: bool,
    /// Also send the secret out on this channel.
    pub wire: Option<Wire>,
    /// Before the victim starts, set Yama's `ptrace_scope` to this value and try, as the
    /// guest's root, what `dump` and `scan --pid` do against another process
    /// ([`super::guest`]'s probe): the host has no Yama, the guest kernel does.
    pub yama: Option<u8>,
}

impl StartLine {
    /// A start line with a fresh seed from the host's `getrandom`.
    pub fn fresh(mode: Mode, container: bool, wire: Option<Wire>) -> Result<Self, StartError> {
        let mut seed = [0u8; SEED_LEN];
        getrandom::getrandom(&mut seed).map_err(StartError::Random)?;
        Ok(Self {
            seed,
            mode,
            container,
            wire,
            yama: None,
        })
    }

    /// The line as sent (with its newline).
    pub fn to_line(&self) -> String {
        let mut s = format!(
            "{START_WORD} {} {}",
            hex::encode(self.seed),
            self.mode.as_str()
        );
        if self.container {
            s.push_str(" container");
        }
        if let Some(w) = self.wire {
            s.push_str(" wire=");
            s.push_str(w.as_str());
        }
        if let Some(y) = self.yama {
            s.push_str(&format!(" yama={y}"));
        }
        s.push('\n');
        s
    }

    /// Parses [`StartLine::to_line`]'s format; anything else is an error naming the problem.
    pub fn parse(line: &str) -> Result<Self, StartError> {
        let mut words = line.split_ascii_whitespace();
        if words.next() != Some(START_WORD) {
            return Err(StartError::NotStart);
        }
        let seed_hex = words.next().ok_or(StartError::NoSeed)?;
        let mut seed = [0u8; SEED_LEN];
        hex::decode_to_slice(seed_hex, &mut seed).map_err(StartError::Seed)?;
        let mode_word = words.next().ok_or(StartError::NoMode)?;
        let mode: Mode = mode_word.parse().map_err(StartError::Mode)?;
        let mut container = false;
        let mut wire = None;
        let mut yama = None;
        for w in words {
            match w.split_once('=') {
                None if w == "container" => container = true,
                Some(("wire", name)) => wire = Some(Wire::parse(name)?),
                Some(("yama", n)) => {
                    yama = Some(
                        n.parse::<u8>()
                            .ok()
                            .filter(|n| *n <= 3)
                            .ok_or_else(|| StartError::Yama(n.to_string()))?,
                    )
                }
                _ => return Err(StartError::UnknownWord(w.to_string())),
            }
        }
        Ok(Self {
            seed,
            mode,
            container,
            wire,
            yama,
        })
    }
}

/// `struct rand_pool_info` with room for the seed (`RNDADDENTROPY`'s argument).
#[repr(C)]
struct RandPoolInfo {
    entropy_count: libc::c_int,
    buf_size: libc::c_int,
    buf: [u8; SEED_LEN],
}

mod ioctl {
    use super::RandPoolInfo;
    // RNDADDENTROPY is _IOW('R', 0x03, int[2]): its size field is the header's, not the
    // buffer's, so the number is given as is.
    nix::ioctl_write_ptr_bad!(rnd_add_entropy, 0x4008_5203, RandPoolInfo);
    nix::ioctl_none!(rnd_reseed_crng, b'R', 0x07);
}
use ioctl::{rnd_add_entropy, rnd_reseed_crng};

/// Adds `seed` to the kernel's input pool, credited in full, and reseeds the CRNG from it
/// (needs CAP_SYS_ADMIN: PID 1 of the guest).
pub fn seed_kernel_rng(seed: &[u8; SEED_LEN]) -> Result<(), Errno> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/urandom")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let pool = RandPoolInfo {
        entropy_count: i32::try_from(SEED_LEN * 8).unwrap_or(256),
        buf_size: i32::try_from(SEED_LEN).unwrap_or(32),
        buf: *seed,
    };
    // SAFETY: `pool` is a valid, initialised rand_pool_info whose buf_size matches its buffer;
    // the fd is an open /dev/urandom.
    unsafe { rnd_add_entropy(f.as_raw_fd(), &pool) }?;
    // SAFETY: RNDRESEEDCRNG takes no argument.
    unsafe { rnd_reseed_crng(f.as_raw_fd()) }?;
    Ok(())
}

/// Reads one line from standard input (the console) with plain `read(2)`s, byte by byte, so
/// that nothing after the newline is consumed (PID 1 later polls the same console for `stop`).
pub fn read_console_line(max: usize) -> Result<String, Errno> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(libc::STDIN_FILENO, &mut byte) {
            Ok(0) => return Err(Errno::EPIPE),
            Ok(_) => match byte[0] {
                b'\n' | b'\r' if line.is_empty() => {}
                b'\n' | b'\r' => break,
                b => {
                    if line.len() < max {
                        line.push(b);
                    }
                }
            },
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_lines_round_trip_and_bad_ones_are_named() {
        let s = StartLine::fresh(Mode::SecretMem, true, Some(Wire::Console)).unwrap();
        let line = s.to_line();
        assert!(
            line.ends_with(" secretmem container wire=console\n"),
            "{line}"
        );
        assert_eq!(StartLine::parse(&line).unwrap(), s);
        let plain = StartLine::fresh(Mode::Plain, false, None).unwrap();
        assert_eq!(StartLine::parse(&plain.to_line()).unwrap(), plain);
        // Two fresh lines never share a seed.
        assert_ne!(s.seed, plain.seed);
        for (bad, says) in [
            ("stop", "expected"),
            ("start", "no seed"),
            ("start zz plain", "seed"),
            (&format!("start {} ", "00".repeat(32)), "no mode"),
            (&format!("start {} nosuch", "00".repeat(32)), "mode"),
            (
                &format!("start {} plain extra", "00".repeat(32)),
                "unknown word",
            ),
            (
                &format!("start {} plain wire=x", "00".repeat(32)),
                "unknown channel",
            ),
        ] {
            let e = StartLine::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn waiting_lines() {
        assert!(is_waiting_line("@confidump-guest@ waiting"));
        assert!(is_waiting_line("[  1.0] junk @confidump-guest@ waiting\r"));
        assert!(!is_waiting_line("@confidump-guest@ ready {}"));
        assert!(!is_waiting_line("waiting"));
    }
}
