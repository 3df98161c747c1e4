//! End-to-end tests of `confidump scan` and `confidump show` against real processes, real
//! gcore cores, real kernel cores, and hostile files.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests; a
// failing unwrap here is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sha256_hex;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use confidump::coredump::reader::{CoreFile, Flavour};
use confidump::memory::MemorySource;
use serde_json::Value;

const SECRET: &str = "confidump-test-needle-Zq7";
const CANARY: &str = "CONFIDUMP-0123456789abcdef01234567";
const PAN: &str = "4111111111111111";
/// The test program holds only XOR-ed copies in its binary, so every plaintext copy the
/// scanner finds was made at run time, at an address the program reports.
const KEY: u8 = 0x5a;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_confidump")
}

fn b64_text() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("x{SECRET}yz"))
}

fn c_bytes(s: &str) -> String {
    common::c_xor_bytes(s, KEY)
}

fn program_source() -> String {
    format!(
        r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static const unsigned char e_secret[] = {secret};
static const unsigned char e_b64[] = {b64};
static const unsigned char e_canary[] = {canary};
static const unsigned char e_pan[] = {pan};

static char *dec(const unsigned char *e, size_t n) {{
    char *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++) p[i] = e[i] ^ {key};
    p[n] = 0;
    return p;
}}

int main(void) {{
    size_t n = sizeof e_secret;
    char *heap = dec(e_secret, n);
    unsigned char *u16 = malloc(2 * n);
    for (size_t i = 0; i < n; i++) {{ u16[2 * i] = heap[i]; u16[2 * i + 1] = 0; }}
    char *pages = aligned_alloc(4096, 8192);
    memset(pages, '.', 8192);
    memcpy(pages + 4096 - 7, heap, n);
    char *b64 = dec(e_b64, sizeof e_b64);
    char *canary = dec(e_canary, sizeof e_canary);
    char *pan = dec(e_pan, sizeof e_pan);
    void *sm = NULL;
    int fd = syscall(447, 0);
    if (fd >= 0 && ftruncate(fd, 4096) == 0) {{
        sm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (sm == MAP_FAILED) sm = NULL; else memset(sm, 'S', 4096);
    }}
    printf("ready heap=%p utf16=%p straddle=%p b64=%p canary=%p pan=%p secretmem=%p\n",
           heap, u16, pages + 4096 - 7, b64, canary, pan, sm);
    fflush(stdout);
    for (;;) pause();
}}
"#,
        secret = c_bytes(SECRET),
        b64 = c_bytes(&b64_text()),
        canary = c_bytes(CANARY),
        pan = c_bytes(PAN),
        key = KEY,
    )
}

fn compile(dir: &Path) -> Option<PathBuf> {
    common::compile_c(dir, &program_source())
}

/// Addresses the program reported.
#[derive(Debug, Default)]
struct Addrs {
    heap: u64,
    utf16: u64,
    straddle: u64,
    b64: u64,
    canary: u64,
    pan: u64,
    secretmem: Option<u64>,
}

/// A running test program, killed when dropped.
struct Victim {
    child: common::KillOnDrop,
    addrs: Addrs,
}

impl Victim {
    fn start(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let line = common::first_line(&mut child);
        assert!(line.starts_with("ready "), "{line}");
        let mut a = Addrs::default();
        for kv in line.split_whitespace().skip(1) {
            let (k, v) = kv.split_once('=').unwrap();
            let v = v
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            match k {
                "heap" => a.heap = v.unwrap(),
                "utf16" => a.utf16 = v.unwrap(),
                "straddle" => a.straddle = v.unwrap(),
                "b64" => a.b64 = v.unwrap(),
                "canary" => a.canary = v.unwrap(),
                "pan" => a.pan = v.unwrap(),
                "secretmem" => a.secretmem = v,
                _ => {}
            }
        }
        Self {
            child: child.into(),
            addrs: a,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

/// Runs confidump; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scan_json(args: &[&str]) -> Value {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// (needle, encoding, vaddr) of every hit.
fn hits(v: &Value) -> Vec<(u64, String, u64)> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let a = h["vaddr"].as_str().unwrap().trim_start_matches("0x");
            (
                h["needle"].as_u64().unwrap(),
                h["encoding"].as_str().unwrap().to_string(),
                u64::from_str_radix(a, 16).unwrap(),
            )
        })
        .collect()
}

fn has(h: &[(u64, String, u64)], needle: u64, enc: &str, addr: u64) -> bool {
    h.iter()
        .any(|(n, e, a)| *n == needle && e == enc && *a == addr)
}

/// Checks the hits every source of the program must yield.
fn check_needles(v: &Value, a: &Addrs) {
    let h = hits(v);
    assert_eq!(v["verdict"], "leak");
    assert!(has(&h, 0, "raw", a.heap), "heap copy: {h:?}");
    assert!(has(&h, 0, "raw", a.straddle), "straddling copy: {h:?}");
    assert!(has(&h, 0, "utf16le", a.utf16), "UTF-16LE copy: {h:?}");
    let b64_len = b64_text().len() as u64;
    assert!(
        h.iter()
            .any(|(n, e, x)| *n == 0 && e == "base64" && (a.b64..a.b64 + b64_len).contains(x)),
        "base64 copy: {h:?}"
    );
    assert!(has(&h, 1, "raw", a.canary), "canary by hash: {h:?}");
}

#[test]
fn live_scan_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = compile(dir.path()) else {
        return;
    };
    let v = Victim::start(Command::new(&exe));
    let pid = v.pid().to_string();
    let canary_sha = sha256_hex(CANARY);
    let r = scan_json(&[
        "--pid",
        &pid,
        "--needle",
        SECRET,
        "--sha256",
        &canary_sha,
        "--shape",
        "canary",
    ]);
    check_needles(&r, &v.addrs);
    assert!(r["source"].as_str().unwrap().contains("(live)"));
    let r = scan_json(&[
        "--pid",
        &pid,
        "--sha256",
        &sha256_hex(PAN),
        "--shape",
        "pan",
    ]);
    assert!(has(&hits(&r), 0, "raw", v.addrs.pan), "{r}");

    // The ASCII of a readable string...
    let heap = format!("{:#x}", v.addrs.heap);
    let (code, out, err) = run(&["show", "--pid", &pid, "--addr", &heap, "--len", "32"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&SECRET[..16]), "{out}");
    // ...and ?? where memfd_secret memory refuses the read.
    match v.addrs.secretmem {
        Some(sm) => {
            let (code, out, err) = run(&[
                "show",
                "--pid",
                &pid,
                "--addr",
                &format!("{sm:#x}"),
                "--len",
                "32",
            ]);
            assert_eq!(code, 0, "{err}");
            assert!(out.contains("?? ?? ??"), "{out}");
            assert!(!out.contains("53 53"), "secretmem bytes leaked: {out}");
            let (_, out, _) = run(&["scan", "--pid", &pid, "--needle", SECRET]);
            assert!(out.contains("secretmem"), "{out}");
        }
        None => assert!(
            !common::require(common::Need::MemfdSecret),
            "memfd_secret works here, but the victim got none"
        ),
    }
    let (code, out, err) = run(&["show", "--pid", &pid, "--hit", "0", "--needle", SECRET]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.starts_with('*')), "{out}");
}

#[test]
fn gcore_core() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = compile(dir.path()) else {
        return;
    };
    if !common::require(common::Need::Gdb) {
        return;
    }
    let v = Victim::start(Command::new(&exe));
    let prefix = dir.path().join("g");
    let st = Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(v.pid().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let core = dir.path().join(format!("g.{}", v.pid()));
    let core_s = core.to_str().unwrap();
    let r = scan_json(&[
        core_s,
        "--needle",
        SECRET,
        "--sha256",
        &sha256_hex(CANARY),
        "--shape",
        "canary",
    ]);
    check_needles(&r, &v.addrs);
    assert!(r["source"].as_str().unwrap().ends_with("(gdb)"), "{r}");
    let r = scan_json(&[core_s, "--sha256", &sha256_hex(PAN), "--shape", "pan"]);
    assert!(has(&hits(&r), 0, "raw", v.addrs.pan), "{r}");
    // A hash that matches nothing of the right shape: no leak.
    let r = scan_json(&[
        core_s,
        "--sha256",
        &sha256_hex("4012888888881881"),
        "--shape",
        "pan",
    ]);
    assert_eq!(r["verdict"], "no-leak");

    let (code, out, _) = run(&["scan", core_s, "--needle", SECRET, "--expect", "no-leak"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("LEAK: "), "{out}");
    let (code, _, _) = run(&["scan", core_s, "--needle", SECRET, "--expect", "leak"]);
    assert_eq!(code, 0);
    let (code, _, _) = run(&[
        "scan",
        core_s,
        "--needle",
        "not-in-there-at-all",
        "--expect",
        "leak",
    ]);
    assert_eq!(code, 1);
    let (code, _, _) = run(&[
        "scan",
        core_s,
        "--needle",
        "not-in-there-at-all",
        "--expect",
        "no-leak",
    ]);
    assert_eq!(code, 0);
}

#[test]
fn kernel_core() {
    if !common::require(common::Need::KernelCores) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(_exe) = compile(dir.path()) else {
        return;
    };
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -c unlimited && exec ./prog"])
        .current_dir(dir.path());
    let mut v = Victim::start(cmd);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(v.pid()),
        nix::sys::signal::SIGABRT,
    )
    .unwrap();
    let _ = v.child.wait();
    let core = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("core"))
        });
    let core =
        core.expect("the kernel wrote no core, though core_pattern and RLIMIT_CORE allow one");
    let r = scan_json(&[core.to_str().unwrap(), "--needle", SECRET]);
    assert!(has(&hits(&r), 0, "raw", v.addrs.heap), "{r}");
    assert!(has(&hits(&r), 0, "utf16le", v.addrs.utf16), "{r}");
    let c = CoreFile::open(&core).unwrap();
    assert_eq!(c.flavour(), Flavour::Kernel);
    assert!(!c.threads().is_empty());
    let stack = c
        .regions()
        .iter()
        .find(|r| r.name == "[stack]")
        .expect("a region named [stack]");
    assert!(stack.span.contains(c.threads()[0].rsp));

    // The same real core, truncated: the first 100 bytes, then the header and half the phdrs.
    let bytes = std::fs::read(&core).unwrap();
    let phnum = u16::from_le_bytes([bytes[56], bytes[57]]) as usize;
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    for cut in [100, phoff + 56 * (phnum / 2)] {
        let t = dir.path().join(format!("truncated-{cut}"));
        std::fs::write(&t, &bytes[..cut.min(bytes.len())]).unwrap();
        let (code, _, err) = run(&["scan", t.to_str().unwrap(), "--needle", SECRET]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("extends past the end of the file"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A minimal x86-64 core with the given PT_LOADs `(vaddr, filesz, memsz)`.
fn synthetic_core(loads: &[(u64, u64, u64)]) -> Vec<u8> {
    let phnum = loads.len();
    let mut out = vec![0u8; 64];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[16..18].copy_from_slice(&4u16.to_le_bytes());
    out[18..20].copy_from_slice(&62u16.to_le_bytes());
    out[32..40].copy_from_slice(&64u64.to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes());
    out[54..56].copy_from_slice(&56u16.to_le_bytes());
    out[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
    let mut off = 64 + 56 * phnum as u64;
    let mut data = Vec::new();
    for &(va, fs, ms) in loads {
        let mut p = vec![0u8; 56];
        p[0..4].copy_from_slice(&1u32.to_le_bytes());
        p[8..16].copy_from_slice(&off.to_le_bytes());
        p[16..24].copy_from_slice(&va.to_le_bytes());
        p[32..40].copy_from_slice(&fs.to_le_bytes());
        p[40..48].copy_from_slice(&ms.to_le_bytes());
        out.extend_from_slice(&p);
        data.resize(data.len() + fs as usize, b'A');
        off += fs;
    }
    out.extend_from_slice(&data);
    out
}

#[test]
fn hostile_inputs_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = synthetic_core(&[
        (0x1000, 0x100, 0x100),
        (0x2000, 0x100, 0x1000),
        (0x5000, 0x10, 0x10),
        (0x6000, 0x10, 0x10),
    ]);
    let mut absurd = good[..64 + 56 * 2].to_vec();
    absurd[56..58].copy_from_slice(&60000u16.to_le_bytes());
    let mut past_eof = good.clone();
    past_eof[64 + 8..64 + 16].copy_from_slice(&0x10_0000u64.to_le_bytes());
    let mut elf32 = vec![0u8; 52];
    elf32[..4].copy_from_slice(b"\x7fELF");
    elf32[4] = 1;
    elf32[5] = 1;
    elf32[16] = 4;
    elf32[18] = 3;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("first-100-bytes", good[..100].to_vec()),
        ("half-the-phdrs", good[..64 + 56 * 2].to_vec()),
        ("phnum-60000", absurd),
        ("past-eof", past_eof),
        ("not-elf", b"#!/bin/sh\necho hello\n".to_vec()),
        ("elf32", elf32),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let (code, out, err) = run(&["scan", p.to_str().unwrap(), "--needle", "a-long-needle"]);
        assert_eq!(code, 2, "{name}: {out} {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(out.is_empty(), "{name}: {out}");
    }
    // The well-formed one scans.
    let p = dir.path().join("good");
    std::fs::write(&p, &good).unwrap();
    let (code, out, err) = run(&["scan", p.to_str().unwrap(), "--needle", "AAAA"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("LEAK"), "{out}");
    assert!(out.contains("absent 0x2100-0x3000"), "{out}");
}

/// Hits past the listing cap are never checked against the files on disk, so they cannot be
/// called public constants: a scan that has any is a leak, even when every listed hit turned
/// out to be public (a one-byte needle over this program's own code does exactly that).
#[test]
fn hits_past_the_cap_are_never_a_no_leak() {
    let victim = common::start_victim(&["--mode", "plain"], None);
    let v = scan_json(&["--pid", &victim.ready.pid.to_string(), "--needle", "a"]);
    let more = v["hits_more"].as_u64().unwrap_or(0);
    assert!(more > 0, "the cap was not reached: {}", v["hits"]);
    assert_eq!(v["verdict"], "leak", "hits_more {more}");
    let (_, text, _) = run(&[
        "scan",
        "--pid",
        &victim.ready.pid.to_string(),
        "--needle",
        "a",
    ]);
    assert!(
        text.starts_with("LEAK"),
        "{}",
        text.lines().next().unwrap_or("")
    );
    assert!(text.contains("counted as leaks"), "{text:.300}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = run(&["scan", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing to look for"), "{err}");
    let (code, _, _) = run(&["scan", "/nonexistent", "--sha256", "00"]);
    assert_eq!(code, 2);
    let (code, _, err) = run(&["scan", "--pid", "1", "--sha256", "zz", "--shape", "pan"]);
    assert_eq!(code, 2);
    assert!(!err.contains("panicked"));
}

/// A victim that keeps moving a needle while it is dumped and scanned: it writes it at offset
/// 100 of one page and wipes it from another, over and over, and scribbles hex letters
/// everywhere else. Whatever the timing, a hit inside its buffer can only be at a page's
/// offset 100: any other address means the reader, the pipeline or the scanner put bytes at
/// the wrong place (a torn needle is simply not found).
#[test]
fn moving_needle_never_gives_a_hit_at_a_wrong_address() {
    const NEEDLE: &str = "MOVING-NEEDLE-Q9x7";
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        r#"
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
static const unsigned char e_n[] = {needle};
int main(void) {{
    size_t n = sizeof e_n, pages = 4096, len = pages * 4096;
    char nd[64];
    for (size_t i = 0; i < n; i++) nd[i] = e_n[i] ^ {key};
    char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) return 1;
    memset(buf, 'a', len);
    /* Every page holds the needle before "ready": a scan that runs while this program waits
       for a CPU (the scanner's two threads can take both) still finds it. */
    for (size_t i = 0; i < pages; i++) memcpy(buf + i * 4096 + 100, nd, n);
    printf("ready %p %zu\n", (void *)buf, len);
    fflush(stdout);
    unsigned long x = 88172645463325252ul;
    /* One page at a time loses its needle and gets it back (a reader may catch it torn);
       every other page keeps it. Erasing half the buffer at once let a reader sweeping at the
       eraser's pace see no needle at all. */
    for (size_t i = 0;; i = (i + 1) % pages) {{
        memset(buf + i * 4096 + 100, 'b', n);
        memcpy(buf + i * 4096 + 100, nd, n);
        for (int k = 0; k < 64; k++) {{
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t off = x % len;
            if (off % 4096 + 1 >= 100 && off % 4096 <= 100 + n) continue;
            buf[off] = 'a' + (x >> 40) % 6;
        }}
    }}
}}
"#,
        needle = c_bytes(NEEDLE),
        key = KEY
    );
    let Some((child, line)) = common::run_c_until_line(dir.path(), &source) else {
        return;
    };
    let pid = child.id().to_string();
    let mut words = line.split_whitespace().skip(1);
    let buf = confidump::model::parse_hex_addr(words.next().unwrap()).unwrap();
    let len: u64 = words.next().unwrap().parse().unwrap();

    // The hits inside the buffer, each checked to be at a page's offset 100.
    let in_buffer = |report: &Value| -> Vec<u64> {
        let hits = report["hits"].as_array().unwrap();
        let inside: Vec<u64> = hits
            .iter()
            .map(|h| common::hex(&h["vaddr"]))
            .filter(|&a| (buf..buf + len).contains(&a))
            .collect();
        for &a in &inside {
            assert_eq!((a - buf) % 4096, 100, "hit at {a:#x}, buffer at {buf:#x}");
        }
        inside
    };
    let scan = |args: &[&str]| -> Value {
        let out = Command::new(bin())
            .arg("scan")
            .args(args)
            .args(["--needle", NEEDLE, "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    // Live: the pages change under the reader.
    let report = scan(&["--pid", &pid]);
    let live = in_buffer(&report);
    assert!(
        !live.is_empty(),
        "no live hit in the buffer: scanned {}, unpopulated {}, unreadable {}",
        report["bytes_scanned"],
        report["bytes_unpopulated"],
        report["unreadable"]
    );
    // A dump (threads stopped while copied), then a scan of the core: every hit inside the
    // buffer also reads back as the needle through the core reader.
    let core_path = dir.path().join("moving.core");
    let out = Command::new(bin())
        .args(["dump", &pid, "-o"])
        .arg(&core_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_core = in_buffer(&scan(&[core_path.to_str().unwrap()]));
    assert!(!from_core.is_empty(), "no hit in the dumped buffer");
    let core = CoreFile::open(&core_path).unwrap();
    for a in from_core {
        let mut got = vec![0u8; NEEDLE.len()];
        core.read_exact_at(a, &mut got).unwrap();
        assert_eq!(got, NEEDLE.as_bytes(), "at {a:#x}");
    }
}

/// A live scan leaves out what the victim never populated (per `/proc/PID/pagemap`) and still
/// finds every needle around the holes: after a 32 MiB hole, straddling two touched pages
/// inside a hole, on every other page, and a UTF-16LE copy whose last byte (a NUL) lies on a never-touched page,
/// which the scanner must see as the zero it reads as.
#[test]
fn live_scan_skips_never_populated_pages_and_still_finds_needles_at_holes() {
    const NEEDLE: &str = "SPARSE-NEEDLE-k4Vq";
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        r#"
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static const unsigned char e_n[] = {needle};
int main(void) {{
    size_t n = sizeof e_n, len = 64ul << 20;
    char nd[64];
    for (size_t i = 0; i < n; i++) nd[i] = e_n[i] ^ {key};
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return 1;
    madvise(p, len, MADV_NOHUGEPAGE);
    char *after_hole = p + (32ul << 20) + 100;
    memcpy(after_hole, nd, n);
    /* 2n-1 bytes on the page at 40 MiB; the final NUL is the next page's first byte. */
    char *u16 = p + (40ul << 20) + 4096 - (2 * n - 1);
    for (size_t i = 0; i < n; i++) {{
        u16[2 * i] = nd[i];
        if (i + 1 < n) u16[2 * i + 1] = 0;
    }}
    char *straddle = p + (48ul << 20) + 4096 - 5;
    memcpy(straddle, nd, n);
    /* Every other page: short runs of data read together in one call. */
    char *alternate = p + (56ul << 20) + 100;
    for (int k = 0; k < 3; k++) memcpy(alternate + k * 8192, nd, n);
    printf("ready %p %p %p %p %p\n", (void *)p, (void *)after_hole, (void *)u16, (void *)straddle,
           (void *)alternate);
    fflush(stdout);
    for (;;) pause();
}}
"#,
        needle = c_bytes(NEEDLE),
        key = KEY
    );
    let Some((child, line)) = common::run_c_until_line(dir.path(), &source) else {
        return;
    };
    let pid = child.id().to_string();
    let addrs: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|w| confidump::model::parse_hex_addr(w).unwrap())
        .collect();
    let (base, after_hole, u16, straddle, alternate) =
        (addrs[0], addrs[1], addrs[2], addrs[3], addrs[4]);
    let v = scan_json(&["--pid", &pid, "--needle", NEEDLE]);
    let h = hits(&v);
    let inside: Vec<_> = h
        .iter()
        .filter(|(_, _, a)| (base..base + (64 << 20)).contains(a))
        .collect();
    assert!(has(&h, 0, "raw", after_hole), "{inside:?}");
    assert!(has(&h, 0, "raw", straddle), "{inside:?}");
    assert!(has(&h, 0, "utf16le", u16), "{inside:?}");
    for k in 0..3 {
        assert!(has(&h, 0, "raw", alternate + k * 8192), "{inside:?}");
    }
    assert_eq!(inside.len(), 6, "{inside:?}");
    // Seven touched pages of 64 MiB: the rest was not read, and says so.
    let unpopulated = v["bytes_unpopulated"].as_u64().unwrap_or(0);
    assert!(unpopulated >= 63 << 20, "bytes_unpopulated {unpopulated}");
    let scanned = v["bytes_scanned"].as_u64().unwrap();
    assert!(scanned < 48 << 20, "bytes_scanned {scanned}");
    // The scan did not populate the victim's pages: a second scan skips just as much.
    let again = scan_json(&["--pid", &pid, "--needle", NEEDLE]);
    assert_eq!(again["bytes_unpopulated"].as_u64(), Some(unpopulated));
}
