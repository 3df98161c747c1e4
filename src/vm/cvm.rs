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
}
