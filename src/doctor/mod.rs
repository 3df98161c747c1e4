//! `confidump doctor`: what this host can demonstrate, and why not the rest.
//!
//! [`gather`] takes this process's one host probe ([`HostFacts::shared`]: doctor does no
//! probing of its own); [`evaluate`] is a pure function from those facts to a
//! [`DoctorReport`], tested on fake hosts. [`check_host`] does both. Every line's verdict and
//! text come from the verdict functions of [`crate::host`], the same ones the demo uses for
//! its `n/a` cells, so doctor and the demo always give the same reason.
//!
//! JSON shape (`confidump doctor --format json`):
//!
//! ```text
//! {"checks":[{"name":"memfd_secret","ok":true,"detail":"…","enables":"secretmem scenarios"},…],
//!  "summary":{"memfd_secret":{"ok":true,"reason":"…"},"sgx":{"ok":false,"reason":"…"},…}}
//! ```
//!
//! `summary` has one key per check name (`memfd_secret`, `ptrace`, `core_pattern`, `gdb`,
//! `qemu`, `kvm`, `guest_kernel`, `sgx`, `sev_snp`, `tdx`, `cvm_guest`, `unprivileged_user`,
//! `container_runtime`, `postgresql`) with the same
//! verdict and detail, for callers that look one up by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::host::{self, CvmProfile, HostFacts};
pub use crate::host::{cap_eff, cpuinfo_flags, TSM_REPORT};

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name (a key of the summary).
    pub name: &'static str,
    /// Whether the host can do it.
    pub ok: bool,
    /// Why (or why not), and the fix when there is one.
    pub detail: String,
    /// What it enables in the demo.
    pub enables: &'static str,
}

/// One summary entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryEntry {
    /// Same as the check's.
    pub ok: bool,
    /// The check's detail.
    pub reason: String,
}

/// The doctor's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// Every check, in display order.
    pub checks: Vec<Check>,
    /// The checks by name.
    pub summary: BTreeMap<&'static str, SummaryEntry>,
}

impl DoctorReport {
    /// The check called `name`.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
    /// Compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// Errors of the doctor.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// `--attest` outside a confidential VM.
    #[error(
        "not inside a confidential VM: needs /sys/kernel/config/tsm/report (SEV-SNP or TDX guest)"
    )]
    NotInCvm,
    /// A configfs-tsm step failed.
    #[error("configfs-tsm {what} {path}: {source}")]
    Tsm {
        /// The step.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The OS random source failed.
    #[error("the OS random source (getrandom) failed")]
    Random,
}

/// A check from a verdict: `missing` is the reason it fails (the text the demo shows too),
/// `present` what doctor says when it passes.
fn check(
    name: &'static str,
    missing: Option<String>,
    present: impl FnOnce() -> String,
    enables: &'static str,
) -> Check {
    Check {
        name,
        ok: missing.is_none(),
        detail: missing.unwrap_or_else(present),
        enables,
    }
}

/// The verdicts, from the facts only (the lazily probed ones, QEMU's version and the
/// unprivileged user, are probed here if nobody asked before).
pub fn evaluate(f: &HostFacts) -> DoctorReport {
    let mut checks = vec![check(
        "memfd_secret",
        host::memfd_secret_missing(f),
        || format!("memfd_secret works (kernel {})", f.kernel_release),
        "secretmem scenarios",
    )];
    let (ok, detail) = host::ptrace_verdict(f);
    checks.push(Check {
        name: "ptrace",
        ok,
        detail,
        enables: "dump and live-read columns",
    });
    checks.push(check(
        "core_pattern",
        host::kernel_core_unusable(f),
        || host::kernel_core_usable(f),
        "kernel core column",
    ));
    checks.push(check(
        "gdb",
        host::gcore_missing(f),
        || {
            let show = |p: &Option<PathBuf>| p.as_deref().map(Path::display).map(|d| d.to_string());
            format!(
                "{} and {}",
                show(&f.gdb).unwrap_or_default(),
                show(&f.gcore).unwrap_or_default()
            )
        },
        "gcore column",
    ));
    checks.push(check(
        "qemu",
        host::qemu_missing(f),
        || match (&f.qemu, f.qemu_version()) {
            (Ok(q), Some(v)) => format!("{} version {v}", q.display()),
            (Ok(q), None) => format!("{} (version unknown)", q.display()),
            (Err(e), _) => e.clone(),
        },
        "VM rows",
    ));
    checks.push(check(
        "kvm",
        host::kvm_unusable(f),
        || "/dev/kvm opens read-write; whether a Linux guest boots under it (nested KVM may hang) is untested: --accel auto falls back to TCG".to_string(),
        "faster VM rows",
    ));
    checks.push(check(
        "guest_kernel",
        host::guest_kernel_missing(f),
        || match &f.guest_kernel {
            Ok(k) => k.display().to_string(),
            Err(e) => e.clone(),
        },
        "VM rows",
    ));
    checks.push(check(
        "sgx",
        host::sgx::sgx_missing(&f.sgx),
        || host::sgx::sgx_present(&f.sgx),
        "SGX row",
    ));
    for (name, profile) in [("sev_snp", CvmProfile::SevSnp), ("tdx", CvmProfile::Tdx)] {
        checks.push(check(
            name,
            host::cvm_missing(profile, f),
            || {
                format!(
                    "{} host support present (QEMU, KVM, firmware)",
                    profile.title()
                )
            },
            "CVM rows (no plaintext in host-side dumps)",
        ));
    }
    checks.push(cvm_guest_check(f));
    checks.push(check(
        "unprivileged_user",
        host::unprivileged_missing(f),
        || match f.unprivileged() {
            Ok(u) => format!("{} (uid {}) can run confidump", u.name, u.uid),
            Err(e) => e.clone(),
        },
        "same-uid column",
    ));
    checks.push(check(
        "container_runtime",
        host::container_runtime_missing(f),
        || {
            [&f.runc, &f.crun]
                .iter()
                .filter_map(|p| p.as_ref().map(|p| p.display().to_string()))
                .collect::<Vec<_>>()
                .join(" and ")
        },
        "container rows",
    ));
    checks.push(check(
        "postgresql",
        host::postgres_missing(f),
        || match &f.postgres {
            Ok(d) => format!("initdb, pg_ctl and postgres in {}", d.display()),
            Err(e) => e.clone(),
        },
        "database rows",
    ));

    let summary = checks
        .iter()
        .map(|c| {
            (
                c.name,
                SummaryEntry {
                    ok: c.ok,
                    reason: c.detail.clone(),
                },
            )
        })
        .collect();
    DoctorReport { checks, summary }
}

/// Inside a confidential VM (what `--attest` needs): each guest device, and configfs-tsm.
fn cvm_guest_check(f: &HostFacts) -> Check {
    let inside: Vec<&str> = [
        (f.dev_sev_guest, "/dev/sev-guest"),
        (f.dev_tdx_guest, "/dev/tdx_guest"),
        (f.tsm_report, TSM_REPORT),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, what)| *what)
    .collect();
    let detail = if inside.is_empty() {
        // The same sentences as the `sev-snp` / `tdx` scenario requirements.
        let why: Vec<String> = [CvmProfile::SevSnp, CvmProfile::Tdx]
            .iter()
            .filter_map(|p| host::cvm_guest_missing(*p, f))
            .collect();
        format!(
            "not inside a confidential VM (no configfs-tsm): {}",
            why.join("; ")
        )
    } else if f.tsm_report {
        format!("inside a confidential VM: {}", inside.join(", "))
    } else {
        format!(
            "guest device {} but no configfs-tsm (mount configfs on /sys/kernel/config)",
            inside.join(", ")
        )
    };
    Check {
        name: "cvm_guest",
        ok: f.tsm_report,
        detail,
        enables: "doctor --attest",
    }
}

/// This process's host probe (gathered once, shared with every other reader).
pub fn gather() -> Arc<HostFacts> {
    HostFacts::shared()
}

/// Checks this host: [`gather`] then [`evaluate`].
pub fn check_host() -> DoctorReport {
    evaluate(&gather())
}

/// An attestation report from configfs-tsm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attestation {
    /// Who produced it (`sev_guest`, `tdx_guest`).
    pub provider: String,
    /// The 64-byte nonce bound into the report (hex).
    pub nonce: String,
    /// The report (base64).
    pub outblob: String,
}

/// Fetches a configfs-tsm report for a fresh random nonce: mkdir under
/// [`TSM_REPORT`], write `inblob`, read `outblob` and `provider`, rmdir.
pub fn attest() -> Result<Attestation, DoctorError> {
    use base64::Engine;
    let base = Path::new(TSM_REPORT);
    if !base.is_dir() {
        return Err(DoctorError::NotInCvm);
    }
    let mut nonce = [0u8; 64];
    getrandom::getrandom(&mut nonce).map_err(|_| DoctorError::Random)?;
    let entry = base.join(format!("confidump-{}", hex::encode(&nonce[..8])));
    let err = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| DoctorError::Tsm { what, path, source }
    };
    std::fs::create_dir(&entry).map_err(err("mkdir", &entry))?;
    let result = (|| {
        let inblob = entry.join("inblob");
        std::fs::write(&inblob, nonce).map_err(err("writing", &inblob))?;
        let outblob = entry.join("outblob");
        let report = std::fs::read(&outblob).map_err(err("reading", &outblob))?;
        let provider = entry.join("provider");
        let provider = std::fs::read_to_string(&provider).map_err(err("reading", &provider))?;
        Ok(Attestation {
            provider: provider.trim().to_string(),
            nonce: hex::encode(nonce),
            outblob: base64::engine::general_purpose::STANDARD.encode(report),
        })
    })();
    let _ = std::fs::remove_dir(&entry);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_host() {
        let r = evaluate(&HostFacts::sample());
        assert!(r.get("memfd_secret").unwrap().ok);
        assert!(r.get("ptrace").unwrap().ok);
        assert!(r.get("gdb").unwrap().ok);
        assert!(r.get("core_pattern").unwrap().ok);
        let sgx = r.get("sgx").unwrap();
        assert!(!sgx.ok);
        assert!(sgx.detail.contains("/dev/sgx_enclave"), "{}", sgx.detail);
        assert!(!r.summary["sev_snp"].ok);
        assert!(r.summary["sev_snp"]
            .reason
            .contains("QEMU ≥ 9.1 (found 7.2.19)"));
        assert!(r.summary["tdx"]
            .reason
            .starts_with("not available on this host: needs Intel TDX"));
        assert!(!r.get("cvm_guest").unwrap().ok);
        assert!(r.get("unprivileged_user").unwrap().ok);
        assert!(!r.get("postgresql").unwrap().ok);
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["checks"][0]["name"], "memfd_secret");
        assert_eq!(j["summary"]["sgx"]["ok"], false);
    }

    #[test]
    fn old_kernel_and_no_caps() {
        let mut h = HostFacts::sample();
        h.memfd_secret = Err("memfd_secret is not available (ENOSYS): secretmem is disabled on this kernel (secretmem.enable=0; it is off by default before Linux 6.5): boot with secretmem.enable=1".into());
        h.kernel_release = "6.1.0-57-cloud-amd64".into();
        h.cap_eff = Some(0);
        h.yama_ptrace_scope = Some("1".into());
        h.core_pattern = Some("|/usr/lib/systemd/systemd-coredump %P".into());
        h.gcore = None;
        let r = evaluate(&h);
        let m = r.get("memfd_secret").unwrap();
        assert!(
            !m.ok && m.detail.contains("secretmem.enable=1"),
            "{}",
            m.detail
        );
        assert!(!r.get("ptrace").unwrap().ok);
        assert!(!r.get("core_pattern").unwrap().ok);
        assert!(!r.get("gdb").unwrap().ok);
    }
}
