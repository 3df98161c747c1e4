//! The sgx context's verdicts over the host's one SGX probe ([`crate::host::sgx::SgxFacts`]):
//! each prerequisite found or lacking ([`evaluate`]), and the one line doctor's `sgx` check,
//! the `sgx` row's `n/a` reason and `victim --context sgx` print ([`sgx_missing`],
//! [`unavailable_reason`]). Pure functions: the probe is `host/`'s.

use crate::host::sgx::{gather, SgxFacts, DEV_SGX_ENCLAVE};
use crate::host::vdso::ENTER_SYMBOL;
use crate::host::ProbeError;
use crate::model::Texts;

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
#[allow(clippy::unwrap_used)]
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
}
