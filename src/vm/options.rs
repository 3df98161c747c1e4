//! What a VM victim is started with: [`VmOptions`] and the `--accel` choice.

use std::path::PathBuf;
use std::time::Duration;

use super::{guest, CvmProfile};
use crate::victim::Mode;

/// `--accel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccelChoice {
    /// KVM when `/dev/kvm` is usable and the guest gets ready in [`super::KVM_TRY_TIMEOUT`], else TCG.
    Auto,
    /// KVM only.
    Kvm,
    /// TCG only.
    Tcg,
}

/// Everything [`super::VmVictim::start`] needs.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// The victim mode inside the guest.
    pub mode: Mode,
    /// The guest kernel; `None`: [`super::qemu::default_kernel`].
    pub kernel: Option<PathBuf>,
    /// How to run the guest's CPU.
    pub accel: AccelChoice,
    /// A confidential-VM profile.
    pub cvm: Option<CvmProfile>,
    /// Guest RAM in MiB; `None`: [`VmOptions::memory`]'s default.
    pub memory_mib: Option<u64>,
    /// How long the guest may take to become ready (per attempt, TCG).
    pub boot_timeout: Duration,
    /// A channel the guest's victim also sends its secret out on (`cvm-shared-io`).
    pub wire: Option<guest::Wire>,
    /// The guest runs its victim in new pid, mount, uts, ipc and net namespaces (a container
    /// in a pod VM, as Kata Containers runs one).
    pub guest_container: bool,
    /// Start from a saved booted guest when there is one, and save one after a boot
    /// ([`super::snapshot`]); `false`: always boot.
    pub snapshot: bool,
    /// Run the guest-side Yama probe with this `ptrace_scope` first ([`super::probe`]).
    pub guest_yama: Option<u8>,
}

impl VmOptions {
    /// Defaults: `auto` accel, 60 s boot timeout, the default kernel, no CVM, snapshots, the
    /// default memory ([`VmOptions::memory`]).
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            kernel: None,
            accel: AccelChoice::Auto,
            cvm: None,
            memory_mib: None,
            boot_timeout: Duration::from_secs(60),
            wire: None,
            guest_container: false,
            snapshot: true,
            guest_yama: None,
        }
    }
}

impl VmOptions {
    /// Guest RAM in MiB: as given, else 128 MiB (the kernel, the 8 MiB initramfs and a victim
    /// fit, and every dump of the guest stays small), or 256 MiB for a confidential VM (OVMF,
    /// and the bounce buffers SEV and TDX guests reserve for device I/O).
    pub fn memory(&self) -> u64 {
        self.memory_mib
            .unwrap_or(if self.cvm.is_some() { 256 } else { 128 })
    }
}
