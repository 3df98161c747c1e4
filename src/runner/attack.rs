//! The one-command attack: dump (or read live), scan, and show where the secret is — or the
//! region the kernel refused to read.
//!
//! The dump goes to a private temporary directory (mode 0700, the core 0600) and is deleted
//! when the [`Attack`] is dropped, unless the caller asked to keep it.

use std::path::{Path, PathBuf};

use crate::coredump::policy::Policy;
use crate::coredump::reader::{CoreError, CoreFile};
use crate::coredump::writer::{self, DumpError, DumpOptions, DumpSummary, Engine};
use crate::files::report::ReportTarget;
use crate::files::workdir::DirGuard;
use crate::memory::live::{LiveError, LiveProcess};
use crate::memory::window::{around_hit, at_region, capture};
use crate::memory::MemorySource;
use crate::model::{HexWindow, ScanReport, Span};
use crate::scan::{self, Needles, ScanError};

/// How the attacker gets at the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackPath {
    /// `confidump dump` (every mapping, `dd` included), then scan the core.
    Dump,
    /// `confidump dump --like-gcore`, then scan the core.
    LikeGcore,
    /// gdb's own `gcore`, then scan the core.
    Gcore,
    /// Read the live process (process_vm_readv, /proc/PID/mem); no file.
    Live,
    /// Ask QEMU for its guest's memory (QMP `dump-guest-memory`), then scan that core.
    Qmp,
}

impl AttackPath {
    /// Short name used in tables and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttackPath::Dump => "dump",
            AttackPath::LikeGcore => "like-gcore",
            AttackPath::Gcore => "gcore",
            AttackPath::Live => "live",
            AttackPath::Qmp => "qmp",
        }
    }

    /// The command a presenter would type for this path.
    pub fn command(&self, pid: i32) -> String {
        self.command_on(&pid.to_string(), "victim.core")
    }

    /// [`Self::command`] for `pid` as written (`$pid` in a shell loop), a core it writes going
    /// to `core`.
    pub fn command_on(&self, pid: &str, core: &str) -> String {
        match self {
            AttackPath::Dump => {
                format!("confidump dump {pid} -o {core} && confidump scan {core}")
            }
            AttackPath::LikeGcore => {
                format!("confidump dump --like-gcore {pid} -o {core} && confidump scan {core}")
            }
            AttackPath::Gcore => format!("gcore -o victim {pid} && confidump scan victim.{pid}"),
            AttackPath::Live => format!("confidump scan --pid {pid}"),
            AttackPath::Qmp => {
                "QMP dump-guest-memory (virsh dump --memory-only) && confidump scan guest.core"
                    .to_string()
            }
        }
    }
}

/// Errors of an attack.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// The private temporary directory could not be created.
    #[error("creating a private directory for the dump in {dir}: {source}")]
    TempDir {
        /// Where.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Dumping failed.
    #[error("dumping pid {pid}: {source}")]
    Dump {
        /// The victim.
        pid: i32,
        /// Why.
        source: DumpError,
    },
    /// The core could not be read back.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The live process could not be opened.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// The scan failed.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// QEMU's dump-guest-memory failed.
    #[error(transparent)]
    Qmp(#[from] crate::vm::qmp::QmpError),
    /// `AttackPath::Qmp` without a QMP socket.
    #[error(
        "the qmp path needs QEMU's QMP socket (the \"qmp\" field of a VM victim's ready line)"
    )]
    NoQmpSocket,
    /// No needle given.
    #[error(
        "nothing to look for: give --sha256 HEX (the secret_sha256 of the victim's ready line) \
         or --needle TEXT (see --help)"
    )]
    NothingGiven,
    /// A needle that cannot be used.
    #[error(transparent)]
    Needles(#[from] crate::scan::needles::SpecError),
    /// A core to keep asked of the live path, which writes none.
    #[error("--keep needs a dump: a live read writes no file")]
    KeepWithoutDump,
    /// The core to keep or the report's file could not be written there.
    #[error(transparent)]
    Output(#[from] crate::files::output::OutputError),
}

/// `confidump attack`'s options, as the library takes them.
#[derive(Debug, Clone, Copy)]
pub struct AttackOptions<'a> {
    /// The victim (QEMU, for [`AttackPath::Qmp`]).
    pub pid: i32,
    /// How to get at its memory.
    pub path: AttackPath,
    /// Keep the core here instead of deleting it.
    pub keep: Option<&'a Path>,
    /// QEMU's QMP socket, for [`AttackPath::Qmp`].
    pub qmp: Option<&'a Path>,
    /// Where the report goes, and its redaction.
    pub out: ReportTarget<'a>,
    /// Replace an existing report file.
    pub force: bool,
    /// The report is JSON (redacted on stdout unless revealed).
    pub json: bool,
}

/// Runs `confidump attack` for the needles of `spec`: the paths it will write checked first (a live read keeps no core),
/// what killed attacks left swept, the attack, and the result redacted as `opts.out` asks.
pub fn run(
    opts: &AttackOptions<'_>,
    spec: &crate::scan::needles::NeedleSpec<'_>,
) -> Result<Attack, AttackError> {
    if spec.is_empty() {
        return Err(AttackError::NothingGiven);
    }
    let needles = spec.build()?;
    if opts.path == AttackPath::Live && opts.keep.is_some() {
        return Err(AttackError::KeepWithoutDump);
    }
    if let Some(keep) = opts.keep {
        // Before the dump, not after it.
        crate::files::output::check_target(keep, false)?;
    }
    opts.out.check(opts.force)?;
    // Working directories of attacks killed earlier (SIGKILL leaves them): ours, owner gone.
    super::leftovers::sweep();
    let mut a = attack_with(opts.pid, opts.path, &needles, opts.keep, opts.qmp)?;
    // The live path checks the victim after its scan; the hex window captured after that is
    // one more read, and a `??` drawn there for a victim that died in between would claim a
    // refusal. (The process is not ours to reap: a dead one has no live thread left.)
    if opts.path == AttackPath::Live && !crate::memory::alive::process_has_live_thread(opts.pid) {
        return Err(LiveError::Exited {
            pid: opts.pid,
            during: "read",
        }
        .into());
    }
    if opts.out.redacts(opts.json) {
        use crate::redact::Redact;
        a.report.redact();
        a.view.redact();
    }
    Ok(a)
}

/// A finished attack: the report, and the source, kept open for the hex view.
pub struct Attack {
    /// Which path was taken.
    pub path: AttackPath,
    /// The victim's PID.
    pub pid: i32,
    /// What the dumper wrote, when a dump was taken.
    pub dump: Option<DumpSummary>,
    /// What the scan found.
    pub report: ScanReport,
    /// What was scanned; still open.
    pub source: Box<dyn MemorySource>,
    /// What root sees: the bytes around the first hit, or at the start of the first refused
    /// region ([`crate::memory::window`]'s rule).
    pub view: Option<HexWindow>,
    /// The temporary directory to remove on drop (None when the core is kept or live).
    temp_dir: Option<PathBuf>,
}

impl Attack {
    fn new(
        path: AttackPath,
        pid: i32,
        dump: Option<DumpSummary>,
        report: ScanReport,
        source: Box<dyn MemorySource>,
        temp_dir: Option<PathBuf>,
    ) -> Self {
        let view = view_of(&report, source.as_ref());
        Self {
            path,
            pid,
            dump,
            report,
            source,
            view,
            temp_dir,
        }
    }
}

/// The view worth showing: around the first hit (highlighted), or the start of the first
/// refused region.
fn view_of(report: &ScanReport, source: &dyn MemorySource) -> Option<HexWindow> {
    if let Some(h) = report.hits.first() {
        // Every hit the window holds is marked (as the demo's views do), not only the first:
        // a second copy in view is the secret too (and `--redact` takes out marked bytes).
        let hl: Vec<Span> = report
            .hits
            .iter()
            .map(|h| Span::new(h.vaddr, h.vaddr.saturating_add(h.len)))
            .collect();
        let title = format!("what root sees at hit 0 ({}):", h.mapping);
        return Some(capture(source, &title, around_hit(h.vaddr, h.len), &hl));
    }
    let u = report.refused().into_iter().next()?;
    let title = format!("what root sees in {} (read refused):", u.mapping);
    Some(capture(source, &title, at_region(u.start), &[]))
}

impl Drop for Attack {
    fn drop(&mut self) {
        if let Some(dir) = self.temp_dir.take() {
            if let Err(e) = crate::files::workdir::remove(&dir) {
                tracing::warn!("could not remove {}: {e}", dir.display());
            }
        }
    }
}

/// A new directory `$TMPDIR/PREFIX-<random>`, mode 0700: where dumps, cores and victims'
/// working directories live while an attack or a demo runs. Removed on a signal, and by the
/// next run if this one is killed (see [`crate::files::workdir`]).
pub fn private_dir(prefix: &str) -> std::io::Result<PathBuf> {
    crate::files::workdir::create(prefix)
}

/// Attacks `pid` along `path` looking for `needles`. With `keep`, the core is written there
/// (and kept) instead of a private temporary directory.
pub fn attack(
    pid: i32,
    path: AttackPath,
    needles: &Needles,
    keep: Option<&Path>,
) -> Result<Attack, AttackError> {
    attack_with(pid, path, needles, keep, None)
}

/// [`attack`], with QEMU's QMP socket for [`AttackPath::Qmp`] (`pid` is then QEMU's).
pub fn attack_with(
    pid: i32,
    path: AttackPath,
    needles: &Needles,
    keep: Option<&Path>,
    qmp: Option<&Path>,
) -> Result<Attack, AttackError> {
    if path == AttackPath::Live {
        let live = LiveProcess::open(pid, false)?;
        let mut report = scan::scan_source(&live, needles)?;
        scan::public::split_own_copies(&mut report, &live, &crate::procfs::proc_path(pid, "exe"));
        live.ensure_alive("scan")?;
        return Ok(Attack::new(path, pid, None, report, Box::new(live), None));
    }
    let (core_path, guard) = match keep {
        Some(p) => (p.to_path_buf(), None),
        None => {
            let g = DirGuard::create(&format!("confidump-attack-{pid}")).map_err(|source| {
                AttackError::TempDir {
                    dir: std::env::temp_dir(),
                    source,
                }
            })?;
            (g.path().join(format!("pid{pid}.core")), Some(g))
        }
    };
    if path == AttackPath::Qmp {
        let socket = qmp.ok_or(AttackError::NoQmpSocket)?;
        let dump = crate::vm::qmp::dump_guest_memory(socket, &core_path)?;
        let core = CoreFile::open(&dump.path)?;
        let report = scan::scan_source(&core, needles)?;
        let temp_dir = guard.map(DirGuard::defuse);
        return Ok(Attack::new(
            path,
            pid,
            None,
            report,
            Box::new(core),
            temp_dir,
        ));
    }
    let mut opts = DumpOptions::new(&core_path);
    match path {
        AttackPath::LikeGcore => opts.policy = Policy::LikeGcore,
        AttackPath::Gcore => opts.engine = Engine::Gdb,
        _ => {}
    }
    // gdb's gcore says nothing of what it leaves out: what the process mapped (read before the
    // dump, while it lives) and no segment of the core covers, it left out without reading.
    let mapped = (path == AttackPath::Gcore)
        .then(|| crate::procfs::maps::read_maps(pid).ok())
        .flatten();
    let summary =
        writer::dump_process(pid, &opts).map_err(|source| AttackError::Dump { pid, source })?;
    let core = CoreFile::open(&summary.path)?;
    let mut report = scan::scan_source(&core, needles)?;
    if let Some(maps) = &mapped {
        report.absent.extend(left_out(maps, core.regions()));
    }
    // The victim's own text (help with `CONFIDUMP-…` examples, copied to its heap) is no leak.
    scan::public::split_own_copies(&mut report, &core, &crate::procfs::proc_path(pid, "exe"));
    let temp_dir = guard.map(DirGuard::defuse);
    Ok(Attack::new(
        path,
        pid,
        Some(summary),
        report,
        Box::new(core),
        temp_dir,
    ))
}

/// The mappings of `maps` that no region of a dump covers, as left out without being read;
/// the kernel's own pages (`[vvar]`, `[vsyscall]`), which no process can read, are not counted.
pub fn left_out(
    maps: &[crate::procfs::maps::Mapping],
    regions: &[crate::memory::SourceRegion],
) -> Vec<crate::model::Absent> {
    maps.iter()
        .filter(|m| !crate::model::is_kernel_special(&m.name))
        .filter(|m| {
            !regions
                .iter()
                .any(|r| r.span.start < m.span.end && m.span.start < r.span.end)
        })
        .map(|m| crate::model::Absent {
            start: m.span.start,
            end: m.span.end,
            reason: "gdb's gcore left it out without reading it (MADV_DONTDUMP, VM_DONTDUMP or coredump_filter)".into(),
            mapping: m.display_name().to_string(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::scan::needles::NeedleSpec;

    fn opts(path: AttackPath, keep: Option<&Path>) -> AttackOptions<'_> {
        AttackOptions {
            pid: 1,
            path,
            keep,
            qmp: None,
            out: ReportTarget::default(),
            force: false,
            json: false,
        }
    }

    #[test]
    fn the_flags_are_checked_before_any_read() {
        let none = NeedleSpec {
            texts: &[],
            files: &[],
            sha256: &[],
            shape: crate::scan::Shape::Any,
        };
        let e = run(&opts(AttackPath::Dump, None), &none).err().unwrap();
        assert!(matches!(e, AttackError::NothingGiven), "{e}");
        let texts = ["a-long-enough-needle".to_string()];
        let some = NeedleSpec {
            texts: &texts,
            ..none
        };
        let keep = Path::new("/nonexistent/core");
        let e = run(&opts(AttackPath::Live, Some(keep)), &some)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "--keep needs a dump: a live read writes no file"
        );
    }
}
