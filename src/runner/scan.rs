//! `confidump scan` and `scan-child` without their flags: open what is to be read (a core file,
//! a live process, a directory), scan it, and say what a live process's death means.

use std::path::{Path, PathBuf};

use crate::coredump::reader::{CoreError, CoreFile};
use crate::files::output::OutputError;
use crate::files::report::ReportTarget;
use crate::memory::live::{LiveError, LiveProcess};
use crate::model::{ChildScan, ScanReport};
use crate::scan::needles::{NeedleSpec, SpecError, WEAK_NEEDLE};
use crate::scan::{self, Needles, ScanError, ScanOptions};
use crate::service::disk::{DirSource, DiskError};

/// What to scan.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// An ELF core file.
    Core(&'a Path),
    /// A live process.
    Pid(i32),
    /// The files under a directory.
    Dir(&'a Path),
}

/// Why a scan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScanRunError {
    /// The core file's metadata could not be read.
    #[error("{}", path.display())]
    Stat {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A FIFO would block and a device never end: said instead of read.
    #[error("{}: is {kind}, not a core file: give an ELF core file (or --pid PID)", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Not a core file we can read.
    #[error("cannot read core file")]
    Core(#[source] CoreError),
    /// The process could not be opened, or died during the read.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// The directory could not be read.
    #[error(transparent)]
    Dir(#[from] DiskError),
    /// The scan failed.
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// `confidump scan`'s options, as the library takes them.
#[derive(Debug, Clone, Copy)]
pub struct ScanCommand<'a> {
    /// What to look for.
    pub needles: NeedleSpec<'a>,
    /// Run the detectors too.
    pub detect: bool,
    /// What to read (`None`: nothing was named).
    pub target: Option<Target<'a>>,
    /// Where the report goes, and its redaction.
    pub out: ReportTarget<'a>,
    /// Replace an existing report file.
    pub force: bool,
    /// The report is JSON (redacted on stdout unless revealed).
    pub json: bool,
}

/// Why `confidump scan` did not scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanCommandError {
    /// No needle and no `--detect`.
    #[error(
        "nothing to look for: give --needle, --needle-file, --sha256 or --detect (see --help)"
    )]
    NothingGiven,
    /// Only needle files, all of them empty.
    #[error("nothing to look for: the needle files hold no needles")]
    NoNeedles,
    /// Neither a core file, a PID nor a directory.
    #[error("give either a core file or --pid")]
    NoTarget,
    /// A needle that cannot be used.
    #[error(transparent)]
    Needles(#[from] SpecError),
    /// The report's file.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The scan itself.
    #[error(transparent)]
    Run(#[from] ScanRunError),
}

/// Runs `confidump scan`: the needles built (detectors added with `detect`), the report's path
/// checked, the target scanned (`progress` told), the report redacted as `cmd.out` asks.
pub fn run(
    cmd: &ScanCommand<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ScanReport, ScanCommandError> {
    if cmd.needles.is_empty() && !cmd.detect {
        return Err(ScanCommandError::NothingGiven);
    }
    let mut needles = cmd.needles.build()?;
    if needles.is_empty() && !cmd.detect {
        return Err(ScanCommandError::NoNeedles);
    }
    if cmd.detect {
        needles.enable_detectors();
    }
    cmd.out.check(cmd.force)?;
    let target = cmd.target.ok_or(ScanCommandError::NoTarget)?;
    let mut report = scan_target(target, &needles, progress)?;
    if cmd.out.redacts(cmd.json) {
        crate::redact::Redact::redact(&mut report);
    }
    Ok(report)
}

/// Says which `--needle`s of `spec` are short enough to match unrelated bytes too: their hits
/// are not proof that the bytes are the secret. Never echoes a needle.
pub fn weak_warnings(spec: &NeedleSpec<'_>) -> Vec<String> {
    spec.weak()
        .into_iter()
        .map(|(i, len)| format!("needle {i} (--needle) is {len} bytes: a needle under {WEAK_NEEDLE} bytes matches unrelated bytes too (--sha256 of the whole secret proves it is the one)"))
        .collect()
}

/// Opens a core file, refusing what is not a regular file (a FIFO would block, a device
/// never end).
pub fn open_core(path: &Path) -> Result<CoreFile, ScanRunError> {
    let meta = std::fs::metadata(path).map_err(|source| ScanRunError::Stat {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.file_type().is_file() {
        return Err(ScanRunError::NotAFile {
            path: path.to_path_buf(),
            kind: crate::files::describe_file_type(&meta.file_type()),
        });
    }
    CoreFile::open(path).map_err(ScanRunError::Core)
}

/// Scans `target` for `needles`, `progress` told of the bytes done. A live process's copies of
/// this program's own text (its help's examples) are not the secret; a read that failed
/// because it died is not a refusal, so no report at all.
pub fn scan_target(
    target: Target<'_>,
    needles: &Needles,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ScanReport, ScanRunError> {
    let options = ScanOptions::default();
    Ok(match target {
        Target::Pid(pid) => {
            let live = LiveProcess::open(pid, false)?;
            let mut report = scan::scan_with_progress(&live, needles, &options, progress)?;
            scan::public::split_own_copies(
                &mut report,
                &live,
                &crate::procfs::proc_path(pid, "exe"),
            );
            live.ensure_alive("scan")?;
            report
        }
        Target::Dir(dir) => {
            let source = DirSource::open(dir)?;
            scan::scan_with_progress(&source, needles, &options, progress)?
        }
        Target::Core(path) => {
            let source = open_core(path)?;
            scan::scan_with_progress(&source, needles, &options, progress)?
        }
    })
}

/// What `scan --pid PID --format json` finds, as data for a parent (`scan-child`): a refused
/// open is [`ChildScan::Refused`] with its errno; a read that failed because the victim died is
/// a failure, never a report whose ranges look refused.
pub fn scan_child(pid: i32, needles: &Needles) -> ChildScan {
    let live = match LiveProcess::open(pid, false) {
        Ok(live) => live,
        Err(e) => {
            let reason = e.to_string();
            return match e.refused_errno() {
                Some(errno) => ChildScan::Refused { errno, reason },
                None => ChildScan::Failed { reason },
            };
        }
    };
    let result = scan::scan_source(&live, needles)
        .map_err(|e| format!("scanning pid {pid}: {e}"))
        .and_then(|report| {
            live.ensure_alive("scan")
                .map(|()| report)
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(report) => ChildScan::Report(report),
        Err(reason) => ChildScan::Failed { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd<'a>(texts: &'a [String], detect: bool, target: Option<Target<'a>>) -> ScanCommand<'a> {
        ScanCommand {
            needles: NeedleSpec {
                texts,
                files: &[],
                sha256: &[],
                shape: scan::Shape::Any,
            },
            detect,
            target,
            out: ReportTarget::default(),
            force: false,
            json: false,
        }
    }

    #[test]
    fn the_command_says_what_is_missing_before_reading_anything() {
        let none = run(&cmd(&[], false, None), &mut |_, _| {}).unwrap_err();
        assert!(matches!(none, ScanCommandError::NothingGiven), "{none}");
        let texts = ["a-long-enough-needle".to_string()];
        let e = run(&cmd(&texts, false, None), &mut |_, _| {}).unwrap_err();
        assert!(matches!(e, ScanCommandError::NoTarget), "{e}");
        assert_eq!(e.to_string(), "give either a core file or --pid");
    }

    #[test]
    fn a_short_needle_is_named_by_number_never_echoed() {
        let texts = ["hunter2".to_string(), "a-long-enough-needle".to_string()];
        let w = weak_warnings(&cmd(&texts, false, None).needles);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("needle 0 (--needle) is 7 bytes"),
            "{}",
            w[0]
        );
        assert!(!w[0].contains("hunter2"));
    }

    #[test]
    fn what_is_not_a_core_file_is_named() {
        let e = open_core(Path::new("/dev/null")).unwrap_err().to_string();
        assert_eq!(
            e,
            "/dev/null: is a character device, not a core file: give an ELF core file (or --pid PID)"
        );
        let e = open_core(Path::new("/nonexistent/x.core")).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/x.core");
        assert!(matches!(
            scan_child(-5, &Needles::new()),
            ChildScan::Failed { .. } | ChildScan::Refused { .. }
        ));
    }
}
