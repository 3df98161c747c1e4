//! The demo matrix: every scenario × every attack path, each cell a real victim attacked for
//! real.
//!
//! One victim per scenario, attacked in turn by confidump's dump, gdb's gcore, a live read
//! and, last because it kills the victim, the kernel's own core dump (SIGQUIT). A scenario
//! that runs its victim as an unprivileged user also gets a same-uid attacker (`confidump scan
//! --pid` run as that user). Scenarios are independent, so [`run_matrix`] runs several at once.
//!
//! Classification is honest: a cell is `leak` when the secret (or, where the scenario says
//! so, a fragment of it) was found; `unreadable` only when a read of the secret's region was
//! really refused; `absent` when the tool left the region out without reading it (which proves
//! nothing); `not-found` when the region was read and held nothing. The runner knows the
//! secret's region from the victim's ready line; the attacker is given only the SHA-256.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

use super::attack::{self, AttackPath, DirGuard};
use super::demo::{self, Launch, VictimProcess};
pub use super::env::{for_host, passwd_lookup, unavailable, RunEnv, User};
use super::scenario::{AttackKind, Context, CvmKind, RunAs, Search, Spec, VictimMode};
use crate::coredump::reader::CoreFile;
use crate::memory::MemorySource;
use crate::model::{
    hex_addr, Cell, DetectorKind, HexWindow, Outcome, ScanReport, ScenarioInfo, Span,
};
use crate::procfs::maps::{read_maps, Mapping};
use crate::render::hexview;
use crate::scan::needles::{sha256, CANARY_HEX_LEN};
use crate::scan::{self, Needles, Shape};
use crate::secret::Secret;
use crate::victim::parse_hex_addr;

/// Bytes of the random part of a canary (after `CONFIDUMP-`).
/// Length of the fragments searched with `search = "fragments"`.
const FRAGMENT: usize = 8;
/// Bytes shown around a hit or at the start of a refused region.
const VIEW_LEN: u64 = 64;

/// A scenario ready to run (loaded from `demo/scenarios/*.toml`).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What reports show about it.
    pub info: ScenarioInfo,
    /// What the runner does.
    pub spec: Spec,
}

/// What one attack gave, before it becomes a [`Cell`].
struct Observation {
    outcome: Outcome,
    where_: String,
    reason: String,
    hits: usize,
    fragments_only: bool,
    detected: BTreeMap<DetectorKind, usize>,
    view: Option<HexWindow>,
}

impl Observation {
    fn simple(outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            where_: String::new(),
            reason: reason.into(),
            hits: 0,
            fragments_only: false,
            detected: BTreeMap::new(),
            view: None,
        }
    }
    fn na(reason: impl Into<String>) -> Self {
        Self::simple(Outcome::NotApplicable, reason)
    }
    fn error(reason: impl Into<String>) -> Self {
        Self::simple(Outcome::Error, reason)
    }
}

/// An error and its causes, outermost first, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn overlaps(a: Span, start: u64, end: u64) -> bool {
    a.start < end && start < a.end
}

/// The name `/proc/PID/maps` gives the mapping at `addr`, for cores (gdb's, the kernel's)
/// that do not name anonymous memory: root reads the same maps file, so this is no help the
/// attacker would not have.
fn live_name<'a>(maps: &'a [Mapping], addr: u64, from_source: &'a str) -> &'a str {
    if from_source != "[anon]" && !from_source.is_empty() {
        return from_source;
    }
    maps.iter()
        .find(|m| m.span.contains(addr))
        .map_or(from_source, |m| m.display_name())
}

/// Classifies a finished scan of `source` for a secret held in `region`. `maps` is the
/// victim's `/proc/PID/maps`, read while it ran, to name what a core leaves unnamed.
fn classify(
    report: &ScanReport,
    source: &dyn MemorySource,
    region: Span,
    maps: &[Mapping],
    what: &str,
) -> Observation {
    let detected = by_kind(report);
    if let Some(first) = report.hits.first() {
        let mut places: Vec<&str> = Vec::new();
        for h in &report.hits {
            let name = live_name(maps, h.vaddr, &h.mapping);
            if !places.contains(&name) {
                places.push(name);
            }
        }
        // Needle 0 is the whole secret (by hash); the others are fragments of it.
        let fragments_only = report.hits.iter().all(|h| h.needle != 0);
        let start = first.vaddr.saturating_sub(16) & !15;
        let hl: Vec<Span> = report
            .hits
            .iter()
            .map(|h| Span::new(h.vaddr, h.vaddr.saturating_add(h.len)))
            .collect();
        let title = format!(
            "{} at {} ({what})",
            live_name(maps, first.vaddr, &first.mapping),
            hex_addr(first.vaddr)
        );
        let mut reason: Vec<String> = Vec::new();
        if fragments_only {
            reason.push("fragments of the secret only".to_string());
        }
        // The residue lesson: the copy leaks although the secret's own region held.
        if let Some(u) = report
            .unreadable
            .iter()
            .find(|u| overlaps(region, u.start, u.end))
        {
            reason.push(format!(
                "its own region {} still refused the read (????: {})",
                live_name(maps, region.start, &u.mapping),
                u.reason
            ));
        }
        return Observation {
            outcome: Outcome::Leak,
            where_: places.join(", "),
            reason: reason.join("; "),
            hits: report.hits.len(),
            fragments_only,
            detected,
            view: Some(hexview::capture(source, &title, start, VIEW_LEN, &hl)),
        };
    }
    let view_of = |title: String| {
        Some(hexview::capture(
            source,
            &title,
            region.start & !15,
            VIEW_LEN,
            &[],
        ))
    };
    if let Some(u) = report
        .unreadable
        .iter()
        .find(|u| overlaps(region, u.start, u.end))
    {
        return Observation {
            outcome: Outcome::Unreadable,
            where_: live_name(maps, region.start, &u.mapping).to_string(),
            reason: u.reason.clone(),
            hits: 0,
            fragments_only: false,
            detected,
            view: view_of(format!("{}: read refused ({what})", u.mapping)),
        };
    }
    let absent = report
        .absent
        .iter()
        .find(|a| overlaps(region, a.start, a.end))
        .map(|a| {
            (
                live_name(maps, region.start, &a.mapping).to_string(),
                a.reason.clone(),
            )
        });
    let covered = source
        .regions()
        .iter()
        .any(|r| overlaps(region, r.span.start, r.span.end));
    let absent = absent.or_else(|| {
        (!covered).then(|| {
            (
                live_name(maps, region.start, "").to_string(),
                format!(
                    "no segment of the dump covers {}-{}: the tool left it out without reading it",
                    hex_addr(region.start),
                    hex_addr(region.end)
                ),
            )
        })
    });
    if let Some((mapping, reason)) = absent {
        let view = view_of(format!("{mapping}: left out ({what})"));
        return Observation {
            outcome: Outcome::Absent,
            where_: mapping,
            reason,
            hits: 0,
            fragments_only: false,
            detected,
            view,
        };
    }
    Observation {
        outcome: Outcome::NotFound,
        where_: String::new(),
        reason: format!(
            "the region {}-{} was read and the secret was not in it",
            hex_addr(region.start),
            hex_addr(region.end)
        ),
        hits: 0,
        fragments_only: false,
        detected,
        view: None,
    }
}

/// What the attacker searches for: the secret by hash (needle 0) and, with `fragments`,
/// every 8-byte window of its random part (the constant prefix also sits in our binary).
fn needles_for(secret: &Secret, search: Search) -> Needles {
    let mut n = Needles::new();
    n.add_hash(Shape::Canary, sha256(secret.expose()));
    if search == Search::Fragments {
        let bytes = secret.expose();
        let random = bytes
            .get(bytes.len().saturating_sub(CANARY_HEX_LEN)..)
            .unwrap_or(&[]);
        for w in random.windows(FRAGMENT) {
            n.add_bytes(Secret::new(w.to_vec()));
        }
    }
    n.enable_detectors();
    n
}

/// The cells of a row that cannot run: every one n/a with the same reason.
fn row_na(s: &Scenario, reason: &str) -> Vec<Cell> {
    AttackKind::ALL
        .iter()
        .map(|&a| cell_of(s, a, String::new(), 0, Observation::na(reason), true))
        .collect()
}

/// Builds a cell. When `host_lacks` (the attack cannot run here for a missing capability), the
/// expectation on this host is n/a: the scenario's expectation only holds where it can run.
fn cell_of(
    s: &Scenario,
    attack: AttackKind,
    command: String,
    millis: u64,
    o: Observation,
    host_lacks: bool,
) -> Cell {
    let expected = if host_lacks && o.outcome == Outcome::NotApplicable {
        Outcome::NotApplicable
    } else {
        s.spec.expected(attack)
    };
    Cell {
        scenario: s.info.name.clone(),
        attack: attack.as_str().to_string(),
        expected,
        observed: o.outcome,
        where_: o.where_,
        reason: o.reason,
        command,
        millis,
        hits: o.hits,
        fragments_only: o.fragments_only,
        // The count is the findings by kind, summed: one source for both fields.
        detections: o.detected.values().sum(),
        detected: o.detected,
        view: o.view,
    }
}

/// Detector findings counted by kind.
fn by_kind(report: &ScanReport) -> BTreeMap<DetectorKind, usize> {
    let mut m = BTreeMap::new();
    for d in &report.detections {
        *m.entry(d.kind).or_insert(0) += 1;
    }
    m
}

fn millis_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs one scenario: starts its victim, attacks along each path, returns one cell per
/// path (in [`AttackKind::ALL`] order). `on_step` is told what is happening.
pub fn run_scenario(s: &Scenario, env: &RunEnv, on_step: &mut dyn FnMut(&str)) -> Vec<Cell> {
    let name = &s.info.name;
    // Rows prepared by `for_host` already know; others are checked here.
    if let Some(reason) = s.info.unavailable.clone().or_else(|| unavailable(s, env)) {
        on_step(&format!("{name}: n/a ({reason})"));
        return row_na(s, &reason);
    }
    if s.spec.context == Context::Vm {
        return run_vm_scenario(s, on_step);
    }
    let Some(mode) = s.spec.mode.victim_arg() else {
        return row_na(s, "no victim for this mode");
    };
    let secret = match demo::generate_canary() {
        Ok(x) => x,
        Err(e) => return row_error(s, &format!("generating the secret: {e}")),
    };
    let user = match (s.spec.run_as, &env.unprivileged) {
        (RunAs::Unprivileged, Ok(u)) => Some(u.clone()),
        _ => None,
    };
    // The victim's working directory: where the kernel writes its core. Private to the
    // victim's user; removed (with any core) when this function returns.
    let dir = match DirGuard::create("confidump-demo") {
        Ok(d) => d,
        Err(e) => return row_error(s, &format!("creating a private directory: {e}")),
    };
    if let Some(u) = &user {
        if let Err(e) = std::os::unix::fs::chown(dir.path(), Some(u.uid), Some(u.gid)) {
            return row_error(
                s,
                &format!("chown {} to {}: {e}", dir.path().display(), u.name),
            );
        }
    }
    on_step(&format!("{name}: starting the victim ({mode})"));
    let launch = Launch {
        mode,
        secret: &secret,
        via: s.spec.secret,
        user: user.as_ref().map(|u| (u.uid, u.gid)),
        core_dir: Some(dir.path()),
    };
    let mut victim = match VictimProcess::spawn(&env.exe, &launch) {
        Ok(v) => v,
        Err(e) => return row_error(s, &chain(&e)),
    };
    let pid = victim.pid();
    let region = match victim.ready.region_span() {
        Ok(r) => r,
        Err(e) => return row_error(s, &format!("the victim's ready line: {e}")),
    };
    let needles = needles_for(&secret, s.spec.search);
    // Read while the victim runs; an unreadable maps file only costs names, never a verdict.
    let maps = read_maps(pid).unwrap_or_default();
    let sha = victim.ready.secret_sha256.clone();
    let mut cells = Vec::new();
    for attack in AttackKind::ALL {
        if attack == AttackKind::Kernel {
            continue; // last: it kills the victim
        }
        on_step(&format!("{name}: {}", attack.as_str()));
        let t = Instant::now();
        let (command, obs, host_lacks) = match attack {
            AttackKind::Gcore if env.gcore.is_none() => (
                AttackPath::Gcore.command(pid),
                Observation::na(env.gcore_missing().unwrap_or_default()),
                true,
            ),
            AttackKind::Dump | AttackKind::Gcore | AttackKind::Live => {
                let (path, what) = match attack {
                    AttackKind::Dump => (AttackPath::Dump, "confidump's dump"),
                    AttackKind::Gcore => (AttackPath::Gcore, "gdb's gcore"),
                    _ => (AttackPath::Live, "live read"),
                };
                let obs = root_attack(pid, path, &needles, region, &maps, &secret, what);
                (path.command(pid), obs, false)
            }
            AttackKind::Qmp => (
                String::new(),
                Observation::na(
                    "only for a victim inside a VM: the hypervisor's dump-guest-memory",
                ),
                false,
            ),
            AttackKind::SameUid => same_uid(s, env, user.as_ref(), pid, &sha, region),
            AttackKind::Kernel => continue,
        };
        cells.push(cell_of(
            s,
            attack,
            command,
            millis_since(t),
            obs,
            host_lacks,
        ));
    }
    on_step(&format!("{name}: kernel"));
    let t = Instant::now();
    let command = format!("ulimit -c unlimited; kill -QUIT {pid}; confidump scan core");
    let (obs, host_lacks) = match env.kernel_unusable() {
        Some(reason) => (Observation::na(reason), true),
        None => (
            kernel_attack(&mut victim, dir.path(), &needles, region, &maps),
            false,
        ),
    };
    let kernel = cell_of(
        s,
        AttackKind::Kernel,
        command,
        millis_since(t),
        obs,
        host_lacks,
    );
    drop(victim);
    // Keep column order.
    let at = AttackKind::ALL
        .iter()
        .position(|a| *a == AttackKind::Kernel)
        .unwrap_or(cells.len())
        .min(cells.len());
    cells.insert(at, kernel);
    cells
}

/// A scenario whose victim runs inside a QEMU guest. The attacker is the host: it dumps or
/// reads the QEMU process, or asks QEMU itself for the guest's memory (QMP
/// `dump-guest-memory`). The secret is made inside the guest; the host has only its hash.
fn run_vm_scenario(s: &Scenario, on_step: &mut dyn FnMut(&str)) -> Vec<Cell> {
    use crate::vm::{CvmProfile, VmError, VmOptions, VmVictim};
    let name = &s.info.name;
    let mode = match s.spec.mode {
        VictimMode::Secretmem => crate::victim::Mode::SecretMem,
        _ => crate::victim::Mode::Plain,
    };
    let mut opts = VmOptions::new(mode);
    opts.cvm = s.spec.cvm.map(|c| match c {
        CvmKind::SevSnp => CvmProfile::SevSnp,
        CvmKind::Tdx => CvmProfile::Tdx,
    });
    on_step(&format!("{name}: booting the guest (QEMU)"));
    // QEMU dies with the thread that started it (PR_SET_PDEATHSIG): this thread outlives the
    // VM, which is stopped before returning.
    let vm = match VmVictim::start(&opts) {
        Ok(v) => v,
        Err(e) => {
            let missing = matches!(
                e,
                VmError::QemuMissing { .. }
                    | VmError::KernelMissing { .. }
                    | VmError::CvmUnavailable(_)
            );
            return if missing {
                row_na(s, &chain(&e))
            } else {
                row_error(s, &chain(&e))
            };
        }
    };
    let ready = vm.ready().clone();
    let qemu = vm.qemu_pid();
    let mut needles = Needles::new();
    let mut digest = [0u8; 32];
    if hex::decode_to_slice(&ready.ready.secret_sha256, &mut digest).is_err() {
        return row_error(s, "the guest's ready line has no valid secret_sha256");
    }
    needles.add_hash(Shape::Canary, digest);
    needles.enable_detectors();
    let maps = read_maps(qemu).unwrap_or_default();
    let accel = &ready.accel;
    let mut cells = Vec::new();
    for attack in AttackKind::ALL {
        on_step(&format!("{name}: {}", attack.as_str()));
        let t = Instant::now();
        let (command, obs) = match attack {
            AttackKind::Dump | AttackKind::Gcore | AttackKind::Live => {
                let (path, what) = match attack {
                    AttackKind::Dump => (AttackPath::Dump, "confidump's dump of QEMU"),
                    AttackKind::Gcore => (AttackPath::Gcore, "gdb's gcore of QEMU"),
                    _ => (AttackPath::Live, "a live read of QEMU"),
                };
                let obs = match attack::attack(qemu, path, &needles, None) {
                    Ok(a) => vm_classify(&a.report, a.source.as_ref(), &maps, what),
                    Err(e) => Observation::error(chain(&e)),
                };
                (path.command(qemu), obs)
            }
            AttackKind::Qmp => (
                format!("virsh dump --memory-only (QMP dump-guest-memory on {}) && confidump scan guest.core", ready.qmp.display()),
                qmp_attack(qemu, vm.qmp_socket(), &needles),
            ),
            AttackKind::Kernel => (
                String::new(),
                Observation::na(
                    "not run: a kernel core of QEMU would end the VM; the dump column reads the same memory",
                ),
            ),
            AttackKind::SameUid => (
                String::new(),
                Observation::na("the attacker here is the host operator (root)"),
            ),
        };
        cells.push(cell_of(s, attack, command, millis_since(t), obs, false));
    }
    on_step(&format!("{name}: stopping the guest ({accel})"));
    vm.stop();
    cells
}

/// QMP `dump-guest-memory` into a private directory, then a scan of the guest-physical core.
fn qmp_attack(qemu: i32, socket: &Path, needles: &Needles) -> Observation {
    match attack::attack_with(qemu, AttackPath::Qmp, needles, None, Some(socket)) {
        Ok(a) => vm_classify(
            &a.report,
            a.source.as_ref(),
            &[],
            "QEMU's dump-guest-memory",
        ),
        Err(e) => {
            let msg = chain(&e);
            // QEMU refuses to dump the memory of a guest whose memory is encrypted: that is a
            // refusal by a real mechanism. Anything else is an error, not a verdict.
            let lower = msg.to_lowercase();
            if lower.contains("not supported")
                || lower.contains("encrypt")
                || lower.contains("confidential")
            {
                Observation::simple(Outcome::Unreadable, msg)
            } else {
                Observation::error(msg)
            }
        }
    }
}

/// A VM attack's classification: the host does not know where in its own memory the guest's
/// secret sits, so no hit means "not found in anything read" (what a confidential VM gives).
fn vm_classify(
    report: &ScanReport,
    source: &dyn MemorySource,
    maps: &[Mapping],
    what: &str,
) -> Observation {
    if !report.hits.is_empty() {
        return classify(report, source, Span::new(0, 0), maps, what);
    }
    Observation {
        detected: by_kind(report),
        ..Observation::simple(
            Outcome::NotFound,
            format!(
                "no plaintext of the secret in {:.0} MiB read by {what}",
                report.bytes_scanned as f64 / (1024.0 * 1024.0)
            ),
        )
    }
}

fn row_error(s: &Scenario, reason: &str) -> Vec<Cell> {
    AttackKind::ALL
        .iter()
        .map(|&a| cell_of(s, a, String::new(), 0, Observation::error(reason), false))
        .collect()
}

/// Root's attack along `path`, classified.
fn root_attack(
    pid: i32,
    path: AttackPath,
    needles: &Needles,
    region: Span,
    maps: &[Mapping],
    secret: &Secret,
    what: &str,
) -> Observation {
    match attack::attack(pid, path, needles, None) {
        Ok(a) => {
            let mut o = classify(&a.report, a.source.as_ref(), region, maps, what);
            if path == AttackPath::Live {
                // The argv pitfall's other face: ps shows it to every user.
                if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                    if memchr::memmem::find(&cmdline, secret.expose()).is_some() {
                        let sep = if o.reason.is_empty() { "" } else { "; " };
                        o.reason = format!(
                            "{}{sep}also in /proc/{pid}/cmdline (ps -ww shows it to every user)",
                            o.reason
                        );
                    }
                }
            }
            o
        }
        Err(e) => Observation::error(chain(&e)),
    }
}

/// SIGQUIT the victim, then scan the core the kernel left in its working directory.
fn kernel_attack(
    victim: &mut VictimProcess,
    dir: &Path,
    needles: &Needles,
    region: Span,
    maps: &[Mapping],
) -> Observation {
    let status = match victim.quit_with_core() {
        Ok(s) => s,
        Err(e) => return Observation::error(chain(&e)),
    };
    // Only the victim writes in its private directory, so whatever file is there is its core,
    // whatever name core_pattern gives it (`core`, `core.PID`).
    let core = std::fs::read_dir(dir).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.is_file())
    });
    let Some(core) = core else {
        return Observation {
            where_: String::new(),
            ..Observation::simple(
                Outcome::Absent,
                format!(
                    "the kernel wrote no core ({}): a non-dumpable process (PR_SET_DUMPABLE=0) gets none while fs.suid_dumpable is 0",
                    demo::describe_status(&status)
                ),
            )
        };
    };
    let opened = CoreFile::open(&core).map_err(|e| chain(&e)).and_then(|c| {
        scan::scan_source(&c, needles)
            .map(|r| (c, r))
            .map_err(|e| chain(&e))
    });
    match opened {
        Ok((c, r)) => classify(&r, &c, region, maps, "the kernel's core"),
        Err(e) => Observation::error(e),
    }
}

/// The parts of a `scan --format json` report the same-uid attack needs.
#[derive(Deserialize)]
struct JsonReport {
    hits: Vec<JsonHit>,
    unreadable: Vec<JsonRange>,
}

#[derive(Deserialize)]
struct JsonHit {
    needle: usize,
    mapping: String,
}

#[derive(Deserialize)]
struct JsonRange {
    start: String,
    end: String,
    reason: String,
    #[serde(default)]
    mapping: String,
}

/// `confidump scan --pid PID` run as the victim's own (unprivileged) user.
fn same_uid(
    s: &Scenario,
    env: &RunEnv,
    user: Option<&User>,
    pid: i32,
    sha: &str,
    region: Span,
) -> (String, Observation, bool) {
    use std::os::unix::process::CommandExt;
    if s.spec.run_as != RunAs::Unprivileged {
        return (
            String::new(),
            Observation::na(
                "only a scenario whose victim runs as an unprivileged user runs a same-uid attacker",
            ),
            false,
        );
    }
    let Some(u) = user else {
        let why = env.unprivileged.clone().err().unwrap_or_default();
        return (String::new(), Observation::na(why), true);
    };
    let command = format!(
        "sudo -u {} confidump scan --pid {pid} --sha256 {sha}",
        u.name
    );
    let out = Command::new(&env.exe)
        .args(["scan", "--pid", &pid.to_string(), "--sha256", sha])
        .args(["--shape", "canary", "--format", "json"])
        .uid(u.uid)
        .gid(u.gid)
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            return (
                command,
                Observation::error(format!("running the attacker: {e}")),
                false,
            )
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let err_line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_start_matches("confidump: error: ");
    // The CLI prints an error's chain; an io::Error often repeats its cause: say it once.
    let mut parts: Vec<&str> = Vec::new();
    for p in err_line.split(": ") {
        if parts.last() != Some(&p) {
            parts.push(p);
        }
    }
    let err_line = parts.join(": ");
    let obs = match serde_json::from_slice::<JsonReport>(&out.stdout) {
        Ok(r) if !r.hits.is_empty() => {
            let mut places: Vec<String> = Vec::new();
            for h in &r.hits {
                if !places.contains(&h.mapping) {
                    places.push(h.mapping.clone());
                }
            }
            Observation {
                outcome: Outcome::Leak,
                where_: places.join(", "),
                reason: String::new(),
                hits: r.hits.len(),
                fragments_only: r.hits.iter().all(|h| h.needle != 0),
                detected: BTreeMap::new(),
                view: None,
            }
        }
        Ok(r) => match r.unreadable.iter().find(|u| {
            matches!((parse_hex_addr(&u.start), parse_hex_addr(&u.end)),
                (Ok(a), Ok(b)) if overlaps(region, a, b))
        }) {
            Some(u) => Observation {
                where_: u.mapping.clone(),
                ..Observation::simple(Outcome::Unreadable, u.reason.clone())
            },
            None => Observation::simple(
                Outcome::NotFound,
                "the same-uid attacker read the process and the secret was not in it",
            ),
        },
        // The kernel refused to open the process at all: that is the refusal this path shows.
        Err(_) if is_permission_error(&err_line) => Observation::simple(
            Outcome::Unreadable,
            format!("refused to uid {}: {err_line}", u.uid),
        ),
        Err(_) => Observation::error(format!(
            "the same-uid attacker failed ({}): {err_line}",
            out.status
        )),
    };
    (command, obs, false)
}

fn is_permission_error(msg: &str) -> bool {
    [
        "EACCES",
        "EPERM",
        "Permission denied",
        "Operation not permitted",
    ]
    .iter()
    .any(|k| msg.contains(k))
}

/// Runs every scenario, `jobs` at a time (victims are independent; gdb's startup dominates,
/// so overlapping scenarios is what keeps the whole matrix short). Rows come back in the
/// order of `scenarios`.
pub fn run_matrix(
    scenarios: &[Scenario],
    env: &RunEnv,
    jobs: usize,
    on_step: &mut (dyn FnMut(&str) + Send),
) -> Vec<Vec<Cell>> {
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<Vec<Cell>>>> = Mutex::new(vec![None; scenarios.len()]);
    let step = Mutex::new(on_step);
    let jobs = jobs.clamp(1, scenarios.len().max(1));
    std::thread::scope(|sc| {
        for _ in 0..jobs {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(s) = scenarios.get(i) else { break };
                let mut tell = |m: &str| {
                    if let Ok(mut f) = step.lock() {
                        f(m);
                    }
                };
                let cells = run_scenario(s, env, &mut tell);
                if let Ok(mut r) = rows.lock() {
                    if let Some(slot) = r.get_mut(i) {
                        *slot = Some(cells);
                    }
                }
            });
        }
    });
    let rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
    rows.into_iter()
        .zip(scenarios)
        .map(|(r, s)| r.unwrap_or_else(|| row_error(s, "the scenario's worker thread failed")))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lookup_finds_uid_and_gid() {
        let p = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(passwd_lookup(p, "nobody"), Some((65534, 65534)));
        assert_eq!(passwd_lookup(p, "nob"), None);
    }

    #[test]
    fn fragments_skip_the_constant_prefix() {
        let s = Secret::new(b"CONFIDUMP-0123456789abcdef01234567".to_vec());
        let n = needles_for(&s, Search::Fragments);
        // hash + (24 - 8 + 1) windows of the random part
        assert_eq!(n.len(), 1 + 17);
        assert_eq!(needles_for(&s, Search::Hash).len(), 1);
    }

    #[test]
    fn permission_errors_are_recognised() {
        assert!(is_permission_error(
            "cannot read pid 5: opening /proc/5/maps: Permission denied (os error 13)"
        ));
        assert!(!is_permission_error("no such process"));
    }
}
