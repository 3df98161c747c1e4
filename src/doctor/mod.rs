//! `confidump doctor`: what this host can demonstrate, and why not the rest.
//!
//! [`gather`] reads the host (files under `/proc`, `/sys`, `/dev`, a `memfd_secret` probe,
//! programs on `PATH`) into plain [`HostInputs`]; [`evaluate`] is a pure function from those
//! inputs to a [`DoctorReport`], tested on fixtures. [`check_host`] does both.
//!
//! JSON shape (`confidump doctor --format json`):
//!
//! ```text
//! {"checks":[{"name":"memfd_secret","ok":true,"detail":"…","enables":"secretmem scenarios"},…],
//!  "summary":{"memfd_secret":{"ok":true,"reason":"…"},"sgx":{"ok":false,"reason":"…"},…}}
//! ```
//!
//! `summary` has one key per check name (`memfd_secret`, `ptrace`, `core_pattern`, `gdb`,
//! `qemu`, `kvm`, `guest_kernel`, `sgx`, `sev_snp`, `tdx`, `cvm_guest`) with the same
//! verdict and detail, for callers that look one up by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::vm::cvm::{self, CvmProfile, HostCvmFacts};
use crate::vm::qemu::{self, QemuVersion};

/// Result of calling `memfd_secret(0)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemfdProbe {
    /// It returned a descriptor (closed again).
    Works,
    /// ENOSYS: not built in, or (before 6.5) not enabled with `secretmem.enable=1`.
    Enosys,
    /// Another error.
    Failed(String),
}

/// Everything the doctor looks at, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInputs {
    /// The `memfd_secret` probe.
    pub memfd_secret: MemfdProbe,
    /// The running kernel's release.
    pub kernel_release: String,
    /// `/proc/sys/kernel/yama/ptrace_scope`, if present.
    pub yama_ptrace_scope: Option<String>,
    /// Effective uid.
    pub euid: u32,
    /// `/proc/self/status`, if readable.
    pub proc_status: Option<String>,
    /// `/proc/sys/kernel/core_pattern`.
    pub core_pattern: Option<String>,
    /// `gdb` on PATH.
    pub gdb: Option<PathBuf>,
    /// `gcore` on PATH.
    pub gcore: Option<PathBuf>,
    /// QEMU, if found.
    pub qemu: Option<PathBuf>,
    /// `/dev/kvm` open result (`Err` text when it failed).
    pub kvm: Result<(), String>,
    /// The guest kernel confidump would boot.
    pub guest_kernel: Option<PathBuf>,
    /// `/dev/sgx_enclave` exists.
    pub sgx_enclave: bool,
    /// `/dev/sgx_provision` exists.
    pub sgx_provision: bool,
    /// The `flags` of the first CPU in `/proc/cpuinfo`.
    pub cpu_flags: Vec<String>,
    /// SEV-SNP / TDX host facts.
    pub cvm: HostCvmFacts,
    /// `/dev/sev-guest` exists (inside an SEV-SNP guest).
    pub dev_sev_guest: bool,
    /// `/dev/tdx_guest` exists (inside a TDX guest).
    pub dev_tdx_guest: bool,
    /// `/sys/kernel/config/tsm/report` exists (configfs-tsm attestation).
    pub tsm_report: bool,
}

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

/// CAP_SYS_PTRACE's bit in the capability sets.
const CAP_SYS_PTRACE: u32 = 19;

/// The `CapEff` mask of a `/proc/PID/status` text.
pub fn cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// The flags of the first CPU in a `/proc/cpuinfo` text.
pub fn cpuinfo_flags(cpuinfo: &str) -> Vec<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Kernel release `6.1.0-57-cloud-amd64` → (6, 1).
fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

/// The verdicts, from inputs only.
pub fn evaluate(h: &HostInputs) -> DoctorReport {
    let mut checks = Vec::new();
    let flag = |f: &str| h.cpu_flags.iter().any(|x| x == f);

    let (ok, detail) = match &h.memfd_secret {
        MemfdProbe::Works => (
            true,
            format!("memfd_secret(0) works (kernel {})", h.kernel_release),
        ),
        MemfdProbe::Enosys => {
            let hint = match release_version(&h.kernel_release) {
                Some(v) if v < (6, 5) => "boot with secretmem.enable=1 (off by default before 6.5)",
                _ => "the kernel lacks CONFIG_SECRETMEM or it is disabled",
            };
            (
                false,
                format!(
                    "memfd_secret(0): ENOSYS (kernel {}): {hint}",
                    h.kernel_release
                ),
            )
        }
        MemfdProbe::Failed(e) => (false, format!("memfd_secret(0) failed: {e}")),
    };
    checks.push(Check {
        name: "memfd_secret",
        ok,
        detail,
        enables: "secretmem scenarios",
    });

    let caps = h.proc_status.as_deref().and_then(cap_eff);
    let has_ptrace_cap = caps.is_some_and(|c| c & (1 << CAP_SYS_PTRACE) != 0);
    let scope = h.yama_ptrace_scope.as_deref().map(str::trim);
    let (ok, why) = match scope {
        Some("3") => (
            false,
            "yama ptrace_scope=3: ptrace is disabled for everyone until reboot".to_string(),
        ),
        Some("2") if !has_ptrace_cap => (
            false,
            "yama ptrace_scope=2: only CAP_SYS_PTRACE may attach, and we lack it".to_string(),
        ),
        _ if has_ptrace_cap => (
            true,
            "CAP_SYS_PTRACE: may attach to and read any process".to_string(),
        ),
        Some("1") => (
            false,
            "yama ptrace_scope=1 without CAP_SYS_PTRACE: only descendants (run as root)"
                .to_string(),
        ),
        _ => (
            true,
            "same-uid processes only (no CAP_SYS_PTRACE; run as root for the full demo)"
                .to_string(),
        ),
    };
    checks.push(Check {
        name: "ptrace",
        ok,
        detail: format!(
            "euid {}, yama ptrace_scope {}, {why}",
            h.euid,
            scope.unwrap_or("absent")
        ),
        enables: "dump and live-read columns",
    });

    let (ok, detail) = match h.core_pattern.as_deref().map(str::trim) {
        None => (false, "cannot read /proc/sys/kernel/core_pattern".to_string()),
        Some(p) if p.starts_with('|') => (
            false,
            format!("core_pattern pipes cores to a helper ({p}): kernel cores do not land in a file we can scan"),
        ),
        Some(p) => (true, format!("core_pattern {p:?}: kernel cores are written as files")),
    };
    checks.push(Check {
        name: "core_pattern",
        ok,
        detail,
        enables: "kernel core column",
    });

    let (ok, detail) = match (&h.gdb, &h.gcore) {
        (Some(g), Some(c)) => (true, format!("{} and {}", g.display(), c.display())),
        (Some(g), None) => (
            false,
            format!("{} but no gcore on PATH: apt-get install gdb", g.display()),
        ),
        _ => (false, "no gdb on PATH: apt-get install gdb".to_string()),
    };
    checks.push(Check {
        name: "gdb",
        ok,
        detail,
        enables: "gcore column",
    });

    let (ok, detail) = match (&h.qemu, h.cvm.qemu) {
        (Some(q), Some(v)) => (true, format!("{} version {v}", q.display())),
        (Some(q), None) => (true, format!("{} (version unknown)", q.display())),
        (None, _) => (
            false,
            "no qemu-system-x86_64: apt-get install qemu-system-x86".to_string(),
        ),
    };
    checks.push(Check {
        name: "qemu",
        ok,
        detail,
        enables: "VM rows",
    });

    let (ok, detail) = match &h.kvm {
        Ok(()) => (
            true,
            "/dev/kvm opens read-write; whether a Linux guest boots under it (nested KVM may hang) is untested: --accel auto falls back to TCG".to_string(),
        ),
        Err(e) => (false, format!("/dev/kvm: {e}: VM rows run under TCG (slower, same result)")),
    };
    checks.push(Check {
        name: "kvm",
        ok,
        detail,
        enables: "faster VM rows",
    });

    let (ok, detail) = match &h.guest_kernel {
        Some(k) => (true, format!("{}", k.display())),
        None => (
            false,
            "no guest kernel: run scripts/fetch-guest-kernel.sh or pass --kernel".to_string(),
        ),
    };
    checks.push(Check {
        name: "guest_kernel",
        ok,
        detail,
        enables: "VM rows",
    });

    let mut missing = Vec::new();
    if !flag("sgx") {
        missing.push("CPU flag sgx");
    }
    if !flag("sgx_lc") {
        missing.push("flexible launch control (sgx_lc)");
    }
    if !h.sgx_enclave {
        missing.push("/dev/sgx_enclave");
    }
    if !h.sgx_provision {
        missing.push("/dev/sgx_provision");
    }
    checks.push(Check {
        name: "sgx",
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            "SGX with launch control, /dev/sgx_enclave and /dev/sgx_provision".to_string()
        } else {
            format!(
                "not available on this host: needs Intel SGX ({})",
                missing.join("; ")
            )
        },
        enables: "SGX row",
    });

    for (name, profile) in [("sev_snp", CvmProfile::SevSnp), ("tdx", CvmProfile::Tdx)] {
        let missing = cvm::missing_requirements(profile, &h.cvm);
        checks.push(Check {
            name,
            ok: missing.is_empty(),
            detail: if missing.is_empty() {
                format!(
                    "{} host support present (QEMU, KVM, firmware)",
                    profile.title()
                )
            } else {
                cvm::not_available_message(profile, &missing)
            },
            enables: "CVM rows (no plaintext in host-side dumps)",
        });
    }

    let inside: Vec<&str> = [
        (h.dev_sev_guest, "/dev/sev-guest"),
        (h.dev_tdx_guest, "/dev/tdx_guest"),
        (h.tsm_report, "/sys/kernel/config/tsm/report"),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, what)| *what)
    .collect();
    checks.push(Check {
        name: "cvm_guest",
        ok: h.tsm_report,
        detail: if inside.is_empty() {
            "not inside a confidential VM (no /dev/sev-guest, /dev/tdx_guest or configfs-tsm)"
                .to_string()
        } else if h.tsm_report {
            format!("inside a confidential VM: {}", inside.join(", "))
        } else {
            format!(
                "guest device {} but no configfs-tsm (mount configfs on /sys/kernel/config)",
                inside.join(", ")
            )
        },
        enables: "doctor --attest",
    });

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

/// Calls `memfd_secret(0)` (syscall 447 on x86-64) and closes the result.
pub fn probe_memfd_secret() -> MemfdProbe {
    // SAFETY: memfd_secret takes one flags integer and returns a new fd or -1; no memory is
    // passed to the kernel.
    let fd = unsafe { libc::syscall(libc::SYS_memfd_secret, 0) };
    if fd >= 0 {
        if let Ok(fd) = i32::try_from(fd) {
            // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
            unsafe { libc::close(fd) };
        }
        return MemfdProbe::Works;
    }
    match nix::errno::Errno::last() {
        nix::errno::Errno::ENOSYS => MemfdProbe::Enosys,
        e => MemfdProbe::Failed(e.to_string()),
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Reads this host into [`HostInputs`].
pub fn gather() -> HostInputs {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let qemu = qemu::find_qemu();
    let qemu_version: Option<QemuVersion> = qemu.as_deref().and_then(qemu::qemu_version);
    HostInputs {
        memfd_secret: probe_memfd_secret(),
        kernel_release: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        yama_ptrace_scope: read("/proc/sys/kernel/yama/ptrace_scope"),
        euid: nix::unistd::geteuid().as_raw(),
        proc_status: read("/proc/self/status"),
        core_pattern: read("/proc/sys/kernel/core_pattern"),
        gdb: on_path("gdb"),
        gcore: on_path("gcore"),
        qemu,
        kvm: std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .map(|_| ())
            .map_err(|e| e.to_string()),
        guest_kernel: qemu::default_kernel(),
        sgx_enclave: Path::new("/dev/sgx_enclave").exists(),
        sgx_provision: Path::new("/dev/sgx_provision").exists(),
        cpu_flags: read("/proc/cpuinfo")
            .map(|c| cpuinfo_flags(&c))
            .unwrap_or_default(),
        cvm: HostCvmFacts::gather(qemu_version),
        dev_sev_guest: Path::new("/dev/sev-guest").exists(),
        dev_tdx_guest: Path::new("/dev/tdx_guest").exists(),
        tsm_report: Path::new(TSM_REPORT).is_dir(),
    }
}

/// Checks this host: [`gather`] then [`evaluate`].
pub fn check_host() -> DoctorReport {
    evaluate(&gather())
}

/// Where configfs-tsm reports are requested.
pub const TSM_REPORT: &str = "/sys/kernel/config/tsm/report";

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

    fn this_kind_of_host() -> HostInputs {
        HostInputs {
            memfd_secret: MemfdProbe::Works,
            kernel_release: "6.18.0".into(),
            yama_ptrace_scope: None,
            euid: 0,
            proc_status: Some("Name:\tx\nCapEff:\t000001ffffffffff\n".into()),
            core_pattern: Some("core\n".into()),
            gdb: Some("/usr/bin/gdb".into()),
            gcore: Some("/usr/bin/gcore".into()),
            qemu: Some("/usr/bin/qemu-system-x86_64".into()),
            kvm: Ok(()),
            guest_kernel: Some("/root/.cache/confidump/guest-kernel/vmlinuz".into()),
            sgx_enclave: false,
            sgx_provision: false,
            cpu_flags: vec!["fpu".into(), "vmx".into()],
            cvm: HostCvmFacts {
                qemu: Some(QemuVersion {
                    major: 7,
                    minor: 2,
                    micro: 19,
                }),
                kvm: true,
                ..Default::default()
            },
            dev_sev_guest: false,
            dev_tdx_guest: false,
            tsm_report: false,
        }
    }

    #[test]
    fn fixture_host() {
        let r = evaluate(&this_kind_of_host());
        assert!(r.get("memfd_secret").unwrap().ok);
        assert!(r.get("ptrace").unwrap().ok);
        assert!(r.get("gdb").unwrap().ok);
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
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["checks"][0]["name"], "memfd_secret");
        assert_eq!(j["summary"]["sgx"]["ok"], false);
    }

    #[test]
    fn old_kernel_and_no_caps() {
        let mut h = this_kind_of_host();
        h.memfd_secret = MemfdProbe::Enosys;
        h.kernel_release = "6.1.0-57-cloud-amd64".into();
        h.proc_status = Some("CapEff:\t0000000000000000\n".into());
        h.yama_ptrace_scope = Some("1\n".into());
        h.core_pattern = Some("|/usr/lib/systemd/systemd-coredump %P".into());
        let r = evaluate(&h);
        assert!(r
            .get("memfd_secret")
            .unwrap()
            .detail
            .contains("secretmem.enable=1"));
        assert!(!r.get("ptrace").unwrap().ok);
        assert!(!r.get("core_pattern").unwrap().ok);
    }

    #[test]
    fn parsers() {
        assert_eq!(cap_eff("CapEff:\t0000000000080000\n"), Some(1 << 19));
        assert_eq!(
            cpuinfo_flags("processor: 0\nflags\t\t: fpu sgx sgx_lc\n"),
            ["fpu", "sgx", "sgx_lc"]
        );
        assert_eq!(release_version("6.1.0-57-cloud-amd64"), Some((6, 1)));
    }
}
