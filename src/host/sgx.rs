//! Intel SGX host facts: what an enclave needs from this host, and the one check
//! ([`sgx_missing`]) that doctor's `sgx` line and the `sgx` row's `n/a` reason both use.
//!
//! Prerequisites, as the kernel's in-tree driver (Linux ≥ 5.11) documents them
//! (`Documentation/arch/x86/sgx.rst`): the CPU flag `sgx`, flexible launch control (`sgx_lc`:
//! the driver refuses CPUs without it), the driver's device `/dev/sgx_enclave`, and the vDSO
//! entry `__vdso_sgx_enter_enclave` through which user space enters an enclave. The size of
//! the enclave page cache (EPC) is reported per NUMA node in
//! `/sys/devices/system/node/node*/x86/sgx_total_bytes` on kernels that have it.
//! `/dev/sgx_provision` is only needed for attestation keys, so it is reported, not required.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::model::Texts;

/// The vDSO symbol user space calls to enter an enclave.
pub const VDSO_ENTER: &str = "__vdso_sgx_enter_enclave";

/// What this host offers for SGX, as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SgxFacts {
    /// The CPU flag `sgx`.
    pub cpu_sgx: bool,
    /// The CPU flag `sgx_lc` (flexible launch control).
    pub cpu_sgx_lc: bool,
    /// `/dev/sgx_enclave`: None when absent, `Some(Ok)` when it opens read-write,
    /// `Some(Err(why))` when it exists but does not open.
    pub dev_enclave: Option<Result<(), String>>,
    /// `/dev/sgx_provision` exists (attestation only).
    pub dev_provision: bool,
    /// Whether our vDSO exports [`VDSO_ENTER`]; `None` when the vDSO could not be read.
    pub vdso_enter: Option<bool>,
    /// Total EPC bytes over all NUMA nodes; `None` when the kernel does not report it.
    pub epc_bytes: Option<u64>,
}

/// Reads the SGX facts (`cpu_flags` are the first CPU's flags from `/proc/cpuinfo`).
pub fn gather(cpu_flags: &[String]) -> SgxFacts {
    let flag = |f: &str| cpu_flags.iter().any(|x| x == f);
    SgxFacts {
        cpu_sgx: flag("sgx"),
        cpu_sgx_lc: flag("sgx_lc"),
        dev_enclave: crate::sgx::prereq::open_dev_enclave(),
        dev_provision: Path::new("/dev/sgx_provision").exists(),
        vdso_enter: vdso_exports(VDSO_ENTER),
        epc_bytes: epc_total(),
    }
}

/// The facts in the shape [`crate::sgx::prereq`] judges. That module holds the one verdict
/// (doctor's `sgx` line, the `sgx` rows' `n/a` reason and `victim --context sgx` all print its
/// words); this probe only gathers. A pure function of plain data, so it does not make the
/// probe depend on the SGX context's running parts.
pub fn as_prereq_facts(f: &SgxFacts) -> crate::sgx::prereq::SgxFacts {
    let mut cpu_flags = Vec::new();
    if f.cpu_sgx {
        cpu_flags.push("sgx".to_string());
    }
    if f.cpu_sgx_lc {
        cpu_flags.push("sgx_lc".to_string());
    }
    crate::sgx::prereq::SgxFacts {
        cpu_flags,
        dev_enclave: f.dev_enclave.clone(),
        vdso_enter: match f.vdso_enter {
            Some(true) => Ok(()),
            Some(false) => Err(format!("the vDSO does not export {VDSO_ENTER}")),
            None => Err("the vDSO could not be read".to_string()),
        },
        epc_bytes: f.epc_bytes,
    }
}

/// Each SGX prerequisite this host lacks, as a phrase ([`crate::sgx::prereq::evaluate`]'s).
/// Empty when an enclave can run here.
pub fn missing(f: &SgxFacts) -> Vec<String> {
    crate::sgx::prereq::evaluate(&as_prereq_facts(f))
        .into_iter()
        .filter_map(|p| p.result.err())
        .collect()
}

/// Why an enclave cannot run here (`not available on this host: needs SGX (…)`), if it cannot:
/// [`crate::sgx::unavailable_reason`]'s text, the one `victim --context sgx` prints.
pub fn sgx_missing(f: &SgxFacts) -> Option<Texts> {
    crate::sgx::prereq::unavailable_texts(&crate::sgx::prereq::evaluate(&as_prereq_facts(f)))
}

/// What doctor says when SGX is present.
pub fn sgx_present(f: &SgxFacts) -> Texts {
    let found: Vec<_> = crate::sgx::prereq::evaluate(&as_prereq_facts(f))
        .into_iter()
        .filter(|p| p.result.is_ok())
        .collect();
    let (en, ja): (Vec<String>, Vec<String>) = found
        .into_iter()
        .map(|p| (p.result.unwrap_or_default(), p.ja))
        .unzip();
    let provision = if f.dev_provision {
        Texts::new("/dev/sgx_provision present", "/dev/sgx_provision あり")
    } else {
        Texts::new(
            "no /dev/sgx_provision (attestation keys unavailable)",
            "/dev/sgx_provision なし（アテステーション鍵は使えない）",
        )
    };
    Texts::new(
        format!("{}; {}", en.join(", "), provision.en),
        format!("{}。{}", ja.join("、"), provision.ja),
    )
}

/// The sum of `sgx_total_bytes` over the NUMA nodes, when the kernel reports it.
fn epc_total() -> Option<u64> {
    let nodes = std::fs::read_dir("/sys/devices/system/node").ok()?;
    let mut total: Option<u64> = None;
    for n in nodes.flatten() {
        let p = n.path().join("x86/sgx_total_bytes");
        if let Some(v) = std::fs::read_to_string(&p)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            total = Some(total.unwrap_or(0).saturating_add(v));
        }
    }
    total
}

/// Whether this process's vDSO exports `symbol`: the `[vdso]` mapping is read through
/// `/proc/self/mem` and parsed as the ELF image it is. `None` when it cannot be read.
fn vdso_exports(symbol: &str) -> Option<bool> {
    let maps = crate::procfs::maps::read_maps(i32::try_from(std::process::id()).ok()?).ok()?;
    let vdso = maps.iter().find(|m| m.display_name() == "[vdso]")?;
    let len = usize::try_from(vdso.span.end.checked_sub(vdso.span.start)?).ok()?;
    // The vDSO is a few pages; anything larger is not what we expect.
    if len > (1 << 20) {
        return None;
    }
    let mut image = vec![0u8; len];
    let mut mem = std::fs::File::open("/proc/self/mem").ok()?;
    mem.seek(SeekFrom::Start(vdso.span.start)).ok()?;
    mem.read_exact(&mut image).ok()?;
    Some(elf_exports(&image, symbol))
}

/// Whether the ELF `image` has `symbol` in its dynamic symbol table.
pub fn elf_exports(image: &[u8], symbol: &str) -> bool {
    let Ok(elf) = goblin::elf::Elf::parse(image) else {
        return false;
    };
    elf.dynsyms
        .iter()
        .any(|s| elf.dynstrtab.get_at(s.st_name) == Some(symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kind_of_host_lacks_sgx() {
        let f = SgxFacts {
            vdso_enter: Some(true),
            ..Default::default()
        };
        let why = sgx_missing(&f).unwrap().en;
        assert!(
            why.starts_with("not available on this host: needs SGX (CPU flag sgx,"),
            "{why}"
        );
        assert!(why.contains("/dev/sgx_enclave"), "{why}");
        assert!(!why.contains(VDSO_ENTER), "{why}");
    }

    #[test]
    fn a_complete_host() {
        let f = SgxFacts {
            cpu_sgx: true,
            cpu_sgx_lc: true,
            dev_enclave: Some(Ok(())),
            dev_provision: false,
            vdso_enter: Some(true),
            epc_bytes: Some(64 << 20),
        };
        assert_eq!(sgx_missing(&f), None);
        assert!(
            sgx_present(&f).en.contains("EPC 64 MiB"),
            "{:?}",
            sgx_present(&f)
        );
        let none = SgxFacts {
            epc_bytes: Some(0),
            ..f
        };
        assert!(sgx_missing(&none).unwrap().en.contains("EPC memory"));
    }

    #[test]
    fn our_vdso_is_read() {
        // Every x86-64 vDSO exports __vdso_clock_gettime; SGX's entry depends on the kernel.
        assert_eq!(vdso_exports("__vdso_clock_gettime"), Some(true));
        assert_eq!(vdso_exports("no_such_symbol"), Some(false));
    }
}
