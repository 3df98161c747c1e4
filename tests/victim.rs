//! `confidump victim` as a real process: ready line, stop paths, what its memory looks like
//! from outside, and bad input.
//!
//! Every victim is started through [`Victim`], which kills it on drop, and readiness is the
//! ready line on its stdout, never a sleep. The residue checks wait for the victim to have
//! *used* its secret a few times: its log says each use (`common::Uses`), never a timer.

// clippy.toml allows these inside #[test] functions only; the helpers below are test code too,
// and a failed step in them should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::sha256_hex;
use confidump::model::Span;
use confidump::procfs::maps::{read_maps, read_smaps, Mapping};
use confidump::victim::ReadyLine;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_confidump");
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running victim; killed (SIGKILL) and reaped on drop.
struct Victim {
    child: common::KillOnDrop,
    stdin: Option<ChildStdin>,
    ready: ReadyLine,
    line: String,
    uses: common::Uses,
}

impl Victim {
    /// Starts `confidump victim --mode MODE ARGS`; when `secret` is given, writes it plus a
    /// newline to stdin (which stays open) and adds `--secret-stdin`.
    fn start(mode: &str, args: &[&str], secret: Option<&[u8]>) -> Victim {
        let mut cmd = Command::new(BIN);
        cmd.args(["victim", "--mode", mode]).args(args);
        if secret.is_some() {
            cmd.arg("--secret-stdin");
        }
        common::Uses::log_them(&mut cmd);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn victim");
        let uses = common::Uses::watch(&mut child);
        let mut stdin = child.stdin.take();
        if let (Some(s), Some(input)) = (secret, stdin.as_mut()) {
            input.write_all(s).unwrap();
            input.write_all(b"\n").unwrap();
            input.flush().unwrap();
        }
        let stdout = child.stdout.take().unwrap();
        // Read the ready line on a helper thread so that a victim that never gets ready fails
        // the test after a timeout instead of hanging it.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(r);
        });
        let mut victim = Victim {
            child: child.into(),
            stdin,
            ready: ReadyLine::new(0, "", &[0; 32], 0, Span::new(0, 0)),
            line: String::new(),
            uses,
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) if !line.is_empty() => line,
            other => panic!("victim --mode {mode} did not get ready: {other:?}"),
        };
        victim.ready = ReadyLine::parse(&line).expect("ready line parses");
        victim.line = line.trim_end().to_string();
        victim
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    fn region(&self) -> Span {
        self.ready.region_span().unwrap()
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Waits (bounded) for the victim to exit by itself.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "victim did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A random secret of `n` ASCII letters and digits.
fn random_secret(n: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).unwrap();
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
        .collect()
}

/// How many uses of the secret (HMAC once a second) the residue checks wait for: three, as in
/// the first two and a half seconds.
const USES: u64 = 3;

/// Every 8-byte window of `secret`, raw and as lowercase hex.
fn window_needles(secret: &[u8]) -> Vec<Vec<u8>> {
    secret
        .windows(8)
        .flat_map(|w| [w.to_vec(), hex::encode(w).into_bytes()])
        .collect()
}

fn overlaps(m: &Mapping, region: Span) -> bool {
    m.span.start < region.end && region.start < m.span.end
}

/// Reads `span` of the victim's memory through `/proc/PID/mem` in 1 MiB chunks, stopping at
/// the first chunk that fails (what it read so far is returned).
fn read_mem(mem: &std::fs::File, span: Span) -> Vec<u8> {
    const CHUNK: u64 = 1 << 20;
    let mut out = Vec::new();
    let mut addr = span.start;
    while addr < span.end {
        let n = usize::try_from((span.end - addr).min(CHUNK)).unwrap();
        let mut buf = vec![0u8; n];
        match mem.read_at(&mut buf, addr) {
            Ok(0) | Err(_) => break,
            Ok(got) => {
                out.extend_from_slice(&buf[..got]);
                addr += got as u64;
            }
        }
    }
    out
}

/// Searches every readable mapping of `pid` (except those overlapping `skip`) for `needles`;
/// returns `(address, mapping name)` of each hit.
fn find_in_memory(pid: i32, skip: Option<Span>, needles: &[Vec<u8>]) -> Vec<(u64, String)> {
    let maps = read_maps(pid).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    // One pass over all needles (aho-corasick's SIMD prefilter needs a leftmost match kind);
    // 66 separate memmem passes over ~70 MiB are slow in an unoptimised test build.
    // Leftmost matching reports non-overlapping hits only, which is all "any hit?" needs.
    let searcher = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(needles)
        .unwrap();
    let mut hits = Vec::new();
    for m in &maps {
        if skip.is_some_and(|r| overlaps(m, r)) || m.span.len() > (1 << 30) {
            continue;
        }
        let bytes = read_mem(&mem, m.span);
        for hit in searcher.find_iter(&bytes) {
            hits.push((
                m.span.start + hit.start() as u64,
                m.display_name().to_string(),
            ));
        }
    }
    hits
}

#[test]
fn each_mode_reports_the_stdin_secret_and_stops_on_sigterm() {
    for mode in ["plain", "dontdump", "secretmem"] {
        let secret = random_secret(40);
        let mut v = Victim::start(mode, &[], Some(&secret));
        assert_eq!(v.ready.event, "ready");
        assert_eq!(v.ready.mode, mode);
        assert_eq!(v.ready.pid, v.pid());
        assert_eq!(v.ready.secret_len, 40);
        assert_eq!(v.ready.secret_sha256, sha256_hex(&secret), "{mode}");
        let region = v.region();
        assert!(region.start < region.end && region.start > 0, "{region:?}");
        let tasks = std::fs::read_dir(format!("/proc/{}/task", v.pid()))
            .unwrap()
            .count();
        assert!(tasks >= 2, "{mode}: {tasks} threads");
        v.signal(Signal::SIGTERM);
        let status = v.wait_exit();
        assert_eq!(status.code(), Some(0), "{mode}: {status:?}");
    }
}

#[test]
fn sigint_stops_too() {
    let mut v = Victim::start("secretmem", &[], None);
    v.signal(Signal::SIGINT);
    assert_eq!(v.wait_exit().code(), Some(0));
}

#[test]
fn generated_secrets_have_their_shapes() {
    let v = Victim::start("secretmem", &["--generate", "pan"], None);
    assert_eq!(v.ready.secret_len, 16);
    let v = Victim::start("dontdump", &[], None);
    assert_eq!(v.ready.secret_len, 34);
    assert_eq!(v.ready.secret_sha256.len(), 64);
    // Two canaries are different secrets.
    let w = Victim::start("plain", &["--generate", "canary"], None);
    assert_ne!(v.ready.secret_sha256, w.ready.secret_sha256);
}

#[test]
fn until_eof_exits_when_stdin_closes() {
    let mut v = Victim::start("secretmem", &["--until-eof"], Some(b"hunter2-hunter2"));
    assert_eq!(v.ready.secret_sha256, sha256_hex(b"hunter2-hunter2"));
    drop(v.stdin.take());
    assert_eq!(v.wait_exit().code(), Some(0));
}

/// `lab start`'s hand-over: a `detach` line releases an `--until-eof` victim from its stdin,
/// so that the end of its starter no longer ends it (before the line, it does: see above).
#[test]
fn a_detached_victim_outlives_its_stdin() {
    use std::os::fd::AsRawFd;
    let mut v = Victim::start("plain", &["--until-eof"], Some(b"hunter2-hunter2"));
    let mut stdin = v.stdin.take().unwrap();
    stdin.write_all(b"detach\n").unwrap();
    stdin.flush().unwrap();
    // The victim has read the line once the pipe holds nothing (FIONREAD counts the bytes in
    // a pipe from either end).
    let deadline = Instant::now() + EXIT_TIMEOUT;
    loop {
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int through the pointer, which points at `unread`.
        let rc = unsafe { libc::ioctl(stdin.as_raw_fd(), libc::FIONREAD, &mut unread) };
        assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
        if unread == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the victim never read its stdin");
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(stdin);
    // Had the end of stdin stopped it, it would be gone long before two more uses.
    v.uses.wait_for(v.uses.seen() + 2);
    assert!(v.child.try_wait().unwrap().is_none(), "the victim ended");
    kill(Pid::from_raw(v.ready.pid), Signal::SIGTERM).unwrap();
    assert_eq!(v.wait_exit().code(), Some(0));
}

/// True when the main thread of `pid` blocks SIGTERM (`SigBlk` in `/proc/PID/status`).
fn sigterm_blocked(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

#[test]
fn sigterm_stops_a_victim_still_waiting_for_its_secret() {
    let mut child = common::KillOnDrop(
        Command::new(BIN)
            .args(["victim", "--mode", "secretmem", "--secret-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // A partial line: the victim waits for the rest. Before it has blocked SIGTERM (its first
    // step) the signal would just kill it, so wait for that; from then on SIGTERM must end it
    // cleanly whether it arrives before, during or after the partial read.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"partial-secret").unwrap();
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while !sigterm_blocked(child.id()) {
        assert!(Instant::now() < deadline, "victim never blocked SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("victim ignored SIGTERM while reading its secret");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(out.is_empty(), "no ready line without a secret: {out}");
}

#[test]
fn stdin_dev_null_is_fine_without_until_eof() {
    let mut child = Command::new(BIN)
        .args(["victim", "--mode", "plain"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = common::first_line(&mut child);
    assert!(ReadyLine::parse(&line).is_ok(), "{line}");
    // Still running: it reached its stop-wait, blocked in poll(2) (syscall 7 on x86-64). Had it
    // polled stdin, /dev/null's EOF would have woken it at once, and it would have stopped.
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let syscall = format!("/proc/{}/syscall", child.id());
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the victim stopped at /dev/null's EOF"
        );
        let now = std::fs::read_to_string(&syscall).unwrap_or_default();
        if now.split_whitespace().next() == Some("7") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the victim never blocked in its stop-wait poll: {syscall} says {now:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(child.try_wait().unwrap().is_none());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn ready_file_matches_stdout_and_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim.ready");
    let v = Victim::start("plain", &["--ready-file", path.to_str().unwrap()], None);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("{}\n", v.line));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn secretmem_region_is_secret_memory_that_the_kernel_will_not_read() {
    let v = Victim::start("secretmem", &[], Some(&random_secret(40)));
    let region = v.region();
    let maps = read_maps(v.pid()).unwrap();
    let inside: Vec<&Mapping> = maps.iter().filter(|m| overlaps(m, region)).collect();
    assert!(!inside.is_empty());
    for m in &inside {
        assert_eq!(m.name, "/secretmem (deleted)", "{m:?}");
        assert!(m.span.start >= region.start && m.span.end <= region.end);
    }
    let covered: u64 = inside.iter().map(|m| m.span.len()).sum();
    assert_eq!(
        covered,
        region.len(),
        "the region is exactly the secretmem mapping"
    );
    // Every page of the region: the read fails, and with EIO.
    let mem = std::fs::File::open(format!("/proc/{}/mem", v.pid())).unwrap();
    let mut page = [0u8; 4096];
    let mut addr = region.start;
    while addr < region.end {
        let err = mem
            .read_at(&mut page, addr)
            .expect_err("read of secret memory");
        assert_eq!(err.raw_os_error(), Some(libc::EIO), "at {addr:#x}: {err}");
        addr += 4096;
    }
}

#[test]
fn plain_region_reads_back_the_secret() {
    let secret = random_secret(40);
    let v = Victim::start("plain", &[], Some(&secret));
    let mem = std::fs::File::open(format!("/proc/{}/mem", v.pid())).unwrap();
    let mut buf = vec![0u8; 40];
    mem.read_exact_at(&mut buf, v.region().start).unwrap();
    assert_eq!(buf, secret);
}

#[test]
fn dontdump_region_is_marked_dd_and_locked() {
    let v = Victim::start("dontdump", &[], None);
    let region = v.region();
    let smaps = read_smaps(v.pid()).unwrap();
    let inside: Vec<&Mapping> = smaps.iter().filter(|m| overlaps(m, region)).collect();
    assert!(!inside.is_empty());
    for m in &inside {
        assert!(m.has_flag("dd"), "{m:?}");
    }
    assert!(
        inside.iter().any(|m| m.read && m.has_flag("lo")),
        "{inside:?}"
    );
    let covered: u64 = inside.iter().map(|m| m.span.len()).sum();
    assert_eq!(covered, region.len());
}

/// The key property of the protected modes: while the secret is in use, no 8-byte fragment of
/// it (raw or hex) is anywhere in the victim's memory outside the protected mapping.
fn assert_no_fragment_outside(mode: &str) {
    let secret = random_secret(40);
    let needles = window_needles(&secret);
    let v = Victim::start(mode, &[], Some(&secret));
    v.uses.wait_for(USES);
    let hits = find_in_memory(v.pid(), Some(v.region()), &needles);
    assert!(
        hits.is_empty(),
        "{mode}: fragments outside the region: {hits:x?}"
    );
}

#[test]
fn secretmem_leaves_no_fragment_outside_its_region() {
    assert_no_fragment_outside("secretmem");
}

#[test]
fn dontdump_leaves_no_fragment_outside_its_region() {
    assert_no_fragment_outside("dontdump");
    // And the lesson of the mode: a live read that ignores `dd` finds it inside.
    let secret = random_secret(40);
    let v = Victim::start("dontdump", &[], Some(&secret));
    let hits = find_in_memory(v.pid(), None, std::slice::from_ref(&secret));
    assert!(
        hits.iter().any(|(a, _)| v.region().contains(*a)),
        "{hits:x?}"
    );
}

#[test]
fn the_fragment_search_can_fail_plain_mode_leaks() {
    let secret = random_secret(40);
    let needles = window_needles(&secret);
    let v = Victim::start("plain", &[], Some(&secret));
    v.uses.wait_for(USES);
    let hits = find_in_memory(v.pid(), None, &needles);
    assert!(
        !hits.is_empty(),
        "the search found nothing even in plain mode"
    );
}

fn run_victim(args: &[&str], stdin: &[u8]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .arg("victim")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_secret_file_is_a_one_line_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-secret");
    let p = path.to_str().unwrap();
    let (code, stderr) = run_victim(&["--mode", "secretmem", "--secret-file", p], b"");
    assert_eq!(code, Some(2));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(p), "{stderr}");
}

/// The secret file goes through the one reader of user-named files: a FIFO does not block,
/// a device is refused, a file over a secret's length is refused before it is read.
#[test]
fn secret_files_that_are_not_small_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'x'; 8192]).unwrap();
    for (path, says) in [
        (fifo.to_str().unwrap(), "FIFO"),
        ("/dev/zero", "character device"),
        (
            big.to_str().unwrap(),
            "larger than the 4097 bytes limit for a secret file",
        ),
    ] {
        let (code, stderr) = run_victim(&["--mode", "plain", "--secret-file", path], b"");
        assert_eq!(code, Some(2), "{path}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(path) && stderr.contains(says), "{stderr}");
    }
}

#[test]
fn secret_file_is_read_without_its_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, b"correct horse battery\n").unwrap();
    let v = Victim::start(
        "secretmem",
        &["--secret-file", path.to_str().unwrap()],
        None,
    );
    assert_eq!(v.ready.secret_sha256, sha256_hex(b"correct horse battery"));
    assert_eq!(v.ready.secret_len, 21);
}

#[test]
fn empty_and_oversized_secrets_are_errors() {
    for input in [&b"\n"[..], b""] {
        let (code, stderr) = run_victim(&["--mode", "plain", "--secret-stdin"], input);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("empty"), "{stderr}");
    }
    let long = vec![b'x'; 5000];
    let (code, stderr) = run_victim(&["--mode", "secretmem", "--secret-stdin"], &long);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("longer than 4096"), "{stderr}");
}

#[test]
fn conflicting_secret_sources_are_a_usage_error() {
    let (code, _) = run_victim(
        &["--mode", "plain", "--secret-stdin", "--secret-file", "/x"],
        b"",
    );
    assert_eq!(code, Some(2));
    let (code, _) = run_victim(
        &["--mode", "plain", "--generate", "pan", "--secret-stdin"],
        b"",
    );
    assert_eq!(code, Some(2));
}

#[test]
fn help_explains_the_modes() {
    let out = Command::new(BIN)
        .args(["victim", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "plain",
        "dontdump",
        "secretmem",
        "Examples",
        "--secret-stdin",
    ] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}
