//! Intel SGX on this host: the one probe ([`gather`]), as plain data ([`SgxFacts`]). The verdict
//! over it (what is missing, in words) is the sgx context's, `crate::sgx::facts`, so that
//! doctor's `sgx` line, the `sgx` row's `n/a` reason and `victim --context sgx` all say the same
//! words.
//!
//! Prerequisites, as the kernel's in-tree driver (Linux ≥ 5.11) documents them
//! (`Documentation/arch/x86/sgx.rst`): the CPU flag `sgx`, flexible launch control (`sgx_lc`:
//! the driver refuses CPUs without it), the driver's device `/dev/sgx_enclave`, and the vDSO
//! entry `__vdso_sgx_enter_enclave` through which user space enters an enclave. The size of
//! the enclave page cache (EPC) is reported per NUMA node in
//! `/sys/devices/system/node/node*/x86/sgx_total_bytes` on kernels that have it.
//! `/dev/sgx_provision` is only needed for attestation keys, so it is reported, not required.
//!
//! The vDSO is looked up by [`super::vdso`], the one vDSO lookup (the enclave's loader enters
//! through the address it finds); everything else here reads `/proc`, `/sys` and `/dev`.

use std::path::Path;

use super::vdso::{self, VdsoError};
use super::ProbeError;

/// The device the kernel's SGX driver offers (Linux 5.11+).
pub const DEV_SGX_ENCLAVE: &str = "/dev/sgx_enclave";

/// What this host offers for SGX, as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SgxFacts {
    /// The CPU flag `sgx`.
    pub cpu_sgx: bool,
    /// The CPU flag `sgx_lc` (flexible launch control).
    pub cpu_sgx_lc: bool,
    /// `/dev/sgx_enclave`: None when absent, `Some(Ok)` when it opens read-write,
    /// `Some(Err(why))` when it exists but does not open.
    pub dev_enclave: Option<Result<(), ProbeError>>,
    /// `/dev/sgx_provision` exists (attestation only).
    pub dev_provision: bool,
    /// Whether our vDSO exports [`ENTER_SYMBOL`]; `None` when the vDSO could not be read.
    pub vdso_enter: Option<bool>,
    /// Total EPC bytes over all NUMA nodes; `None` when the kernel does not report it.
    pub epc_bytes: Option<u64>,
}

/// Reads the SGX facts of this host.
pub fn gather() -> SgxFacts {
    let cpu_flags = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| super::cpuinfo_flags(&c))
        .unwrap_or_default();
    let flag = |f: &str| cpu_flags.iter().any(|x| x == f);
    SgxFacts {
        cpu_sgx: flag("sgx"),
        cpu_sgx_lc: flag("sgx_lc"),
        dev_enclave: open_dev_enclave(),
        dev_provision: Path::new("/dev/sgx_provision").exists(),
        vdso_enter: match vdso::find_enter() {
            Ok(_) => Some(true),
            Err(VdsoError::Missing(_)) => Some(false),
            Err(_) => None,
        },
        epc_bytes: epc_total_bytes(Path::new("/sys/devices/system/node")),
    }
}

/// `/dev/sgx_enclave` as an enclave needs it: None when absent, `Some(Ok)` when it opens
/// read-write (as `SGX_IOC_ENCLAVE_CREATE` needs), `Some(Err(why))` when it exists but does not.
fn open_dev_enclave() -> Option<Result<(), ProbeError>> {
    if !Path::new(DEV_SGX_ENCLAVE).exists() {
        return None;
    }
    Some(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(DEV_SGX_ENCLAVE)
            .map(drop)
            .map_err(|e| ProbeError::open(DEV_SGX_ENCLAVE, e)),
    )
}

/// Sum of `node*/x86/sgx_total_bytes` under `nodes`, or None when no node has the file.
pub fn epc_total_bytes(nodes: &Path) -> Option<u64> {
    let dir = std::fs::read_dir(nodes).ok()?;
    let mut total: Option<u64> = None;
    for entry in dir.flatten() {
        if !entry.file_name().to_string_lossy().starts_with("node") {
            continue;
        }
        let file = entry.path().join("x86").join("sgx_total_bytes");
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Ok(n) = text.trim().parse::<u64>() {
                total = Some(total.unwrap_or(0).saturating_add(n));
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epc_is_summed_over_nodes() {
        let d = tempfile::tempdir().unwrap();
        for (n, v) in [("node0", "1048576\n"), ("node1", "2097152\n")] {
            std::fs::create_dir_all(d.path().join(n).join("x86")).unwrap();
            std::fs::write(d.path().join(n).join("x86/sgx_total_bytes"), v).unwrap();
        }
        std::fs::create_dir_all(d.path().join("power")).unwrap();
        assert_eq!(epc_total_bytes(d.path()), Some(3 << 20));
        assert_eq!(epc_total_bytes(&d.path().join("power")), None);
    }

    #[test]
    fn our_vdso_is_read() {
        // Whether SGX's entry is there depends on the kernel; that the vDSO was read does not.
        assert!(gather().vdso_enter.is_some());
    }
}
