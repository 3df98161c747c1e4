//! The one list each of attack paths, victim modes and confidential-VM technologies: their
//! serde strings are the JSON and scenario-file spellings.

use serde::{Deserialize, Serialize};

/// An attack path: one column of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AttackKind {
    /// confidump's own dump (every mapping, `dd` ones included), then a scan of the core.
    #[serde(rename = "dump")]
    Dump,
    /// gdb's `gcore` with its defaults, then a scan of the core.
    #[serde(rename = "gcore")]
    Gcore,
    /// The kernel's core dump (SIGQUIT, RLIMIT_CORE raised), then a scan of the core.
    #[serde(rename = "kernel")]
    Kernel,
    /// A live read of the process (`process_vm_readv`, `/proc/PID/mem`).
    #[serde(rename = "live")]
    Live,
    /// The hypervisor's own dump of a VM guest's memory (QMP `dump-guest-memory`), the tool a
    /// cloud operator has (`virsh dump --memory-only`); only for a victim inside a VM.
    #[serde(rename = "qmp")]
    Qmp,
    /// A live read by an attacker with the victim's uid, not root.
    #[serde(rename = "same-uid")]
    SameUid,
    /// What the victim sent out on a channel the host reads (a VM guest's serial console), as
    /// the host received it: memory encryption never covers it.
    #[serde(rename = "wire")]
    Wire,
    /// A checkpoint of the victim's container by CRIU (`runc checkpoint`, the kubelet's
    /// checkpoint API), which writes every page to disk; only for a victim in an OCI container.
    #[serde(rename = "checkpoint")]
    Checkpoint,
    /// A scan of a database server's data directory after a `CHECKPOINT`: what a stolen disk
    /// or backup gives away; only for a victim in the service context.
    #[serde(rename = "disk")]
    Disk,
    /// Root's dump and live read of a service's client process (the application that holds
    /// the key in the client-encrypted store); only for a victim in the service context.
    #[serde(rename = "client")]
    Client,
    /// A process in a sibling container of the victim's pod (or, `node-debug`, a pod with
    /// `hostPID`), started with the kernel's real namespaces and capability sets as
    /// [`PodAttacker`] says, reading the victim with the same code as `scan --pid`; only for a
    /// victim in a container.
    #[serde(rename = "pod")]
    Pod,
}

impl AttackKind {
    /// Every path, in column order.
    pub const ALL: [AttackKind; 11] = [
        AttackKind::Dump,
        AttackKind::Gcore,
        AttackKind::Kernel,
        AttackKind::Live,
        AttackKind::Qmp,
        AttackKind::Wire,
        AttackKind::SameUid,
        AttackKind::Pod,
        AttackKind::Checkpoint,
        AttackKind::Disk,
        AttackKind::Client,
    ];

    /// The column name in tables, JSON and scenario files.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttackKind::Dump => "dump",
            AttackKind::Gcore => "gcore",
            AttackKind::Kernel => "kernel",
            AttackKind::Live => "live",
            AttackKind::Qmp => "qmp",
            AttackKind::SameUid => "same-uid",
            AttackKind::Wire => "wire",
            AttackKind::Checkpoint => "checkpoint",
            AttackKind::Disk => "disk",
            AttackKind::Client => "client",
            AttackKind::Pod => "pod",
        }
    }
}

impl std::fmt::Display for AttackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AttackKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttackKind::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown attack path {s:?}"))
    }
}

impl PartialEq<str> for AttackKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AttackKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Who the `pod` column's attacker is: a process of another container in the victim's pod, or
/// of a node-debugging pod. Each is uid 0, as containers run unless `runAsUser` says otherwise;
/// what differs is the pid namespace it shares and the capabilities it holds, which is what
/// the kernel's ptrace access check reads. The scenario key `pod = "..."` names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodAttacker {
    /// A sidecar in the victim's pod (`shareProcessNamespace: true`) with the container
    /// runtime's default capability set (containerd's and Docker's: no `CAP_SYS_PTRACE`).
    Sidecar,
    /// The same sidecar with `securityContext.capabilities.add: [SYS_PTRACE]`, as debugging
    /// sidecars and `kubectl debug --profile=general` get it.
    SidecarPtrace,
    /// `kubectl debug node/…` and many monitoring agents: a pod with `hostPID: true` that holds
    /// `CAP_SYS_PTRACE` and nothing else; it sees the victim by its node PID.
    NodeDebug,
}

impl PodAttacker {
    /// Every variant, in help order.
    pub const ALL: [PodAttacker; 3] = [
        PodAttacker::Sidecar,
        PodAttacker::SidecarPtrace,
        PodAttacker::NodeDebug,
    ];

    /// The name in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            PodAttacker::Sidecar => "sidecar",
            PodAttacker::SidecarPtrace => "sidecar-ptrace",
            PodAttacker::NodeDebug => "node-debug",
        }
    }

    /// Whether the attacker joins the victim's pid namespace (a sidecar) rather than staying
    /// in the node's (`hostPID`).
    pub fn shares_pod_pid_namespace(self) -> bool {
        !matches!(self, PodAttacker::NodeDebug)
    }

    /// Its capability set (permitted = effective; inheritable, ambient and the bounding set
    /// are cut to it), as bits of `CapPrm`.
    pub fn capabilities(self) -> u64 {
        match self {
            PodAttacker::Sidecar => RUNTIME_DEFAULT_CAPS,
            PodAttacker::SidecarPtrace => RUNTIME_DEFAULT_CAPS | CAP_SYS_PTRACE,
            PodAttacker::NodeDebug => CAP_SYS_PTRACE,
        }
    }
}

/// `CAP_SYS_PTRACE` as a bit of a capability set.
pub const CAP_SYS_PTRACE: u64 = 1 << 19;

/// The capability set containerd and Docker give a container by default (containerd's
/// `oci.defaultUnixCaps`, Docker's `DefaultCapabilities`): CHOWN, DAC_OVERRIDE, FOWNER,
/// FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD,
/// AUDIT_WRITE, SETFCAP.
pub const RUNTIME_DEFAULT_CAPS: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 10)
    | (1 << 13)
    | (1 << 18)
    | (1 << 27)
    | (1 << 29)
    | (1 << 31);

impl std::str::FromStr for PodAttacker {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PodAttacker::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown pod attacker {s:?}"))
    }
}

/// A victim mode: where the victim stores its secret and where it processes it. The one list
/// of modes: scenario files (`mode = "..."`), `victim --mode`, the guest's init and the VM
/// options all use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VictimMode {
    /// Heap secret, processed on ordinary stacks: everything leaks.
    Plain,
    /// `MADV_DONTDUMP` + `mlock` mapping (+ `PR_SET_DUMPABLE=0`), processed on a stack inside it.
    DontDump,
    /// `memfd_secret` mapping, processed on a stack inside it.
    SecretMem,
    /// Pitfall: `memfd_secret` mapping, but processed on the ordinary stack and heap, so
    /// fragments of the secret leak while the region itself reads as `????`.
    Residue,
    /// Pitfall: ordinary heap, `PR_SET_DUMPABLE=0` only: a same-uid attacker is refused,
    /// root is not.
    Undumpable,
    /// An SGX enclave (`victim --context sgx`), built and loaded by [`crate::sgx`].
    Sgx,
    /// Pitfall: an enclave laid out the way SDK simulation modes do, in ordinary memory.
    #[serde(rename = "sgx-sim")]
    SgxSim,
}

impl VictimMode {
    /// Every mode this build can start as a process (`victim --mode`), in help order.
    pub const RUNNABLE: [VictimMode; 6] = [
        VictimMode::Plain,
        VictimMode::DontDump,
        VictimMode::SecretMem,
        VictimMode::Residue,
        VictimMode::Undumpable,
        VictimMode::SgxSim,
    ];

    /// The name on the command line, in scenario files and in the ready line.
    pub fn as_str(&self) -> &'static str {
        match self {
            VictimMode::Plain => "plain",
            VictimMode::DontDump => "dontdump",
            VictimMode::SecretMem => "secretmem",
            VictimMode::Residue => "residue",
            VictimMode::Undumpable => "undumpable",
            VictimMode::Sgx => "sgx",
            VictimMode::SgxSim => "sgx-sim",
        }
    }

    /// The `victim --mode` value, or None when confidump has no such victim.
    pub fn victim_arg(&self) -> Option<&'static str> {
        Self::RUNNABLE.contains(self).then(|| self.as_str())
    }

    /// What the mode does, in one line (`victim --help`).
    pub fn help(&self) -> &'static str {
        match self {
            VictimMode::Plain => "Ordinary heap, ordinary stack: any dump or live read finds it",
            VictimMode::DontDump => "MADV_DONTDUMP + mlock + non-dumpable, processed inside: dumps skip it, live reads do not",
            VictimMode::SecretMem => "memfd_secret, processed inside: the kernel refuses every read of it",
            VictimMode::Residue => "Pitfall: memfd_secret storage but processed on the ordinary stack/heap: fragments leak",
            VictimMode::Undumpable => "Pitfall: ordinary heap + PR_SET_DUMPABLE=0: stops a same-uid attacker, not root",
            VictimMode::Sgx => "An SGX enclave (victim --context sgx --mode plain)",
            VictimMode::SgxSim => "Pitfall: how SDK simulation mode lays out an enclave: ordinary memory",
        }
    }
}

impl std::str::FromStr for VictimMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [VictimMode::Sgx]
            .into_iter()
            .chain(VictimMode::RUNNABLE)
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown victim mode {s:?}"))
    }
}

/// A confidential-VM technology: the one list used by scenario files (`cvm = "..."`),
/// `victim --cvm` and the VM launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CvmProfile {
    /// AMD SEV-SNP.
    #[serde(rename = "sev-snp")]
    SevSnp,
    /// Intel TDX.
    #[serde(rename = "tdx")]
    Tdx,
}

impl CvmProfile {
    /// Both, in help order.
    pub const ALL: [CvmProfile; 2] = [CvmProfile::SevSnp, CvmProfile::Tdx];

    /// `sev-snp` or `tdx`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CvmProfile::SevSnp => "sev-snp",
            CvmProfile::Tdx => "tdx",
        }
    }
    /// The technology's name in messages.
    pub fn title(&self) -> &'static str {
        match self {
            CvmProfile::SevSnp => "AMD SEV-SNP",
            CvmProfile::Tdx => "Intel TDX",
        }
    }
}

impl std::str::FromStr for CvmProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CvmProfile::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown confidential-VM profile {s:?}"))
    }
}

/// Where the container comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Namespaces made by confidump itself (`clone(2)`).
    Namespaces,
    /// The OCI reference runtime (`runc`).
    Runc,
    /// The OCI runtime in C (`crun`).
    Crun,
}

impl Runtime {
    /// Every runtime, default first.
    pub const ALL: [Runtime; 3] = [Runtime::Namespaces, Runtime::Runc, Runtime::Crun];

    /// The name on the command line and in the ready line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Runtime::Namespaces => "namespaces",
            Runtime::Runc => "runc",
            Runtime::Crun => "crun",
        }
    }

    /// The program of an OCI runtime (`None` for namespaces).
    pub fn program(&self) -> Option<&'static str> {
        match self {
            Runtime::Namespaces => None,
            Runtime::Runc => Some("runc"),
            Runtime::Crun => Some("crun"),
        }
    }

    /// The distribution package that provides it (`None` for namespaces).
    pub fn package(&self) -> Option<&'static str> {
        self.program()
    }
}

/// A channel the guest's victim also sends its secret out on: the `cvm-shared-io` pitfall. In
/// a confidential VM the guest's private memory is encrypted, but what it writes to a device
/// crosses shared, unencrypted pages (the serial port's I/O is handed to the host through the
/// GHCB or a TDVMCALL; virtio buffers bounce through swiotlb), so the host reads it in plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wire {
    /// One line on the serial console (`ttyS0`, port I/O), which QEMU delivers to the host.
    Console,
}

impl Wire {
    /// Its name on command lines and in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Console => "console",
        }
    }

    /// Parses [`Wire::as_str`]'s names.
    pub fn parse(s: &str) -> Result<Self, WireError> {
        match s {
            "console" => Ok(Wire::Console),
            "virtio-serial" => Err(WireError::NotBuilt),
            other => Err(WireError::Unknown(other.to_string())),
        }
    }
}

/// A channel name [`Wire::parse`] does not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A channel that is planned but not built.
    #[error("virtio-serial is not built yet (the guest would need virtio_console.ko in its initramfs): use console")]
    NotBuilt,
    /// No such channel.
    #[error("unknown channel {0:?}: the one built is console")]
    Unknown(String),
}
