//! Confidential-VM host facts: what an AMD SEV-SNP or Intel TDX guest needs from this host
//! (QEMU's version, KVM, the kernel modules' parameters, firmware), and the pure check
//! [`missing_requirements`] that lists each missing piece, so that doctor, the matrix and the
//! VM launcher say the same words. The QEMU arguments of a profile live in `vm::cvm`.
//!
//! Versions follow QEMU's `docs/system/i386/amd-memory-encryption.rst` (`sev-snp-guest`,
//! QEMU ≥ 9.1) and `docs/system/i386/tdx.rst` (`tdx-guest`, QEMU ≥ 10.1).

use std::path::{Path, PathBuf};

use super::qemu::QemuVersion;

use crate::i18n::Lang;
/// A confidential-VM technology (one enum, in [`crate::model`]).
pub use crate::model::CvmProfile;
use crate::model::Texts;

impl CvmProfile {
    /// The first QEMU release that supports it.
    pub fn min_qemu(&self) -> QemuVersion {
        match self {
            CvmProfile::SevSnp => QemuVersion {
                major: 9,
                minor: 1,
                micro: 0,
            },
            CvmProfile::Tdx => QemuVersion {
                major: 10,
                minor: 1,
                micro: 0,
            },
        }
    }
}

/// What a confidential-VM profile needs from the host, as plain data so that the requirement
/// check is a pure function. Built from the one host probe by `HostFacts::cvm_facts`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCvmFacts {
    /// QEMU's version, when QEMU was found.
    pub qemu: Option<QemuVersion>,
    /// `/dev/kvm` can be opened read-write.
    pub kvm: bool,
    /// `/sys/module/kvm_amd/parameters/sev_snp`, trimmed.
    pub kvm_amd_sev_snp: Option<String>,
    /// `/dev/sev` exists.
    pub dev_sev: bool,
    /// `/sys/module/kvm_intel/parameters/tdx`, trimmed.
    pub kvm_intel_tdx: Option<String>,
    /// OVMF firmware found, if any.
    pub ovmf: Option<PathBuf>,
}

/// Where distributions put an OVMF image usable with `-bios`.
pub const OVMF_PATHS: &[&str] = &[
    "/usr/share/ovmf/OVMF.fd",
    "/usr/share/OVMF/OVMF.fd",
    "/usr/share/qemu/OVMF.fd",
    "/usr/share/edk2/ovmf/OVMF.fd",
    "/usr/share/ovmf/OVMF.amdsev.fd",
    "/usr/share/ovmf/OVMF.inteltdx.fd",
];

/// The file facts of [`HostCvmFacts`] (everything but QEMU's version and KVM, which the host
/// probe holds once for every reader): read from this host.
pub fn gather_files() -> HostCvmFacts {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    HostCvmFacts {
        qemu: None,
        kvm: false,
        kvm_amd_sev_snp: read("/sys/module/kvm_amd/parameters/sev_snp"),
        dev_sev: Path::new("/dev/sev").exists(),
        kvm_intel_tdx: read("/sys/module/kvm_intel/parameters/tdx"),
        ovmf: std::env::var_os("CONFIDUMP_OVMF")
            .map(PathBuf::from)
            .or_else(|| OVMF_PATHS.iter().map(PathBuf::from).find(|p| p.is_file())),
    }
}

fn yes(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("Y" | "y" | "1"))
}

/// Each requirement of `profile` that `facts` lacks, as a phrase in both languages ("QEMU ≥ 9.1
/// (found 7.2.19)"). Empty when the host has everything.
pub fn missing_requirements(profile: CvmProfile, facts: &HostCvmFacts) -> Vec<Texts> {
    let mut missing = Vec::new();
    let min = profile.min_qemu();
    match facts.qemu {
        None => missing.push(Texts::new(
            format!("QEMU ≥ {}.{} (no QEMU found)", min.major, min.minor),
            format!(
                "QEMU {}.{} 以上（QEMU が見つからない）",
                min.major, min.minor
            ),
        )),
        Some(v) if v < min => missing.push(Texts::new(
            format!("QEMU ≥ {}.{} (found {v})", min.major, min.minor),
            format!("QEMU {}.{} 以上（この環境は {v}）", min.major, min.minor),
        )),
        Some(_) => {}
    }
    if !facts.kvm {
        missing.push(Texts::new("a usable /dev/kvm", "読み書きできる /dev/kvm"));
    }
    match profile {
        CvmProfile::SevSnp => {
            if !yes(&facts.kvm_amd_sev_snp) {
                let found = facts.kvm_amd_sev_snp.as_deref();
                missing.push(Texts::new(
                    format!(
                        "kvm_amd with SEV-SNP enabled (/sys/module/kvm_amd/parameters/sev_snp = Y; found {})",
                        found.unwrap_or("no kvm_amd module")
                    ),
                    format!(
                        "SEV-SNP を有効にした kvm_amd（/sys/module/kvm_amd/parameters/sev_snp が Y であること。{}）",
                        found.map_or("kvm_amd モジュールが読み込まれていない".to_string(), |v| format!("現在の値は {v}"))
                    ),
                ));
            }
            if !facts.dev_sev {
                missing.push(Texts::new(
                    "the AMD secure processor device /dev/sev",
                    "AMD セキュアプロセッサのデバイス /dev/sev",
                ));
            }
        }
        CvmProfile::Tdx => {
            if !yes(&facts.kvm_intel_tdx) {
                let found = facts.kvm_intel_tdx.as_deref();
                missing.push(Texts::new(
                    format!(
                        "kvm_intel with TDX enabled (/sys/module/kvm_intel/parameters/tdx = Y; found {})",
                        found.unwrap_or("no kvm_intel module")
                    ),
                    format!(
                        "TDX を有効にした kvm_intel（/sys/module/kvm_intel/parameters/tdx が Y であること。{}）",
                        found.map_or("kvm_intel モジュールが読み込まれていない".to_string(), |v| format!("現在の値は {v}"))
                    ),
                ));
            }
        }
    }
    if facts.ovmf.is_none() {
        missing.push(ovmf_missing());
    }
    missing
}

/// The OVMF firmware, as a missing requirement.
pub fn ovmf_missing() -> Texts {
    Texts::new(
        "OVMF firmware (apt-get install ovmf)",
        "OVMF ファームウェア（apt-get install ovmf）",
    )
}

/// The one-line message for a host that lacks `missing`.
pub fn not_available_message(profile: CvmProfile, missing: &[Texts]) -> Texts {
    let list = |lang: Lang, sep: &str| {
        missing
            .iter()
            .map(|m| m.get(lang))
            .collect::<Vec<_>>()
            .join(sep)
    };
    Texts::new(
        format!(
            "not available on this host: needs {} ({})",
            profile.title(),
            list(Lang::En, "; ")
        ),
        format!(
            "このホストでは利用できない。{} が必要（{}）。",
            profile.title(),
            list(Lang::Ja, "、")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kind_of_host_lacks_everything() {
        let facts = HostCvmFacts {
            qemu: Some(QemuVersion {
                major: 7,
                minor: 2,
                micro: 19,
            }),
            kvm: true,
            ..Default::default()
        };
        let m = missing_requirements(CvmProfile::SevSnp, &facts);
        assert_eq!(m.len(), 4, "{m:?}");
        assert!(m[0].en.contains("QEMU ≥ 9.1 (found 7.2.19)"));
        let msg = not_available_message(CvmProfile::SevSnp, &m);
        assert!(msg
            .en
            .starts_with("not available on this host: needs AMD SEV-SNP ("));
        assert!(
            msg.ja.contains("QEMU 9.1 以上（この環境は 7.2.19）"),
            "{}",
            msg.ja
        );
        let m = missing_requirements(CvmProfile::Tdx, &facts);
        assert!(m[0].en.contains("QEMU ≥ 10.1"));
        assert!(m.iter().any(|x| x.en.contains("kvm_intel")));
    }

    #[test]
    fn a_complete_snp_host() {
        let facts = HostCvmFacts {
            qemu: Some(QemuVersion {
                major: 9,
                minor: 2,
                micro: 0,
            }),
            kvm: true,
            kvm_amd_sev_snp: Some("Y".into()),
            dev_sev: true,
            kvm_intel_tdx: None,
            ovmf: Some("/usr/share/ovmf/OVMF.fd".into()),
        };
        assert!(missing_requirements(CvmProfile::SevSnp, &facts).is_empty());
        assert!(!missing_requirements(CvmProfile::Tdx, &facts).is_empty());
    }
}
