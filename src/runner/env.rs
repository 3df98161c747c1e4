//! What the runner needs from this host: the run environment probed once per run, and why a
//! scenario's row cannot run here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::matrix::Scenario;
use super::scenario::{Context, CvmKind, Requirement, Spec};
use crate::model::ScenarioInfo;
/// An unprivileged user that can run this executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// What the runner needs from the machine, probed once by [`RunEnv::probe`].
#[derive(Debug, Clone)]
pub struct RunEnv {
    /// Path of the confidump executable.
    pub exe: PathBuf,
    /// gdb's `gcore`, when on PATH.
    pub gcore: Option<PathBuf>,
    /// `/proc/sys/kernel/core_pattern`.
    pub core_pattern: String,
    /// `Ok` when memfd_secret works here; else why not.
    pub memfd_secret: Result<(), String>,
    /// The unprivileged user for `run_as = "unprivileged"`, or why there is none.
    pub unprivileged: Result<User, String>,
    /// QEMU, the guest kernel and confidential-VM support: probed once, when a VM row first
    /// asks (a process-only run never starts `qemu --version`).
    vm_host: std::sync::OnceLock<VmHost>,
}

/// What the VM rows need from the host.
#[derive(Debug, Clone)]
struct VmHost {
    qemu: Option<PathBuf>,
    kernel: Option<PathBuf>,
    cvm: crate::vm::cvm::HostCvmFacts,
}

impl VmHost {
    fn probe() -> Self {
        use crate::vm::{cvm, qemu};
        let q = qemu::find_qemu();
        let version = q.as_deref().and_then(qemu::qemu_version);
        Self {
            qemu: q,
            kernel: qemu::default_kernel(),
            cvm: cvm::HostCvmFacts::gather(version),
        }
    }
}

impl RunEnv {
    /// Probes the host: gcore on PATH, core_pattern, memfd_secret, an unprivileged user that
    /// can run `exe` (tried for real: `exe --version` as that user).
    pub fn probe(exe: PathBuf) -> Self {
        let gcore = find_on_path("gcore");
        let core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern")
            .map(|s| s.trim_end_matches('\n').to_string())
            .unwrap_or_default();
        let memfd_secret = crate::protect::SecretStore::new(crate::protect::Protection::SecretMem)
            .map(drop)
            .map_err(|e| {
                format!("needs memfd_secret (Linux >= 5.14; secretmem.enable=1 before 6.5): {e}")
            });
        let unprivileged = probe_user(&exe, "nobody");
        Self {
            exe,
            gcore,
            core_pattern,
            memfd_secret,
            unprivileged,
            vm_host: std::sync::OnceLock::new(),
        }
    }

    fn vm_host(&self) -> &VmHost {
        self.vm_host.get_or_init(VmHost::probe)
    }

    /// Why the kernel's core dump cannot be used here without changing system settings.
    pub(crate) fn kernel_unusable(&self) -> Option<String> {
        let p = &self.core_pattern;
        if p.is_empty() || p.starts_with('|') || p.contains('/') {
            Some(format!(
                "core_pattern is {p:?}: would need changing system settings (want a plain file name such as \"core\")"
            ))
        } else {
            None
        }
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The (uid, gid) of `name` in `passwd` text (the format of `/etc/passwd`).
pub fn passwd_lookup(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != name {
            return None;
        }
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

fn probe_user(exe: &Path, name: &str) -> Result<User, String> {
    use std::os::unix::process::CommandExt;
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| format!("no unprivileged user: reading /etc/passwd: {e}"))?;
    let (uid, gid) = passwd_lookup(&passwd, name)
        .ok_or_else(|| format!("no unprivileged user: {name:?} is not in /etc/passwd"))?;
    if uid == 0 {
        return Err(format!("no unprivileged user: {name:?} has uid 0"));
    }
    let out = Command::new(exe)
        .arg("--version")
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(User {
            name: name.to_string(),
            uid,
            gid,
        }),
        Ok(o) => Err(format!(
            "user {name} cannot run {}: {}",
            exe.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!(
            "user {name} cannot run {} ({e}): put confidump where {name} can execute it",
            exe.display()
        )),
    }
}

/// Why the whole row cannot run on this host, if it cannot.
pub fn unavailable(s: &Scenario, env: &RunEnv) -> Option<String> {
    unavailable_spec(&s.spec, env)
}

/// The scenarios as this host can run them: each row that cannot run here carries its reason
/// in `info.unavailable`, so the table, the presenter and `--list` all say it the same way.
pub fn for_host(all: Vec<(ScenarioInfo, Spec)>, env: &RunEnv) -> Vec<Scenario> {
    all.into_iter()
        .map(|(mut info, spec)| {
            info.unavailable = unavailable_spec(&spec, env);
            Scenario { info, spec }
        })
        .collect()
}

fn unavailable_spec(spec: &Spec, env: &RunEnv) -> Option<String> {
    for r in &spec.requires {
        let missing = match r {
            Requirement::Sgx => device_missing("SGX", "/dev/sgx_enclave"),
            Requirement::SevSnp => device_missing("an SEV-SNP guest", "/dev/sev-guest"),
            Requirement::Tdx => device_missing("a TDX guest", "/dev/tdx_guest"),
            Requirement::MemfdSecret => env.memfd_secret.clone().err(),
            Requirement::UnprivilegedUser => env.unprivileged.clone().err(),
        };
        if missing.is_some() {
            return missing;
        }
    }
    if spec.context == Context::Vm {
        use crate::vm::{cvm, CvmProfile};
        let host = env.vm_host();
        if host.qemu.is_none() {
            return Some("needs QEMU: apt-get install qemu-system-x86".to_string());
        }
        if let Some(kind) = spec.cvm {
            let profile = match kind {
                CvmKind::SevSnp => CvmProfile::SevSnp,
                CvmKind::Tdx => CvmProfile::Tdx,
            };
            let missing = cvm::missing_requirements(profile, &host.cvm);
            if !missing.is_empty() {
                return Some(cvm::not_available_message(profile, &missing));
            }
        }
        if host.kernel.is_none() {
            return Some(
                "needs a guest kernel: run scripts/fetch-guest-kernel.sh (or pass --kernel to victim)"
                    .to_string(),
            );
        }
    }
    if spec.mode.victim_arg().is_none() {
        return Some(format!(
            "this build of confidump has no {:?} victim to start",
            spec.mode
        ));
    }
    None
}

fn device_missing(what: &str, dev: &str) -> Option<String> {
    (!Path::new(dev).exists()).then(|| format!("needs {what} ({dev}): not on this host"))
}
