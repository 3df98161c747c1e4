//! What the runner and the contexts need from this host: the run environment, probed once per
//! run. Why a scenario's row cannot run here is `runner::contexts::unavailable`, which asks the
//! row's context ([`super::VictimHost::unavailable`]).

use std::path::PathBuf;
use std::sync::Arc;

use crate::host::{self, HostFacts};
pub use crate::host::{passwd_lookup, User};
use crate::i18n::Lang;
use crate::model::Texts;

/// Why memfd_secret does not work on this host, in doctor's words
/// ([`host::memfd_secret_missing`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MemfdSecretMissing(pub String);

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
    pub memfd_secret: Result<(), MemfdSecretMissing>,
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
            memfd_secret: host::memfd_secret_missing(&host)
                .map_or(Ok(()), |t| Err(MemfdSecretMissing(t.en))),
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

    /// The catalogue's text of `key` in this run's language.
    pub fn t(&self, key: &'static str) -> String {
        crate::i18n::t(self.lang, key).to_string()
    }

    /// The catalogue's text of `key` in this run's language, its `{}` filled with `args`.
    pub fn tf(&self, key: &'static str, args: &[&dyn std::fmt::Display]) -> String {
        crate::i18n::tf(self.lang, key, args)
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
