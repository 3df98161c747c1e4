//! `dump --short-freeze`: the victim forks a copy-on-write snapshot and runs on while the
//! snapshot is read. The core must hold what the victim held, what a fork does not copy
//! included (shared, `MADV_DONTFORK` and `MADV_WIPEONFORK` memory), and the victim must be left
//! exactly as it was: its interrupted system calls restarted (none returns), no SIGCHLD, no
//! child or zombie left behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use confidump::coredump::writer::{dump_process, DumpOptions};

/// Main thread in `pause()`, a second thread in `read()` of a pipe nobody writes. Anything
/// the victim should never see (a call returning, SIGCHLD, a child to reap) is written to the
/// report file; SIGUSR1 writes "usr1" there (the test's proof the victim still answers).
const VICTIM_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *report_path;
static void report(const char *what, int n) {
    FILE *f = fopen(report_path, "a");
    if (f) { fprintf(f, "%s %d\n", what, n); fclose(f); }
}
static void on_chld(int s) { (void)s; report("SIGCHLD", 0); }
static void on_usr1(int s) {
    (void)s;
    /* A child or zombie of ours would be reaped here. */
    int r = waitpid(-1, NULL, WNOHANG | __WALL);
    report(r > 0 ? "reaped-a-child" : "usr1", r);
}
static int fds[2];
static void *reader(void *arg) {
    (void)arg;
    char b;
    for (;;) {
        ssize_t n = read(fds[0], &b, 1);
        report("read-returned", n < 0 ? errno : 0);
    }
    return NULL;
}
static char *page(int flags, int advice, const char *text) {
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (advice >= 0 && madvise(p, 4096, advice) != 0) return NULL;
    strcpy(p, text);
    return p;
}
int main(int argc, char **argv) {
    (void)argc;
    report_path = argv[1];
    signal(SIGCHLD, on_chld);
    signal(SIGUSR1, on_usr1);
    if (pipe(fds) != 0) return 1;
    if (!page(MAP_PRIVATE, -1, "PRIVATE-PAGE-SECRET") ||
        !page(MAP_PRIVATE, MADV_DONTFORK, "DONTFORK-PAGE-SECRET") ||
        !page(MAP_PRIVATE, MADV_WIPEONFORK, "WIPEONFORK-PAGE-SECRET") ||
        !page(MAP_SHARED, -1, "SHARED-PAGE-SECRET")) {
        printf("failed %d\n", errno);
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    printf("ready %d\n", getpid());
    fflush(stdout);
    for (;;) {
        pause();
        if (errno != EINTR) report("pause-returned", errno);
    }
}
"#;

fn syscalls(pid: i32) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| {
            let s = std::fs::read_to_string(t.unwrap().path().join("syscall")).unwrap();
            s.split_whitespace().next().unwrap_or("").to_string()
        })
        .collect();
    out.sort();
    out
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn short_freeze_dumps_a_snapshot_and_leaves_the_victim_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let source = VICTIM_C.replace("argv[1]", &format!("{:?}", report.to_str().unwrap()));
    let Some((child, line)) = common::run_c_until_line(dir.path(), &source) else {
        return;
    };
    assert!(line.starts_with("ready "), "victim said {line:?}");
    let pid = child.0.id() as i32;
    // Both threads blocked: pause (34) and read (0).
    wait_for("victim threads never blocked", || {
        syscalls(pid) == ["0", "34"]
    });

    let core = dir.path().join("v.core");
    let mut opts = DumpOptions::new(&core);
    opts.short_freeze = true;
    let summary = dump_process(pid, &opts).unwrap();
    assert!(summary.from_snapshot, "{summary}");
    assert!(
        summary.to_string().contains("copy-on-write fork"),
        "{summary}"
    );

    // Every page is in the core: the private one from the snapshot, the three a fork does
    // not snapshot from the victim while it was stopped (the snapshot's WIPEONFORK page is
    // zeros, its DONTFORK page does not exist).
    let bytes = std::fs::read(&core).unwrap();
    for needle in [
        "PRIVATE-PAGE-SECRET",
        "DONTFORK-PAGE-SECRET",
        "WIPEONFORK-PAGE-SECRET",
        "SHARED-PAGE-SECRET",
    ] {
        assert!(
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} not in the core"
        );
    }
    // The victim: both calls blocked again (restarted, not returned), no child of any kind.
    // The dump resumed both threads; each is back in its call only after whatever it ran
    // first: a call that returned, or a pending SIGCHLD, is in the report by then.
    wait_for("victim threads never blocked again after the dump", || {
        syscalls(pid) == ["0", "34"]
    });
    let children: String = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| std::fs::read_to_string(t.unwrap().path().join("children")).unwrap())
        .collect();
    assert_eq!(children.trim(), "", "the victim has children left");
    assert!(
        !report.exists(),
        "{}",
        std::fs::read_to_string(&report).unwrap()
    );
    // And it still answers, with nothing to reap.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .unwrap();
    // Answered: the report exists and the handling thread is back in its call (so the handler
    // wrote and closed the file, and ran whatever else was pending).
    wait_for("the victim never answered SIGUSR1", || {
        report.exists() && syscalls(pid) == ["0", "34"]
    });
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "usr1 -1\n");
}
