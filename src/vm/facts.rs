//! What this host's facts mean for the vm context: pure verdicts over [`HostFacts`] (QEMU, the
//! guest kernel, KVM, the confidential-VM hardware), each the one sentence doctor prints and a
//! VM row's `n/a` cell says.

use crate::host::cvm::{self, CvmProfile};
use crate::host::HostFacts;
use crate::model::Texts;
use crate::scenario::Spec;

/// Why no VM victim can start here: QEMU missing.
pub fn qemu_missing(f: &HostFacts) -> Option<Texts> {
    f.qemu.as_ref().err().map(|what| {
        Texts::new(
            format!("needs QEMU: apt-get install qemu-system-x86 ({what})"),
            format!("QEMU が必要（{what}）。apt-get install qemu-system-x86 で入る。"),
        )
    })
}

/// Why no VM victim can start here: no guest kernel.
pub fn guest_kernel_missing(f: &HostFacts) -> Option<Texts> {
    f.guest_kernel.as_ref().err().map(|what| {
        let fetch = &f.fetch_kernel;
        Texts::new(
            format!("needs a guest kernel ({what}): run {fetch} or pass --kernel"),
            format!("ゲストカーネルが必要（{what}）。{fetch} を実行するか、--kernel で指定する。"),
        )
    })
}

/// Why KVM cannot be used (VM rows then run under TCG).
pub fn kvm_unusable(f: &HostFacts) -> Option<Texts> {
    f.kvm.as_ref().err().map(|e| {
        Texts::new(
            format!("/dev/kvm cannot be opened read-write: {e}: VM rows run under TCG (slower, same result)"),
            format!("/dev/kvm を読み書きで開けない（{e}）。VM の行は TCG で動く（遅いが結果は同じ）。"),
        )
    })
}

/// Why a confidential VM of `profile` cannot start here.
pub fn cvm_missing(profile: CvmProfile, f: &HostFacts) -> Option<Texts> {
    let missing = cvm::missing_requirements(profile, &f.cvm_facts());
    (!missing.is_empty()).then(|| cvm::not_available_message(profile, &missing))
}

/// Why a VM row (with its confidential-VM profile, if any) cannot run here: QEMU, then the
/// profile's hardware, then the guest kernel.
pub fn vm_row_unavailable(profile: Option<CvmProfile>, f: &HostFacts) -> Option<Texts> {
    qemu_missing(f)
        .or_else(|| profile.and_then(|p| cvm_missing(p, f)))
        .or_else(|| guest_kernel_missing(f))
}

/// Why we are not inside a confidential guest of `profile`.
pub fn cvm_guest_missing(profile: CvmProfile, f: &HostFacts) -> Option<Texts> {
    let (present, dev) = match profile {
        CvmProfile::SevSnp => (f.dev_sev_guest, "/dev/sev-guest"),
        CvmProfile::Tdx => (f.dev_tdx_guest, "/dev/tdx_guest"),
    };
    (!present).then(|| {
        Texts::new(
            format!(
                "not inside an {} guest: needs {dev} (run confidump inside the guest)",
                profile.title()
            ),
            format!(
                "{} のゲストの中ではない。{dev} が必要（confidump をゲストの中で実行する）。",
                profile.title()
            ),
        )
    })
}

/// Whether a `cvm_fallback` row runs here as a normal VM (this host lacks its CVM hardware).
pub fn falls_back(spec: &Spec, f: &HostFacts) -> bool {
    spec.cvm_fallback && vm_row_unavailable(spec.cvm, f).is_some()
}

/// The CVM profile a VM row runs with here: its own, or none (a normal VM) for a row with
/// `cvm_fallback` on a host that lacks the hardware.
pub fn cvm_to_run(spec: &Spec, f: &HostFacts) -> Option<CvmProfile> {
    if falls_back(spec, f) {
        None
    } else {
        spec.cvm
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vm_rows() {
        let mut f = HostFacts::sample();
        assert_eq!(vm_row_unavailable(None, &f), None);
        let snp = vm_row_unavailable(Some(CvmProfile::SevSnp), &f).unwrap().en;
        assert!(snp.contains("QEMU ≥ 9.1 (found 7.2.19)"), "{snp}");
        f.guest_kernel = Err("nothing".into());
        assert!(vm_row_unavailable(None, &f)
            .unwrap()
            .en
            .starts_with("needs a guest kernel (nothing)"));
        // An installed confidump names the packaged script: one command, no source tree.
        f.fetch_kernel = "/usr/share/confidump/fetch-guest-kernel.sh".into();
        assert!(vm_row_unavailable(None, &f)
            .unwrap()
            .en
            .ends_with("run /usr/share/confidump/fetch-guest-kernel.sh or pass --kernel"));
        f.qemu = Err("no qemu".into());
        assert!(vm_row_unavailable(None, &f)
            .unwrap()
            .en
            .starts_with("needs QEMU"));
    }
}
