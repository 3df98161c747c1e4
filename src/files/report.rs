//! Where a report goes, and whether it keeps the secret's bytes (`--output`, `--redact`,
//! `--reveal`, `--group-readable` of `demo`, `attack` and `scan`).
//!
//! JSON on stdout ends up in logs (a pod's log, a CI job's output, `> file` at 0644), so it is
//! redacted unless `--reveal` asks for the bytes; a JSON `--output` file is 0600 and keeps
//! them. Text on stdout is for a screen and keeps them (the demo shows what leaked).

use std::path::Path;

use super::output::{self, OutputError};
use super::stdout::{self, StdoutError};

/// A report's destination and redaction, as the flags give them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportTarget<'a> {
    /// `--output FILE`, else stdout.
    pub output: Option<&'a Path>,
    /// `--redact`: the secret's bytes out of every output.
    pub redact: bool,
    /// `--reveal`: the bytes kept in JSON on stdout.
    pub reveal: bool,
    /// `--group-readable`: report files 0640 (only a redacted report is).
    pub group_readable: bool,
}

/// Writing the report failed.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The `--output` file.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Stdout.
    #[error(transparent)]
    Stdout(#[from] StdoutError),
}

impl ReportTarget<'_> {
    /// Refuses an output path that will be refused after the run (a link, a device, an
    /// existing file without `force`), before the run.
    pub fn check(&self, force: bool) -> Result<(), OutputError> {
        match self.output {
            Some(p) => output::check_target(p, force),
            None => Ok(()),
        }
    }

    /// Whether the secret's bytes are taken out of a report in this format: always with
    /// `--redact`; for JSON on stdout unless `--reveal` (see the module docs).
    pub fn redacts(&self, json: bool) -> bool {
        self.redact || (json && self.output.is_none() && !self.reveal)
    }

    /// Writes a report file: 0600 (see [`output`]), or 0640 with `--group-readable` (which
    /// only a redacted report has).
    pub fn write_file(&self, path: &Path, bytes: &[u8], force: bool) -> Result<(), OutputError> {
        if self.group_readable && self.redact {
            output::write_group_readable(path, bytes, force)
        } else {
            output::write_file(path, bytes, force)
        }
    }

    /// Writes `text` to the `--output` file ([`ReportTarget::write_file`]), or stdout.
    pub fn emit(&self, text: &str, force: bool) -> Result<(), EmitError> {
        match self.output {
            Some(p) => self.write_file(p, text.as_bytes(), force)?,
            // The reader may stop reading (`| head`): what it wanted it has, and the
            // command's exit status still says the verdict (see [`stdout`]).
            None => {
                stdout::print_str(text)?;
                stdout::flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_on_stdout_is_redacted_unless_revealed() {
        let file = Path::new("/tmp/x.json");
        let stdout = ReportTarget::default();
        assert!(stdout.redacts(true) && !stdout.redacts(false));
        let revealed = ReportTarget {
            reveal: true,
            ..stdout
        };
        assert!(!revealed.redacts(true));
        let to_file = ReportTarget {
            output: Some(file),
            ..stdout
        };
        assert!(!to_file.redacts(true));
        let redacted = ReportTarget {
            output: Some(file),
            redact: true,
            ..stdout
        };
        assert!(redacted.redacts(false) && redacted.redacts(true));
    }

    #[test]
    fn a_group_readable_report_is_0640_only_when_redacted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |t: ReportTarget<'_>, name: &str| {
            let p = dir.path().join(name);
            t.write_file(&p, b"r", false).unwrap();
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777
        };
        let group = ReportTarget {
            group_readable: true,
            ..ReportTarget::default()
        };
        assert_eq!(mode(group, "a"), 0o600);
        assert_eq!(
            mode(
                ReportTarget {
                    redact: true,
                    ..group
                },
                "b"
            ),
            0o640
        );
        let p = dir.path().join("a");
        assert!(ReportTarget {
            output: Some(&p),
            ..ReportTarget::default()
        }
        .check(false)
        .is_err());
    }
}
