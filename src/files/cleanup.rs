//! What must not outlive a run that a signal ends: named temporary files, working
//! directories, child processes.
//!
//! Whoever creates such a thing registers it and keeps the [`Registration`]; dropping the
//! registration (the normal path, after the thing was removed or published) forgets it.
//! [`install`] blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every thread
//! started after it) and starts one thread that waits for them: on a signal it kills the
//! registered children, removes the registered files and directories, and then lets the signal
//! end the process as it would have, so the exit status still says "killed by SIGINT".
//!
//! Creation and cleanup exclude each other: [`create_dir`], [`create_temp`] and [`spawn_child`]
//! make the thing *while the registry is locked* and register it before unlocking, and the
//! signal thread marks the run as ending before it takes the lock. So a thing either exists
//! and is registered when the cleanup looks, or is never made: a worker thread that was about
//! to make a directory just as Ctrl-C arrived gets an error instead of leaving it behind.
//!
//! A thread and not a signal handler, because removing a directory tree allocates and takes
//! locks, which a handler must not. SIGKILL cannot be caught: for it, cores are created
//! unnamed (see [`super::output`]), children carry a parent-death signal, and the next run
//! removes stale working directories ([`super::workdir::remove_stale`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use nix::sys::signal::{SigSet, Signal};

/// One thing to clean up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A named temporary file.
    Temp(PathBuf),
    /// A working directory (removed with its contents).
    Dir(PathBuf),
    /// A child process (killed with SIGKILL).
    Child(i32),
}

static REGISTRY: Mutex<Vec<(u64, Item)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Set when a signal started the cleanup: the process is about to die of that signal.
static ENDING: AtomicBool = AtomicBool::new(false);

fn registry() -> MutexGuard<'static, Vec<(u64, Item)>> {
    // A panic elsewhere must not stop the cleanup: the list itself is always consistent.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps one item registered until dropped.
#[derive(Debug)]
#[must_use = "dropping the registration forgets the item at once"]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        registry().retain(|(id, _)| *id != self.0);
    }
}

/// Runs `make` with the registry locked and registers what it made (`item` of its result)
/// before unlocking; refuses to make anything once a signal's cleanup has begun.
fn create_registered<T>(
    make: impl FnOnce() -> std::io::Result<T>,
    item: impl FnOnce(&T) -> Item,
) -> std::io::Result<(T, Registration)> {
    let mut list = registry();
    if ENDING.load(Ordering::SeqCst) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "not started: a signal is ending this run",
        ));
    }
    let made = make()?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    list.push((id, item(&made)));
    Ok((made, Registration(id)))
}

/// Creates the directory `path` with `builder` and registers it (removed with its contents on
/// a signal), atomically with respect to a signal's cleanup.
pub fn create_dir(builder: &std::fs::DirBuilder, path: &Path) -> std::io::Result<Registration> {
    create_registered(|| builder.create(path), |()| Item::Dir(path.to_path_buf())).map(|(_, r)| r)
}

/// Creates a named temporary file with `open` and registers it (removed on a signal),
/// atomically with respect to a signal's cleanup.
pub fn create_temp(
    path: &Path,
    open: impl FnOnce() -> std::io::Result<std::fs::File>,
) -> std::io::Result<(std::fs::File, Registration)> {
    create_registered(open, |_| Item::Temp(path.to_path_buf()))
}

/// Spawns `cmd` and registers the child (killed on a signal; drop the registration before
/// reaping it), atomically with respect to a signal's cleanup: no child is born unregistered.
pub fn spawn_child(
    cmd: &mut std::process::Command,
) -> std::io::Result<(std::process::Child, Registration)> {
    create_registered(
        || cmd.spawn(),
        // A PID always fits; 0 (never a child's) is skipped by the cleanup, never signalled.
        |c| Item::Child(i32::try_from(c.id()).unwrap_or(0)),
    )
}

/// The signals that end a run and trigger the cleanup.
fn signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set
}

/// Starts the cleanup thread (once per process). Call it first thing in the main thread,
/// before any other thread exists: threads started earlier would keep the signals unblocked
/// and die of them without cleaning up. Child processes start with an empty signal mask
/// (the standard library resets it), so victims still receive their signals.
pub fn install() -> std::io::Result<()> {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let set = signals();
    set.thread_block().map_err(std::io::Error::from)?;
    std::thread::Builder::new()
        .name("confidump-cleanup".into())
        .spawn(move || loop {
            let Ok(sig) = set.wait() else { continue };
            ENDING.store(true, Ordering::SeqCst);
            run_cleanup();
            die_of(sig);
        })?;
    Ok(())
}

/// Call before the process exits normally: when a signal's cleanup is under way, waits for it
/// to end the process by that signal, so killing the victims does not let the run finish with
/// an ordinary (and misleading) exit status.
pub fn before_exit() {
    while ENDING.load(Ordering::SeqCst) {
        std::thread::park_timeout(std::time::Duration::from_millis(100));
    }
}

/// Stops the registered children, then removes the registered files and directories.
///
/// Children are asked first (SIGTERM): a victim then stops what it started itself — its
/// PostgreSQL server with a fast shutdown (which also releases its shared memory), its runc
/// container, its QEMU — and removes its own directories, which a SIGKILL would leave behind.
/// What has not exited within [`GRACE`] is killed.
pub fn run_cleanup() {
    let items: Vec<Item> = registry().drain(..).map(|(_, item)| item).collect();
    let children: Vec<i32> = items
        .iter()
        .filter_map(|item| match item {
            Item::Child(pid @ 1..) => Some(*pid),
            _ => None,
        })
        .collect();
    let signal_all = |sig| {
        for pid in &children {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), sig);
        }
    };
    signal_all(Signal::SIGTERM);
    let until = std::time::Instant::now() + GRACE;
    for pid in &children {
        wait_gone(*pid, until);
    }
    signal_all(Signal::SIGKILL);
    // A killed child (gdb, QEMU) may still be writing into a directory until it is gone.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for pid in &children {
        wait_gone(*pid, until);
    }
    for item in &items {
        match item {
            Item::Temp(p) => {
                let _ = std::fs::remove_file(p);
            }
            Item::Dir(p) => remove_tree(p),
            Item::Child(_) => {}
        }
    }
}

/// How long children have to stop on their own after SIGTERM (a PostgreSQL fast shutdown
/// takes well under a second; a victim held stopped by a dump never gets to run its handler).
const GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until `pid` is a zombie or gone (a process that can write no more), or `until`.
fn wait_gone(pid: i32, until: std::time::Instant) {
    while std::time::Instant::now() < until {
        match crate::procfs::status::read_stat(pid, pid) {
            Ok(s) if !matches!(s.state, 'Z' | 'X') => {}
            _ => return,
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Removes a directory tree. Another thread of this run may still add a file to it (a core
/// being published) while it goes: removal is tried again until the directory is gone or a
/// bound is reached.
fn remove_tree(p: &Path) {
    for _ in 0..50 {
        match std::fs::remove_dir_all(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {}
            _ => return,
        }
        std::thread::yield_now();
    }
}

/// Ends the process by `sig` with its default action, as if nothing had caught it.
fn die_of(sig: Signal) -> ! {
    // SAFETY: installing the default disposition runs no handler code of ours.
    let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
    let mut one = SigSet::empty();
    one.add(sig);
    let _ = one.thread_unblock();
    let _ = nix::sys::signal::raise(sig);
    // The default action of all three signals is to terminate; should it not, exit as a
    // shell reports a death by signal.
    std::process::exit(128 + sig as i32)
}

/// For `pre_exec`: the one way a child of ours dies with the thread that spawned it, even
/// when we are SIGKILLed (nothing else could stop it then).
///
/// Call it in the parent, where it records the parent's PID, and hand the closure to
/// `pre_exec` (directly, or called from a caller's own closure between its other steps). In
/// the child it sets `PR_SET_PDEATHSIG=SIGKILL`, after any uid change, which would clear the
/// setting (std applies `uid`/`gid` before the closures), then checks that the parent is still
/// the one that spawned it.
///
/// Both failures fail the spawn with an error instead of `_exit`ing in the child: std reports
/// a closure's error to `spawn` as the exec's error and never runs the program, so a parent
/// still there to listen gets "why" (ESRCH, no such process, when the parent died between
/// fork and prctl) instead of a child that "ran" and exited 1 for reasons of its own; and a
/// child that would outlive us is not started either way. A failed prctl is never ignored: a
/// child that cannot be made to die with us must not run.
///
/// Not for `isolate::namespaces`: its child is a raw `clone` into a new PID namespace, where
/// `getppid` is always 0, so it calls [`kill_me_with_parent`] alone and cannot ask after its
/// parent.
pub fn die_with_parent() -> impl FnMut() -> std::io::Result<()> {
    die_with(std::process::id())
}

/// Asks the kernel to SIGKILL the calling process when its parent (the thread that forked it)
/// ends: `prctl(PR_SET_PDEATHSIG, SIGKILL)`, the one place it is made. Async-signal-safe (one
/// system call, no allocation: an OS error is a code), for code between fork and exec.
pub fn kill_me_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// [`die_with_parent`] for a given parent PID (a test gives one that is not the parent).
fn die_with(parent: u32) -> impl FnMut() -> std::io::Result<()> {
    move || {
        // Both steps are async-signal-safe system calls, as a closure between fork and exec
        // must use; the errors made here allocate nothing (an OS error is a code).
        kill_me_with_parent()?;
        // SAFETY: getppid takes nothing and cannot fail.
        unsafe {
            // The parent may have died between fork and prctl: then nobody would signal us.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_removes_what_is_registered_and_nothing_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("keep");
        let gone = dir.path().join("gone");
        let sub = dir.path().join("sub");
        let (_, dropped) = create_temp(&keep, || std::fs::File::create(&keep)).unwrap();
        drop(dropped);
        let (_, _a) = create_temp(&gone, || std::fs::File::create(&gone)).unwrap();
        let _b = create_dir(&std::fs::DirBuilder::new(), &sub).unwrap();
        std::fs::write(sub.join("f"), b"x").unwrap();
        run_cleanup();
        assert!(keep.exists());
        assert!(!gone.exists());
        assert!(!sub.exists());
    }

    /// A child that sleeps for a long time, dying with the thread that spawns it.
    fn sleeper(
        die: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
    ) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("600").stdin(std::process::Stdio::null());
        // SAFETY: the closure only makes async-signal-safe system calls (see die_with).
        unsafe {
            cmd.pre_exec(die);
        }
        cmd
    }

    #[test]
    fn a_child_dies_with_the_thread_that_spawned_it() {
        use std::os::unix::process::ExitStatusExt;
        // The thread spawns the child and ends; the child, now our process's, is waited for
        // here. Without the parent-death signal this wait would last ten minutes.
        let mut child = std::thread::spawn(|| sleeper(die_with_parent()).spawn().unwrap())
            .join()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    }

    #[test]
    fn a_child_whose_parent_is_gone_is_never_run() {
        // u32::MAX is no PID: as if the parent had died between fork and prctl.
        let err = sleeper(die_with(u32::MAX)).spawn().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{err}");
    }
}
