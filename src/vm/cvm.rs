//! Confidential-VM profiles: what QEMU needs to start an AMD SEV-SNP or Intel TDX guest. What
//! the host must have first is a host fact ([`crate::host::cvm`], re-exported here); the
//! argument list is built by a pure function ([`machine_and_objects`]) and tested.
//!
//! Expected result on a real CVM host: private guest memory lives in `guest_memfd`, which QEMU
//! cannot map, so no host-side dump (of QEMU, through QMP, or live) holds the plaintext.
//!
//! Options follow QEMU's `docs/system/i386/amd-memory-encryption.rst` (`sev-snp-guest`,
//! QEMU ≥ 9.1) and `docs/system/i386/tdx.rst` (`tdx-guest`, QEMU ≥ 10.1).

pub use crate::host::cvm::{
    missing_requirements, not_available_message, CvmProfile, HostCvmFacts, OVMF_PATHS,
};

/// Where each option of the TDX command line comes from: the first QEMU release that has it
/// and the QEMU document that says so (`docs/system/i386/tdx.rst`, the `Since:` lines of
/// `qapi/qom.json`). No packaged QEMU on Debian 12 knows `tdx-guest` (bookworm-backports has
/// 10.0), so beyond `tests/cvm_qemu.rs` seeing 10.0 reject exactly that object type, the TDX
/// line is checked against these documents only. The SEV-SNP line is parsed by a real QEMU.
pub const TDX_OPTION_ORIGINS: &[(&str, &str)] = &[
    (
        "-object tdx-guest,id=tdx0",
        "QEMU 10.1: the tdx-guest object (tdx.rst, \"Launching a TD\"; qom.json TdxGuestProperties)",
    ),
    (
        "-machine confidential-guest-support=tdx0",
        "QEMU 6.0: the machine property SEV, PEF, s390 PV and TDX share (tdx.rst shows it)",
    ),
    (
        "-machine kernel-irqchip=split",
        "QEMU 2.5; a TD requires it (tdx.rst, \"Restrictions\"; 10.1 picks it for TDX when left on auto)",
    ),
    (
        "-machine memory-backend=ram1",
        "QEMU 5.0: guest RAM from a named memory backend",
    ),
    (
        "-object memory-backend-ram",
        "QEMU 2.1 (qom.json MemoryBackendProperties); a TD's private memory is guest_memfd, which QEMU adds itself",
    ),
    (
        "-bios OVMF.fd",
        "TDVF (OVMF) is loaded with -bios, not as pflash: TDX has no read-only memslots (tdx.rst, \"TDVF\")",
    ),
    (
        "-cpu host, accel=kvm",
        "a TD runs only under KVM with KVM_X86_TDX_VM (tdx.rst, \"Prerequisites\", \"Launching a TD\")",
    ),
];

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
        // Each option's QEMU release: TDX_OPTION_ORIGINS.
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
            incoming: None,
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
    fn every_tdx_option_has_its_origin() {
        let (m, o) = machine_and_objects(CvmProfile::Tdx, 256);
        let known = |word: &str| TDX_OPTION_ORIGINS.iter().any(|(opt, _)| opt.contains(word));
        for part in m.split(',').skip(1).chain(o.iter().map(String::as_str)) {
            let word = part.split([',', '=']).next().unwrap();
            assert!(known(word), "no recorded origin for TDX option {part}");
        }
        assert!(known("-bios") && known("-cpu host"));
    }
}
