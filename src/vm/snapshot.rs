//! A booted guest, kept: the next VM victim starts from it instead of booting again.
//!
//! Under TCG a guest takes seconds of one core to boot (measurements: docs/performance.md,
//! "Design measurements"), and the demo has several VM rows. So the first VM victim with a
//! given kernel, initramfs, QEMU, memory size and accelerator boots as usual, and while its PID
//! 1 waits for the host's start line ([`super::start`]) confidump saves the whole machine with
//! QEMU's own migration (`migrate` to a file), lets the guest run on and starts its victim.
//! Later VM victims start QEMU with `-incoming` from that file: a real QEMU running a real
//! guest kernel, in the state it had just after boot, before any secret existed. Each restored
//! guest gets fresh host entropy before it makes its canary, so no two share one.
//!
//! The snapshot holds no secret (it is taken before the victim starts) but, like every file of
//! ours, it is 0600 in a 0700 directory (`${XDG_CACHE_HOME:-~/.cache}/confidump/guest-snapshot`),
//! written under a temporary name and renamed when complete. A snapshot that fails to restore is
//! removed, and that VM boots. Confidential VMs never use one: SEV-SNP and TDX guests cannot be
//! migrated to a file, and their launch measurement must come from a real boot.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::qmp::{Qmp, QmpError};

/// Why a booted guest could not be saved (a note for the user: the VM itself runs on).
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The temporary file's path cannot be written into QEMU's `exec:` URI.
    #[error("the cache path cannot be quoted for QEMU")]
    Unquotable,
    /// A file step failed.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// The step (`creating`, `renaming`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// QMP could not be reached.
    #[error(transparent)]
    Connect(QmpError),
    /// A QMP command failed.
    #[error("{command}: {source}")]
    Command {
        /// The command (`migrate`, `query-migrate`, `cont`).
        command: &'static str,
        /// Why.
        source: QmpError,
    },
    /// QEMU ended the migration without saving.
    #[error("migration {0}")]
    Migration(String),
    /// The migration did not finish in time.
    #[error("not saved in {} s", SAVE_TIMEOUT.as_secs())]
    Timeout,
}

fn command(command: &'static str) -> impl FnOnce(QmpError) -> SaveError {
    move |source| SaveError::Command { command, source }
}

/// How long saving a snapshot may take.
const SAVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where snapshots live: `${XDG_CACHE_HOME:-$HOME/.cache}/confidump/guest-snapshot`.
pub fn cache_dir() -> Option<PathBuf> {
    Some(crate::host::qemu::cache_dir()?.join("guest-snapshot"))
}

/// One kind of guest: everything a snapshot depends on, hashed.
#[derive(Debug, Clone)]
pub struct Slot {
    dir: PathBuf,
    key: String,
}

/// What a snapshot's key covers. Paths are not in it (the initramfs sits in a fresh private
/// directory each time); contents are.
#[derive(Debug)]
pub struct KeyParts<'a> {
    /// QEMU's binary and `--version`.
    pub qemu: &'a Path,
    /// QEMU's version line.
    pub qemu_version: &'a str,
    /// The guest kernel file.
    pub kernel: &'a Path,
    /// The initramfs bytes.
    pub initramfs: &'a [u8],
    /// The QEMU arguments, with this run's paths replaced by placeholders.
    pub args: &'a [String],
}

impl Slot {
    /// The slot for `parts` in `dir`; `None` when the kernel cannot be read.
    pub fn new(dir: PathBuf, parts: &KeyParts<'_>) -> Option<Self> {
        let mut h = Sha256::new();
        h.update(parts.qemu.as_os_str().as_encoded_bytes());
        h.update(b"\0");
        h.update(parts.qemu_version.as_bytes());
        h.update(b"\0");
        let mut kernel = File::open(parts.kernel).ok()?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = kernel.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            h.update(buf.get(..n).unwrap_or(&[]));
        }
        h.update(b"\0");
        h.update(parts.initramfs);
        for a in parts.args {
            h.update(b"\0");
            h.update(a.as_bytes());
        }
        let key = hex::encode(h.finalize())
            .get(..32)
            .unwrap_or_default()
            .to_string();
        Some(Self { dir, key })
    }

    /// The snapshot file (which may not exist).
    pub fn state(&self) -> PathBuf {
        self.dir.join(format!("{}.state", self.key))
    }

    /// The snapshot, if one was saved.
    pub fn existing(&self) -> Option<PathBuf> {
        let p = self.state();
        std::fs::symlink_metadata(&p)
            .ok()
            .filter(|m| m.file_type().is_file() && m.len() > 0)
            .map(|_| p)
    }

    /// Removes a snapshot that failed to restore.
    pub fn discard(&self) {
        let _ = std::fs::remove_file(self.state());
    }

    /// Takes the slot's lock (blocking): held by whoever boots to save the snapshot, so that
    /// VM victims started at the same time wait for it instead of all booting.
    pub fn lock(&self) -> std::io::Result<SlotLock> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.dir.join(".lock"))?;
        let locked = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| std::io::Error::from(e))?;
        Ok(SlotLock(locked))
    }

    /// Saves the running guest of the QEMU behind `qmp_socket` into this slot, then lets the
    /// guest run on. Errors are for a note: the VM itself is unaffected (`cont` is sent even
    /// when saving failed).
    pub fn save(&self, qmp_socket: &Path) -> Result<Duration, SaveError> {
        let started = Instant::now();
        let tmp = self
            .dir
            .join(format!(".{}.state.{}.tmp", self.key, std::process::id()));
        let quoted = shell_quote(&tmp).ok_or(SaveError::Unquotable)?;
        // Made 0600 before QEMU's `cat >` writes into it (a redirection keeps the mode), so
        // no moment exists where another user could open it. A run killed before the rename
        // leaves it: [`sweep_stale_temps`] removes it once this PID is gone.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|source| SaveError::Io {
                what: "creating",
                path: tmp.clone(),
                source,
            })?;
        let mut q =
            Qmp::connect(qmp_socket, Duration::from_secs(10)).map_err(SaveError::Connect)?;
        let saved = (|| {
            q.execute(
                "migrate",
                Some(serde_json::json!({ "uri": format!("exec:cat > {quoted}") })),
            )
            .map_err(command("migrate"))?;
            loop {
                let info = q
                    .execute("query-migrate", None)
                    .map_err(command("query-migrate"))?;
                match info.get("status").and_then(|s| s.as_str()) {
                    Some("completed") => break,
                    Some("failed") | Some("cancelled") => {
                        return Err(SaveError::Migration(
                            info.get("error-desc")
                                .and_then(|e| e.as_str())
                                .unwrap_or("failed")
                                .to_string(),
                        ))
                    }
                    _ if started.elapsed() > SAVE_TIMEOUT => return Err(SaveError::Timeout),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            std::fs::rename(&tmp, self.state()).map_err(|source| SaveError::Io {
                what: "renaming",
                path: tmp.clone(),
                source,
            })?;
            Ok(())
        })();
        // A finished migration leaves the source paused: run on, saved or not.
        let resumed = q.execute("cont", None).map_err(command("cont"));
        if saved.is_err() {
            let _ = std::fs::remove_file(&tmp);
        } else {
            self.remove_others();
        }
        saved.and(resumed.map(|_| ())).map(|()| started.elapsed())
    }

    /// Older snapshots (another kernel, initramfs or QEMU) are never used again.
    fn remove_others(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mine = format!("{}.state", self.key);
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".state") && name != mine {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Removes snapshot temporaries (`.KEY.state.PID.tmp`) whose saving process is gone: a run
/// killed while saving leaves one. Returns how many were removed.
pub fn sweep_stale_temps() -> usize {
    let Some(dir) = cache_dir() else { return 0 };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = temp_owner(&name.to_string_lossy()) else {
            continue;
        };
        let is_file = e.path().symlink_metadata().is_ok_and(|m| m.is_file());
        if is_file
            && !Path::new(&format!("/proc/{pid}")).exists()
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The PID in a snapshot temporary's name `.KEY.state.PID.tmp`.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, pid) = rest.rsplit_once(".state.")?;
    pid.parse().ok().filter(|p| *p > 0)
}

/// The `-incoming` argument that restores `state`.
pub fn incoming(state: &Path) -> Option<String> {
    shell_quote(state).map(|q| format!("exec:cat {q}"))
}

/// `'path'` for `/bin/sh`, which QEMU's `exec:` runs; `None` if the path holds a quote or is
/// not UTF-8.
fn shell_quote(p: &Path) -> Option<String> {
    let s = p.to_str()?;
    (!s.contains('\'')).then(|| format!("'{s}'"))
}

/// An exclusive `flock` on the slot directory's lock file, released on drop.
#[derive(Debug)]
pub struct SlotLock(#[allow(dead_code)] nix::fcntl::Flock<File>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_name_their_owner() {
        assert_eq!(temp_owner(".abc123.state.4242.tmp"), Some(4242));
        assert_eq!(temp_owner("abc123.state"), None);
        assert_eq!(temp_owner(".abc.state.x.tmp"), None);
        assert_eq!(temp_owner(".abc.state.0.tmp"), None);
    }

    #[test]
    fn keys_follow_contents_not_paths() {
        let dir = std::env::temp_dir().join(format!("confidump-snap-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kernel = dir.join("k");
        std::fs::write(&kernel, b"kernel").unwrap();
        let args = ["-m".to_string(), "256M".to_string()];
        let slot = |init: &[u8]| {
            let parts = KeyParts {
                qemu: Path::new("/usr/bin/qemu"),
                qemu_version: "10.0.2",
                kernel: &kernel,
                initramfs: init,
                args: &args,
            };
            Slot::new(dir.clone(), &parts).unwrap()
        };
        let (a, b, c) = (slot(b"init"), slot(b"init"), slot(b"init2"));
        assert_eq!(a.state(), b.state());
        assert_ne!(a.state(), c.state());
        assert!(a.existing().is_none());
        // A link at the state's name is not a snapshot.
        std::os::unix::fs::symlink("/etc/passwd", a.state()).unwrap();
        assert!(a.existing().is_none());
        a.discard();
        assert_eq!(
            incoming(Path::new("/c/x.state")).as_deref(),
            Some("exec:cat '/c/x.state'")
        );
        assert!(incoming(Path::new("/c/it's")).is_none());
        let _lock = a.lock().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
