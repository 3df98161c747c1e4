//! The QEMU command line (a pure function, tested without QEMU). Finding QEMU, its version and
//! the guest kernel are host facts ([`crate::host::qemu`], re-exported here).

use std::path::PathBuf;

use super::cvm::CvmProfile;
pub use crate::host::qemu::{
    default_kernel, find_qemu, kernel_cache_dir, parse_qemu_version, qemu_version, QemuVersion,
    QEMU_BINARY,
};

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
/// With a `wire`, the guest's victim also sends its secret out on that channel; with
/// `container`, it runs in new namespaces (a pod VM's container).
// `no_timer_check`: under TCG on a loaded host the guest kernel's check of the 8254 timer
// fails ("..MP-BIOS bug: 8254 timer not connected") and it panics before /init; a VM has no
// such timer to check.
pub fn kernel_cmdline(mode: &str, container: bool, wire: Option<super::guest::Wire>) -> String {
    let container = if container { " --container" } else { "" };
    let wire = wire.map_or_else(String::new, |w| format!(" --wire {}", w.as_str()));
    format!(
        "console=ttyS0 panic=-1 quiet no_timer_check secretmem.enable=1 rdinit=/init -- guest-init --mode {mode}{container}{wire}"
    )
}

/// The kernel command line of a guest whose PID 1 waits for the host's start line
/// ([`super::start`]): the same for every victim, so one booted guest can be saved and
/// restored for any of them ([`super::snapshot`]).
pub fn await_cmdline() -> String {
    "console=ttyS0 panic=-1 quiet no_timer_check secretmem.enable=1 rdinit=/init -- guest-init --await".to_string()
}

/// The kernel command line of a guest: a confidential VM names its victim on it (it is never
/// saved and restored); every other guest waits for the host's start line.
pub fn guest_cmdline(
    cvm: bool,
    mode: &str,
    container: bool,
    wire: Option<super::guest::Wire>,
) -> String {
    if cvm {
        kernel_cmdline(mode, container, wire)
    } else {
        await_cmdline()
    }
}

/// TCG's translation buffer, in MiB (`-accel tcg,tb-size=`).
pub const TCG_TB_MIB: u32 = 64;

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
    /// `-incoming`: restore a saved guest ([`super::snapshot::incoming`]) instead of booting.
    pub incoming: Option<String>,
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
            push(&["-machine", "pc", "-m", &mem]);
            match plan.accel {
                Accel::Kvm => push(&["-accel", "kvm"]),
                // TCG's translation buffer is 1 GiB of anonymous memory in QEMU's process by
                // default, mapped whole and barely touched: every dump of QEMU (ours, gcore,
                // the scan of the core) walks it. 64 MiB is ample for one vCPU running this
                // small guest.
                Accel::Tcg => push(&["-accel", &format!("tcg,tb-size={TCG_TB_MIB}")]),
            }
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
    if let Some(i) = &plan.incoming {
        push(&["-incoming", i]);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tcg_args() {
        let plan = LaunchPlan {
            accel: Accel::Tcg,
            memory_mib: 256,
            kernel: "/k".into(),
            initrd: "/i".into(),
            cmdline: kernel_cmdline("plain", false, None),
            qmp_socket: "/d/qmp.sock".into(),
            cvm: None,
            incoming: None,
        };
        let a = qemu_args(&plan).join(" ");
        assert!(
            a.contains("-machine pc -m 256M -accel tcg,tb-size=64"),
            "{a}"
        );
        assert!(a.contains("-qmp unix:/d/qmp.sock,server=on,wait=off"));
        assert!(a.contains("-kernel /k -initrd /i"));
        assert!(!a.contains("-cpu host"));
        assert!(kernel_cmdline("plain", false, None).ends_with("-- guest-init --mode plain"));
        assert!(
            kernel_cmdline("secretmem", false, Some(super::super::guest::Wire::Console))
                .ends_with("-- guest-init --mode secretmem --wire console")
        );
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
