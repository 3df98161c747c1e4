//! The ready line: one JSON object that tells the attacker side that the victim holds its
//! secret and where. Its shape is a contract: the attack runner and the tests parse it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{hex_addr, Span};

/// `{"event":"ready","pid":N,"mode":"…","secret_sha256":"…","secret_len":N,"region":{…}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyLine {
    /// Always `ready`.
    pub event: String,
    /// The victim's process id.
    pub pid: i32,
    /// The victim mode (`plain`, `dontdump`, `secretmem`).
    pub mode: String,
    /// SHA-256 of the secret, 64 lowercase hex digits: lets an attacker confirm a find without
    /// being told the secret.
    pub secret_sha256: String,
    /// Length of the secret in bytes.
    pub secret_len: usize,
    /// The address range of the mapping (or allocation) that holds the secret.
    pub region: ReadyRegion,
}

/// Address range in the ready line, as `0x…` hex text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyRegion {
    /// First address, `0x…`.
    pub start: String,
    /// One past the last address, `0x…`.
    pub end: String,
}

/// Errors of reading or writing a ready line.
#[derive(Debug, thiserror::Error)]
pub enum ReadyError {
    /// The line is not the JSON object described by [`ReadyLine`].
    #[error("not a ready line")]
    Json(#[from] serde_json::Error),
    /// An address is not `0x` followed by hex digits.
    #[error("bad address {0:?} in ready line (want 0x followed by hex digits)")]
    Address(String),
    /// The `event` field is not `ready`.
    #[error("unexpected event {0:?} (want \"ready\")")]
    Event(String),
    /// Writing the ready file failed.
    #[error("cannot write ready file {path}")]
    File {
        /// The file (or its temporary name) that failed.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ReadyLine {
    /// Builds the line; `region` becomes `0x…` text.
    pub fn new(pid: i32, mode: &str, sha256: &[u8; 32], secret_len: usize, region: Span) -> Self {
        Self {
            event: "ready".to_string(),
            pid,
            mode: mode.to_string(),
            secret_sha256: hex::encode(sha256),
            secret_len,
            region: ReadyRegion {
                start: hex_addr(region.start),
                end: hex_addr(region.end),
            },
        }
    }

    /// Parses one line (surrounding whitespace allowed) and checks that it is a ready event.
    pub fn parse(line: &str) -> Result<Self, ReadyError> {
        let r: ReadyLine = serde_json::from_str(line.trim())?;
        if r.event != "ready" {
            return Err(ReadyError::Event(r.event));
        }
        Ok(r)
    }

    /// The region as numbers.
    pub fn region_span(&self) -> Result<Span, ReadyError> {
        Ok(Span::new(
            parse_hex_addr(&self.region.start)?,
            parse_hex_addr(&self.region.end)?,
        ))
    }

    /// The line as printed: compact JSON, no newline.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and integers cannot fail; fall back to an empty object
        // rather than panic if it ever did.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// Parses `0x1234abcd` (either case of hex digits).
pub fn parse_hex_addr(text: &str) -> Result<u64, ReadyError> {
    // The ready line is written with a lowercase `0x`; accept exactly that.
    text.starts_with("0x")
        .then(|| crate::model::parse_hex_addr(text))
        .flatten()
        .ok_or_else(|| ReadyError::Address(text.to_string()))
}

/// Writes `line` plus a newline to `path` atomically: to a temporary name in the same
/// directory, created new with mode 0600 and not following symlinks, then renamed over
/// `path`. A reader polling for `path` therefore sees either nothing or the whole line.
pub fn write_ready_file(path: &Path, line: &str) -> Result<(), ReadyError> {
    // Never replaces an existing file: a ready file is fresh for each run.
    crate::secret::write_private(path, format!("{line}\n").as_bytes(), false).map_err(|e| {
        ReadyError::File {
            path: path.to_path_buf(),
            source: match e {
                crate::files::output::OutputError::Io { source, .. } => source,
                other => std::io::Error::other(other.to_string()),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let l = ReadyLine::new(42, "secretmem", &[0xab; 32], 34, Span::new(0x1000, 0x3000));
        let text = l.to_json();
        assert!(text.starts_with(r#"{"event":"ready","pid":42,"mode":"secretmem","#));
        let back = ReadyLine::parse(&text).unwrap();
        assert_eq!(back, l);
        assert_eq!(back.region_span().unwrap(), Span::new(0x1000, 0x3000));
        assert_eq!(back.secret_sha256.len(), 64);
    }

    #[test]
    fn bad_lines() {
        assert!(parse_hex_addr("1000").is_err());
        assert!(parse_hex_addr("0x").is_err());
        assert!(parse_hex_addr("0xzz").is_err());
        assert!(ReadyLine::parse("{}").is_err());
    }

    #[test]
    fn ready_file_is_0600_and_complete() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ready.json");
        write_ready_file(&p, "{\"x\":1}").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"x\":1}\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
