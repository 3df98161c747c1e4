//! The registry of contexts: the one place that names every context ([`host_for`]), and what
//! needs all of them at once: why a scenario's row cannot run on this host ([`unavailable`],
//! [`for_host`]) and whether a scenario file's `requires` are met here
//! ([`requirement_missing`]: each context's own verdicts over [`HostFacts`]).
//!
//! To add a context: its folder with a `runner.rs` (see [`crate::context`]), its
//! `context = "NAME"` value in [`Context`], and one arm in [`host_for`].

use crate::container::facts::{container_runtime_missing, crun_refused, program_missing};
use crate::container::runner::ContainerHost;
use crate::context::env::RunEnv;
use crate::context::VictimHost;
use crate::host::{HostFacts, Requirement};
use crate::model::{CvmProfile, Texts};
use crate::process::runner::ProcessHost;
use crate::scenario::{Context, Scenario};
use crate::service::facts::{postgres_missing, sql_enclave_missing};
use crate::service::runner::ServiceHost;
use crate::sgx::runner::SgxHost;
use crate::vm::facts::{cvm_guest_missing, cvm_missing};
use crate::vm::runner::VmHost;

/// The implementation of each [`Context`]: the one registration point.
pub fn host_for(context: Context) -> &'static dyn VictimHost {
    match context {
        Context::Process => &ProcessHost,
        Context::Vm => &VmHost,
        Context::Sgx => &SgxHost,
        Context::Container => &ContainerHost,
        Context::Service => &ServiceHost,
    }
}

/// Why the whole row cannot run on this host, if it cannot: a requirement it names, else its
/// context's own reason ([`VictimHost::unavailable`]).
pub fn unavailable(s: &Scenario, env: &RunEnv) -> Option<String> {
    if let Some(missing) = requirements_missing(&s.spec.requires, &env.host) {
        return Some(env.say(missing));
    }
    host_for(s.spec.context).unavailable(s, env)
}

/// The scenarios as this host can run them: each row that cannot run here carries its reason
/// in `info.unavailable`, and a row that runs as a normal VM in place of a confidential one
/// carries its fallback texts (title, stand-in label, lesson), so the table, the presenter,
/// the JSON and `--list` all say it the same way.
pub fn for_host(all: Vec<Scenario>, env: &RunEnv) -> Vec<Scenario> {
    all.into_iter()
        .map(|mut s| {
            s.info.unavailable = unavailable(&s, env);
            s.info.needs = match s.info.unavailable {
                Some(_) => lacking(&s, env),
                None => Vec::new(),
            };
            let falls_back = host_for(s.spec.context).falls_back(&s, env);
            if let Some(f) = s.spec.fallback.as_ref().filter(|_| falls_back) {
                s.info.title = f.title.clone();
                s.info.stand_in_for = Some(f.stand_in_for.clone());
                s.info.lesson = f.lesson.clone();
            }
            s
        })
        .collect()
}

/// The capabilities (doctor's names) a row needs that this host lacks: what a summary names
/// in a word for a row that cannot run here.
fn lacking(s: &Scenario, env: &RunEnv) -> Vec<String> {
    super::platform::row_requirements(&s.spec)
        .into_iter()
        .filter(|r| requirement_missing(*r, &env.host).is_some())
        .map(|r| r.as_str().to_string())
        .collect()
}

/// Why `r` is not met here, if it is not.
pub fn requirement_missing(r: Requirement, f: &HostFacts) -> Option<Texts> {
    match r {
        Requirement::Sgx => crate::sgx::facts::sgx_missing(&f.sgx),
        Requirement::SevSnp => cvm_guest_missing(CvmProfile::SevSnp, f),
        Requirement::Tdx => cvm_guest_missing(CvmProfile::Tdx, f),
        Requirement::MemfdSecret => crate::host::memfd_secret_missing(f),
        Requirement::UnprivilegedUser => crate::host::unprivileged_missing(f),
        Requirement::ContainerRuntime => container_runtime_missing(f),
        Requirement::Postgres => postgres_missing(f),
        Requirement::CvmGuest => cvm_guest_missing(CvmProfile::SevSnp, f).and_then(|snp| {
            cvm_guest_missing(CvmProfile::Tdx, f).map(|tdx| {
                Texts::new(
                    format!("{}; {}", snp.en, tdx.en),
                    format!("{}{}", snp.ja, tdx.ja),
                )
            })
        }),
        Requirement::SevSnpHost => cvm_missing(CvmProfile::SevSnp, f),
        Requirement::TdxHost => cvm_missing(CvmProfile::Tdx, f),
        Requirement::Runc => program_missing("runc", f.runc.as_deref()),
        Requirement::Crun => program_missing("crun", f.crun.as_deref()).or_else(|| crun_refused(f)),
        Requirement::SqlEnclave => Some(sql_enclave_missing()),
    }
}

/// The first of `requires` that is not met here, as its reason.
pub fn requirements_missing(requires: &[Requirement], f: &HostFacts) -> Option<Texts> {
    requires.iter().find_map(|r| requirement_missing(*r, f))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requirements() {
        let mut f = HostFacts::sample();
        assert!(requirement_missing(Requirement::MemfdSecret, &f).is_none());
        assert!(requirement_missing(Requirement::Sgx, &f).is_some());
        f.memfd_secret =
            Err("memfd_secret is not available (ENOSYS): boot with secretmem.enable=1".into());
        let why = requirements_missing(&[Requirement::MemfdSecret, Requirement::Sgx], &f)
            .unwrap()
            .en;
        assert!(why.starts_with("needs memfd_secret"), "{why}");
        assert!(requirement_missing(Requirement::ContainerRuntime, &f).is_some());
        f.crun = Some("/usr/bin/crun".into());
        assert!(requirement_missing(Requirement::ContainerRuntime, &f).is_none());
        assert!(requirement_missing(Requirement::Crun, &f).is_none());
        // crun on hybrid cgroups: refused, and no runtime left without runc.
        f.cgroup_hybrid = Some("hugetlb".into());
        let why = requirement_missing(Requirement::Crun, &f).unwrap().en;
        assert!(
            why.contains("cgroups in hybrid mode not supported"),
            "{why}"
        );
        assert!(why.contains("(hugetlb)"), "{why}");
        let none = requirement_missing(Requirement::ContainerRuntime, &f)
            .unwrap()
            .en;
        assert!(
            none.starts_with(&why) && none.contains("no runc on PATH"),
            "{none}"
        );
        f.runc = Some("/usr/sbin/runc".into());
        assert!(requirement_missing(Requirement::ContainerRuntime, &f).is_none());
        assert!(requirement_missing(Requirement::Runc, &f).is_none());
    }
}
