//! The scenario file's parser: TOML into a [`Scenario`], every check a file can fail with its
//! `FILE:LINE:COL` (TOML errors carry byte spans; they become line numbers).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::types::*;
use crate::files::toml_at::{self, TomlError};
use crate::model::{Outcome, PodAttacker, ScenarioInfo, Texts};

/// An expectation in a file: one of the outcomes a scenario may promise ([`EXPECTABLE`]),
/// spelled as [`Outcome`] spells it (`error` is a result, never a promise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expected(Outcome);

/// The outcomes a scenario may expect, in the order the loader's error lists them.
const EXPECTABLE: [Outcome; 5] = [
    Outcome::Leak,
    Outcome::Unreadable,
    Outcome::Absent,
    Outcome::NotFound,
    Outcome::NotApplicable,
];

impl<'de> Deserialize<'de> for Expected {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Expected;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an outcome (leak, unreadable, absent, not-found or n/a)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Expected, E> {
                match EXPECTABLE.into_iter().find(|o| o.as_str() == v) {
                    Some(o) => Ok(Expected(o)),
                    // serde's own wording for an unknown enum value, which the docs test reads.
                    None => Err(E::custom(format!(
                        "unknown variant `{v}`, expected one of {}",
                        EXPECTABLE.map(|o| format!("`{}`", o.as_str())).join(", ")
                    ))),
                }
            }
        }
        d.deserialize_str(Visitor)
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
    pod: Option<Expected>,
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
    pod: Option<toml::Spanned<PodAttacker>>,
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
        (AttackKind::Pod, e.pod),
    ] {
        expect.insert(k, v.map_or(Outcome::NotApplicable, |e| e.0));
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
        needs: Vec::new(),
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
            crate::model::Wire::parse(w.get_ref())
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
        pod: (context == Context::Container).then(|| {
            raw.pod
                .as_ref()
                .map_or(PodAttacker::SidecarPtrace, |p| *p.get_ref())
        }),
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
    if let Some(p) = &raw.pod {
        if context != Some(Context::Container) {
            return err(p.span(), "pod needs context = \"container\"");
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

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod tests {
    use super::*;

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
        assert_eq!(ok.spec.wire, Some(crate::model::Wire::Console));
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
