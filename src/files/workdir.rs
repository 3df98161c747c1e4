//! Private working directories (`$TMPDIR/confidump-…`, mode 0700): where `demo` and `attack`
//! put victims' working directories, dumps and cores while they run.
//!
//! Each name carries the PID of the run that made it (`PREFIX-pPID-RANDOM`; not a file inside,
//! which would be mistaken for a victim's output). A run that ends normally
//! removes its directories; a signal removes them through [`super::cleanup`]; after a SIGKILL
//! the next run removes them ([`remove_stale`]: ours by uid, owner PID no longer running).

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::cleanup::{self, Registration};

/// Registrations of the directories this process made, removed with them.
static LIVE: Mutex<Vec<(PathBuf, Registration)>> = Mutex::new(Vec::new());

/// A new directory `$TMPDIR/PREFIX-<random>`, mode 0700, owned by this run and removed on a
/// signal. `prefix` should start with `confidump-`.
pub fn create(prefix: &str) -> std::io::Result<PathBuf> {
    create_in(&std::env::temp_dir(), prefix)
}

/// [`create`] under `base` (the VM's directory goes under `/tmp` when `$TMPDIR` is too long
/// for a unix socket name); [`remove_stale_in`] cleans up after killed runs there.
pub fn create_in(base: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    let mut nonce = [0u8; 6];
    getrandom::getrandom(&mut nonce).map_err(std::io::Error::other)?;
    let dir = base.join(format!(
        "{prefix}-p{}-{}",
        std::process::id(),
        hex::encode(nonce)
    ));
    // Made and registered in one step: a signal arriving now either finds it or prevents it.
    let reg = cleanup::create_dir(DirBuilder::new().mode(0o700), &dir)?;
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((dir.clone(), reg));
    Ok(dir)
}

/// Removes a directory made by [`create`] (with its contents) and forgets it.
pub fn remove(dir: &Path) -> std::io::Result<()> {
    let result = match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(d, _)| d != dir);
    result
}

/// Removes a private directory (and whatever was written in it) on drop unless defused: no
/// dump or core is left behind when a step fails.
pub struct DirGuard {
    dir: PathBuf,
    armed: bool,
}

impl DirGuard {
    /// Creates a fresh private directory (see [`create`]) guarded for removal.
    pub fn create(prefix: &str) -> std::io::Result<Self> {
        Ok(Self {
            dir: create(prefix)?,
            armed: true,
        })
    }
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
    /// Keeps the directory: the caller takes over its removal.
    pub fn defuse(mut self) -> PathBuf {
        self.armed = false;
        std::mem::take(&mut self.dir)
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = remove(&self.dir) {
                tracing::warn!("could not remove {}: {e}", self.dir.display());
            }
        }
    }
}

/// Removes `$TMPDIR/confidump-*` directories left by runs that were killed: owned by our uid
/// (any, for root), whose name carries (`-pPID-`) a PID that no longer runs. Returns how many were removed.
pub fn remove_stale() -> usize {
    remove_stale_in(&std::env::temp_dir())
}

/// [`remove_stale`] in `base`.
pub fn remove_stale_in(base: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let uid = nix::unistd::geteuid().as_raw();
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with("confidump-") {
            continue;
        }
        // symlink_metadata: a link planted under our prefix is not followed. Root's runs hand
        // some directories to the victim's user (a lab target's ready file): root sweeps those
        // too; the owner PID in the name still decides.
        let ours = e
            .path()
            .symlink_metadata()
            .is_ok_and(|m| m.is_dir() && (m.uid() == uid || uid == 0));
        if !ours {
            continue;
        }
        let Some(pid) = owner_of(&name.to_string_lossy()) else {
            continue;
        };
        if pid > 0 && !Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!(dir = %e.path().display(), pid, "removing a stale working directory");
            if std::fs::remove_dir_all(e.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// The owner PID in a name made by [`create`]: the `-pPID-` part.
fn owner_of(name: &str) -> Option<i32> {
    name.split('-')
        .filter_map(|part| part.strip_prefix('p'))
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .find_map(|d| d.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_directories_of_dead_owners_go_and_live_ones_stay() {
        let base = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let dead = base.path().join(format!("confidump-demo-p{gone}-abc"));
        let live = base
            .path()
            .join(format!("confidump-demo-p{}-abc", std::process::id()));
        let other = base.path().join("confidump-not-ours");
        for d in [&dead, &live, &other] {
            std::fs::create_dir(d).unwrap();
        }
        assert_eq!(owner_of("confidump-attack-1234-p42-0afe"), Some(42));
        assert_eq!(remove_stale_in(base.path()), 1);
        assert!(!dead.exists() && live.exists() && other.exists());
    }

    #[test]
    fn created_directories_are_0700_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let d = create("confidump-test").unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        remove(&d).unwrap();
        assert!(!d.exists());
    }
}
