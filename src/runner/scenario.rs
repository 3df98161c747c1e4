//! Demo scenarios as data: `demo/scenarios/*.toml`, built into the binary, plus any directory
//! an instructor points `--scenario-dir` at.
//!
//! A scenario says what the victim holds and how (`mode`, `secret`), how the attacker searches
//! (`search`), what the host must offer (`requires`, `run_as`), and what each attack path must
//! give (`[expect]`). The runner ([`super::matrix`]) turns it into real processes; nothing here
//! does I/O except reading the files.
//!
//! ```toml
//! name = "plain"
//! title  = { en = "Ordinary heap memory", ja = "…" }   # also title.en = "…"
//! holds  = { en = "a canary in a heap allocation", ja = "…" }
//! lesson = { en = "Any root tool reads it.", ja = "…" }
//! mode = "plain"            # victim --mode (crate::model::VictimMode)
//! [expect]                  # per attack path (crate::model::AttackKind): an outcome;
//! dump = "leak"             #   an omitted path means n/a
//! ```
//!
//! README.md's "Scenarios are data" example is the whole schema, every key and value with what
//! it means; `tests/docs.rs` runs it through [`parse`] and checks that it names everything the
//! parser accepts.
//!
//! Every error names the file and the line (TOML errors carry byte spans; we turn them into
//! line numbers), so an instructor can fix a file without reading Rust.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::files::toml_at::{self, TomlError};
use crate::model::{Outcome, ScenarioInfo, Texts};

/// The built-in scenarios, in the order the matrix shows them.
const BUILTIN: &[(&str, &str)] = &[
    (
        "plain.toml",
        include_str!("../../demo/scenarios/plain.toml"),
    ),
    (
        "dontdump.toml",
        include_str!("../../demo/scenarios/dontdump.toml"),
    ),
    (
        "secretmem.toml",
        include_str!("../../demo/scenarios/secretmem.toml"),
    ),
    ("argv.toml", include_str!("../../demo/scenarios/argv.toml")),
    (
        "residue.toml",
        include_str!("../../demo/scenarios/residue.toml"),
    ),
    (
        "dumpable.toml",
        include_str!("../../demo/scenarios/dumpable.toml"),
    ),
    ("sgx.toml", include_str!("../../demo/scenarios/sgx.toml")),
    (
        "sgx-debug.toml",
        include_str!("../../demo/scenarios/sgx-debug.toml"),
    ),
    (
        "sgx-sim.toml",
        include_str!("../../demo/scenarios/sgx-sim.toml"),
    ),
    (
        "vm-plain.toml",
        include_str!("../../demo/scenarios/vm-plain.toml"),
    ),
    (
        "vm-secretmem.toml",
        include_str!("../../demo/scenarios/vm-secretmem.toml"),
    ),
    (
        "cvm-sev-snp.toml",
        include_str!("../../demo/scenarios/cvm-sev-snp.toml"),
    ),
    (
        "cvm-tdx.toml",
        include_str!("../../demo/scenarios/cvm-tdx.toml"),
    ),
    (
        "cvm-shared-io.toml",
        include_str!("../../demo/scenarios/cvm-shared-io.toml"),
    ),
    (
        "container.toml",
        include_str!("../../demo/scenarios/container.toml"),
    ),
    (
        "container-secretmem.toml",
        include_str!("../../demo/scenarios/container-secretmem.toml"),
    ),
    (
        "container-oci.toml",
        include_str!("../../demo/scenarios/container-oci.toml"),
    ),
    (
        "pod-vm.toml",
        include_str!("../../demo/scenarios/pod-vm.toml"),
    ),
    ("coco.toml", include_str!("../../demo/scenarios/coco.toml")),
    (
        "db-plaintext.toml",
        include_str!("../../demo/scenarios/db-plaintext.toml"),
    ),
    (
        "db-server-encrypted.toml",
        include_str!("../../demo/scenarios/db-server-encrypted.toml"),
    ),
    (
        "db-server-logged.toml",
        include_str!("../../demo/scenarios/db-server-logged.toml"),
    ),
    (
        "db-client-encrypted.toml",
        include_str!("../../demo/scenarios/db-client-encrypted.toml"),
    ),
    (
        "db-enclave.toml",
        include_str!("../../demo/scenarios/db-enclave.toml"),
    ),
];

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

pub use crate::container::Runtime;

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

impl DbStore {
    /// The store `victim --context service --store` runs (`None` for the enclave).
    pub fn service_store(&self) -> Option<crate::service::Store> {
        use crate::service::Store;
        match self {
            DbStore::Plaintext => Some(Store::Plaintext),
            DbStore::ServerEncrypted => Some(Store::ServerEncrypted),
            DbStore::ClientEncrypted => Some(Store::ClientEncrypted),
            DbStore::Enclave => None,
        }
    }
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
/// [`crate::host::requirement_missing`].
pub use crate::host::Requirement;

/// An expectation in a file: the outcomes a scenario may promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum Expected {
    #[serde(rename = "leak")]
    Leak,
    #[serde(rename = "unreadable")]
    Unreadable,
    #[serde(rename = "absent")]
    Absent,
    #[serde(rename = "not-found")]
    NotFound,
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl From<Expected> for Outcome {
    fn from(e: Expected) -> Self {
        match e {
            Expected::Leak => Outcome::Leak,
            Expected::Unreadable => Outcome::Unreadable,
            Expected::Absent => Outcome::Absent,
            Expected::NotFound => Outcome::NotFound,
            Expected::NotApplicable => Outcome::NotApplicable,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTexts {
    en: String,
    #[serde(default)]
    ja: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    dump: Option<Expected>,
    gcore: Option<Expected>,
    kernel: Option<Expected>,
    live: Option<Expected>,
    qmp: Option<Expected>,
    #[serde(rename = "same-uid")]
    same_uid: Option<Expected>,
    wire: Option<Expected>,
    checkpoint: Option<Expected>,
    disk: Option<Expected>,
    client: Option<Expected>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: toml::Spanned<String>,
    title: RawTexts,
    holds: RawTexts,
    lesson: RawTexts,
    mode: Option<toml::Spanned<VictimMode>>,
    context: Option<toml::Spanned<Context>>,
    cvm: Option<CvmKind>,
    cvm_fallback: Option<toml::Spanned<String>>,
    sends: Option<toml::Spanned<String>>,
    runtime: Option<toml::Spanned<Runtime>>,
    store: Option<toml::Spanned<DbStore>>,
    statement_log: Option<toml::Spanned<bool>>,
    guest_container: Option<toml::Spanned<GuestContainer>>,
    #[serde(default)]
    secret: SecretVia,
    #[serde(default)]
    search: Search,
    #[serde(default)]
    run_as: RunAs,
    stand_in_for: Option<RawTexts>,
    show: Option<String>,
    debug_enclave: Option<toml::Spanned<bool>>,
    #[serde(default)]
    requires: Vec<Requirement>,
    fallback: Option<toml::Spanned<RawFallback>>,
    expect: RawExpect,
}

/// `[fallback]`: how a `cvm_fallback` row reads where it runs as a normal VM.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFallback {
    title: Option<RawTexts>,
    stand_in_for: Option<RawTexts>,
    lesson: Option<RawTexts>,
}

/// A scenario ready to run: what reports show about it, and what the runner does. Its one
/// definition, made by [`parse`].
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
    /// The confidential-VM profile of a VM victim.
    pub cvm: Option<CvmKind>,
    /// Without the CVM hardware, run as a normal VM (`cvm_fallback = "vm"`) instead of `n/a`:
    /// for rows whose lesson holds either way (what a guest sends out is never encrypted).
    pub cvm_fallback: bool,
    /// How such a row reads where it falls back (title, stand-in label, lesson): set exactly
    /// when `cvm_fallback` is; applied by [`super::env::for_host`].
    pub fallback: Option<Fallback>,
    /// A channel the guest's victim also sends its secret out on (`sends = "console"`).
    pub wire: Option<crate::vm::guest::Wire>,
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

/// The `FILE:LINE:COL: message` error for `span` of `text` ([`TomlError::at`]).
fn invalid(
    file: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    msg: &str,
) -> ScenarioError {
    ScenarioError::Invalid(TomlError::at(file, text, span, msg))
}

/// Parses one scenario file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml_at::parse(file, text)?;
    let name = raw.name.get_ref().trim().to_string();
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(invalid(
            file,
            text,
            Some(raw.name.span()),
            "name must be non-empty and use only letters, digits, '-' and '_' (it becomes a JUnit class name)",
        ));
    }
    let raw_context = raw.context.as_ref().map(|c| *c.get_ref());
    let context_span = raw
        .context
        .as_ref()
        .map(|c| c.span())
        .or_else(|| raw.mode.as_ref().map(|m| m.span()))
        .unwrap_or_else(|| raw.name.span());
    // A service row's client holds a canary in ordinary memory; every other row names its
    // victim's mode.
    let mode =
        match (&raw.mode, raw_context) {
            (Some(m), Some(Context::Service)) => return Err(invalid(
                file,
                text,
                Some(m.span()),
                "context = \"service\" takes store, not mode (the client holds an ordinary canary)",
            )),
            (Some(m), _) => *m.get_ref(),
            (None, Some(Context::Service)) => VictimMode::Plain,
            (None, _) => {
                return Err(invalid(
                    file,
                    text,
                    Some(raw.name.span()),
                    "missing field `mode` (only context = \"service\" goes without one)",
                ))
            }
        };
    let mut requires = raw.requires.clone();
    // What a mode or user choice implies is required too, so no file can forget it.
    let in_vm = raw_context == Some(Context::Vm);
    match mode {
        // In a VM it is the guest kernel's memfd_secret, not this host's.
        VictimMode::SecretMem | VictimMode::Residue if !in_vm => {
            requires.push(Requirement::MemfdSecret)
        }
        VictimMode::Sgx => requires.push(Requirement::Sgx),
        _ => {}
    }
    check_context_fields(file, text, &raw, raw_context, context_span.clone())?;
    match raw.runtime.as_ref().map(|r| *r.get_ref()) {
        Some(Runtime::Runc) => requires.push(Requirement::Runc),
        Some(Runtime::Crun) => requires.push(Requirement::Crun),
        Some(Runtime::Namespaces) | None => {}
    }
    match raw.store.as_ref().map(|s| *s.get_ref()) {
        Some(DbStore::Enclave) => requires.push(Requirement::SqlEnclave),
        Some(_) => requires.push(Requirement::Postgres),
        None => {}
    }
    // `run_as = "unprivileged"` implies no row requirement: only the same-uid attacker needs
    // the user (root's attacks run anyway), so the runner checks it per cell.
    requires.sort();
    requires.dedup();
    let e = &raw.expect;
    let mut expect = BTreeMap::new();
    for (k, v) in [
        (AttackKind::Dump, e.dump),
        (AttackKind::Gcore, e.gcore),
        (AttackKind::Kernel, e.kernel),
        (AttackKind::Live, e.live),
        (AttackKind::Qmp, e.qmp),
        (AttackKind::SameUid, e.same_uid),
        (AttackKind::Wire, e.wire),
        (AttackKind::Checkpoint, e.checkpoint),
        (AttackKind::Disk, e.disk),
        (AttackKind::Client, e.client),
    ] {
        expect.insert(k, v.map_or(Outcome::NotApplicable, Outcome::from));
    }
    let text_of = |t: RawTexts| Texts { en: t.en, ja: t.ja };
    let raw_fallback = raw.fallback.map(|f| (f.span(), f.into_inner()));
    if let (Some((span, _)), None) = (&raw_fallback, &raw.cvm_fallback) {
        return Err(invalid(
            file,
            text,
            Some(span.clone()),
            "[fallback] needs cvm_fallback = \"vm\"",
        ));
    }
    let fallback = raw.cvm_fallback.is_some().then(|| {
        let f = raw_fallback.map(|(_, f)| f);
        let (title, stand_in_for, lesson) =
            f.map_or((None, None, None), |f| (f.title, f.stand_in_for, f.lesson));
        Fallback {
            title: title.map_or_else(
                || Texts {
                    en: format!("{} (a normal VM stands in)", raw.title.en),
                    ja: format!("{}（通常の VM で代用）", raw.title.ja),
                },
                text_of,
            ),
            stand_in_for: stand_in_for.map_or_else(
                || {
                    Texts::new(
                        "a confidential VM (no such hardware on this host)",
                        "機密 VM（このホストにはそのハードウェアがない）",
                    )
                },
                text_of,
            ),
            lesson: lesson.map_or_else(
                || Texts::new(raw.lesson.en.clone(), raw.lesson.ja.clone()),
                text_of,
            ),
        }
    });
    let info = ScenarioInfo {
        name,
        title: text_of(raw.title),
        holds: text_of(raw.holds),
        lesson: text_of(raw.lesson),
        stand_in_for: raw.stand_in_for.map(text_of),
        unavailable: None,
    };
    // `mode = "sgx"` is the enclave context: the one victim it has, and the only one it runs.
    let context = match (raw_context, mode) {
        (None | Some(Context::Sgx), VictimMode::Sgx) => Context::Sgx,
        (Some(Context::Sgx), _) => {
            return Err(invalid(
                file,
                text,
                Some(context_span),
                "context = \"sgx\" takes mode = \"sgx\" (the enclave)",
            ))
        }
        (Some(_), VictimMode::Sgx) => {
            return Err(invalid(
                file,
                text,
                Some(context_span),
                "mode = \"sgx\" runs in the sgx context only (omit context)",
            ))
        }
        (c, _) => c.unwrap_or(Context::Process),
    };
    let debug_enclave = raw.debug_enclave.as_ref().is_some_and(|d| *d.get_ref());
    if debug_enclave && context != Context::Sgx {
        return Err(invalid(
            file,
            text,
            raw.debug_enclave.as_ref().map(|d| d.span()),
            "debug_enclave needs mode = \"sgx\"",
        ));
    }
    if context == Context::Sgx && (raw.secret != SecretVia::Stdin || raw.run_as != RunAs::Root) {
        return Err(invalid(
            file,
            text,
            Some(context_span),
            "mode = \"sgx\": the secret comes on stdin and the victim runs as root",
        ));
    }
    if context == Context::Vm {
        // The guest generates its secret and tells the host only its hash: no stdin/argv
        // secret, no fragments, no unprivileged host user, and only modes the guest has.
        let why = if !matches!(mode, VictimMode::Plain | VictimMode::SecretMem) {
            Some("context = \"vm\" takes mode plain or secretmem")
        } else if raw.secret != SecretVia::Stdin || raw.search != Search::Hash {
            Some("context = \"vm\": the secret is made inside the guest (no secret/search options)")
        } else if raw.run_as != RunAs::Root {
            Some("context = \"vm\" has no run_as: the attacker is the host")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(invalid(file, text, Some(context_span), why));
        }
    } else if raw.cvm.is_some() || raw.sends.is_some() || raw.cvm_fallback.is_some() {
        return Err(invalid(
            file,
            text,
            Some(context_span),
            "cvm, cvm_fallback and sends need context = \"vm\"",
        ));
    }
    let wire = match &raw.sends {
        None => None,
        Some(w) => Some(
            crate::vm::guest::Wire::parse(w.get_ref())
                .map_err(|why| invalid(file, text, Some(w.span()), &why.to_string()))?,
        ),
    };
    let cvm_fallback = match &raw.cvm_fallback {
        None => false,
        Some(f) if f.get_ref() == "vm" && raw.cvm.is_some() => true,
        Some(f) => return Err(invalid(
            file,
            text,
            Some(f.span()),
            "cvm_fallback takes \"vm\" (run as a normal VM without the CVM hardware), with cvm set",
        )),
    };
    let spec = Spec {
        mode,
        context,
        runtime: (context == Context::Container).then(|| {
            raw.runtime
                .as_ref()
                .map_or(Runtime::Namespaces, |r| *r.get_ref())
        }),
        store: raw.store.as_ref().map(|s| *s.get_ref()),
        statement_log: raw.statement_log.as_ref().is_some_and(|l| *l.get_ref()),
        guest_container: raw.guest_container.as_ref().map(|g| *g.get_ref()),
        cvm: raw.cvm,
        cvm_fallback,
        fallback: if cvm_fallback { fallback } else { None },
        wire,
        secret: raw.secret,
        search: raw.search,
        run_as: raw.run_as,
        debug_enclave,
        requires,
        expect,
        show: raw.show,
        origin: file.to_string(),
    };
    Ok(Scenario { info, spec })
}

/// The fields that belong to one context only (`runtime`, `store`, `guest_container`), and
/// what the container and service contexts refuse.
fn check_context_fields(
    file: &str,
    text: &str,
    raw: &RawScenario,
    context: Option<Context>,
    context_span: std::ops::Range<usize>,
) -> Result<(), ScenarioError> {
    let err = |span: std::ops::Range<usize>, why: &str| Err(invalid(file, text, Some(span), why));
    if let Some(r) = &raw.runtime {
        if context != Some(Context::Container) {
            return err(r.span(), "runtime needs context = \"container\"");
        }
    }
    if let Some(g) = &raw.guest_container {
        if context != Some(Context::Vm) {
            return err(g.span(), "guest_container needs context = \"vm\"");
        }
    }
    if let Some(l) = &raw.statement_log {
        if context != Some(Context::Service) {
            return err(l.span(), "statement_log needs context = \"service\"");
        }
    }
    match (&raw.store, context) {
        (Some(st), c) if c != Some(Context::Service) => {
            return err(st.span(), "store needs context = \"service\"")
        }
        (None, Some(Context::Service)) => {
            return err(
                context_span,
                "context = \"service\" needs store = \"plaintext\" | \"server-encrypted\" | \"client-encrypted\" | \"enclave\"",
            )
        }
        _ => {}
    }
    let defaults =
        raw.secret == SecretVia::Stdin && raw.search == Search::Hash && raw.run_as == RunAs::Root;
    match context {
        Some(Context::Service) if !defaults => err(
            context_span,
            "context = \"service\": the client makes its own canary (no secret/search/run_as options)",
        ),
        Some(Context::Container) if raw.run_as != RunAs::Root => err(
            context_span,
            "context = \"container\" has no run_as: the attacker is the host's root",
        ),
        Some(Context::Container)
            if raw
                .mode
                .as_ref()
                .is_some_and(|m| matches!(m.get_ref(), VictimMode::Sgx | VictimMode::SgxSim)) =>
        {
            err(
                context_span,
                "context = \"container\" takes the process victims' modes (not sgx)",
            )
        }
        _ => Ok(()),
    }
}

/// The built-in scenarios, parsed. An error here is a bug in a shipped file (and a test fails).
pub fn builtin() -> Result<Vec<Scenario>, ScenarioError> {
    BUILTIN
        .iter()
        .map(|(file, text)| {
            let mut s = parse(&format!("built-in demo/scenarios/{file}"), text)?;
            s.spec.origin = "built-in".to_string();
            Ok(s)
        })
        .collect()
}

/// Every `*.toml` of `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let io = |source| ScenarioError::Io {
        file: dir.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out: Vec<Scenario> = Vec::new();
    for path in files {
        let file = path.display().to_string();
        // Regular files only, size capped (a link to /dev/zero or a FIFO is refused).
        let text = crate::files::input::read_user_text(&path, 1 << 20, "a scenario file").map_err(
            |e| ScenarioError::Io {
                file: file.clone(),
                source: match e {
                    crate::files::input::InputError::Io { source, .. } => source,
                    other => std::io::Error::other(other.to_string()),
                },
            },
        )?;
        let s = parse(&file, &text)?;
        if let Some(other) = out.iter().find(|o| o.info.name == s.info.name) {
            return Err(ScenarioError::Duplicate {
                file,
                name: s.info.name,
                other: other.spec.origin.clone(),
            });
        }
        out.push(s);
    }
    Ok(out)
}

/// Built-ins, then `dir`'s scenarios: a file whose name matches a built-in replaces it in
/// place (an instructor can adjust a shipped scenario); others are appended.
pub fn load_all(dir: Option<&Path>) -> Result<Vec<Scenario>, ScenarioError> {
    let mut all = builtin()?;
    if let Some(dir) = dir {
        for s in load_dir(dir)? {
            match all.iter_mut().find(|o| o.info.name == s.info.name) {
                Some(slot) => *slot = s,
                None => all.push(s),
            }
        }
    }
    Ok(all)
}

/// Keeps only the scenarios named in `names` (in the order given), or all when `names` is
/// empty. An unknown name is an error listing the valid ones.
pub fn select(all: Vec<Scenario>, names: &[String]) -> Result<Vec<Scenario>, ScenarioError> {
    if names.is_empty() {
        return Ok(all);
    }
    let mut out: Vec<Scenario> = Vec::new();
    for n in names {
        match all.iter().find(|s| &s.info.name == n) {
            Some(s) if !out.iter().any(|o| &o.info.name == n) => out.push(s.clone()),
            Some(_) => {}
            None => {
                return Err(ScenarioError::Unknown {
                    name: n.clone(),
                    valid: all
                        .iter()
                        .map(|s| s.info.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        let all = builtin().unwrap_or_default();
        assert_eq!(all.len(), BUILTIN.len());
    }

    #[test]
    fn a_wire_and_a_cvm_fallback_belong_to_a_vm_row() {
        let base = "name = \"x\"\ntitle.en = \"t\"\nholds.en = \"h\"\nlesson.en = \"l\"\nmode = \"secretmem\"\n";
        let with = |extra: &str| {
            parse(
                "f.toml",
                &format!("{base}{extra}\n[expect]\nwire = \"leak\"\n"),
            )
        };
        let ok =
            with("context = \"vm\"\ncvm = \"sev-snp\"\ncvm_fallback = \"vm\"\nsends = \"console\"")
                .unwrap();
        assert_eq!(ok.spec.wire, Some(crate::vm::guest::Wire::Console));
        assert!(ok.spec.cvm_fallback);
        assert_eq!(ok.spec.expected(AttackKind::Wire), Outcome::Leak);
        for (extra, says) in [
            ("sends = \"console\"", "need context"),
            (
                "context = \"vm\"\nsends = \"virtio-serial\"",
                "not built yet",
            ),
            ("context = \"vm\"\nsends = \"smoke\"", "unknown channel"),
            ("context = \"vm\"\ncvm_fallback = \"vm\"", "with cvm set"),
        ] {
            let e = with(extra).unwrap_err().to_string();
            assert!(e.starts_with("f.toml:") && e.contains(says), "{extra}: {e}");
        }
    }

    #[test]
    fn a_fallback_row_says_what_stands_in() {
        let head = "name = \"x\"\ntitle.en = \"CVM row\"\nholds.en = \"h\"\nlesson.en = \"l\"\nmode = \"secretmem\"\ncontext = \"vm\"\ncvm = \"sev-snp\"\n";
        let tail = "[expect]\nwire = \"leak\"\n";
        // No [fallback]: the defaults still say a normal VM runs.
        let s = parse("f.toml", &format!("{head}cvm_fallback = \"vm\"\n{tail}")).unwrap();
        let f = s.spec.fallback.unwrap();
        assert_eq!(f.title.en, "CVM row (a normal VM stands in)");
        assert!(f.stand_in_for.en.contains("no such hardware"), "{f:?}");
        // Given texts replace them; the row's own stay for a host that has the hardware.
        let given = format!(
            "{head}cvm_fallback = \"vm\"\n[fallback]\ntitle.en = \"Normal VM\"\nlesson.en = \"memory leaks here\"\n{tail}"
        );
        let s = parse("f.toml", &given).unwrap();
        let f = s.spec.fallback.unwrap();
        assert_eq!(
            (f.title.en.as_str(), f.lesson.en.as_str()),
            ("Normal VM", "memory leaks here")
        );
        assert_eq!(s.info.title.en, "CVM row");
        // Texts for a fallback that cannot happen are refused, with their line.
        let e = parse(
            "f.toml",
            &format!("{head}[fallback]\ntitle.en = \"t\"\n{tail}"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("f.toml:8:") && e.contains("needs cvm_fallback"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "name = \"x\"\ntitle.en = \"t\"\nholds.en = \"h\"\nlesson.en = \"l\"\nmode = \"plain\"\n[expect]\ndump = \"lek\"\n";
        match parse("f.toml", text) {
            Err(ScenarioError::Invalid(e)) => {
                assert_eq!((e.file.as_str(), e.line), ("f.toml", 7));
            }
            other => panic!("{other:?}"),
        }
        let text = text
            .replace("\"plain\"", "\"plian\"")
            .replace("lek", "leak");
        match parse("f.toml", &text) {
            Err(ScenarioError::Invalid(e)) => {
                assert_eq!(e.line, 5, "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}
