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
use crate::i18n::{t, Lang};
use crate::model::Texts;

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
/// `present` what doctor says when it passes; `enables` is the catalogue key of what it enables.
fn check(
    lang: Lang,
    name: &'static str,
    missing: Option<Texts>,
    present: impl FnOnce() -> Texts,
    enables: &'static str,
) -> Check {
    Check {
        name,
        ok: missing.is_none(),
        detail: missing.unwrap_or_else(present).get(lang).to_string(),
        enables: t(lang, enables),
    }
}

/// The verdicts in English ([`evaluate_in`]).
pub fn evaluate(f: &HostFacts) -> DoctorReport {
    evaluate_in(f, Lang::En)
}

/// The verdicts, from the facts only, in `lang` (`en`, `ja`): the lazily probed facts, QEMU's
/// version and the unprivileged user, are probed here if nobody asked before.
pub fn evaluate_in(f: &HostFacts, lang: Lang) -> DoctorReport {
    let vm_rows = "enables.vm-rows";
    let mut checks = vec![check(
        lang,
        "memfd_secret",
        host::memfd_secret_missing(f),
        || {
            Texts::new(
                format!("memfd_secret works (kernel {})", f.kernel_release),
                format!("memfd_secret が使える（カーネル {}）。", f.kernel_release),
            )
        },
        "enables.secretmem",
    )];
    let (ok, detail) = host::ptrace_verdict(f);
    checks.push(Check {
        name: "ptrace",
        ok,
        detail: detail.get(lang).to_string(),
        enables: t(lang, "enables.dump-live"),
    });
    checks.push(check(
        lang,
        "core_pattern",
        host::kernel_core_unusable(f),
        || host::kernel_core_usable(f),
        "enables.kernel",
    ));
    checks.push(check(
        lang,
        "gdb",
        host::gcore_missing(f),
        || {
            let show = |p: &Option<PathBuf>| p.as_deref().map(Path::display).map(|d| d.to_string());
            let (gdb, gcore) = (
                show(&f.gdb).unwrap_or_default(),
                show(&f.gcore).unwrap_or_default(),
            );
            Texts::new(format!("{gdb} and {gcore}"), format!("{gdb} と {gcore}"))
        },
        "enables.gcore",
    ));
    checks.push(check(
        lang,
        "qemu",
        crate::vm::facts::qemu_missing(f),
        || match (&f.qemu, f.qemu_version()) {
            (Ok(q), Some(v)) => Texts::new(
                format!("{} version {v}", q.display()),
                format!("{}（バージョン {v}）", q.display()),
            ),
            (Ok(q), None) => Texts::new(
                format!("{} (version unknown)", q.display()),
                format!("{}（バージョン不明）", q.display()),
            ),
            (Err(e), _) => Texts::same(e.to_string()),
        },
        vm_rows,
    ));
    checks.push(kvm_check(f, lang));
    checks.push(check(
        lang,
        "guest_kernel",
        crate::vm::facts::guest_kernel_missing(f),
        || match &f.guest_kernel {
            Ok(k) => Texts::same(k.display().to_string()),
            Err(e) => Texts::same(e.to_string()),
        },
        vm_rows,
    ));
    checks.push(check(
        lang,
        "sgx",
        crate::sgx::facts::sgx_missing(&f.sgx),
        || crate::sgx::facts::sgx_present(&f.sgx),
        "enables.sgx",
    ));
    for (name, profile) in [("sev_snp", CvmProfile::SevSnp), ("tdx", CvmProfile::Tdx)] {
        checks.push(check(
            lang,
            name,
            crate::vm::facts::cvm_missing(profile, f),
            || {
                Texts::new(
                    format!(
                        "{} host support present (QEMU, KVM, firmware)",
                        profile.title()
                    ),
                    format!(
                        "{} のホスト側の準備が整っている（QEMU、KVM、ファームウェア）。",
                        profile.title()
                    ),
                )
            },
            "enables.cvm",
        ));
    }
    checks.push(cvm_guest_check(f, lang));
    checks.push(check(
        lang,
        "unprivileged_user",
        host::unprivileged_missing(f),
        || match f.unprivileged() {
            Ok(u) => Texts::new(
                format!("{} (uid {}) can run confidump", u.name, u.uid),
                format!("{}（uid {}）で confidump を実行できる。", u.name, u.uid),
            ),
            Err(e) => e.clone(),
        },
        "enables.same-uid",
    ));
    checks.push(check(
        lang,
        "container_runtime",
        crate::container::facts::container_runtime_missing(f),
        || {
            // Each runtime found, and whether it runs containers on this host.
            let runc = f
                .runc
                .as_ref()
                .map(|p| Texts::same(p.display().to_string()));
            let crun = f
                .crun
                .as_ref()
                .map(|p| match crate::container::facts::crun_refused(f) {
                    None => Texts::same(p.display().to_string()),
                    Some(why) => Texts::new(
                        format!("{}, which {}", p.display(), crun_refusal(&why.en)),
                        format!(
                            "{}。ただし、{}",
                            p.display(),
                            why.ja
                                .strip_prefix("このホストでは利用できない。")
                                .unwrap_or(&why.ja)
                        ),
                    ),
                });
            let found: Vec<Texts> = [runc, crun].into_iter().flatten().collect();
            let en: Vec<&str> = found.iter().map(|t| t.en.as_str()).collect();
            let ja: Vec<&str> = found.iter().map(|t| t.ja.as_str()).collect();
            Texts::new(en.join(" and "), ja.join(" と "))
        },
        "enables.container",
    ));
    checks.push(check(
        lang,
        "postgresql",
        crate::service::facts::postgres_missing(f),
        || match &f.postgres {
            Ok(d) => Texts::new(
                format!("initdb, pg_ctl and postgres in {}", d.display()),
                format!("{} に initdb、pg_ctl、postgres がある。", d.display()),
            ),
            Err(e) => Texts::same(e.to_string()),
        },
        "enables.database",
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

/// The refusal of [`crate::container::facts::crun_refused`] after its "not available on this host: crun " (to
/// follow a path: "/usr/bin/crun, which refuses …").
fn crun_refusal(why: &str) -> &str {
    why.strip_prefix("not available on this host: crun ")
        .unwrap_or(why)
}

/// KVM: unusable, or usable but known to hang a Linux guest here (the VM launcher recorded a
/// fallback to TCG: [`host::kvm_fallback`]), or usable and not known to fail.
/// The MSR QEMU's recorded error names (`MSR 0x10a`), for a reader of another language than
/// QEMU's message.
fn msr_of(why: &str) -> Option<&str> {
    let at = why.find("MSR 0x")?;
    let rest = why.get(at..)?;
    let end = rest
        .char_indices()
        .skip(6)
        .find(|(_, c)| !c.is_ascii_hexdigit())
        .map_or(rest.len(), |(i, _)| i);
    rest.get(..end)
}

/// The launcher's record of a failed KVM guest (`vm::record_kvm_fallback`, in English, with
/// QEMU's own words) for a Japanese reader: what failed, in Japanese, the MSR QEMU could not
/// set when it names one, and where the record with QEMU's words is kept.
fn fallback_ja(why: &str, record: Option<&std::path::Path>) -> String {
    let secs = why
        .strip_prefix("the KVM guest was not ready in ")
        .and_then(|rest| rest.split(' ').next());
    let mut out = match secs {
        Some(s) => format!("KVM のゲストが {s} 秒以内に起動しなかった"),
        None if why.starts_with("QEMU failed under KVM") => {
            "QEMU が KVM のもとで異常終了した".to_string()
        }
        None => "KVM でゲストを起動できなかった".to_string(),
    };
    if let Some(m) = msr_of(why) {
        out.push_str(&format!("。QEMU が {m} を設定できなかった"));
    }
    if let Some(r) = record {
        out.push_str(&format!("。QEMU の出力は {} に記録されている", r.display()));
    }
    out
}

fn kvm_check(f: &HostFacts, lang: Lang) -> Check {
    let enables = "enables.faster-vm-rows";
    if let Some(why) = crate::vm::facts::kvm_unusable(f) {
        return check(lang, "kvm", Some(why), Texts::default, enables);
    }
    let detail = match &f.kvm_fallback {
        Some(fb) => Texts::new(
            format!(
                "/dev/kvm opens read-write, but a Linux guest fails under KVM here (last VM run on this kernel: {}): VM rows fall back to TCG (slower, same result)",
                fb.why
            ),
            format!(
                "/dev/kvm は読み書きで開けるが、このホストでは Linux ゲストが KVM で動かない（このカーネルでの直近の VM 実行：{}）。VM の行は TCG にフォールバックする（遅いが結果は同じ）。",
                fallback_ja(&fb.why, host::qemu::kvm_fallback_file().as_deref())
            ),
        ),
        None => Texts::new(
            "/dev/kvm opens read-write; no Linux guest has failed under it here yet (--accel auto falls back to TCG if one does)",
            "/dev/kvm を読み書きで開ける。このホストで Linux ゲストが KVM で失敗した記録はまだない（失敗すれば、既定の --accel=auto で TCG にフォールバックする）。",
        ),
    };
    Check {
        name: "kvm",
        // Usable for the demo only when no guest has been seen failing under it.
        ok: f.kvm_fallback.is_none(),
        detail: detail.get(lang).to_string(),
        enables: t(lang, enables),
    }
}

/// Inside a confidential VM (what `--attest` needs): each guest device, and configfs-tsm.
fn cvm_guest_check(f: &HostFacts, lang: Lang) -> Check {
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
        let why: Vec<Texts> = [CvmProfile::SevSnp, CvmProfile::Tdx]
            .iter()
            .filter_map(|p| crate::vm::facts::cvm_guest_missing(*p, f))
            .collect();
        let en: Vec<&str> = why.iter().map(|w| w.en.as_str()).collect();
        let ja: Vec<&str> = why.iter().map(|w| w.ja.as_str()).collect();
        Texts::new(
            format!(
                "not inside a confidential VM (no configfs-tsm): {}",
                en.join("; ")
            ),
            format!(
                "コンフィデンシャル VM（機密 VM）の中ではない（configfs-tsm なし）。{}",
                ja.concat()
            ),
        )
    } else if f.tsm_report {
        Texts::new(
            format!("inside a confidential VM: {}", inside.join(", ")),
            format!(
                "コンフィデンシャル VM（機密 VM）の中にいる（{}）。",
                inside.join("、")
            ),
        )
    } else {
        Texts::new(
            format!(
                "guest device {} but no configfs-tsm (mount configfs on /sys/kernel/config)",
                inside.join(", ")
            ),
            format!(
                "ゲストのデバイス {} はあるが configfs-tsm がない（/sys/kernel/config に configfs をマウントする）。",
                inside.join("、")
            ),
        )
    };
    Check {
        name: "cvm_guest",
        ok: f.tsm_report,
        detail: detail.get(lang).to_string(),
        // A command, the same in every language.
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

/// [`check_host`] in `lang`.
pub fn check_host_in(lang: Lang) -> DoctorReport {
    evaluate_in(&gather(), lang)
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

    /// Each kind of record the VM launcher writes reads as Japanese, with no English of ours
    /// (QEMU's own words stay in the record, whose path is given).
    #[test]
    fn kvm_fallback_in_japanese() {
        let rec = std::path::Path::new("/root/.cache/confidump/kvm-fallback");
        let qemu = "QEMU failed under KVM (qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69 | …)";
        assert_eq!(
            fallback_ja(qemu, Some(rec)),
            "QEMU が KVM のもとで異常終了した。QEMU が MSR 0x10a を設定できなかった。\
             QEMU の出力は /root/.cache/confidump/kvm-fallback に記録されている"
        );
        assert_eq!(
            fallback_ja(
                "the KVM guest was not ready in 8 s (a nested KVM guest hangs here)",
                None
            ),
            "KVM のゲストが 8 秒以内に起動しなかった"
        );
        assert_eq!(
            fallback_ja("KVM failed (boom)", None),
            "KVM でゲストを起動できなかった"
        );
    }
}
