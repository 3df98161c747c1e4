//! Confidential-VM profiles: what QEMU needs to start an AMD SEV-SNP or Intel TDX guest, and
//! what the host must have first. On a host without the hardware, [`missing_requirements`]
//! lists each missing piece so the caller can say plainly why the profile is not available;
//! the argument list is still built by a pure function ([`machine_and_objects`]) and tested.
//!
//! Expected result on a real CVM host: private guest memory lives in `guest_memfd`, which QEMU
//! cannot map, so no host-side dump (of QEMU, through QMP, or live) holds the plaintext.
//!
//! Options follow QEMU's `docs/system/i386/amd-memory-encryption.rst` (`sev-snp-guest`,
//! QEMU ≥ 9.1) and `docs/system/i386/tdx.rst` (`tdx-guest`, QEMU ≥ 10.1).

use std::path::{Path, PathBuf};

use super::qemu::QemuVersion;

/// A confidential-VM technology (one enum, in [`crate::model`]).
pub use crate::model::CvmProfile;

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

/// The `-machine` value and the `-object`s of a profile, for `memory_mib` of guest RAM.
pub fn machine_and_objects(profile: CvmProfile, memory_mib: u64) -> (String, Vec<String>) {
    match profile {
        CvmProfile::SevSnp => (
            "q35,accel=kvm,confidential-guest-support=sev0,memory-backend=ram1".to_string(),
            vec![
                format!("memory-backend-memfd,id=ram1,size={memory_mib}M,share=true,prealloc=false"),
                // cbitpos 51 and reduced-phys-bits 1 are what current EPYC parts report
                // (CPUID 0x8000001F); a host with other values needs them adjusted.
                "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1".to_string(),
            ],
        ),
        CvmProfile::Tdx => (
            "q35,accel=kvm,kernel-irqchip=split,confidential-guest-support=tdx0,memory-backend=ram1"
                .to_string(),
            vec![
                format!("memory-backend-ram,id=ram1,size={memory_mib}M"),
                "tdx-guest,id=tdx0".to_string(),
            ],
        ),
    }
}

/// What the host offers, read from files (see [`HostCvmFacts::gather`]): kept as plain data so
/// that the requirement check is a pure function.
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

impl HostCvmFacts {
    /// Reads the facts from this host.
    pub fn gather(qemu: Option<QemuVersion>) -> Self {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
        };
        Self {
            qemu,
            kvm: std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/kvm")
                .is_ok(),
            kvm_amd_sev_snp: read("/sys/module/kvm_amd/parameters/sev_snp"),
            dev_sev: Path::new("/dev/sev").exists(),
            kvm_intel_tdx: read("/sys/module/kvm_intel/parameters/tdx"),
            ovmf: std::env::var_os("CONFIDUMP_OVMF")
                .map(PathBuf::from)
                .or_else(|| OVMF_PATHS.iter().map(PathBuf::from).find(|p| p.is_file())),
        }
    }
}

fn yes(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("Y" | "y" | "1"))
}

/// Each requirement of `profile` that `facts` lacks, as a phrase ("QEMU ≥ 9.1 (found 7.2.19)").
/// Empty when the host has everything.
pub fn missing_requirements(profile: CvmProfile, facts: &HostCvmFacts) -> Vec<String> {
    let mut missing = Vec::new();
    let min = profile.min_qemu();
    match facts.qemu {
        None => missing.push(format!(
            "QEMU ≥ {}.{} (no QEMU found)",
            min.major, min.minor
        )),
        Some(v) if v < min => {
            missing.push(format!("QEMU ≥ {}.{} (found {v})", min.major, min.minor))
        }
        Some(_) => {}
    }
    if !facts.kvm {
        missing.push("a usable /dev/kvm".to_string());
    }
    match profile {
        CvmProfile::SevSnp => {
            if !yes(&facts.kvm_amd_sev_snp) {
                missing.push(format!(
                    "kvm_amd with SEV-SNP enabled (/sys/module/kvm_amd/parameters/sev_snp = Y; found {})",
                    facts.kvm_amd_sev_snp.as_deref().unwrap_or("no kvm_amd module")
                ));
            }
            if !facts.dev_sev {
                missing.push("the AMD secure processor device /dev/sev".to_string());
            }
        }
        CvmProfile::Tdx => {
            if !yes(&facts.kvm_intel_tdx) {
                missing.push(format!(
                    "kvm_intel with TDX enabled (/sys/module/kvm_intel/parameters/tdx = Y; found {})",
                    facts.kvm_intel_tdx.as_deref().unwrap_or("no kvm_intel module")
                ));
            }
        }
    }
    if facts.ovmf.is_none() {
        missing.push("OVMF firmware (apt-get install ovmf)".to_string());
    }
    missing
}

/// The one-line message for a host that lacks `missing`.
pub fn not_available_message(profile: CvmProfile, missing: &[String]) -> String {
    format!(
        "not available on this host: needs {} ({})",
        profile.title(),
        missing.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snp_args() {
        let (m, o) = machine_and_objects(CvmProfile::SevSnp, 256);
        assert_eq!(
            m,
            "q35,accel=kvm,confidential-guest-support=sev0,memory-backend=ram1"
        );
        assert_eq!(
            o[0],
            "memory-backend-memfd,id=ram1,size=256M,share=true,prealloc=false"
        );
        assert_eq!(o[1], "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1");
    }

    #[test]
    fn tdx_args_in_qemu_command_line() {
        use crate::vm::qemu::{qemu_args, Accel, LaunchPlan};
        let plan = LaunchPlan {
            accel: Accel::Kvm,
            memory_mib: 512,
            kernel: "/k".into(),
            initrd: "/i".into(),
            cmdline: "x".into(),
            qmp_socket: "/q".into(),
            cvm: Some((CvmProfile::Tdx, "/usr/share/ovmf/OVMF.fd".into())),
        };
        let a = qemu_args(&plan).join(" ");
        assert!(a.contains("-machine q35,accel=kvm,kernel-irqchip=split,confidential-guest-support=tdx0,memory-backend=ram1"), "{a}");
        assert!(
            a.contains("-object memory-backend-ram,id=ram1,size=512M -object tdx-guest,id=tdx0")
        );
        assert!(a.contains("-bios /usr/share/ovmf/OVMF.fd"));
        assert!(a.contains("-cpu host"));
    }

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
        assert!(m[0].contains("QEMU ≥ 9.1 (found 7.2.19)"));
        let msg = not_available_message(CvmProfile::SevSnp, &m);
        assert!(msg.starts_with("not available on this host: needs AMD SEV-SNP ("));
        let m = missing_requirements(CvmProfile::Tdx, &facts);
        assert!(m[0].contains("QEMU ≥ 10.1"));
        assert!(m.iter().any(|x| x.contains("kvm_intel")));
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
