//! Pure host-wide verdicts over [`HostFacts`] (ptrace, core_pattern, gcore, memfd_secret, the
//! unprivileged user) and the [`Requirement`]s a scenario may name: each verdict returns the one
//! sentence that doctor prints and the matrix puts in an `n/a` cell, so the two can never
//! disagree. What a fact means for one context (QEMU for VM rows, runc for container rows) is
//! that context's `facts.rs`; whether a requirement is met is `runner::contexts`.
//!
//! Rules, where readers used to differ (the stricter one is kept): a `core_pattern` that is
//! empty, pipes to a helper (`|…`) or names a path (`/`) is unusable for the kernel column (the
//! core would not land in the victim's private directory); `gdb` and `gcore` count only with
//! their execute bit; SGX needs every prerequisite of [`super::sgx`].

use serde::Deserialize;

use super::{HostFacts, CAP_SYS_PTRACE};
use crate::memory::refusal::YamaRule;
use crate::model::Texts;

/// Something the host must offer for a scenario's row to run (`requires = [...]` in a
/// scenario file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Requirement {
    /// Intel SGX: every prerequisite of [`super::sgx::evaluate`].
    #[serde(rename = "sgx")]
    Sgx,
    /// Running inside an AMD SEV-SNP guest (`/dev/sev-guest`).
    #[serde(rename = "sev-snp")]
    SevSnp,
    /// Running inside an Intel TDX guest (`/dev/tdx_guest`).
    #[serde(rename = "tdx")]
    Tdx,
    /// `memfd_secret(2)` usable.
    #[serde(rename = "memfd_secret")]
    MemfdSecret,
    /// An unprivileged user (`nobody`) that can run this executable.
    #[serde(rename = "unprivileged-user")]
    UnprivilegedUser,
    /// A container runtime (`runc` or `crun`).
    #[serde(rename = "container-runtime")]
    ContainerRuntime,
    /// PostgreSQL's server programs (`initdb`, `pg_ctl`, `postgres`).
    #[serde(rename = "postgresql")]
    Postgres,
    /// Running inside a confidential VM of either kind (SEV-SNP or TDX): what `doctor
    /// --attest` needs for its evidence.
    #[serde(rename = "cvm-guest")]
    CvmGuest,
    /// An SEV-SNP host that can start SEV-SNP guests (what the `cvm-sev-snp` row implies).
    #[serde(rename = "sev-snp-host")]
    SevSnpHost,
    /// A TDX host that can start TDX guests (what the `cvm-tdx` row implies).
    #[serde(rename = "tdx-host")]
    TdxHost,
    /// The OCI reference runtime `runc` on PATH (the `container-oci` row).
    #[serde(rename = "runc")]
    Runc,
    /// The OCI runtime `crun` on PATH.
    #[serde(rename = "crun")]
    Crun,
    /// An enclave inside the database server (Always Encrypted with secure enclaves: Azure SQL
    /// Database's VBS enclaves, or SGX enclaves on DC-series): never met by a host, only by
    /// such a managed service.
    #[serde(rename = "sql-enclave")]
    SqlEnclave,
}

impl Requirement {
    /// Every requirement, in file order.
    pub const ALL: [Requirement; 13] = [
        Requirement::Sgx,
        Requirement::SevSnp,
        Requirement::Tdx,
        Requirement::MemfdSecret,
        Requirement::UnprivilegedUser,
        Requirement::ContainerRuntime,
        Requirement::Postgres,
        Requirement::CvmGuest,
        Requirement::SevSnpHost,
        Requirement::TdxHost,
        Requirement::Runc,
        Requirement::Crun,
        Requirement::SqlEnclave,
    ];

    /// The name in files and `--list`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Requirement::Sgx => "sgx",
            Requirement::SevSnp => "sev-snp",
            Requirement::Tdx => "tdx",
            Requirement::MemfdSecret => "memfd_secret",
            Requirement::UnprivilegedUser => "unprivileged-user",
            Requirement::ContainerRuntime => "container-runtime",
            Requirement::Postgres => "postgresql",
            Requirement::CvmGuest => "cvm-guest",
            Requirement::SevSnpHost => "sev-snp-host",
            Requirement::TdxHost => "tdx-host",
            Requirement::Runc => "runc",
            Requirement::Crun => "crun",
            Requirement::SqlEnclave => "sql-enclave",
        }
    }

    /// The requirement named `name` (as [`Self::as_str`] spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Every name, comma-separated (for error messages).
    pub fn names() -> String {
        Self::ALL.map(|r| r.as_str()).join(", ")
    }
}

/// Why secretmem victims cannot run here.
pub fn memfd_secret_missing(f: &HostFacts) -> Option<Texts> {
    f.memfd_secret.as_ref().err().map(|e| {
        Texts::new(
            format!("needs memfd_secret (kernel {}): {e}", f.kernel_release),
            format!(
                "memfd_secret が必要（カーネル {}。{e}）。",
                f.kernel_release
            ),
        )
    })
}

/// Why no victim can run as the unprivileged user here.
pub fn unprivileged_missing(f: &HostFacts) -> Option<Texts> {
    f.unprivileged().as_ref().err().cloned()
}

/// Whether root's attacks can attach to and read other processes, and why (or why not). Yama's
/// part is decided by [`YamaRule`], the rule a refused attach names too.
pub fn ptrace_verdict(f: &HostFacts) -> (bool, Texts) {
    let has_cap = f.cap_eff.is_some_and(|c| c & (1u64 << CAP_SYS_PTRACE) != 0);
    let scope = f.yama_ptrace_scope.as_deref().map(str::trim);
    let value = scope.and_then(|s| s.parse::<u8>().ok());
    // Doctor asks about processes in general, not about descendants of its own.
    let (ok, en, ja) = match YamaRule::refusing(value, has_cap, false) {
        Some(rule) => {
            let ja = match rule {
                YamaRule::NoAttach => {
                    "root も含め誰も ptrace できない。値は再起動まで下げられない\
                     （/etc/sysctl.d/ で kernel.yama.ptrace_scope=1 にして再起動する）。"
                }
                YamaRule::AdminOnly => {
                    "アタッチできるのは CAP_SYS_PTRACE を持つプロセスだけで、この実行には無い\
                     （root で実行するか sysctl kernel.yama.ptrace_scope=1）。"
                }
                YamaRule::DescendantsOnly => {
                    "CAP_SYS_PTRACE なし。読めるのは子孫プロセスだけ（root で実行する）。"
                }
            };
            (
                false,
                format!("{}: {}", rule.meaning(), rule.remedy()),
                ja.to_string(),
            )
        }
        // What is known: neither the uid rule nor yama stops us. What is not: a given process
        // may still be refused (a second tracer, a kernel thread, memory the kernel withholds
        // from everyone, an LSM's own policy), and only an attach to it tells.
        None if has_cap => (
            true,
            "CAP_SYS_PTRACE: neither the uid rule nor yama stops us; still refused: a process \
             another tracer holds, kernel threads, memory the kernel withholds from everyone \
             (memfd_secret, SGX enclaves), and whatever an LSM (AppArmor, SELinux) forbids (not \
             checked here)"
                .to_string(),
            "CAP_SYS_PTRACE あり。uid の規則にも yama にも止められない。それでも拒否されるのは、\
             別のトレーサーが捕まえているプロセス、カーネルスレッド、カーネルが誰にも渡さないメモリ\
             （memfd_secret、SGX エンクレーブ）、LSM（AppArmor、SELinux）が禁じるもの（ここでは確認しない）。"
                .to_string(),
        ),
        None => (
            true,
            "same-uid processes only (no CAP_SYS_PTRACE; run as root for the full demo)".to_string(),
            "同じ uid のプロセスだけ読める（CAP_SYS_PTRACE なし。デモ全体には root で実行する）。"
                .to_string(),
        ),
    };
    (
        ok,
        Texts::new(
            format!(
                "euid {}, yama ptrace_scope {}, {en}",
                f.euid,
                scope.unwrap_or("absent")
            ),
            format!(
                "euid {}、yama ptrace_scope {}。{ja}",
                f.euid,
                scope.unwrap_or("なし")
            ),
        ),
    )
}

/// Why root's ptrace-based attacks (dump, gcore, live read) cannot work here, if they cannot.
pub fn ptrace_unusable(f: &HostFacts) -> Option<Texts> {
    let (ok, why) = ptrace_verdict(f);
    (!ok).then_some(why)
}

/// Why the kernel's own core dump cannot be used for the kernel column without changing
/// system settings: the core must land as a file in the victim's working directory, so
/// `core_pattern` must be a plain file name.
pub fn kernel_core_unusable(f: &HostFacts) -> Option<Texts> {
    const WANT: &str =
        "would need changing system settings (want a plain file name such as \"core\")";
    const WANT_JA: &str =
        "使うにはシステム設定の変更が必要（\"core\" のような単なるファイル名にする）。";
    match f.core_pattern.as_deref() {
        None => Some(Texts::new(
            format!("cannot read /proc/sys/kernel/core_pattern: {WANT}"),
            format!("/proc/sys/kernel/core_pattern を読めない。{WANT_JA}"),
        )),
        Some(p) if p.starts_with('|') => Some(Texts::new(
            format!(
                "core_pattern is {p:?}: cores are piped to a helper, not written as a file we can scan; {WANT}"
            ),
            format!(
                "core_pattern が {p:?}。コアはヘルパーにパイプで渡され、走査できるファイルとしては書かれない。{WANT_JA}"
            ),
        )),
        Some(p) if p.is_empty() || p.contains('/') => Some(Texts::new(
            format!("core_pattern is {p:?}: cores would not land in the victim's directory; {WANT}"),
            format!(
                "core_pattern が {p:?}。コアが標的プロセスのカレントディレクトリに書かれない。{WANT_JA}"
            ),
        )),
        Some(_) => None,
    }
}

/// Doctor's line when the kernel column can run.
pub fn kernel_core_usable(f: &HostFacts) -> Texts {
    let p = f.core_pattern.as_deref().unwrap_or_default();
    Texts::new(
        format!("core_pattern {p:?}: kernel cores are written as files in the process's directory"),
        format!(
            "core_pattern は {p:?}。カーネルのコアはプロセスのカレントディレクトリにファイルとして書かれる。"
        ),
    )
}

/// Why gdb's `gcore` cannot be run here (it is a script that runs gdb: both are needed).
pub fn gcore_missing(f: &HostFacts) -> Option<Texts> {
    match (&f.gdb, &f.gcore) {
        (Some(_), Some(_)) => None,
        (Some(g), None) => Some(Texts::new(
            format!(
                "needs gdb's gcore: {} but no executable gcore on PATH (apt-get install gdb)",
                g.display()
            ),
            format!(
                "gdb の gcore が必要。{} はあるが、実行できる gcore が PATH にない（apt-get install gdb）。",
                g.display()
            ),
        )),
        (None, Some(c)) => Some(Texts::new(
            format!(
                "needs gdb's gcore: {} but no executable gdb on PATH (apt-get install gdb)",
                c.display()
            ),
            format!(
                "gdb の gcore が必要。{} はあるが、実行できる gdb が PATH にない（apt-get install gdb）。",
                c.display()
            ),
        )),
        (None, None) => Some(Texts::new(
            "needs gdb's gcore: no executable gdb on PATH (apt-get install gdb)",
            "gdb の gcore が必要。実行できる gdb が PATH にない（apt-get install gdb）。",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_patterns() {
        let mut f = HostFacts::sample();
        assert_eq!(kernel_core_unusable(&f), None);
        for bad in [
            "",
            "|/usr/lib/systemd/systemd-coredump %P",
            "/var/crash/core.%p",
        ] {
            f.core_pattern = Some(bad.into());
            let why = kernel_core_unusable(&f).unwrap().en;
            assert!(why.contains("plain file name"), "{bad}: {why}");
        }
        f.core_pattern = None;
        assert!(kernel_core_unusable(&f).is_some());
    }

    #[test]
    fn gcore_needs_both() {
        let mut f = HostFacts::sample();
        assert_eq!(gcore_missing(&f), None);
        f.gcore = None;
        assert!(gcore_missing(&f)
            .unwrap()
            .en
            .contains("no executable gcore"));
        f.gdb = None;
        f.gcore = Some("/usr/bin/gcore".into());
        assert!(gcore_missing(&f).unwrap().en.contains("no executable gdb"));
    }

    #[test]
    fn ptrace_rules() {
        let mut f = HostFacts::sample();
        assert_eq!(ptrace_unusable(&f), None);
        f.cap_eff = Some(0);
        f.yama_ptrace_scope = Some("1".into());
        assert!(ptrace_unusable(&f)
            .unwrap()
            .en
            .contains("only to its own descendants"));
        f.cap_eff = Some(1 << CAP_SYS_PTRACE);
        f.yama_ptrace_scope = Some("3".into());
        assert!(ptrace_unusable(&f).unwrap().en.contains("scope 3"));
    }

    /// Every value of ptrace_scope, and none, with and without CAP_SYS_PTRACE: doctor never
    /// says root may attach where Yama refuses, and names the rule and remedy where it does.
    #[test]
    fn ptrace_over_every_yama_scope() {
        for (scope, cap, ok, says) in [
            (None, true, true, "neither the uid rule nor yama"),
            (None, false, true, "same-uid processes only"),
            (Some("0"), true, true, "neither the uid rule nor yama"),
            (Some("0"), false, true, "same-uid processes only"),
            (Some("1"), true, true, "neither the uid rule nor yama"),
            (Some("1"), false, false, "ptrace_scope=0"),
            (Some("2"), true, true, "neither the uid rule nor yama"),
            (Some("2"), false, false, "ptrace_scope=1"),
            (Some("3"), true, false, "nobody may attach, root included"),
            (Some("3"), false, false, "reboot"),
        ] {
            let mut f = HostFacts::sample();
            f.cap_eff = Some(if cap { 1 << CAP_SYS_PTRACE } else { 0 });
            f.yama_ptrace_scope = scope.map(str::to_string);
            let (got_ok, why) = ptrace_verdict(&f);
            assert_eq!(got_ok, ok, "{scope:?} {cap}: {}", why.en);
            assert!(why.en.contains(says), "{scope:?} {cap}: {}", why.en);
            let shown = format!("yama ptrace_scope {}", scope.unwrap_or("absent"));
            assert!(why.en.contains(&shown), "{}", why.en);
            assert!(!why.en.contains("any process"), "{}", why.en);
        }
    }
}
