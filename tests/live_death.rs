//! A victim that dies while it is being read live (`scan --pid`, `show --pid`, `attack --via
//! live`, the demo's same-uid `scan-child`) gives "pid N exited during …: the result proves
//! nothing" (exit 2), never a report whose ranges look refused.
//!
//! The death is placed by the victim itself, not by a timer: it registers one page with
//! `userfaultfd(2)` and SIGKILLs itself the moment anything touches that page. Only the
//! attacker's read touches it, so the victim dies exactly while the attacker is reading it,
//! with most of its address space (the mappings above the trap, its stack) still to be read.
//! The trap page is a *shared* mapping, so a reader that skips never-touched private
//! anonymous pages (as the dumper does through the pagemap) still reads it.
//!
//! Without the liveness checks the reads after the death fail with `ESRCH`/`EIO` and the
//! scan ends with exit 0 and those ranges listed as unreadable: each test fails then.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use common::{code_out_err, run};

const TRAP_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int uffd;

/* The first fault on the trap page is the attacker's read: die at once. */
static void *handler(void *arg) {
    (void)arg;
    struct uffd_msg msg;
    for (;;) {
        if (read(uffd, &msg, sizeof msg) == (ssize_t)sizeof msg &&
            msg.event == UFFD_EVENT_PAGEFAULT)
            kill(getpid(), SIGKILL);
    }
    return NULL;
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    /* 16 MiB of data above the trap (mmap grows down), to be read after the death. */
    size_t above = 16u << 20;
    char *a = mmap(NULL, above, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *trap = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED || trap == MAP_FAILED) { printf("error mmap\n"); return 1; }
    memset(a, 'a', above);
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (uffd < 0) { printf("error userfaultfd\n"); return 1; }
    struct uffdio_api api = { .api = UFFD_API };
    if (ioctl(uffd, UFFDIO_API, &api)) { printf("error UFFDIO_API\n"); return 1; }
    struct uffdio_register reg = {
        .range = { .start = (unsigned long)trap, .len = (unsigned long)page },
        .mode = UFFDIO_REGISTER_MODE_MISSING,
    };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg)) { printf("error UFFDIO_REGISTER\n"); return 1; }
    pthread_t t;
    if (pthread_create(&t, NULL, handler, NULL)) { printf("error pthread\n"); return 1; }
    printf("ready %d %lx\n", getpid(), (unsigned long)trap);
    fflush(stdout);
    for (;;) pause();
}
"#;

/// The trap victim: running, its PID and the trap page's address. Killed and reaped on drop.
struct Trap {
    child: common::KillOnDrop,
    pid: i32,
    trap: u64,
    _dir: tempfile::TempDir,
}

impl Trap {
    /// `None` (skipped through `common::require`) where gcc or userfaultfd is missing.
    fn start() -> Option<Self> {
        if !common::require(common::Need::Userfaultfd) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (child, line) = common::run_c_until_line(dir.path(), TRAP_C)?;
        let rest = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the userfaultfd victim could not start: {line:?}"));
        let (pid, trap) = rest.split_once(' ').unwrap();
        Some(Self {
            child,
            pid: pid.parse().unwrap(),
            trap: u64::from_str_radix(trap, 16).unwrap(),
            _dir: dir,
        })
    }

    /// Reaps the victim and checks that the attacker's read is what killed it: otherwise the
    /// test would not be about a death *during* the read.
    fn assert_killed_by_the_read(mut self) {
        let status = self.child.0.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the victim was not killed by the read of its trap page ({status}): the attacker \
             never read it"
        );
    }
}

fn exited(pid: i32, during: &str) -> String {
    format!("pid {pid} exited during the {during}: the result proves nothing")
}

#[test]
fn scan_of_a_victim_that_dies_mid_read_is_exit_2_and_no_report() {
    let Some(v) = Trap::start() else { return };
    let pid = v.pid.to_string();
    let (code, out, err) = code_out_err(&run(&[
        "scan",
        "--pid",
        &pid,
        "--needle",
        "never-in-this-victim",
        "--format",
        "json",
        "--expect",
        "no-leak",
    ]));
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(err.contains(&exited(v.pid, "scan")), "{err}");
    assert!(out.trim().is_empty(), "a report was printed: {out}");
    v.assert_killed_by_the_read();
}

#[test]
fn show_of_a_victim_that_dies_mid_read_prints_no_bytes() {
    let Some(v) = Trap::start() else { return };
    let pid = v.pid.to_string();
    let addr = format!("{:#x}", v.trap);
    let (code, out, err) = code_out_err(&run(&[
        "show", "--pid", &pid, "--addr", &addr, "--len", "64",
    ]));
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(err.contains(&exited(v.pid, "read")), "{err}");
    assert!(out.trim().is_empty(), "bytes were drawn: {out}");
    v.assert_killed_by_the_read();
}

#[test]
fn a_live_attack_on_a_victim_that_dies_is_never_protected() {
    let Some(v) = Trap::start() else { return };
    let pid = v.pid.to_string();
    let (code, out, err) = code_out_err(&run(&[
        "attack",
        &pid,
        "--via",
        "live",
        "--needle",
        "never-in-this-victim",
        "--expect",
        "no-leak",
    ]));
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(err.contains(&exited(v.pid, "scan")), "{err}");
    assert!(!out.to_lowercase().contains("protected"), "{out}");
    v.assert_killed_by_the_read();
}

#[test]
fn the_same_uid_attacker_reports_a_death_as_a_failure() {
    let Some(v) = Trap::start() else { return };
    let pid = v.pid.to_string();
    let (code, out, err) = code_out_err(&run(&[
        "scan-child",
        "--pid",
        &pid,
        "--needle",
        "never-in-this-victim",
    ]));
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        json["failed"]["reason"].as_str(),
        Some(exited(v.pid, "scan").as_str()),
        "{out}"
    );
    v.assert_killed_by_the_read();
}

/// The same death seen through the library: every read after it is the death (`ESRCH`), never a
/// refusal, and [`LiveProcess::ensure_alive`] says so.
#[test]
fn reads_after_the_death_are_never_refusals() {
    use confidump::memory::live::{LiveError, LiveProcess};
    use confidump::memory::MemorySource;
    let Some(v) = Trap::start() else { return };
    let live = LiveProcess::open(v.pid, false).unwrap();
    live.ensure_alive("scan").unwrap();
    let mut page = vec![0u8; 4096];
    // The trap: the victim dies while this read waits on it.
    let _ = live.read_exact_at(v.trap, &mut page);
    let stack = live
        .regions()
        .iter()
        .find(|r| r.name == "[stack]")
        .unwrap()
        .span;
    let err = live
        .read_exact_at(stack.end - 4096, &mut page)
        .expect_err("a dead process's stack was read");
    assert_eq!(err.errno, Some(libc::ESRCH), "{err}");
    assert!(!live.is_alive());
    match live.ensure_alive("scan") {
        Err(LiveError::Exited { pid, during }) => assert_eq!((pid, during), (v.pid, "scan")),
        other => panic!("expected 'exited during the scan', got {other:?}"),
    }
    v.assert_killed_by_the_read();
}

/// The same victim, dumped: its threads are stopped while memory is copied, so nothing would
/// ever answer a fault on the trap page and a read of it would hang the dump (and keep the
/// victim stopped) for ever. The dump leaves the userfaultfd range out, says why, and finishes;
/// the victim, never faulted, lives on.
#[test]
fn a_dump_leaves_a_userfaultfd_range_out_instead_of_hanging() {
    let Some(mut trap) = Trap::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("trap.core");
    let mut dump = common::KillOnDrop(
        Command::new(common::bin())
            .args(["dump", &trap.pid.to_string(), "-o", core.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Not a timed assertion: a bound on a hang, far above any dump of this victim.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(s) = dump.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dump hung on the userfaultfd range"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(
        trap.child.0.try_wait().unwrap().is_none(),
        "the victim died: the dump read its trap page"
    );
    use confidump::memory::{MemorySource, RegionKind};
    let c = confidump::coredump::reader::CoreFile::open(&core).unwrap();
    let r = c.region_at(trap.trap).expect("the trap page's region");
    match &r.kind {
        RegionKind::Absent(why) => assert!(why.contains("userfaultfd"), "{why}"),
        other => panic!("the trap page is {other:?}"),
    }
}
