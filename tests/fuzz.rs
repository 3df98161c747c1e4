//! A mutation fuzzer on stable Rust (no cargo-fuzz, no new dependency): real inputs as seeds,
//! random byte flips, insertions, deletions, truncations and splices, fed to the parsers of
//! hostile input: the core reader (+ scanner with detectors) seeded with four real cores (ours,
//! gdb's gcore, the kernel's own, and a QEMU `dump-guest-memory` of a small guest), the `/proc`
//! parsers, the scenario, lab and platform-expectation parsers, and the QMP client (a fake
//! QEMU sending mutated replies).
//!
//! For every input: no panic, no input taking over 1 s, no allocation peak over 2x the input
//! size (+ 1 MiB for fixed buffers). `scripts/fuzz.sh` runs it for FUZZ_SECS seconds per target
//! (default 90: six targets, the core reader twice, 10.5 minutes); `cargo test` runs a short smoke pass (FUZZ_SECS
//! unset: 2 s per target).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes and their peak, so each input's allocation can be bounded.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*: reproducible from FUZZ_SEED.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [u64; 8] = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0xffff_ffff, u64::MAX];

fn mutate(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 if len >= 8 => {
                // An interesting integer over a field (header counts, offsets, sizes).
                let i = rng.below(len - 7) & !3;
                let x = INTERESTING[rng.below(INTERESTING.len())];
                let w = [2usize, 4, 8][rng.below(3)];
                v[i..i + w].copy_from_slice(&x.to_le_bytes()[..w]);
            }
            3 if len > 0 => v.truncate(rng.below(len)),
            4 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            5 if len > 1 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(64)).min(len);
                v.drain(i..j);
            }
            _ if !others.is_empty() => {
                // Splice a piece of another seed.
                let o = &others[rng.below(others.len())];
                if !o.is_empty() && !v.is_empty() {
                    let a = rng.below(o.len());
                    let b = (a + 1 + rng.below(256)).min(o.len());
                    let at = rng.below(v.len());
                    let end = (at + (b - a)).min(v.len());
                    v.splice(at..end, o[a..b].iter().copied());
                }
            }
            _ => {}
        }
    }
    v
}

#[derive(Default)]
struct Stats {
    runs: u64,
    slow: Vec<String>,
    big: Vec<String>,
}

/// Runs `f` on `input`, checking time and allocation; a panic fails the test with the input
/// saved for a regression test.
fn check(stats: &mut Stats, name: &str, input: &[u8], f: &dyn Fn(&[u8])) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(input)));
    let took = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    stats.runs += 1;
    if r.is_err() {
        let p = std::env::temp_dir().join(format!("confidump-fuzz-crash-{name}"));
        std::fs::write(&p, input).unwrap();
        panic!("{name}: panic on an input saved to {}", p.display());
    }
    if took > Duration::from_secs(1) {
        stats
            .slow
            .push(format!("{name}: {took:?} on {} bytes", input.len()));
    }
    if peak > 2 * input.len() + (1 << 20) {
        stats.big.push(format!(
            "{name}: {peak} bytes allocated for {} bytes",
            input.len()
        ));
    }
}

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(2);
    Duration::from_secs(secs)
}

fn run_target(name: &str, seeds: &[Vec<u8>], f: &dyn Fn(&[u8]), stats: &mut Stats, rng: &mut Rng) {
    for s in seeds {
        check(stats, name, s, f);
    }
    let before = stats.runs;
    // The core reader is the parser of the largest, most hostile input: twice the time.
    let share = if name == "core" { 2 } else { 1 };
    let until = Instant::now() + budget() * share;
    while Instant::now() < until {
        let seed = &seeds[rng.below(seeds.len())];
        let input = mutate(rng, seed, seeds);
        check(stats, name, &input, f);
    }
    eprintln!(
        "fuzz: target {name}: {} seeds, {} inputs",
        seeds.len(),
        stats.runs - before
    );
}

/// Seeds from a small real process (`sleep`, a few MiB: an 80 MiB core would spend the time
/// budget copying bytes, not exploring the parser), holding a canary in its environment so the
/// scanner has hits: our core, gdb's gcore core, then the kernel's own core of the same
/// process, and a QEMU guest's dump.
fn core_seeds(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let cwd = dir.join("kernel");
    std::fs::create_dir(&cwd).unwrap();
    let mut target = small_target(&cwd);
    let pid = target.id().to_string();
    let mut seeds = Vec::new();
    // Each seed whose tool is here must be made: a seed that silently goes missing would
    // leave its format unfuzzed.
    for (engine, file) in [("ours", "ours.core"), ("gdb", "gdb.core")] {
        if engine == "gdb" && !common::require(common::Need::Gdb) {
            continue;
        }
        let out = dir.join(file);
        let o = common::run(&[
            "dump",
            &pid,
            "-o",
            out.to_str().unwrap(),
            "--engine",
            engine,
        ]);
        match std::fs::read(&out) {
            Ok(b) if o.status.success() => seeds.push(b),
            _ => panic!(
                "no {engine} seed core: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
        }
    }
    if common::require(common::Need::KernelCores) {
        seeds.push(
            kernel_core(&mut target, &cwd)
                .unwrap_or_else(|why| panic!("no kernel seed core: {why}")),
        );
    }
    if common::require(common::Need::Qemu) {
        seeds.push(
            guest_dump(dir).unwrap_or_else(|why| panic!("no QEMU dump-guest-memory seed: {why}")),
        );
    }
    for s in &seeds {
        eprintln!("fuzz: core seed of {} bytes", s.len());
    }
    seeds
}

/// `sleep 600` in `cwd` with a canary in its environment, core dumps allowed and SIGQUIT's
/// default action restored (a background shell starts its jobs with SIGQUIT ignored).
fn small_target(cwd: &std::path::Path) -> common::KillOnDrop {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("600")
        .env("CONFIDUMP_FUZZ", "CONFIDUMP-0123456789abcdef01234567")
        .current_dir(cwd)
        .stdin(std::process::Stdio::null());
    // SAFETY: setrlimit and signal are async-signal-safe; nothing else runs between fork and
    // exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &lim) != 0
                || libc::signal(libc::SIGQUIT, libc::SIG_DFL) == libc::SIG_ERR
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    // Dumped only once it runs `sleep`, not the test binary's copy before exec.
    let pid = child.id();
    let exe = format!("/proc/{pid}/exe");
    let until = Instant::now() + Duration::from_secs(30);
    while std::fs::read_link(&exe)
        .map(|p| !p.to_string_lossy().contains("sleep"))
        .unwrap_or(true)
    {
        assert!(Instant::now() < until, "pid {pid} never ran sleep");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.into()
}

/// The kernel's own core of `target`: SIGQUIT, and the core appears in its working directory
/// (FACTS: core_pattern `core`, `ulimit -c unlimited`).
fn kernel_core(target: &mut common::KillOnDrop, cwd: &std::path::Path) -> Result<Vec<u8>, String> {
    let pid = nix::unistd::Pid::from_raw(target.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT).unwrap();
    // Bounded: a process that does not die of SIGQUIT must not hang the run.
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = target.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if Instant::now() > until {
            return Err("the target did not end 30 s after SIGQUIT".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let core = std::fs::read_dir(cwd)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("the target ended ({status}) and left no core"))?;
    std::fs::read(core).map_err(|e| e.to_string())
}

/// A small guest's memory through QMP `dump-guest-memory` (paging=false): a 2 MiB `-M pc`
/// guest held at reset (`-S`), so the seed is a real guest-physical core of ~2 MiB.
fn guest_dump(dir: &std::path::Path) -> Result<Vec<u8>, String> {
    let sock = dir.join("seed-qmp.sock");
    let _qemu = common::KillOnDrop::from(
        std::process::Command::new("qemu-system-x86_64")
            .args([
                "-M",
                "pc",
                "-m",
                "2",
                "-S",
                "-display",
                "none",
                "-nodefaults",
            ])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", sock.display()))
            .stdin(std::process::Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    // Connect as soon as the socket answers (QEMU creates it before it listens).
    let out = dir.join("guest.core");
    let mut last = String::new();
    for _ in 0..200 {
        match confidump::vm::qmp::dump_guest_memory_with_timeout(
            &sock,
            &out,
            Duration::from_secs(30),
        ) {
            Ok(_) => return std::fs::read(&out).map_err(|e| e.to_string()),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(last)
}

#[test]
fn fuzz_parsers_of_hostile_input() {
    let mut rng = Rng(std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15));
    let mut stats = Stats::default();
    let dir = tempfile::tempdir().unwrap();

    // The core reader and the scanner over it (needles and detectors).
    let cores = core_seeds(dir.path());
    if !cores.is_empty() {
        let path = dir.path().join("mutant.core");
        let mut needles = confidump::scan::Needles::new();
        needles.add_bytes(confidump::secret::Secret::new(b"CONFIDUMP-".to_vec()));
        needles.add_bytes(confidump::secret::Secret::new(b"GLIBC_2.".to_vec()));
        needles.enable_detectors();
        let f = |b: &[u8]| {
            std::fs::write(&path, b).unwrap();
            if let Ok(core) = confidump::coredump::reader::CoreFile::open(&path) {
                let _ = confidump::scan::scan_source(&core, &needles);
            }
        };
        run_target("core", &cores, &f, &mut stats, &mut rng);
    }

    // /proc parsers, seeded with this process's own files.
    let me = std::process::id();
    let procs: Vec<Vec<u8>> = ["stat", "status", "maps", "smaps"]
        .iter()
        .map(|n| std::fs::read(format!("/proc/{me}/{n}")).unwrap())
        .collect();
    let f = |b: &[u8]| {
        let t = String::from_utf8_lossy(b);
        let _ = confidump::procfs::status::parse_stat(&t);
        let _ = confidump::procfs::status::parse_status(&t);
        let _ = confidump::procfs::maps::parse_maps(&t, "fuzz");
        let _ = confidump::procfs::maps::parse_smaps(&t, "fuzz");
    };
    run_target("proc", &procs, &f, &mut stats, &mut rng);

    // Scenario files.
    let sdir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/scenarios");
    let scen: Vec<Vec<u8>> = std::fs::read_dir(&sdir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let f = |b: &[u8]| {
        let _ = confidump::scenario::parse("fuzz.toml", &String::from_utf8_lossy(b));
    };
    run_target("scenario", &scen, &f, &mut stats, &mut rng);

    // Lab exercise files.
    let ldir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/labs");
    let labs: Vec<Vec<u8>> = std::fs::read_dir(&ldir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let f = |b: &[u8]| {
        let _ = confidump::lab::parse("fuzz.toml", &String::from_utf8_lossy(b));
    };
    run_target("lab", &labs, &f, &mut stats, &mut rng);

    // Platform expectation files (demo/expect), checked against the built-in row names.
    let edir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/expect");
    let expects: Vec<Vec<u8>> = std::fs::read_dir(&edir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let rows: Vec<String> = confidump::scenario::load_all(None)
        .unwrap()
        .iter()
        .map(|s| s.info.name.clone())
        .collect();
    let f = |b: &[u8]| {
        let _ = confidump::runner::platform::parse("fuzz.toml", &String::from_utf8_lossy(b), &rows);
    };
    run_target("platform", &expects, &f, &mut stats, &mut rng);

    // The QMP client against a fake QEMU that sends mutated greetings and replies.
    let sock = dir.path().join("qmp.sock");
    let qmp_seeds: Vec<Vec<u8>> = vec![
        br#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 10}}, "capabilities": []}}
{"return": {}}
{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}
{"return": {"status": "running"}}
"#
        .to_vec(),
        br#"{"QMP": {}}
{"error": {"class": "GenericError", "desc": "no"}}
"#
        .to_vec(),
    ];
    let f = |b: &[u8]| {
        let _ = std::fs::remove_file(&sock);
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let reply = b.to_vec();
        let server = std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.write_all(&reply);
                // Answer nothing more; read what the client sends until it hangs up.
                let mut r = BufReader::new(s);
                let mut line = String::new();
                while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    line.clear();
                }
            }
        });
        if let Ok(mut q) = confidump::vm::qmp::Qmp::connect(&sock, Duration::from_millis(200)) {
            let _ = q.execute("query-status", None);
        }
        server.join().unwrap();
    };
    run_target("qmp", &qmp_seeds, &f, &mut stats, &mut rng);

    eprintln!(
        "fuzz: {} inputs; {} over 1 s; {} over the allocation bound",
        stats.runs,
        stats.slow.len(),
        stats.big.len()
    );
    for s in stats.slow.iter().chain(&stats.big).take(20) {
        eprintln!("  {s}");
    }
    assert!(stats.big.is_empty(), "allocation findings above");
    // Time is a finding of the long run (scripts/fuzz.sh sets FUZZ_SECS), not a timed
    // assertion of the quick pass in `cargo test`, which shares the machine.
    if std::env::var_os("FUZZ_SECS").is_some() {
        assert!(stats.slow.is_empty(), "slow inputs above");
    }
}
