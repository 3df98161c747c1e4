//! What the runner needs from this host: the run environment probed once per run, and why a
//! scenario's row cannot run here.

use std::path::PathBuf;
use std::sync::Arc;

use super::matrix::Scenario;
use super::scenario::{Context, Spec};
use crate::host::{self, HostFacts};
pub use crate::host::{passwd_lookup, User};
use crate::i18n::Lang;
use crate::model::Texts;

/// What the runner needs from the machine: this run's host probe ([`HostFacts`]) and the
/// executable the victims run. The public fields are views of the probe, kept for readers
/// that take them by name; every verdict comes from [`crate::host`], as doctor's do.
#[derive(Debug, Clone)]
pub struct RunEnv {
    /// Path of the confidump executable.
    pub exe: PathBuf,
    /// The host probe every verdict is read from.
    pub host: Arc<HostFacts>,
    /// gdb's `gcore`, when it can be run here ([`host::gcore_missing`] is `None`).
    pub gcore: Option<PathBuf>,
    /// `/proc/sys/kernel/core_pattern` (empty when unreadable).
    pub core_pattern: String,
    /// `Ok` when memfd_secret works here; else why not ([`host::memfd_secret_missing`]).
    pub memfd_secret: Result<(), String>,
    /// The unprivileged user for `run_as = "unprivileged"`, or why there is none.
    pub unprivileged: Result<User, crate::model::Texts>,
    /// The language of every reason the runner writes into cells and rows: the report's
    /// language, so the renderers draw what they are given.
    pub lang: Lang,
}

impl RunEnv {
    /// This run's environment: the host probe for `exe` ([`HostFacts::for_exe`]: the
    /// process's shared one when `exe` is this program), with the unprivileged user tried for
    /// real (`exe --version` as that user).
    pub fn probe(exe: PathBuf) -> Self {
        let host = HostFacts::for_exe(&exe);
        Self::with_host(exe, host)
    }

    /// The environment over given facts (a fake host in tests).
    pub fn with_host(exe: PathBuf, host: Arc<HostFacts>) -> Self {
        Self {
            gcore: host
                .gcore
                .clone()
                .filter(|_| host::gcore_missing(&host).is_none()),
            core_pattern: host.core_pattern.clone().unwrap_or_default(),
            memfd_secret: host::memfd_secret_missing(&host).map_or(Ok(()), |t| Err(t.en)),
            unprivileged: host.unprivileged().clone(),
            lang: Lang::En,
            exe,
            host,
        }
    }

    /// The same environment, writing its reasons in `lang`.
    pub fn in_lang(self, lang: Lang) -> Self {
        Self { lang, ..self }
    }

    /// `t` in this run's language.
    pub fn say(&self, t: Texts) -> String {
        t.into_lang(self.lang)
    }

    /// `(English, Japanese)` in this run's language, as the [`Texts`] they are.
    pub fn pick(&self, en: &str, ja: &str) -> String {
        self.say(Texts::new(en, ja))
    }

    /// Why the kernel's core dump cannot be used here without changing system settings.
    pub fn kernel_unusable(&self) -> Option<String> {
        host::kernel_core_unusable(&self.host).map(|t| self.say(t))
    }

    /// Why gdb's gcore cannot be run here.
    pub fn gcore_missing(&self) -> Option<String> {
        host::gcore_missing(&self.host).map(|t| self.say(t))
    }

    /// Why no victim can run as the unprivileged user here.
    pub fn unprivileged_missing(&self) -> Option<String> {
        host::unprivileged_missing(&self.host).map(|t| self.say(t))
    }
}

/// Why the whole row cannot run on this host, if it cannot.
pub fn unavailable(s: &Scenario, env: &RunEnv) -> Option<String> {
    unavailable_spec(&s.spec, env)
}

/// The scenarios as this host can run them: each row that cannot run here carries its reason
/// in `info.unavailable`, and a row that runs as a normal VM in place of a confidential one
/// carries its fallback texts (title, stand-in label, lesson), so the table, the presenter,
/// the JSON and `--list` all say it the same way.
pub fn for_host(all: Vec<Scenario>, env: &RunEnv) -> Vec<Scenario> {
    all.into_iter()
        .map(|mut s| {
            s.info.unavailable = unavailable_spec(&s.spec, env);
            if let Some(f) = s
                .spec
                .fallback
                .as_ref()
                .filter(|_| falls_back(&s.spec, env))
            {
                s.info.title = f.title.clone();
                s.info.stand_in_for = Some(f.stand_in_for.clone());
                s.info.lesson = f.lesson.clone();
            }
            s
        })
        .collect()
}

/// A `cvm_fallback` row runs as a normal VM here.
fn falls_back(spec: &Spec, env: &RunEnv) -> bool {
    spec.cvm_fallback && host::vm_row_unavailable(spec.cvm, &env.host).is_some()
}

/// The CVM profile a VM row runs with here: its own, or none (a normal VM) for a row with
/// `cvm_fallback` on a host that lacks the hardware.
pub fn cvm_to_run(spec: &Spec, env: &RunEnv) -> Option<crate::model::CvmProfile> {
    if falls_back(spec, env) {
        None
    } else {
        spec.cvm
    }
}

fn unavailable_spec(spec: &Spec, env: &RunEnv) -> Option<String> {
    if let Some(missing) = host::requirements_missing(&spec.requires, &env.host) {
        return Some(env.say(missing));
    }
    if spec.context == Context::Vm {
        let profile = cvm_to_run(spec, env);
        if let Some(missing) = host::vm_row_unavailable(profile, &env.host) {
            let missing = env.say(missing);
            // A container in a confidential VM is a confidential container (Kata on a TEE).
            return Some(match (spec.guest_container, profile) {
                (Some(_), Some(p)) => env.pick(
                    &format!(
                        "needs a Kata pod VM on {} (AKS runtime class kata-cc-isolation): {missing}",
                        p.title()
                    ),
                    &format!(
                        "{} 上の Kata のポッド VM が必要（AKS のランタイムクラス kata-cc-isolation）。{missing}",
                        p.title()
                    ),
                ),
                _ => missing,
            });
        }
    }
    // An enclave is started by its own context (`victim --context sgx`), not by `--mode`.
    if spec.context != Context::Sgx && spec.mode.victim_arg().is_none() {
        return Some(env.say(Texts::new(
            format!(
                "this build of confidump has no {:?} victim to start",
                spec.mode
            ),
            format!(
                "この confidump のビルドには {:?} の標的プロセスがない。",
                spec.mode
            ),
        )));
    }
    None
}
