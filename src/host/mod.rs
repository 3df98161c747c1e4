//! One probe of what this host can do, read by everyone who needs to know.
//!
//! [`HostFacts::gather`] looks at the host once (files under `/proc`, `/sys`, `/dev`, one
//! `memfd_secret` store, programs found by [`which`]) and keeps what it saw as plain data;
//! the expensive parts (QEMU's `--version`, running our executable as the unprivileged user)
//! are probed on first use and then kept. [`HostFacts::shared`] is that probe for this
//! process: doctor, the demo's run environment and the VM launcher all read the same one.
//!
//! The verdicts are pure functions over the facts ([`eval`]): `doctor` shows them to people,
//! the matrix uses them to mark a row or a column `n/a`, and both print the same sentence,
//! because it comes from the same function. Where two readers used to disagree, the stricter
//! rule is the one kept.
//!
//! ```no_run
//! use confidump::host::{self, HostFacts};
//! let facts = HostFacts::shared();
//! if let Some(why) = host::kernel_core_unusable(&facts) {
//!     println!("kernel core column: n/a ({})", why.en);
//! }
//! ```

pub mod cvm;
mod error;
pub mod eval;
pub mod qemu;
pub mod sgx;
pub mod user;
pub mod vdso;

use crate::model::Texts;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use cvm::{CvmProfile, HostCvmFacts};
pub use error::ProbeError;
pub use eval::*;
pub use qemu::{KvmFallback, QemuVersion};
pub use sgx::SgxFacts;
pub use user::{passwd_lookup, probe_user, User};

/// The user a scenario with `run_as = "unprivileged"` runs as.
pub const UNPRIVILEGED_USER: &str = "nobody";

/// Everything confidump knows about this host, as plain data. Build one with
/// [`HostFacts::gather`] (or take the process's with [`HostFacts::shared`]); tests build fake
/// hosts from [`HostFacts::sample`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// The running kernel's release (`uname -r`).
    pub kernel_release: String,
    /// `Ok` when a `memfd_secret` store could be created and mapped here; else the error.
    pub memfd_secret: Result<(), ProbeError>,
    /// Effective uid.
    pub euid: u32,
    /// The `CapEff` mask of `/proc/self/status`.
    pub cap_eff: Option<u64>,
    /// `/proc/sys/kernel/yama/ptrace_scope`, trimmed, if present.
    pub yama_ptrace_scope: Option<String>,
    /// `/proc/sys/kernel/core_pattern` without its newline; `None` if unreadable.
    pub core_pattern: Option<String>,
    /// `gdb`, executable, on PATH.
    pub gdb: Option<PathBuf>,
    /// `gcore`, executable, on PATH.
    pub gcore: Option<PathBuf>,
    /// QEMU ([`qemu::locate_qemu`]), or what was looked for.
    pub qemu: Result<PathBuf, ProbeError>,
    /// QEMU's version: probed on first use (see [`HostFacts::qemu_version`]).
    pub qemu_version: OnceLock<Option<QemuVersion>>,
    /// Opening `/dev/kvm` read-write: `Err` with the reason.
    pub kvm: Result<(), ProbeError>,
    /// A Linux guest failed under KVM here and the VM launcher fell back to TCG (its record,
    /// [`qemu::read_kvm_fallback`]); `None` when no run has seen that on this kernel.
    pub kvm_fallback: Option<qemu::KvmFallback>,
    /// The guest kernel a VM victim boots ([`qemu::locate_guest_kernel`]), or what was
    /// looked for.
    pub guest_kernel: Result<PathBuf, ProbeError>,
    /// The one command that fetches a guest kernel for this confidump
    /// ([`qemu::fetch_kernel_command`]): the packaged script for an installed binary.
    pub fetch_kernel: String,
    /// SGX.
    pub sgx: SgxFacts,
    /// SEV-SNP and TDX host files (kernel module parameters, `/dev/sev`, OVMF). Its `qemu` and
    /// `kvm` are left empty here: [`HostFacts::cvm_facts`] fills them from this probe.
    pub cvm: HostCvmFacts,
    /// `/dev/sev-guest` exists (we run inside an SEV-SNP guest).
    pub dev_sev_guest: bool,
    /// `/dev/tdx_guest` exists (we run inside a TDX guest).
    pub dev_tdx_guest: bool,
    /// `/sys/kernel/config/tsm/report` exists (configfs-tsm attestation).
    pub tsm_report: bool,
    /// `runc` on PATH.
    pub runc: Option<PathBuf>,
    /// `crun` on PATH.
    pub crun: Option<PathBuf>,
    /// The controllers of the cgroup v2 mount when cgroup v1 is mounted beside it ("hybrid"
    /// cgroups, [`hybrid_cgroups`]): crun refuses to run on that layout. `None` otherwise.
    pub cgroup_hybrid: Option<String>,
    /// The directory holding PostgreSQL's `initdb`, `pg_ctl` and `postgres`, or what was
    /// looked for.
    pub postgres: Result<PathBuf, ProbeError>,
    /// The executable the unprivileged user is tried with.
    pub exe: Option<PathBuf>,
    /// The unprivileged user: probed on first use (see [`HostFacts::unprivileged`]).
    pub unprivileged: OnceLock<Result<User, Texts>>,
}

/// Where configfs-tsm reports are requested.
pub const TSM_REPORT: &str = "/sys/kernel/config/tsm/report";

impl HostFacts {
    /// Reads this host. `exe` is the confidump the unprivileged user will be asked to run.
    pub fn gather(exe: Option<PathBuf>) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        HostFacts {
            kernel_release: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            memfd_secret: probe_memfd_secret(),
            euid: nix::unistd::geteuid().as_raw(),
            cap_eff: read("/proc/self/status").as_deref().and_then(cap_eff),
            yama_ptrace_scope: read("/proc/sys/kernel/yama/ptrace_scope")
                .map(|s| s.trim().to_string()),
            core_pattern: read("/proc/sys/kernel/core_pattern")
                .map(|s| s.trim_end_matches('\n').to_string()),
            gdb: which("gdb"),
            gcore: which("gcore"),
            qemu: qemu::locate_qemu(),
            qemu_version: OnceLock::new(),
            kvm: std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/kvm")
                .map(drop)
                .map_err(|e| ProbeError::open("/dev/kvm", e)),
            kvm_fallback: nix::sys::utsname::uname()
                .ok()
                .and_then(|u| qemu::read_kvm_fallback(&u.release().to_string_lossy())),
            guest_kernel: qemu::locate_guest_kernel(),
            fetch_kernel: qemu::fetch_kernel_command(exe.as_deref()),
            sgx: sgx::gather(),
            cvm: cvm::gather_files(),
            dev_sev_guest: Path::new("/dev/sev-guest").exists(),
            dev_tdx_guest: Path::new("/dev/tdx_guest").exists(),
            tsm_report: Path::new(TSM_REPORT).is_dir(),
            runc: which("runc"),
            crun: which("crun"),
            cgroup_hybrid: hybrid_cgroups(),
            postgres: locate_postgres(),
            exe,
            unprivileged: OnceLock::new(),
        }
    }

    /// This process's probe, gathered on first call (with this executable for the
    /// unprivileged user) and shared by every later reader.
    pub fn shared() -> Arc<HostFacts> {
        static SHARED: OnceLock<Arc<HostFacts>> = OnceLock::new();
        SHARED
            .get_or_init(|| Arc::new(HostFacts::gather(std::env::current_exe().ok())))
            .clone()
    }

    /// The probe for a run that starts `exe`: [`HostFacts::shared`] when `exe` is this
    /// executable (always, for the CLI), else a probe of its own (tests start the binary
    /// under test from a test harness).
    pub fn for_exe(exe: &Path) -> Arc<HostFacts> {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        match std::env::current_exe() {
            Ok(me) if same(&me, exe) => HostFacts::shared(),
            _ => Arc::new(HostFacts::gather(Some(exe.to_path_buf()))),
        }
    }

    /// QEMU's version (runs `QEMU --version` once, on first call).
    pub fn qemu_version(&self) -> Option<QemuVersion> {
        *self
            .qemu_version
            .get_or_init(|| self.qemu.as_ref().ok().and_then(|q| qemu::qemu_version(q)))
    }

    /// The unprivileged user that can run [`HostFacts::exe`] (tried once, on first call).
    pub fn unprivileged(&self) -> &Result<User, Texts> {
        self.unprivileged.get_or_init(|| match &self.exe {
            Some(exe) => probe_user(exe, UNPRIVILEGED_USER),
            None => Err(Texts::new(
                "no unprivileged user: no confidump executable to try",
                "非特権ユーザーで試す confidump の実行ファイルがない。",
            )),
        })
    }

    /// What the SEV-SNP/TDX check reads: the CVM files, QEMU's version and KVM.
    pub fn cvm_facts(&self) -> HostCvmFacts {
        HostCvmFacts {
            qemu: self.qemu_version(),
            kvm: self.kvm.is_ok(),
            ..self.cvm.clone()
        }
    }

    /// A fixed host like the one this project is developed on (Linux 6.18, root, gdb, QEMU
    /// 7.2 without KVM, a guest kernel; no SGX, SEV-SNP, TDX, container runtime or
    /// PostgreSQL), for tests and examples to change one fact at a time.
    pub fn sample() -> Self {
        HostFacts {
            kernel_release: "6.18.0".into(),
            memfd_secret: Ok(()),
            euid: 0,
            cap_eff: Some(0x1ff_ffff_ffff),
            yama_ptrace_scope: None,
            core_pattern: Some("core".into()),
            gdb: Some("/usr/bin/gdb".into()),
            gcore: Some("/usr/bin/gcore".into()),
            qemu: Ok("/usr/bin/qemu-system-x86_64".into()),
            qemu_version: OnceLock::from(Some(QemuVersion {
                major: 7,
                minor: 2,
                micro: 19,
            })),
            kvm: Err(ProbeError::open(
                "/dev/kvm",
                std::io::Error::from_raw_os_error(libc::ENOENT),
            )),
            kvm_fallback: None,
            guest_kernel: Ok("/root/.cache/confidump/guest-kernel/vmlinuz".into()),
            fetch_kernel: qemu::FETCH_KERNEL_SCRIPT.into(),
            sgx: SgxFacts {
                vdso_enter: Some(false),
                ..Default::default()
            },
            cvm: HostCvmFacts::default(),
            dev_sev_guest: false,
            dev_tdx_guest: false,
            tsm_report: false,
            runc: None,
            crun: None,
            cgroup_hybrid: None,
            postgres: Err(ProbeError::NoPostgres),
            exe: Some("/usr/local/bin/confidump".into()),
            unprivileged: OnceLock::from(Ok(User {
                name: UNPRIVILEGED_USER.into(),
                uid: 65534,
                gid: 65534,
            })),
        }
    }
}

/// Whether `path` is a regular file with an execute bit (following symlinks).
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `program` in the directories of `PATH`: the first executable file of that name. A name
/// with a `/` is taken as a path.
pub fn which(program: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    which_in(program, &dirs)
}

/// [`which`] over `dirs` instead of `PATH`.
pub fn which_in(program: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    dirs.iter()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

/// CAP_SYS_PTRACE's bit in the capability sets.
pub const CAP_SYS_PTRACE: u32 = 19;

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

/// One `memfd_secret` store, created, mapped and dropped: what a secretmem victim does, so a
/// host where this works can run those victims. `Err` is the store's error, hint included.
pub fn probe_memfd_secret() -> Result<(), ProbeError> {
    crate::protect::SecretStore::new(crate::protect::Protection::SecretMem)
        .map(drop)
        .map_err(|e| ProbeError::MemfdSecret(Arc::new(e)))
}

/// This host's cgroups, when they are "hybrid" in the way crun refuses: cgroup v1 hierarchies
/// mounted beside a cgroup v2 one that holds controllers (crun: "cgroups in hybrid mode not
/// supported, drop all controllers from cgroupv2"). `Some` names those controllers.
pub fn hybrid_cgroups() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    hybrid_cgroups_in(&mounts, |dir| {
        std::fs::read_to_string(dir.join("cgroup.controllers")).ok()
    })
}

/// [`hybrid_cgroups`] over a `/proc/self/mounts` text, `controllers` reading a v2 mount's
/// `cgroup.controllers`.
pub fn hybrid_cgroups_in(
    mounts: &str,
    controllers: impl Fn(&Path) -> Option<String>,
) -> Option<String> {
    fn dir_and_type(line: &str) -> Option<(&str, &str)> {
        let mut f = line.split_whitespace().skip(1);
        Some((f.next()?, f.next()?))
    }
    let mut v1 = false;
    let mut v2 = Vec::new();
    for (dir, fstype) in mounts.lines().filter_map(dir_and_type) {
        match fstype {
            "cgroup" => v1 = true,
            "cgroup2" => v2.push(PathBuf::from(dir)),
            _ => {}
        }
    }
    if !v1 {
        return None;
    }
    v2.iter()
        .filter_map(|d| controllers(d))
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|c| !c.is_empty())
}

/// PostgreSQL's server programs we start.
pub const POSTGRES_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// The first directory holding all of [`POSTGRES_PROGRAMS`] as executables: the `PATH`, then
/// Debian's `/usr/lib/postgresql/VERSION/bin`, newest version first.
fn locate_postgres() -> Result<PathBuf, ProbeError> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((v, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    dirs.extend(versioned.into_iter().map(|(_, d)| d));
    postgres_dir_in(&dirs).ok_or(ProbeError::NoPostgres)
}

/// The first of `dirs` that holds every one of [`POSTGRES_PROGRAMS`].
pub fn postgres_dir_in(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .find(|d| {
            POSTGRES_PROGRAMS
                .iter()
                .all(|p| which_in(p, std::slice::from_ref(*d)).is_some())
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn which_needs_the_exec_bit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tool");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let dirs = [dir.path().to_path_buf()];
        assert_eq!(which_in("tool", &dirs), None);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(which_in("tool", &dirs), Some(p.clone()));
        std::fs::create_dir(dir.path().join("adir")).unwrap();
        assert_eq!(which_in("adir", &dirs), None);
        assert_eq!(which("sh").map(|p| is_executable(&p)), Some(true));
    }

    #[test]
    fn postgres_needs_all_three_in_one_dir() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mk = |d: &Path, n: &str| {
            let p = d.join(n);
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        mk(a.path(), "initdb");
        for n in POSTGRES_PROGRAMS {
            mk(b.path(), n);
        }
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(postgres_dir_in(&dirs), Some(b.path().to_path_buf()));
        assert_eq!(postgres_dir_in(&dirs[..1]), None);
    }

    #[test]
    fn hybrid_cgroups_are_v1_beside_a_v2_with_controllers() {
        let hybrid = "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n\
                      cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n\
                      cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n";
        let with = |c: &'static str| move |_: &Path| Some(c.to_string());
        assert_eq!(
            hybrid_cgroups_in(hybrid, with("hugetlb\n")),
            Some("hugetlb".into())
        );
        // An empty v2 half is what crun asks for ("drop all controllers from cgroupv2").
        assert_eq!(hybrid_cgroups_in(hybrid, with("\n")), None);
        let v2_only = "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n";
        assert_eq!(hybrid_cgroups_in(v2_only, with("cpu memory")), None);
        let v1_only = "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";
        assert_eq!(hybrid_cgroups_in(v1_only, with("cpu")), None);
    }

    #[test]
    fn parsers() {
        assert_eq!(cap_eff("CapEff:\t0000000000080000\n"), Some(1 << 19));
        assert_eq!(
            cpuinfo_flags("processor: 0\nflags\t\t: fpu sgx sgx_lc\n"),
            ["fpu", "sgx", "sgx_lc"]
        );
    }

    #[test]
    fn this_host_is_probed_once() {
        let a = HostFacts::shared();
        let b = HostFacts::shared();
        assert!(Arc::ptr_eq(&a, &b));
        // The memfd_secret probe ran here; on this kind of host (Linux ≥ 6.5) it works.
        assert!(a.memfd_secret.is_ok() || !a.kernel_release.starts_with("6.18"));
    }
}
