//! The host-side ready line of a VM victim ([`VmReady`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::start;
use crate::victim::ReadyLine;

/// The host-side ready line of a VM victim: the process victim's keys (with `pid` = QEMU's pid,
/// what the host attacker dumps, and `region` = the guest-virtual region) plus VM facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmReady {
    /// `event`, `pid` (QEMU), `mode`, `secret_sha256`, `secret_len`, `region` (guest-virtual).
    #[serde(flatten)]
    pub ready: ReadyLine,
    /// Always `vm`.
    pub context: String,
    /// QEMU's pid (same as `pid`).
    pub qemu_pid: i32,
    /// The QMP unix socket.
    pub qmp: PathBuf,
    /// `kvm` or `tcg`.
    pub accel: String,
    /// The victim's pid inside the guest.
    pub guest_pid: i32,
    /// Guest-physical address of each page of `region` (`None`: not present).
    pub guest_phys: Vec<Option<String>>,
    /// The guest kernel's release.
    pub guest_kernel: Option<String>,
    /// Seconds from starting QEMU to the guest's ready line (successful attempt).
    pub boot_secs: f64,
    /// How the guest started: `boot`, or `snapshot` (restored from a booted guest saved
    /// earlier, [`super::snapshot`]).
    #[serde(default = "booted")]
    pub started: String,
    /// What the guest-side Yama probe got ([`super::VmOptions::guest_yama`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yama_probe: Option<start::YamaProbe>,
}

fn booted() -> String {
    STARTED_BOOT.to_string()
}

/// [`VmReady::started`] of a guest that booted.
pub const STARTED_BOOT: &str = "boot";
/// [`VmReady::started`] of a guest restored from a snapshot.
pub const STARTED_SNAPSHOT: &str = "snapshot";

impl VmReady {
    /// The line as printed: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}
