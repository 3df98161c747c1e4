//! Finding QEMU and the guest kernel, and the QEMU command line (a pure function, tested
//! without QEMU).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::cvm::CvmProfile;

/// The QEMU system emulator we run.
pub const QEMU_BINARY: &str = "qemu-system-x86_64";

/// How the guest's CPU is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm`.
    Kvm,
    /// QEMU's software emulator: slower, always there.
    Tcg,
}

impl Accel {
    /// `kvm` or `tcg`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

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
/// override must not silently fall back), else `qemu-system-x86_64` on `PATH`.
pub fn find_qemu() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CONFIDUMP_QEMU") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(QEMU_BINARY))
        .find(|p| p.is_file())
}

/// Runs `QEMU --version` and parses it.
pub fn qemu_version(qemu: &Path) -> Option<QemuVersion> {
    let out = Command::new(qemu).arg("--version").output().ok()?;
    parse_qemu_version(&String::from_utf8_lossy(&out.stdout))
}

/// Where `scripts/fetch-guest-kernel.sh` puts the guest kernel:
/// `$CONFIDUMP_GUEST_KERNEL_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/confidump/guest-kernel`.
pub fn kernel_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CONFIDUMP_GUEST_KERNEL_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("confidump").join("guest-kernel"))
}

/// The guest kernel when none is named: the host's `/boot/vmlinuz-$(uname -r)` if readable,
/// else the fetched one in [`kernel_cache_dir`].
pub fn default_kernel() -> Option<PathBuf> {
    if let Ok(u) = nix::sys::utsname::uname() {
        let p = PathBuf::from(format!("/boot/vmlinuz-{}", u.release().to_string_lossy()));
        if std::fs::File::open(&p).is_ok() {
            return Some(p);
        }
    }
    let p = kernel_cache_dir()?.join("vmlinuz");
    std::fs::File::open(&p).is_ok().then_some(p)
}

/// The version in the kernel image's header (`6.1.0-57-cloud-amd64 (…) #1 SMP …`), from the
/// bzImage setup header: bytes 0x202 `HdrS`, then at 0x20e the offset (minus 0x200) of a
/// NUL-terminated version string. `None` for anything else.
pub fn kernel_release(image: &[u8]) -> Option<String> {
    if image.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let off = u16::from_le_bytes([*image.get(0x20e)?, *image.get(0x20f)?]);
    let start = usize::from(off).checked_add(0x200)?;
    let bytes = image.get(start..start.checked_add(256)?)?;
    let end = bytes.iter().position(|&b| b == 0)?;
    let text = std::str::from_utf8(bytes.get(..end)?).ok()?;
    text.split_whitespace().next().map(str::to_string)
}

/// Kernels before 6.5 keep `memfd_secret` off unless `secretmem.enable=1` (harmless after).
pub fn kernel_cmdline(mode: &str) -> String {
    format!(
        "console=ttyS0 panic=-1 quiet secretmem.enable=1 rdinit=/init -- guest-init --mode {mode}"
    )
}

/// Everything the QEMU command line depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    /// KVM or TCG.
    pub accel: Accel,
    /// Guest RAM in MiB.
    pub memory_mib: u64,
    /// The guest kernel.
    pub kernel: PathBuf,
    /// The initramfs confidump built.
    pub initrd: PathBuf,
    /// The kernel command line.
    pub cmdline: String,
    /// The QMP unix socket QEMU listens on.
    pub qmp_socket: PathBuf,
    /// A confidential-VM profile, with its firmware.
    pub cvm: Option<(CvmProfile, PathBuf)>,
}

/// The QEMU arguments (without the program name). The serial console is QEMU's stdio, which
/// the host side holds as pipes; `-nodefaults` leaves out every device we did not ask for.
pub fn qemu_args(plan: &LaunchPlan) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    push(&[
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ]);
    let mem = format!("{}M", plan.memory_mib);
    match &plan.cvm {
        None => {
            // `-M pc` boots the Debian cloud kernel reliably; microvm is ~1 s faster but its
            // power-off path depends on ACPI support that varies across QEMU versions.
            push(&["-machine", &format!("pc,accel={}", plan.accel.as_str())]);
            push(&["-m", &mem]);
        }
        Some((profile, ovmf)) => {
            let (machine, objects) = super::cvm::machine_and_objects(*profile, plan.memory_mib);
            push(&["-machine", &machine, "-m", &mem]);
            for o in &objects {
                push(&["-object", o]);
            }
            push(&["-bios", &ovmf.to_string_lossy()]);
        }
    }
    if plan.accel == Accel::Kvm {
        push(&["-cpu", "host"]);
    }
    push(&["-smp", "1"]);
    push(&["-kernel", &plan.kernel.to_string_lossy()]);
    push(&["-initrd", &plan.initrd.to_string_lossy()]);
    push(&["-append", &plan.cmdline]);
    push(&["-chardev", "stdio,id=con0,signal=off"]);
    push(&["-device", "isa-serial,chardev=con0"]);
    let qmp = format!(
        "unix:{},server=on,wait=off",
        plan.qmp_socket.to_string_lossy()
    );
    push(&["-qmp", &qmp]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn plain_tcg_args() {
        let plan = LaunchPlan {
            accel: Accel::Tcg,
            memory_mib: 256,
            kernel: "/k".into(),
            initrd: "/i".into(),
            cmdline: kernel_cmdline("plain"),
            qmp_socket: "/d/qmp.sock".into(),
            cvm: None,
        };
        let a = qemu_args(&plan).join(" ");
        assert!(a.contains("-machine pc,accel=tcg -m 256M"), "{a}");
        assert!(a.contains("-qmp unix:/d/qmp.sock,server=on,wait=off"));
        assert!(a.contains("-kernel /k -initrd /i"));
        assert!(!a.contains("-cpu host"));
        assert!(kernel_cmdline("plain").ends_with("-- guest-init --mode plain"));
    }

    #[test]
    fn kernel_release_from_header() {
        let mut img = vec![0u8; 0x1000];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x20e..0x210].copy_from_slice(&0x300u16.to_le_bytes());
        img[0x500..0x516].copy_from_slice(b"6.1.0-57-cloud (x) #1\0");
        assert_eq!(kernel_release(&img).as_deref(), Some("6.1.0-57-cloud"));
        assert_eq!(kernel_release(&[0; 16]), None);
    }
}
