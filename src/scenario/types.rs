//! The scenario type, as the runner and the contexts read it ([`Scenario`]: its report half
//! and its runner half, [`Spec`]), the values a scenario file may give, and the loader's errors.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::files::toml_at::TomlError;
use crate::model::{Outcome, ScenarioInfo, Texts};

pub use crate::model::{AttackKind, CvmProfile as CvmKind, VictimMode};

/// Where the victim runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Context {
    /// A process on this host.
    #[default]
    Process,
    /// A process inside a QEMU guest; the attacker is the host (the cloud operator).
    Vm,
    /// An SGX enclave in a host process (`victim --context sgx --mode plain`). Implied by
    /// `mode = "sgx"`, which needs no `context` line.
    Sgx,
    /// A process in a container on this host (`victim --context container --runtime R`); the
    /// attacker is the host's root, with the host PID.
    Container,
    /// A private PostgreSQL server and its client (`victim --context service --store S`):
    /// every server process, the data directory and the client are attacked.
    Service,
}

pub use crate::model::Runtime;

/// How a service row's client stores the secret (`store = …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbStore {
    /// An ordinary text column.
    Plaintext,
    /// `pgp_sym_encrypt` in the server, the key sent in the SQL.
    ServerEncrypted,
    /// AES-256-GCM in the client; the server sees only ciphertext.
    ClientEncrypted,
    /// Always Encrypted with secure enclaves: needs an enclave in the database server, which
    /// no host here has (the row requires `sql-enclave`).
    Enclave,
}

/// How a VM row's guest holds its victim (`guest_container = …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestContainer {
    /// New pid, mount, uts, ipc and net namespaces inside the guest (a Kata-style pod VM).
    Namespaces,
}

/// How the victim gets its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretVia {
    /// On standard input: nothing outside the victim's own memory holds it.
    #[default]
    Stdin,
    /// On the command line (`--secret-arg`): the pitfall, it stays on `[stack]`.
    Argv,
}

/// How the attacker searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Search {
    /// By SHA-256 + canary shape only: proof of recovery without being told the secret.
    #[default]
    Hash,
    /// Also every 8-byte window of the secret's random part: residue.
    Fragments,
}

/// Which user the victim runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunAs {
    /// root, like the attacker.
    #[default]
    Root,
    /// An unprivileged user (`nobody`); a same-uid attacker is run too.
    Unprivileged,
}

/// Something the host must offer for the row to run: a host fact, checked by
/// `runner::contexts::requirement_missing`.
pub use crate::host::Requirement;

/// A scenario ready to run: what reports show about it, and what the runner does. Its one
/// definition, made by [`super::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// What reports show about it (name, texts, why it cannot run here).
    pub info: ScenarioInfo,
    /// What the runner does.
    pub spec: Spec,
}

impl Scenario {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.info.name
    }
}

/// The runner's half of a [`Scenario`]: everything besides what reports show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The victim (a service row's client holds its canary in ordinary memory: `plain`).
    pub mode: VictimMode,
    /// Where it runs.
    pub context: Context,
    /// The container runtime of a container row.
    pub runtime: Option<Runtime>,
    /// The store of a service row.
    pub store: Option<DbStore>,
    /// A service row's server logs every statement to its data directory (the pitfall).
    pub statement_log: bool,
    /// A VM row's guest runs its victim in a container (new namespaces).
    pub guest_container: Option<GuestContainer>,
    /// The `pod` column's attacker of a container row (`pod = "..."`; default
    /// `sidecar-ptrace`); `None` for every other context.
    pub pod: Option<crate::model::PodAttacker>,
    /// The confidential-VM profile of a VM victim.
    pub cvm: Option<CvmKind>,
    /// Without the CVM hardware, run as a normal VM (`cvm_fallback = "vm"`) instead of `n/a`:
    /// for rows whose lesson holds either way (what a guest sends out is never encrypted).
    pub cvm_fallback: bool,
    /// How such a row reads where it falls back (title, stand-in label, lesson): set exactly
    /// when `cvm_fallback` is; applied by `runner::contexts::for_host`.
    pub fallback: Option<Fallback>,
    /// A channel the guest's victim also sends its secret out on (`sends = "console"`).
    pub wire: Option<crate::model::Wire>,
    /// How it gets its secret.
    pub secret: SecretVia,
    /// How the attacker searches.
    pub search: Search,
    /// Which user the victim runs as.
    pub run_as: RunAs,
    /// An SGX victim's enclave is a debug one (ATTRIBUTES.DEBUG).
    pub debug_enclave: bool,
    /// What the host must offer (including what `run_as` and `mode` imply).
    pub requires: Vec<Requirement>,
    /// The expected outcome of every attack path (omitted in the file = n/a).
    pub expect: BTreeMap<AttackKind, Outcome>,
    /// Which copy a leaking cell's hex view shows when the secret leaks in several places: the
    /// first hit in the region of this name (`[stack]`: the copy the lesson is about), else
    /// the first hit.
    pub show: Option<String>,
    /// Where it came from: `built-in` or the file's path.
    pub origin: String,
}

/// The texts of a row that runs as a normal VM in place of a confidential one: what it shows
/// there is not what it shows on the hardware, and the row says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The row's title there.
    pub title: Texts,
    /// What the normal VM stands in for.
    pub stand_in_for: Texts,
    /// The lesson there: what the cells show on this host.
    pub lesson: Texts,
}

impl Spec {
    /// The expected outcome of `attack`.
    pub fn expected(&self, attack: AttackKind) -> Outcome {
        self.expect
            .get(&attack)
            .copied()
            .unwrap_or(Outcome::NotApplicable)
    }
}

/// Errors of loading scenarios. Each names the file, and the line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file is not valid for the schema (TOML syntax, unknown key, unknown value...):
    /// `FILE:LINE:COL: message`.
    #[error(transparent)]
    Invalid(#[from] TomlError),
    /// The file could not be read.
    #[error("reading scenario {file}: {source}")]
    Io {
        /// The file or directory.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// Two files in one directory define the same name.
    #[error("{file}: scenario name {name:?} is already defined by {other}")]
    Duplicate {
        /// The second file.
        file: String,
        /// The name.
        name: String,
        /// The first file.
        other: String,
    },
    /// `--scenario NAME` names no scenario.
    #[error("no scenario named {name:?}; valid names: {valid}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
}
