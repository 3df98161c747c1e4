//! QEMU and the guest kernel as host facts: where QEMU is, its version, and which kernel a VM
//! victim would boot.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{is_executable, which, ProbeError};

/// The QEMU system emulator we run.
pub const QEMU_BINARY: &str = "qemu-system-x86_64";

/// A QEMU version, from `qemu-system-x86_64 --version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QemuVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Micro.
    pub micro: u32,
}

impl std::fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// Parses `QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)`.
pub fn parse_qemu_version(text: &str) -> Option<QemuVersion> {
    let rest = text.split("version ").nth(1)?;
    let word = rest.split_whitespace().next()?;
    let mut parts = word.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let micro = parts.next().flatten().unwrap_or(0);
    Some(QemuVersion {
        major,
        minor,
        micro,
    })
}

/// Finds QEMU: `$CONFIDUMP_QEMU` when set (used as given, even if missing: an explicit
/// override must not silently fall back), else `qemu-system-x86_64` on `PATH`; either way an
/// executable file. `Err` says what was looked for.
pub fn locate_qemu() -> Result<PathBuf, ProbeError> {
    if let Some(p) = std::env::var_os("CONFIDUMP_QEMU") {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(ProbeError::QemuOverride(p))
        };
    }
    which(QEMU_BINARY).ok_or(ProbeError::NoQemu)
}

/// [`locate_qemu`] without the reason.
pub fn find_qemu() -> Option<PathBuf> {
    locate_qemu().ok()
}

/// Runs `QEMU --version` and parses it.
pub fn qemu_version(qemu: &Path) -> Option<QemuVersion> {
    let out = Command::new(qemu).arg("--version").output().ok()?;
    parse_qemu_version(&String::from_utf8_lossy(&out.stdout))
}

/// confidump's cache directory: `${XDG_CACHE_HOME:-~/.cache}/confidump`.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("confidump"))
}

/// The fetch script's path in the source tree, as the hints name it there.
pub const FETCH_KERNEL_SCRIPT: &str = "scripts/fetch-guest-kernel.sh";

/// Where a package installs the fetch script, relative to the prefix of `bin/confidump`
/// (scripts/package.sh: `/usr/bin/confidump`, `/usr/share/confidump/fetch-guest-kernel.sh`).
pub const INSTALLED_FETCH_KERNEL_SCRIPT: &str = "share/confidump/fetch-guest-kernel.sh";

/// The one command that fetches a guest kernel for the confidump at `exe`: the packaged
/// script beside an installed binary (`/usr/share/confidump/fetch-guest-kernel.sh` for
/// `/usr/bin/confidump`), else the source tree's `scripts/fetch-guest-kernel.sh`. It puts the
/// kernel in the cache of the user who runs it, which is where that user's confidump looks
/// ([`kernel_cache_dir`]): run it as the user who runs the demo (root), no `sudo` switch.
pub fn fetch_kernel_command(exe: Option<&Path>) -> String {
    exe.and_then(|e| e.parent()?.parent())
        .map(|prefix| prefix.join(INSTALLED_FETCH_KERNEL_SCRIPT))
        .filter(|script| is_executable(script))
        .map(|script| script.display().to_string())
        .unwrap_or_else(|| FETCH_KERNEL_SCRIPT.to_string())
}

/// Where `scripts/fetch-guest-kernel.sh` puts the guest kernel:
/// `$CONFIDUMP_GUEST_KERNEL_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/confidump/guest-kernel`.
pub fn kernel_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CONFIDUMP_GUEST_KERNEL_DIR") {
        return Some(PathBuf::from(d));
    }
    Some(cache_dir()?.join("guest-kernel"))
}

/// Where the VM launcher records that a Linux guest failed under KVM on this host and it fell
/// back to TCG (`${XDG_CACHE_HOME:-~/.cache}/confidump/kvm-fallback`): doctor reads it instead
/// of booting a guest of its own.
pub fn kvm_fallback_file() -> Option<PathBuf> {
    Some(cache_dir()?.join("kvm-fallback"))
}

/// A recorded fallback from KVM to TCG: what failed, on which kernel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KvmFallback {
    /// The host kernel release it happened on (a record from another kernel is ignored).
    pub kernel: String,
    /// What failed (`the KVM guest was not ready in 8 s …`, QEMU's error line).
    pub why: String,
}

/// The record in `text` (the file's JSON), if it is one and was made on `kernel`.
pub fn parse_kvm_fallback(text: &str, kernel: &str) -> Option<KvmFallback> {
    let r: KvmFallback = serde_json::from_str(text).ok()?;
    (r.kernel == kernel).then_some(r)
}

/// The record of this host, if a VM run made one on the running kernel.
pub fn read_kvm_fallback(kernel: &str) -> Option<KvmFallback> {
    let path = kvm_fallback_file()?;
    let meta = std::fs::symlink_metadata(&path).ok()?;
    // A few hundred bytes of our own JSON; anything else is not ours.
    if !meta.is_file() || meta.len() > 4096 {
        return None;
    }
    parse_kvm_fallback(&std::fs::read_to_string(path).ok()?, kernel)
}

/// The guest kernel when none is named: the host's `/boot/vmlinuz-$(uname -r)` if readable,
/// else the fetched one in [`kernel_cache_dir`].
pub fn default_kernel() -> Option<PathBuf> {
    locate_guest_kernel().ok()
}

/// [`default_kernel`], or what was looked for.
pub fn locate_guest_kernel() -> Result<PathBuf, ProbeError> {
    find_guest_kernel().ok_or_else(|| ProbeError::NoGuestKernel {
        cache: kernel_cache_dir(),
    })
}

fn find_guest_kernel() -> Option<PathBuf> {
    if let Ok(u) = nix::sys::utsname::uname() {
        let p = PathBuf::from(format!("/boot/vmlinuz-{}", u.release().to_string_lossy()));
        if std::fs::File::open(&p).is_ok() {
            return Some(p);
        }
    }
    let p = kernel_cache_dir()?.join("vmlinuz");
    std::fs::File::open(&p).is_ok().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_records() {
        let r = KvmFallback {
            kernel: "6.18.0".into(),
            why: "the KVM guest was not ready in 8 s".into(),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(parse_kvm_fallback(&text, "6.18.0"), Some(r));
        assert_eq!(parse_kvm_fallback(&text, "6.19.0"), None);
        assert_eq!(parse_kvm_fallback("not json", "6.18.0"), None);
    }

    #[test]
    fn an_installed_binary_names_the_packaged_fetch_script() {
        use std::os::unix::fs::PermissionsExt;
        let prefix = tempfile::tempdir().unwrap();
        let exe = prefix.path().join("bin/confidump");
        // In the source tree (or a binary copied alone): the script in scripts/.
        assert_eq!(fetch_kernel_command(Some(&exe)), FETCH_KERNEL_SCRIPT);
        assert_eq!(fetch_kernel_command(None), FETCH_KERNEL_SCRIPT);
        let script = prefix.path().join(INSTALLED_FETCH_KERNEL_SCRIPT);
        std::fs::create_dir_all(script.parent().unwrap()).unwrap();
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            fetch_kernel_command(Some(&exe)),
            script.display().to_string()
        );
    }

    #[test]
    fn versions() {
        let v = parse_qemu_version(
            "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright",
        )
        .unwrap();
        assert_eq!(v.to_string(), "7.2.19");
        assert!(
            v < QemuVersion {
                major: 9,
                minor: 1,
                micro: 0
            }
        );
        let v = parse_qemu_version("QEMU emulator version 10.1.0").unwrap();
        assert!(
            v >= QemuVersion {
                major: 10,
                minor: 1,
                micro: 0
            }
        );
        assert_eq!(parse_qemu_version("nonsense"), None);
    }
}
