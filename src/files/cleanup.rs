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
//! A thread and not a signal handler, because removing a directory tree allocates and takes
//! locks, which a handler must not. SIGKILL cannot be caught: for it, cores are created
//! unnamed (see [`super::output`]), children carry a parent-death signal, and the next run
//! removes stale working directories ([`super::workdir::remove_stale`]).

use std::path::PathBuf;
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

fn register(item: Item) -> Registration {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    registry().push((id, item));
    Registration(id)
}

/// Registers a named temporary file, removed on a signal.
pub fn register_temp(path: PathBuf) -> Registration {
    register(Item::Temp(path))
}

/// Registers a working directory, removed with its contents on a signal.
pub fn register_dir(path: PathBuf) -> Registration {
    register(Item::Dir(path))
}

/// Registers a child process, killed (SIGKILL) on a signal. Drop the registration *before*
/// reaping the child, so a recycled PID is never killed.
pub fn register_child(pid: i32) -> Registration {
    register(Item::Child(pid))
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

/// Kills the registered children, then removes the registered files and directories.
pub fn run_cleanup() {
    let items: Vec<Item> = registry().drain(..).map(|(_, item)| item).collect();
    for item in &items {
        if let Item::Child(pid) = item {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
    for item in &items {
        match item {
            Item::Temp(p) => {
                let _ = std::fs::remove_file(p);
            }
            Item::Dir(p) => {
                let _ = std::fs::remove_dir_all(p);
            }
            Item::Child(_) => {}
        }
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

/// For `pre_exec`: the child gets SIGKILL when the thread that spawned it dies (after any uid
/// change, which would clear the setting: std applies `uid`/`gid` before the closures), and
/// dies at once if its parent is already gone.
pub fn die_with_parent(parent: u32) -> impl FnMut() -> std::io::Result<()> {
    move || {
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only; getppid cannot fail.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would signal us.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(1);
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
        std::fs::write(&keep, b"x").unwrap();
        std::fs::write(&gone, b"x").unwrap();
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("f"), b"x").unwrap();
        let dropped = register_temp(keep.clone());
        drop(dropped);
        let _a = register_temp(gone.clone());
        let _b = register_dir(sub.clone());
        run_cleanup();
        assert!(keep.exists());
        assert!(!gone.exists());
        assert!(!sub.exists());
    }
}
