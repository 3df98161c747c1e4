//! Intel SGX on this host: the one probe ([`gather`]) and the one verdict ([`evaluate`], and
//! [`sgx_missing`] / [`sgx_present`] over it), so that doctor's `sgx` line, the `sgx` row's
//! `n/a` reason and `victim --context sgx` all say the same words.
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

use super::vdso::{self, VdsoError, ENTER_SYMBOL};
use super::ProbeError;
use crate::model::Texts;

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

/// What an SGX prerequisite lacks, phrased to follow "needs" (`needs SGX (CPU flag sgx, …)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lacking {
    /// No CPU flag `sgx`.
    #[error("CPU flag sgx")]
    CpuSgx,
    /// No flexible launch control.
    #[error("flexible launch control (CPU flag sgx_lc)")]
    LaunchControl,
    /// `/dev/sgx_enclave` exists but does not open read-write.
    #[error("{DEV_SGX_ENCLAVE} usable (open failed: {0})")]
    DeviceUnusable(ProbeError),
    /// No `/dev/sgx_enclave`.
    #[error("{DEV_SGX_ENCLAVE} (Linux >= 5.11 with CONFIG_X86_SGX)")]
    NoDevice,
    /// The vDSO does not export [`ENTER_SYMBOL`], or could not be read.
    #[error("{ENTER_SYMBOL} in the vDSO")]
    NoVdsoEnter,
    /// Every NUMA node reports an EPC of 0 bytes.
    #[error("EPC memory (sgx_total_bytes is 0 on every node)")]
    EpcEmpty,
    /// No NUMA node reports its EPC, and the device does not open.
    #[error("EPC memory (no node reports sgx_total_bytes)")]
    EpcUnreported,
}

/// One prerequisite and its verdict: `Ok(what was found)` or `Err(what is missing)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisite {
    /// Short name (`cpu-sgx`, `sgx-lc`, `dev-sgx-enclave`, `vdso-enter`, `epc`).
    pub name: &'static str,
    /// Found, or what is missing.
    pub result: Result<String, Lacking>,
    /// The same phrase in Japanese (what was found, or what is missing).
    pub ja: String,
}

/// The verdicts, in the order a reader checks them.
pub fn evaluate(f: &SgxFacts) -> Vec<Prerequisite> {
    let enter = ENTER_SYMBOL;
    let p = |name, result, ja: String| Prerequisite { name, result, ja };
    vec![
        if f.cpu_sgx {
            p(
                "cpu-sgx",
                Ok("CPU flag sgx".into()),
                "CPU フラグ sgx".into(),
            )
        } else {
            p("cpu-sgx", Err(Lacking::CpuSgx), "CPU フラグ sgx".into())
        },
        if f.cpu_sgx_lc {
            p(
                "sgx-lc",
                Ok("flexible launch control (sgx_lc): any signing key".into()),
                "FLC（sgx_lc）あり。任意の署名鍵を使える".into(),
            )
        } else {
            p(
                "sgx-lc",
                Err(Lacking::LaunchControl),
                "FLC（CPU フラグ sgx_lc）".into(),
            )
        },
        match &f.dev_enclave {
            Some(Ok(())) => p(
                "dev-sgx-enclave",
                Ok(format!("{DEV_SGX_ENCLAVE} opens read-write")),
                format!("{DEV_SGX_ENCLAVE} を読み書きで開ける"),
            ),
            Some(Err(e)) => p(
                "dev-sgx-enclave",
                Err(Lacking::DeviceUnusable(e.clone())),
                format!("使える {DEV_SGX_ENCLAVE}（open が失敗：{e}）"),
            ),
            None => p(
                "dev-sgx-enclave",
                Err(Lacking::NoDevice),
                format!("{DEV_SGX_ENCLAVE}（CONFIG_X86_SGX を有効にした Linux 5.11 以降）"),
            ),
        },
        match f.vdso_enter {
            Some(true) => p(
                "vdso-enter",
                Ok(format!("vDSO exports {enter}")),
                format!("vDSO が {enter} を提供している"),
            ),
            // Not exported, or the vDSO could not be read: either way, no entry.
            Some(false) | None => p(
                "vdso-enter",
                Err(Lacking::NoVdsoEnter),
                format!("vDSO の {enter}"),
            ),
        },
        match f.epc_bytes {
            Some(0) => p(
                "epc",
                Err(Lacking::EpcEmpty),
                "EPC メモリ（どの NUMA ノードも sgx_total_bytes が 0）".into(),
            ),
            Some(n) => p(
                "epc",
                Ok(format!("EPC {} MiB", n / (1024 * 1024))),
                format!("EPC {} MiB", n / (1024 * 1024)),
            ),
            // Kernels before 6.0 do not report it; the device's presence decides then.
            None if matches!(f.dev_enclave, Some(Ok(()))) => p(
                "epc",
                Ok("EPC size not reported by this kernel".into()),
                "このカーネルは EPC のサイズを報告しない".into(),
            ),
            None => p(
                "epc",
                Err(Lacking::EpcUnreported),
                "EPC メモリ（sgx_total_bytes を報告する NUMA ノードがない）".into(),
            ),
        },
    ]
}

/// Every prerequisite of this host, gathered and judged.
pub fn prerequisites() -> Vec<Prerequisite> {
    evaluate(&gather())
}

/// None when everything is there; else the one line doctor, the runner's `n/a` and the victim
/// print: `not available on this host: needs SGX (CPU flag sgx, ...)`.
pub fn unavailable_reason(prereqs: &[Prerequisite]) -> Option<String> {
    unavailable_texts(prereqs).map(|t| t.en)
}

/// [`unavailable_reason`] in both languages.
pub fn unavailable_texts(prereqs: &[Prerequisite]) -> Option<Texts> {
    let missing: Vec<&Prerequisite> = prereqs.iter().filter(|p| p.result.is_err()).collect();
    (!missing.is_empty()).then(|| {
        let en: Vec<String> = missing
            .iter()
            .filter_map(|p| p.result.as_ref().err().map(Lacking::to_string))
            .collect();
        let ja: Vec<&str> = missing.iter().map(|p| p.ja.as_str()).collect();
        Texts::new(
            format!("not available on this host: needs SGX ({})", en.join(", ")),
            format!(
                "このホストでは利用できない。SGX が必要（{}）。",
                ja.join("、")
            ),
        )
    })
}

/// Why an enclave cannot run here (`not available on this host: needs SGX (…)`), if it cannot:
/// what [`crate::host::Requirement::Sgx`] and doctor's `sgx` line say.
pub fn sgx_missing(f: &SgxFacts) -> Option<Texts> {
    unavailable_texts(&evaluate(f))
}

/// What doctor says when SGX is present.
pub fn sgx_present(f: &SgxFacts) -> Texts {
    let found: Vec<_> = evaluate(f)
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
        assert!(!why.contains(ENTER_SYMBOL), "{why}");
    }

    #[test]
    fn a_host_without_sgx_is_told_everything_it_lacks() {
        let flags = crate::host::cpuinfo_flags("processor: 0\nflags\t\t: fpu sse2 avx\n");
        let facts = SgxFacts {
            cpu_sgx: flags.iter().any(|f| f == "sgx"),
            cpu_sgx_lc: flags.iter().any(|f| f == "sgx_lc"),
            vdso_enter: None,
            ..Default::default()
        };
        let p = evaluate(&facts);
        assert!(p.iter().all(|x| x.result.is_err()), "{p:?}");
        let r = unavailable_reason(&p).unwrap();
        assert!(
            r.starts_with("not available on this host: needs SGX ("),
            "{r}"
        );
        for w in [
            "CPU flag sgx",
            "sgx_lc",
            "/dev/sgx_enclave",
            "__vdso_sgx_enter_enclave",
            "EPC",
        ] {
            assert!(r.contains(w), "{w} in {r}");
        }
        let ja = unavailable_texts(&p).unwrap().ja;
        assert!(
            ja.starts_with("このホストでは利用できない。SGX が必要（CPU フラグ sgx、"),
            "{ja}"
        );
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
        let p = evaluate(&f);
        assert_eq!(p.last().unwrap().result, Ok("EPC 64 MiB".to_string()));
        assert!(
            sgx_present(&f).en.contains("EPC 64 MiB"),
            "{:?}",
            sgx_present(&f)
        );
        let none = SgxFacts {
            epc_bytes: Some(0),
            ..f.clone()
        };
        assert!(sgx_missing(&none).unwrap().en.contains("EPC memory"));
        let no_lc = SgxFacts {
            cpu_sgx_lc: false,
            ..f
        };
        let r = unavailable_reason(&evaluate(&no_lc)).unwrap();
        assert!(r.contains("sgx_lc") && !r.contains("CPU flag sgx,"), "{r}");
    }

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
