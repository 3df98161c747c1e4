//! What a host needs to run confidump's enclave, checked one prerequisite at a time:
//! gathered once ([`gather`]), judged by a pure function ([`evaluate`]), so that doctor, the
//! runner and `victim --context sgx` all say the same words.

use std::path::Path;

use crate::model::Texts;

/// One prerequisite and its verdict: `Ok(what was found)` or `Err(what is missing)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prerequisite {
    /// Short name (`cpu-sgx`, `sgx-lc`, `dev-sgx-enclave`, `vdso-enter`, `epc`).
    pub name: &'static str,
    /// Found, or what is missing (phrased to follow "needs").
    pub result: Result<String, String>,
    /// The same phrase in Japanese (what was found, or what is missing).
    pub ja: String,
}

/// The facts the verdicts are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SgxFacts {
    /// Flags of the first CPU in `/proc/cpuinfo`.
    pub cpu_flags: Vec<String>,
    /// `/dev/sgx_enclave`: None when absent, Some(Ok) when it opens read-write,
    /// Some(Err(reason)) when it exists but does not open.
    pub dev_enclave: Option<Result<(), String>>,
    /// The vDSO lookup: Ok when `__vdso_sgx_enter_enclave` is exported, Err(reason) otherwise.
    pub vdso_enter: Result<(), String>,
    /// Sum of `/sys/devices/system/node/node*/x86/sgx_total_bytes`, None when no node reports it.
    pub epc_bytes: Option<u64>,
}

/// The device the kernel's SGX driver offers (Linux 5.11+).
pub const DEV_SGX_ENCLAVE: &str = "/dev/sgx_enclave";

/// Reads the facts from this host.
pub fn gather() -> SgxFacts {
    let cpu_flags = std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| cpuinfo_flags(&t))
        .unwrap_or_default();
    let dev_enclave = open_dev_enclave();
    let vdso_enter = super::vdso::find_enter()
        .map(drop)
        .map_err(|e| e.to_string());
    SgxFacts {
        cpu_flags,
        dev_enclave,
        vdso_enter,
        epc_bytes: epc_total_bytes(Path::new("/sys/devices/system/node")),
    }
}

/// `/dev/sgx_enclave` as an enclave needs it: None when absent, `Some(Ok)` when it opens
/// read-write (as `SGX_IOC_ENCLAVE_CREATE` needs), `Some(Err(why))` when it exists but does not.
/// The one probe of the device: doctor, the runner and the victim all use it.
pub fn open_dev_enclave() -> Option<Result<(), String>> {
    if !Path::new(DEV_SGX_ENCLAVE).exists() {
        return None;
    }
    Some(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(DEV_SGX_ENCLAVE)
            .map(drop)
            .map_err(|e| e.to_string()),
    )
}

/// The flags of the first `flags` line of `/proc/cpuinfo` text.
pub fn cpuinfo_flags(cpuinfo: &str) -> Vec<String> {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "flags").then(|| v.split_whitespace().map(str::to_string).collect())
        })
        .unwrap_or_default()
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

/// The verdicts, in the order a reader checks them.
pub fn evaluate(f: &SgxFacts) -> Vec<Prerequisite> {
    let has = |flag: &str| f.cpu_flags.iter().any(|x| x == flag);
    let enter = super::vdso::ENTER_SYMBOL;
    let p = |name, result, ja: String| Prerequisite { name, result, ja };
    vec![
        if has("sgx") {
            p(
                "cpu-sgx",
                Ok("CPU flag sgx".into()),
                "CPU フラグ sgx".into(),
            )
        } else {
            p(
                "cpu-sgx",
                Err("CPU flag sgx".into()),
                "CPU フラグ sgx".into(),
            )
        },
        if has("sgx_lc") {
            p(
                "sgx-lc",
                Ok("flexible launch control (sgx_lc): any signing key".into()),
                "FLC（sgx_lc）あり。任意の署名鍵を使える".into(),
            )
        } else {
            p(
                "sgx-lc",
                Err("flexible launch control (CPU flag sgx_lc)".into()),
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
                Err(format!("{DEV_SGX_ENCLAVE} usable (open failed: {e})")),
                format!("使える {DEV_SGX_ENCLAVE}（open が失敗：{e}）"),
            ),
            None => p(
                "dev-sgx-enclave",
                Err(format!(
                    "{DEV_SGX_ENCLAVE} (Linux >= 5.11 with CONFIG_X86_SGX)"
                )),
                format!("{DEV_SGX_ENCLAVE}（CONFIG_X86_SGX を有効にした Linux 5.11 以降）"),
            ),
        },
        match &f.vdso_enter {
            Ok(()) => p(
                "vdso-enter",
                Ok(format!("vDSO exports {enter}")),
                format!("vDSO が {enter} を提供している"),
            ),
            Err(_) => p(
                "vdso-enter",
                Err(format!("{enter} in the vDSO")),
                format!("vDSO の {enter}"),
            ),
        },
        match f.epc_bytes {
            Some(0) => p(
                "epc",
                Err("EPC memory (sgx_total_bytes is 0 on every node)".into()),
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
                Err("EPC memory (no node reports sgx_total_bytes)".into()),
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
        let en: Vec<&str> = missing
            .iter()
            .filter_map(|p| p.result.as_ref().err().map(String::as_str))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_without_sgx_is_told_everything_it_lacks() {
        let facts = SgxFacts {
            cpu_flags: cpuinfo_flags("processor: 0\nflags\t\t: fpu sse2 avx\n"),
            dev_enclave: None,
            vdso_enter: Err("missing".into()),
            epc_bytes: None,
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
    fn an_sgx_host_passes() {
        let facts = SgxFacts {
            cpu_flags: cpuinfo_flags("flags : fpu sgx sgx_lc\n"),
            dev_enclave: Some(Ok(())),
            vdso_enter: Ok(()),
            epc_bytes: Some(64 << 20),
        };
        let p = evaluate(&facts);
        assert_eq!(unavailable_reason(&p), None, "{p:?}");
        assert_eq!(p.last().unwrap().result, Ok("EPC 64 MiB".to_string()));
        let no_lc = SgxFacts {
            cpu_flags: vec!["sgx".into()],
            ..facts
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
}
