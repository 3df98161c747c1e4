//! A trainee's progress: `$XDG_STATE_HOME/confidump/lab/state.json` (else
//! `~/.local/state/confidump/lab`), in a 0700 directory, written 0600 and atomically.
//!
//! It holds, per exercise, a fresh salt and `HMAC-SHA256(salt, SHA-256(secret))`, never the
//! secret nor its plain SHA-256; the victim's PID (with its start time and the boot's id, so a
//! reused PID is never signalled); attempts, hints taken and times. A wrong answer is compared
//! the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No home or state directory is known.
    #[error("no state directory: set XDG_STATE_HOME or HOME")]
    NoDir,
    /// File system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The state directory could not be removed (`lab reset`).
    #[error("removing {}", path.display())]
    Remove {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not a regular file, or larger than it can be.
    #[error(transparent)]
    Input(#[from] crate::files::input::InputError),
    /// The state file is not ours or is damaged.
    #[error(
        "{path}: not a confidump lab state file ({detail}); `confidump lab reset` starts over"
    )]
    Damaged {
        /// The path.
        path: PathBuf,
        /// What did not parse.
        detail: String,
    },
}

/// A running victim of an exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    /// The process the lab started (stopped by `reset`).
    pub victim_pid: i32,
    /// Its start time (`/proc/PID/stat` field 22), so a reused PID is never signalled.
    pub victim_start: u64,
    /// The boot it started in (`/proc/sys/kernel/random/boot_id`): after a reboot the same
    /// PID and start time may name another process. Absent in older state files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// The process to attack (the victim itself, or QEMU for a VM).
    pub pid: i32,
    /// The secret's region in that process (`0x…`), as its ready line said.
    pub region_start: String,
    /// End of that region.
    pub region_end: String,
    /// A database victim's server processes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server: Vec<i32>,
    /// The server process that ran the victim's queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<i32>,
}

/// One exercise's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Hex salt of the current secret.
    pub salt: String,
    /// Hex `HMAC-SHA256(salt, SHA-256(secret))` of the current secret.
    pub check: String,
    /// The victim, while it runs.
    pub running: Option<Running>,
    /// Unix time of the first `start`.
    pub first_started: u64,
    /// Unix time of the latest `start`.
    pub started: u64,
    /// Answers submitted (all starts together).
    pub attempts: u32,
    /// Hints taken before the exercise was solved (all starts together).
    pub hints: u32,
    /// How many times the exercise was started (0 in older state files).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub starts: u32,
    /// The highest hint read at all (after solving too): which one `lab hint` gives next.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hints_read: u32,
    /// Unix time it was solved, if it was.
    pub solved: Option<u64>,
    /// Unix time `lab solve` first showed this exercise's reference solution: an exercise
    /// solved after that (or never) reads `shown`, not `solved`, in `status` and `report`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<u64>,
    /// A two-part exercise: when the current start's proof was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proved: Option<u64>,
    /// A two-part exercise: when the current start's secret was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<u64>,
}

/// All of a trainee's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// The exercise `check` and `hint` refer to by default.
    pub current: Option<String>,
    /// Per exercise.
    pub exercises: BTreeMap<String, Record>,
}

/// The lab's state directory for this user.
pub fn dir() -> Result<PathBuf, StateError> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = var("XDG_STATE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".local/state")))
        .ok_or(StateError::NoDir)?;
    Ok(base.join("confidump").join("lab"))
}

/// Creates `dir` (and its parents) with the lab directory itself 0700; refuses a link there.
pub fn ensure_dir(dir: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let io = |source| StateError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(io(std::io::Error::other("not a directory (a link?)")));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    Ok(())
}

/// The most a state file may hold: a few hundred bytes per exercise.
pub const STATE_LIMIT: u64 = 16 << 20;

impl State {
    /// The state in `dir`, or a fresh one. Read bounded, and only from a regular file.
    pub fn load(dir: &Path) -> Result<Self, StateError> {
        use crate::files::input::{read_user_file, InputError};
        let path = dir.join("state.json");
        match read_user_file(&path, STATE_LIMIT, "a lab state file") {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
                path,
                detail: e.to_string(),
            }),
            Err(InputError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self {
                    version: 1,
                    ..Self::default()
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the state to `dir` (0600, atomically).
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        ensure_dir(dir)?;
        let path = dir.join("state.json");
        let text = serde_json::to_vec_pretty(self).map_err(|e| StateError::Damaged {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        // Our own file in our own 0700 directory, replaced at every change.
        crate::secret::write_private(&path, &text, true).map_err(|e| StateError::Io {
            path,
            source: std::io::Error::other(e.to_string()),
        })
    }
}

/// `HMAC-SHA256(salt, digest)`, hex.
pub fn salted(salt: &[u8], digest: &[u8; 32]) -> String {
    // An HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(salt) else {
        return String::new();
    };
    mac.update(digest);
    hex::encode(mac.finalize().into_bytes())
}

impl Record {
    /// Does `candidate` (the secret's bytes) match this record's secret?
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let Ok(salt) = hex::decode(&self.salt) else {
            return false;
        };
        if self.check.is_empty() {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(candidate).into();
        // Both sides are hex of fixed length: a plain comparison leaks nothing useful here,
        // and the attacker of a lab is the trainee, who may read the state file anyway.
        salted(&salt, &digest) == self.check
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_matches_only_its_secret() {
        let digest: [u8; 32] = Sha256::digest(b"CONFIDUMP-00112233445566778899aabb").into();
        let r = Record {
            salt: "0102".into(),
            check: salted(&[1, 2], &digest),
            ..Record::default()
        };
        assert!(r.matches(b"CONFIDUMP-00112233445566778899aabb"));
        assert!(!r.matches(b"CONFIDUMP-00112233445566778899aabc"));
        assert!(!Record::default().matches(b""));
    }

    #[test]
    fn state_round_trips_0600_in_0700() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("confidump/lab");
        let mut s = State::load(&d).unwrap();
        s.current = Some("find-it".into());
        s.save(&d).unwrap();
        assert_eq!(State::load(&d).unwrap(), s);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("state.json")), 0o600);
    }
}
