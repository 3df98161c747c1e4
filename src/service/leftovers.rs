//! Leftovers of a killed run: finding the processes of an instance (by working directory, never
//! by name), sweeping a stale instance directory, releasing its System V shared memory.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::os::unix::fs::OpenOptionsExt;

use super::instance::{DIR_PREFIX, LOCK_NAME};

/// Removes instance directories under `base` whose owner is gone, after killing any process
/// still working in them and releasing their shared memory. Returns one note per directory.
pub fn sweep_stale(base: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return notes;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('.').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let path = e.path();
        // Directories only, never through a symlink.
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if !is_stale(&path, owner) {
            continue;
        }
        let data = path.join("data");
        kill_processes_in(&data, Duration::from_secs(5));
        release_shared_memory(&data);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => notes.push(format!(
                "removed the stale PostgreSQL directory {} (left by pid {owner})",
                path.display()
            )),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => notes.push(format!(
                "cannot remove the stale PostgreSQL directory {}: {err}",
                path.display()
            )),
        }
    }
    notes
}

fn is_stale(dir: &Path, owner: i32) -> bool {
    if owner == i32::try_from(std::process::id()).unwrap_or(0) {
        return false;
    }
    if matches!(
        kill(Pid::from_raw(owner), None),
        Err(nix::errno::Errno::ESRCH)
    ) {
        return true;
    }
    // The pid is alive: ours only if it still holds the lock. A missing lock file means the
    // owner is still setting up (the lock appears already locked, by rename).
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(LOCK_NAME))
    else {
        return false;
    };
    Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok()
}

/// Pids of the processes whose working directory is `dir` or below it (postgres processes
/// all work in their data directory), also after `dir` was deleted.
pub fn processes_in(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let want = dir.as_os_str().as_encoded_bytes();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| {
                let c = cwd.as_os_str().as_encoded_bytes();
                c.strip_prefix(want).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with(b"/") || rest == b" (deleted)"
                })
            })
        })
        .collect()
}

/// SIGKILLs every process working in `dir` and waits (up to `wait`) until they are gone.
pub(super) fn kill_processes_in(dir: &Path, wait: Duration) {
    let until = Instant::now() + wait;
    loop {
        let pids = processes_in(dir);
        if pids.is_empty() || Instant::now() >= until {
            return;
        }
        for p in pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A killed postmaster leaves its small System V segment behind: remove it if nothing is
/// attached and it is the one its `postmaster.pid` names.
fn release_shared_memory(data_dir: &Path) {
    let Ok(text) = std::fs::read_to_string(data_dir.join("postmaster.pid")) else {
        return;
    };
    // Line 7: "KEY SHMID".
    let Some((key, id)) = text.lines().nth(6).and_then(|l| {
        let mut it = l.split_whitespace();
        Some((
            it.next()?.parse::<i64>().ok()?,
            it.next()?.parse::<i32>().ok()?,
        ))
    }) else {
        return;
    };
    // SAFETY: an all-zero shmid_ds is a valid value of this plain C struct.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT writes one shmid_ds into the valid, exclusively borrowed `ds`.
    if unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) } != 0 {
        return;
    }
    if i64::from(ds.shm_perm.__key) == key && ds.shm_nattch == 0 {
        // SAFETY: IPC_RMID takes no buffer; a null pointer is allowed.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_directory_of_a_dead_owner_is_swept_live_ones_kept() {
        let t = tempfile::tempdir().unwrap();
        // A pid that cannot exist (above pid_max's hard ceiling).
        let dead = t.path().join(format!("{DIR_PREFIX}99999999.abcd"));
        std::fs::create_dir_all(dead.join("data")).unwrap();
        let mine = t
            .path()
            .join(format!("{DIR_PREFIX}{}.abcd", std::process::id()));
        std::fs::create_dir_all(&mine).unwrap();
        let other = t.path().join("unrelated.99999999");
        std::fs::create_dir_all(&other).unwrap();
        let notes = sweep_stale(t.path());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(!dead.exists() && mine.exists() && other.exists());
    }
}
