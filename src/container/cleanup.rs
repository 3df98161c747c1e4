//! Private directories (the bundle, or the namespaces victim's working directory) and the
//! removal of what a killed run left behind.
//!
//! Every directory and container is named `confidump-RUNTIME-PID-RANDOM`, PID being the
//! process that made it. A process killed by SIGKILL cannot clean up; its victim still stops
//! (its stdin closes) and `runc run` deletes its container, but the bundle stays, and a
//! runtime killed at the wrong moment may leave a container in its state directory. The next
//! start removes every such directory and container whose PID no longer runs
//! ([`remove_stale`]).

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{io_err, oci, ContainerError, Runtime};

/// The prefix of every directory and container id we make.
pub const PREFIX: &str = "confidump-";

/// Removes a directory on drop unless defused.
pub(crate) struct DirGuard(pub Option<PathBuf>);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            remove_dir(&d);
        }
    }
}

/// Removes `dir` and everything in it; errors are ignored (it may be gone already).
pub(crate) fn remove_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// The runtime and PID in a name `confidump-RUNTIME-PID-RANDOM`.
pub fn parse_name(name: &str) -> Option<(Runtime, u32)> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(3, '-');
    let runtime = match parts.next()? {
        "namespaces" => Runtime::Namespaces,
        "runc" => Runtime::Runc,
        "crun" => Runtime::Crun,
        _ => return None,
    };
    let pid = parts.next()?.parse().ok()?;
    let random = parts.next()?;
    (!random.is_empty() && random.bytes().all(|b| b.is_ascii_hexdigit())).then_some((runtime, pid))
}

fn base_dir() -> PathBuf {
    std::env::temp_dir()
}

fn running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// What [`remove_stale`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// Bundle or working directories.
    pub dirs: Vec<PathBuf>,
    /// Containers deleted from a runtime's state, as `runtime:id`.
    pub containers: Vec<String>,
}

/// Removes the directories and containers of runs whose process is gone (see the module docs).
pub fn remove_stale() -> Removed {
    let mut removed = Removed::default();
    let programs: Vec<(Runtime, PathBuf)> = [Runtime::Runc, Runtime::Crun]
        .into_iter()
        .filter_map(|r| oci::find_program(r).ok().map(|p| (r, p)))
        .collect();
    for (runtime, program) in &programs {
        for id in oci::list_ids(program) {
            if matches!(parse_name(&id), Some((r, pid)) if r == *runtime && !running(pid)) {
                oci::delete(program, &id);
                removed
                    .containers
                    .push(format!("{}:{id}", runtime.as_str()));
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(base_dir()) else {
        return removed;
    };
    // SAFETY: getuid has no arguments and cannot fail.
    let uid = unsafe { libc::getuid() };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some((runtime, pid)) = name.to_str().and_then(parse_name) else {
            continue;
        };
        let ours = e
            .path()
            .symlink_metadata()
            .map(|m| m.is_dir() && m.uid() == uid)
            .unwrap_or(false);
        if !ours || running(pid) {
            continue;
        }
        if let Some((_, program)) = programs.iter().find(|(r, _)| *r == runtime) {
            if let Some(id) = name.to_str() {
                oci::delete(program, id);
            }
        }
        remove_dir(&e.path());
        removed.dirs.push(e.path());
    }
    removed
}

/// Removes stale leftovers, then makes a fresh 0700 directory; returns it and its name (the
/// container id).
pub(crate) fn private_dir(runtime: Runtime) -> Result<(PathBuf, String), ContainerError> {
    let removed = remove_stale();
    if removed != Removed::default() {
        tracing::info!(?removed, "removed what killed runs left behind");
    }
    let base = base_dir();
    let mut rnd = [0u8; 6];
    getrandom::getrandom(&mut rnd).map_err(|e| ContainerError::Io {
        what: "getrandom for",
        path: base.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let id = format!(
        "{PREFIX}{}-{}-{}",
        runtime.as_str(),
        std::process::id(),
        hex::encode(rnd)
    );
    let dir = base.join(&id);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(io_err("creating", &dir))?;
    Ok((dir, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_parsed_strictly() {
        assert_eq!(
            parse_name("confidump-runc-1234-a1b2c3d4e5f6"),
            Some((Runtime::Runc, 1234))
        );
        assert_eq!(
            parse_name("confidump-namespaces-7-00"),
            Some((Runtime::Namespaces, 7))
        );
        assert_eq!(parse_name("confidump-vm-1234-a1b2"), None);
        assert_eq!(parse_name("confidump-crun-x-a1"), None);
        assert_eq!(parse_name("confidump-crun-12-"), None);
        assert_eq!(parse_name("confidump-crun-12-zz"), None);
        assert_eq!(parse_name("other-runc-12-aa"), None);
    }
}
