//! Private working directories (`$TMPDIR/confidump-…`, mode 0700): where `demo` and `attack`
//! put victims' working directories, dumps and cores while they run.
//!
//! Each holds an `.owner` file with the PID of the run that made it. A run that ends normally
//! removes its directories; a signal removes them through [`super::cleanup`]; after a SIGKILL
//! the next run removes them ([`remove_stale`]: ours by uid, owner PID no longer running).

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::cleanup::{self, Registration};

/// Name of the file that records the owner PID.
const OWNER: &str = ".owner";

/// Registrations of the directories this process made, removed with them.
static LIVE: Mutex<Vec<(PathBuf, Registration)>> = Mutex::new(Vec::new());

/// A new directory `$TMPDIR/PREFIX-<random>`, mode 0700, owned by this run and removed on a
/// signal. `prefix` should start with `confidump-`.
pub fn create(prefix: &str) -> std::io::Result<PathBuf> {
    let mut nonce = [0u8; 6];
    getrandom::getrandom(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", hex::encode(nonce)));
    DirBuilder::new().mode(0o700).create(&dir)?;
    let reg = cleanup::register_dir(dir.clone());
    if let Err(e) = super::output::write_file(
        &dir.join(OWNER),
        format!("{}\n", std::process::id()).as_bytes(),
        false,
    ) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(std::io::Error::other(e.to_string()));
    }
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

/// Removes `$TMPDIR/confidump-*` directories left by runs that were killed: owned by our uid,
/// with an `.owner` file naming a PID that no longer runs. Returns how many were removed.
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
        // symlink_metadata: a link planted under our prefix is not followed.
        let ours = e
            .path()
            .symlink_metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if !ours {
            continue;
        }
        let owner = super::input::read_user_text(&e.path().join(OWNER), 64, "an owner file")
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok());
        let Some(pid) = owner else { continue };
        if pid > 0 && !Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!(dir = %e.path().display(), pid, "removing a stale working directory");
            if std::fs::remove_dir_all(e.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_directories_of_dead_owners_go_and_live_ones_stay() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join("confidump-demo-dead");
        let live = base.path().join("confidump-demo-live");
        let other = base.path().join("confidump-not-ours");
        for d in [&dead, &live, &other] {
            std::fs::create_dir(d).unwrap();
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        std::fs::write(dead.join(OWNER), format!("{gone}\n")).unwrap();
        std::fs::write(live.join(OWNER), format!("{}\n", std::process::id())).unwrap();
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
