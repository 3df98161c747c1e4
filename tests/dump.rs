//! `confidump dump` against real processes, read back by real gdb and by goblin.
//!
//! The victim (tests/victim/victim.c, built here with gcc) prints one `ready` line with the
//! addresses of what it holds, then sleeps; [`Victim`] kills it on drop.

// Test helpers (outside #[test] fns, so clippy.toml's test allowances do not reach them) may
// panic: a failed expectation here is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use confidump::coredump::policy::Policy;
use confidump::coredump::writer::{dump_process, DumpOptions};
use confidump::coredump::{parse_hex_addr, ConfidumpNote, CONFIDUMP_NOTE_NAME, NT_CONFIDUMP_MAPS};
use goblin::elf::program_header::PT_LOAD;
use goblin::elf::Elf;

const PAGE: u64 = 4096;

fn victim_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dump-test-victim");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/victim/victim.c");
        let st = Command::new("gcc")
            .args(["-O1", "-g", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc");
        assert!(st.success(), "gcc failed");
        out
    })
    .clone()
}

struct Victim {
    /// Held for its `Drop`: the victim dies with the test.
    _child: common::KillOnDrop,
    pid: i32,
    addr: HashMap<String, u64>,
}

impl Victim {
    /// `big_mib` MiB of extra anonymous memory, `dense` (all written) or sparse (4 pages).
    fn start(big_mib: u64, dense: bool) -> Self {
        let mut child = Command::new(victim_exe())
            .arg(big_mib.to_string())
            .arg(if dense { "dense" } else { "sparse" })
            .stdout(Stdio::piped())
            .spawn()
            .expect("start victim");
        let line = common::first_line(&mut child);
        assert!(line.starts_with("ready "), "victim said {line:?}");
        let addr = line
            .split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), parse_hex_addr(v).unwrap_or(0)))
            .collect();
        let pid = child.id() as i32;
        Victim {
            _child: child.into(),
            pid,
            addr,
        }
    }
    fn at(&self, key: &str) -> u64 {
        self.addr[key]
    }
}

fn confidump() -> Command {
    Command::new(env!("CARGO_BIN_EXE_confidump"))
}

/// A read-only mapping of a core (they can be 1 GiB long, mostly holes).
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn open(path: &Path) -> Self {
        let f = std::fs::File::open(path).unwrap();
        let len = f.metadata().unwrap().len() as usize;
        // SAFETY: read-only private mapping of a file nobody modifies during the test.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&f),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        Mapped { ptr, len }
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is valid for `len` bytes until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// Bytes of the core at `addr`, if a PT_LOAD holds file bytes for it.
fn core_bytes<'a>(elf: &Elf, bytes: &'a [u8], addr: u64, len: u64) -> Option<&'a [u8]> {
    let ph = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.p_vaddr <= addr && addr < p.p_vaddr + p.p_memsz)?;
    if addr + len > ph.p_vaddr + ph.p_filesz {
        return None;
    }
    let off = (ph.p_offset + addr - ph.p_vaddr) as usize;
    bytes.get(off..off + len as usize)
}

/// True when some PT_LOAD covers `addr` (with or without file bytes).
fn has_load(elf: &Elf, addr: u64) -> bool {
    elf.program_headers
        .iter()
        .any(|p| p.p_type == PT_LOAD && p.p_vaddr <= addr && addr < p.p_vaddr + p.p_memsz)
}

fn our_note(elf: &Elf, bytes: &[u8]) -> ConfidumpNote {
    let note = elf
        .iter_note_headers(bytes)
        .unwrap()
        .filter_map(Result::ok)
        .find(|n| n.name == CONFIDUMP_NOTE_NAME && n.n_type == NT_CONFIDUMP_MAPS)
        .expect("CONFIDUMP note");
    serde_json::from_slice(note.desc).unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn proc_field(pid: i32, key: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap()
        .trim()
        .to_string()
}

fn assert_released(pid: i32) {
    let state = proc_field(pid, "State:");
    assert!(
        !state.starts_with('t') && !state.starts_with('T'),
        "{state}"
    );
    assert_eq!(proc_field(pid, "TracerPid:"), "0");
}

#[test]
fn gdb_loads_our_core() {
    let v = Victim::start(0, false);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    let out = confidump()
        .args(["dump", &v.pid.to_string(), "-o"])
        .arg(&core)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("wrote ") && stderr.contains("2 threads"),
        "{stderr}"
    );
    assert_released(v.pid);
    let gdb = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "info threads"])
        .args(["-ex", &format!("x/s {:#x}", v.at("heap"))])
        .args(["-ex", "bt"])
        .arg(victim_exe())
        .arg(&core)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&gdb.stdout).to_string() + &String::from_utf8_lossy(&gdb.stderr);
    assert!(text.contains("heap-secret-CONFIDUMP-4242"), "{text}");
    let threads = text
        .lines()
        .filter(|l| l.contains("Thread 0x") && l.contains("LWP"))
        .count();
    assert!(threads >= 3, "info threads should list 2 threads:\n{text}"); // + "Current thread" line
    assert!(text.contains("#0 ") && text.contains("main"), "{text}");
    assert!(!text.contains("too small"), "{text}");
}

#[test]
fn unreadable_pages_have_no_bytes_and_are_listed() {
    let v = Victim::start(0, false);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    let s = dump_process(v.pid, &DumpOptions::new(&core)).unwrap();
    assert_released(v.pid);
    assert_eq!(s.threads, 2);
    let m = Mapped::open(&core);
    let bytes = m.bytes();
    let elf = Elf::parse(bytes).unwrap();
    let note = our_note(&elf, bytes);
    assert_eq!(note.policy, "attacker");
    assert_eq!(note.pid, v.pid);
    let three = v.at("three");
    // The page after the PROT_NONE page is there; the PROT_NONE page too (root reads it:
    // never touched, it is zeros, in a PT_LOAD's tail).
    let after = core_bytes(&elf, bytes, three + 2 * PAGE, 20).expect("page after the hole");
    assert_eq!(after, b"after-the-hole-AFTER");
    assert!(has_load(&elf, three + PAGE));
    // The dd page is dumped by the attacker.
    assert_eq!(
        core_bytes(&elf, bytes, v.at("dd"), 17).unwrap(),
        b"dontdump-DDSECRET"
    );
    // No unreadable range has a PT_LOAD: readers must not fill it with zeros.
    assert!(!note.unreadable.is_empty());
    for u in &note.unreadable {
        let (start, end) = (
            parse_hex_addr(&u.start).unwrap(),
            parse_hex_addr(&u.end).unwrap(),
        );
        assert!(!has_load(&elf, start) && !has_load(&elf, end - 1), "{u:?}");
    }
    let secret = v.at("secret");
    if secret == 0 {
        assert!(
            !common::require(common::Need::MemfdSecret),
            "memfd_secret works here, but the victim got none"
        );
        return;
    }
    let u = note
        .unreadable
        .iter()
        .find(|u| parse_hex_addr(&u.start) == Some(secret))
        .expect("memfd_secret page listed as unreadable");
    assert!(
        matches!(u.errno, Some(libc::EIO) | Some(libc::EFAULT)),
        "{u:?}"
    );
    assert!(!has_load(&elf, secret));
    assert!(!contains(bytes, b"memfd-secret-SECRETMEM"));
    assert!(s.to_string().contains("/secretmem (deleted) EIO"), "{s}");
}

/// Output of a command, stdout then stderr, as text.
fn text_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn gdb_cannot_access_refused_memory_in_our_core() {
    let v = Victim::start(0, false);
    let secret = v.at("secret");
    if secret == 0 {
        assert!(
            !common::require(common::Need::MemfdSecret),
            "memfd_secret works here, but the victim got none"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    dump_process(v.pid, &DumpOptions::new(&core)).unwrap();
    let addr = format!("{secret:#x}");
    // Real gdb on our core: the refused range is inaccessible, as on gcore's cores, not zeros.
    let gdb = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", &format!("x/32xb {addr}")])
        .arg(victim_exe())
        .arg(&core)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = text_of(&gdb);
    assert!(
        text.contains(&format!("Cannot access memory at address {addr}")),
        "{text}"
    );
    assert!(!text.contains(&format!("{addr}:\t0x00")), "{text}");
    // The heap still reads, in the same gdb session style.
    let gdb = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", &format!("x/s {:#x}", v.at("heap"))])
        .arg(victim_exe())
        .arg(&core)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(text_of(&gdb).contains("heap-secret-CONFIDUMP-4242"));

    // Our show still draws ?? with the errno, and quotes gdb's own line beside it.
    let out = confidump()
        .args(["show"])
        .arg(&core)
        .args(["--addr", &addr, "--len", "32"])
        .output()
        .unwrap();
    let show = text_of(&out);
    assert!(out.status.success(), "{show}");
    assert!(show.contains("?? ?? ?? ??"), "{show}");
    assert!(show.contains("/secretmem (deleted)"), "{show}");
    assert!(show.contains("EIO") || show.contains("EFAULT"), "{show}");
    assert!(
        show.contains(&format!(
            "gdb on the same core: x/16xb {addr} → Cannot access memory at address {addr}"
        )),
        "{show}"
    );
    // And scan classifies it as refused (unreadable with its errno), never as absent.
    let out = confidump()
        .arg("scan")
        .arg(&core)
        .args(["--needle", "memfd-secret-SECRETMEM", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "no-leak", "{report}");
    let refused = report["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["start"] == addr.as_str())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        refused["reason"].as_str().unwrap().starts_with('E'),
        "{refused}"
    );
    assert!(report["absent"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["start"] != addr.as_str()));

    // elfutils still reads the core: notes, and a backtrace of both threads.
    if !common::require(common::Need::EuStack) {
        return;
    }
    let notes = Command::new("eu-readelf")
        .args(["-n", "-l"])
        .arg(&core)
        .output()
        .unwrap();
    assert!(notes.status.success(), "{}", text_of(&notes));
    assert!(text_of(&notes).contains("CONFIDUMP"));
    let stack = Command::new("eu-stack")
        .arg("--core")
        .arg(&core)
        .arg("--executable")
        .arg(victim_exe())
        .output()
        .unwrap();
    let st = text_of(&stack);
    assert!(st.contains("main"), "{st}");
    assert_eq!(st.matches("TID ").count(), 2, "{st}");
}

#[test]
fn like_gcore_leaves_dd_out() {
    let v = Victim::start(0, false);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    let mut opts = DumpOptions::new(&core);
    opts.policy = Policy::LikeGcore;
    dump_process(v.pid, &opts).unwrap();
    let m = Mapped::open(&core);
    let bytes = m.bytes();
    let elf = Elf::parse(bytes).unwrap();
    let note = our_note(&elf, bytes);
    assert_eq!(note.policy, "like-gcore");
    let dd = v.at("dd");
    // Left out as gcore does: no PT_LOAD at all (gcore writes none for a dd mapping either).
    assert!(!has_load(&elf, dd));
    let a = note
        .absent
        .iter()
        .find(|a| parse_hex_addr(&a.start) == Some(dd))
        .expect("dd mapping listed as absent");
    assert!(a.reason.contains("MADV_DONTDUMP"), "{a:?}");
    assert!(!contains(bytes, b"dontdump-DDSECRET"));
    // The PROT_NONE page is left out as gcore does; the heap is still there.
    assert!(!has_load(&elf, v.at("three") + PAGE));
    assert!(core_bytes(&elf, bytes, v.at("heap"), 26).is_some());
}

#[test]
fn sparse_memory_becomes_holes() {
    let v = Victim::start(1024, false);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    dump_process(v.pid, &DumpOptions::new(&core)).unwrap();
    // 1 GiB mapped, 4 pages touched: the core's length and its disk use follow what is
    // resident (the victim's ~4 MiB of libraries and stacks), not the address space.
    let meta = std::fs::metadata(&core).unwrap();
    let used = meta.blocks() * 512;
    assert!(
        meta.len() < 64 << 20 && used < 64 << 20,
        "core uses {used} bytes on disk for {} of length",
        meta.len()
    );
    let m = Mapped::open(&core);
    let bytes = m.bytes();
    let elf = Elf::parse(bytes).unwrap();
    let big = v.at("big");
    for i in 0..4u64 {
        let at = big + i * (1024 << 20) / 4 + 123;
        let want = format!("sparse-{i}");
        assert_eq!(
            core_bytes(&elf, bytes, at, want.len() as u64).unwrap(),
            want.as_bytes()
        );
        // An untouched page has no bytes in the file: it is in a PT_LOAD's zero tail
        // (p_memsz > p_filesz), which ELF readers fill with zeros.
        let hole = at - 123 + 8 * PAGE;
        assert!(has_load(&elf, hole), "no PT_LOAD covers {hole:#x}");
        assert!(core_bytes(&elf, bytes, hole, PAGE).is_none());
    }
    // The same bytes through our reader and through real gdb, at sampled addresses: the
    // touched pages, a hole inside the first batch of pagemap entries and one far beyond it.
    let reader = confidump::coredump::reader::CoreFile::open(&core).unwrap();
    let mut gdb = Command::new("gdb");
    gdb.args(["-batch", "-nx"]);
    let mut want = Vec::new();
    for i in 0..4u64 {
        let at = big + i * (1024 << 20) / 4 + 123;
        let s = format!("sparse-{i}");
        let mut got = vec![0u8; s.len()];
        confidump::memory::MemorySource::read_exact_at(&reader, at, &mut got).unwrap();
        assert_eq!(got, s.as_bytes());
        gdb.args(["-ex", &format!("x/s {at:#x}")]);
        want.push(s);
        for hole in [at - 123 + 8 * PAGE, at - 123 + 50_000 * PAGE] {
            let mut z = vec![1u8; 16];
            confidump::memory::MemorySource::read_exact_at(&reader, hole, &mut z).unwrap();
            assert!(z.iter().all(|&b| b == 0), "hole at {hole:#x}");
            gdb.args(["-ex", &format!("x/2xg {hole:#x}")]);
        }
    }
    let out = gdb.arg(victim_exe()).arg(&core).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for s in &want {
        assert!(text.contains(&format!("\"{s}\"")), "{text}");
    }
    let zero_lines = text
        .lines()
        .filter(|l| l.ends_with("0x0000000000000000\t0x0000000000000000"))
        .count();
    assert_eq!(zero_lines, 8, "{text}");
}

#[test]
fn output_file_rules() {
    let v = Victim::start(0, false);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    let pid = v.pid.to_string();
    let ok = confidump()
        .args(["dump", &pid, "-o"])
        .arg(&core)
        .output()
        .unwrap();
    assert!(ok.status.success());
    let mode = std::fs::metadata(&core).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Not overwritten without --force.
    std::fs::write(&core, b"precious").unwrap();
    let again = confidump()
        .args(["dump", &pid, "-o"])
        .arg(&core)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&core).unwrap(), b"precious");
    let forced = confidump()
        .args(["dump", &pid, "--force", "-o"])
        .arg(&core)
        .output()
        .unwrap();
    assert!(forced.status.success());
    assert_ne!(std::fs::read(&core).unwrap().len(), 8);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // A missing PID: exit 2, nothing left behind.
    let empty = tempfile::tempdir().unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id().to_string();
    gone.wait().unwrap();
    for engine in ["ours", "gdb"] {
        let out = confidump()
            .args(["dump", &gone_pid, "--engine", engine, "-o"])
            .arg(empty.path().join("x.core"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{engine}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no process"));
        assert_eq!(
            std::fs::read_dir(empty.path()).unwrap().count(),
            0,
            "{engine}"
        );
    }
}

#[test]
fn killed_dumper_leaves_victim_running() {
    let v = Victim::start(1024, true);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("v.core");
    let mut dumper = confidump()
        .args(["dump", &v.pid.to_string(), "-o"])
        .arg(&core)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the dumper holds the victim (the copy into the unnamed core runs only while
    // the threads are frozen).
    let deadline = Instant::now() + Duration::from_secs(30);
    let was_traced = loop {
        if proc_field(v.pid, "TracerPid:") == dumper.id().to_string() {
            break true;
        }
        assert!(
            dumper.try_wait().unwrap().is_none(),
            "dump ended before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the dumper never held the victim"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    dumper.kill().unwrap();
    dumper.wait().unwrap();
    assert!(
        was_traced,
        "the dumper was not holding the victim when killed"
    );
    assert_released(v.pid);
    assert!(!core.exists());
    // Nothing at all: the core was unnamed until complete.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn gdb_engine_writes_a_core_goblin_parses() {
    if !common::require(common::Need::Gdb) {
        return;
    }
    let v = Victim::start(0, false);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("g.core");
    let out = confidump()
        .args(["dump", &v.pid.to_string(), "--engine", "gdb", "-o"])
        .arg(&core)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_released(v.pid);
    let mode = std::fs::metadata(&core).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let m = Mapped::open(&core);
    let elf = Elf::parse(m.bytes()).unwrap();
    assert_eq!(elf.header.e_type, goblin::elf::header::ET_CORE);
    assert!(core_bytes(&elf, m.bytes(), v.at("heap"), 26).is_some());
    // gcore's default leaves the dd page out.
    assert!(!contains(m.bytes(), b"dontdump-DDSECRET"));
}

/// The speed tricks (never-touched pages skipped, zero pages left as holes, reads and writes
/// overlapped) must not change a byte: every readable region of our core reads back, through
/// our reader, exactly as the paused victim's memory read live just before the dump, and as
/// gdb's plain core (zeros written out) does; real gdb prints the same words from both cores
/// at sampled addresses.
///
/// The kernel itself writes to a paused process when a tracer lets it go: each thread's rseq
/// area (`cpu_id`, in its TLS) is refreshed on the way back to user space. So the victim is
/// read live twice, before each dump; a byte may differ between our core and gcore's only
/// where those two live reads differ too.
#[test]
fn core_reads_back_identical_to_live_memory_and_to_gcore() {
    use confidump::coredump::reader::CoreFile;
    use confidump::coredump::writer::Engine;
    use confidump::memory::live::LiveProcess;
    use confidump::memory::{MemorySource, RegionKind, SourceRegion};

    let v = Victim::start(64, false);
    // The ready line comes right after pthread_create: wait until both threads sit in
    // pause() (syscall 34), so the victim itself changes nothing from here on.
    let started = Instant::now();
    while !std::fs::read_dir(format!("/proc/{}/task", v.pid))
        .unwrap()
        .all(|t| {
            let path = t.unwrap().path().join("syscall");
            std::fs::read_to_string(path).is_ok_and(|s| s.starts_with("34 "))
        })
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "victim never paused"
        );
        std::thread::yield_now();
    }
    let readable = |r: &&SourceRegion| matches!(r.kind, RegionKind::Readable);
    // Every readable byte of the victim, read live: (start, bytes) per region.
    let snapshot = || -> Vec<(u64, Vec<u8>)> {
        let live = LiveProcess::open(v.pid, false).unwrap();
        live.regions()
            .iter()
            .filter(readable)
            .filter_map(|r| {
                let mut b = vec![0u8; usize::try_from(r.span.len()).unwrap()];
                live.read_exact_at(r.span.start, &mut b).ok()?;
                Some((r.span.start, b))
            })
            .collect()
    };
    let at = |snap: &[(u64, Vec<u8>)], addr: u64, len: usize| -> Vec<u8> {
        let (start, bytes) = snap
            .iter()
            .find(|(s, b)| *s <= addr && addr + len as u64 <= s + b.len() as u64)
            .unwrap_or_else(|| panic!("{addr:#x} not read live"));
        let off = usize::try_from(addr - start).unwrap();
        bytes[off..off + len].to_vec()
    };
    let core_bytes = |core: &CoreFile, r: &SourceRegion| {
        let mut a = vec![0u8; usize::try_from(r.span.len()).unwrap()];
        core.read_exact_at(r.span.start, &mut a).unwrap();
        a
    };

    let before_ours = snapshot();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.core");
    dump_process(v.pid, &DumpOptions::new(&ours)).unwrap();
    let core = CoreFile::open(&ours).unwrap();
    let mut compared = 0u64;
    for r in core.regions().iter().filter(readable) {
        let a = core_bytes(&core, r);
        let b = at(&before_ours, r.span.start, a.len());
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert!(
            first.is_none(),
            "{} at {:#x} (+{first:#x?}): core and live memory differ",
            r.name,
            r.span.start
        );
        compared += r.span.len();
    }
    assert!(compared >= 64 << 20, "compared only {compared} bytes");

    // The comparison with gdb's plain core.
    if !common::require(common::Need::Gdb) {
        return;
    }
    let before_gcore = snapshot();
    let plain = dir.path().join("gcore.core");
    let mut opts = DumpOptions::new(&plain);
    opts.engine = Engine::Gdb;
    dump_process(v.pid, &opts).unwrap();
    let gcore = CoreFile::open(&plain).unwrap();
    let in_gcore = |start: u64, end: u64| {
        gcore
            .regions()
            .iter()
            .filter(readable)
            .any(|g| g.span.start <= start && end <= g.span.end)
    };
    let mut samples = Vec::new();
    for r in core.regions().iter().filter(readable) {
        if !in_gcore(r.span.start, r.span.end) {
            continue; // gcore leaves dd mappings out
        }
        let (a, b) = (core_bytes(&core, r), core_bytes(&gcore, r));
        let (l1, l2) = (
            at(&before_ours, r.span.start, a.len()),
            at(&before_gcore, r.span.start, a.len()),
        );
        let bad = (0..a.len()).find(|&i| a[i] != b[i] && l1[i] == l2[i]);
        assert!(
            bad.is_none(),
            "{} at {:#x} (+{bad:#x?}): our core and gcore's differ",
            r.name,
            r.span.start
        );
        // First and middle word of the region, and one page in (a hole in the sparse one),
        // where the kernel changed nothing between the dumps.
        for s in [
            r.span.start,
            r.span.start + r.span.len() / 2 / 8 * 8,
            r.span.start + PAGE,
        ] {
            let off = usize::try_from(s - r.span.start).unwrap();
            if s + 16 <= r.span.end && l1[off..off + 16] == l2[off..off + 16] {
                samples.push(s);
            }
        }
    }
    assert!(samples.len() >= 10, "{samples:?}");
    let gdb_x = |path: &Path| {
        let mut gdb = Command::new("gdb");
        gdb.args(["-batch", "-nx"]);
        for s in &samples {
            gdb.args(["-ex", &format!("x/2xg {s:#x}")]);
        }
        let out = gdb.arg(victim_exe()).arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("0x"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (x_ours, x_gcore) = (gdb_x(&ours), gdb_x(&plain));
    assert_eq!(x_ours.len(), samples.len(), "{x_ours:?}");
    assert_eq!(x_ours, x_gcore);
}
