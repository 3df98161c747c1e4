//! `demo --list`: the scenarios, each with its title, what it needs and whether this host has
//! it, as a table in the reader's language.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use crate::host::Requirement;
use crate::i18n::{self, t, tf, Lang};
use crate::model::CvmProfile;
use crate::runner::matrix::Scenario;
use crate::scenario::{Context as RunContext, RunAs};

/// `--list`: name, title, what each needs, and whether this host has it (in `lang`).
pub fn list(scenarios: &[Scenario], lang: Lang) -> String {
    let rows: Vec<[String; 4]> = scenarios
        .iter()
        .map(|s| {
            let mut needs: Vec<String> = Vec::new();
            if s.spec.context == RunContext::Vm {
                needs.push(t(lang, "list.needs-vm").to_string());
            }
            if let Some(cvm) = s.spec.cvm {
                let host = match cvm {
                    CvmProfile::SevSnp => "list.needs-sev-snp",
                    CvmProfile::Tdx => "list.needs-tdx",
                };
                let fallback = if s.spec.cvm_fallback {
                    t(lang, "list.else-normal-vm")
                } else {
                    ""
                };
                needs.push(format!("{}{fallback}", t(lang, host)));
            }
            needs.extend(
                s.spec
                    .requires
                    .iter()
                    .map(|r| requirement(*r, lang).to_string()),
            );
            if s.spec.run_as == RunAs::Unprivileged {
                needs.push(t(lang, "list.needs-unprivileged").to_string());
            }
            let needs = if needs.is_empty() {
                "-".to_string()
            } else {
                i18n::list(lang, &needs)
            };
            let here = match &s.info.unavailable {
                None => t(lang, "list.runs").to_string(),
                Some(why) => tf(lang, "list.na", &[why]),
            };
            let origin = if s.spec.origin == "built-in" {
                String::new()
            } else {
                i18n::paren(lang, &s.spec.origin)
            };
            [
                s.info.name.clone(),
                s.info.title.get(lang).to_string(),
                needs,
                format!("{here}{origin}"),
            ]
        })
        .collect();
    let heads = ["list.name", "list.title", "list.needs", "list.here"].map(|k| t(lang, k));
    let cols = |i: usize| {
        rows.iter()
            .map(|r| UnicodeWidthStr::width(r[i].as_str()))
            .chain([UnicodeWidthStr::width(heads[i])])
            .max()
            .unwrap_or(0)
    };
    let pad = |text: &str, w: usize| {
        let fill = w.saturating_sub(UnicodeWidthStr::width(text));
        format!("{text}{}", " ".repeat(fill))
    };
    let (w0, w1, w2) = (cols(0), cols(1), cols(2));
    let mut out = String::new();
    let line = |out: &mut String, r: [&str; 4]| {
        let _ = writeln!(
            out,
            "{}  {}  {}  {}",
            pad(r[0], w0),
            pad(r[1], w1),
            pad(r[2], w2),
            r[3]
        );
    };
    line(&mut out, heads);
    for [name, title, needs, here] in &rows {
        line(&mut out, [name, title, needs, here]);
    }
    out
}

/// A requirement's name for a reader of `lang` (technical names stay as they are).
fn requirement(r: Requirement, lang: Lang) -> &'static str {
    t(
        lang,
        match r {
            Requirement::Sgx => "req.sgx",
            Requirement::SevSnp => "req.sev-snp",
            Requirement::Tdx => "req.tdx",
            Requirement::MemfdSecret => "req.memfd_secret",
            Requirement::UnprivilegedUser => "req.unprivileged-user",
            Requirement::ContainerRuntime => "req.container-runtime",
            Requirement::Postgres => "req.postgresql",
            Requirement::CvmGuest => "req.cvm-guest",
            Requirement::SevSnpHost => "req.sev-snp-host",
            Requirement::TdxHost => "req.tdx-host",
            Requirement::Runc => "req.runc",
            Requirement::Crun => "req.crun",
            Requirement::SqlEnclave => "req.sql-enclave",
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_scenario_under_the_heads() {
        let all = crate::scenario::builtin().unwrap();
        let en = list(&all, Lang::En);
        let lines: Vec<&str> = en.lines().collect();
        assert_eq!(lines.len(), all.len() + 1);
        assert!(lines[0].starts_with("NAME"), "{en}");
        assert!(
            lines[0].contains("TITLE") && lines[0].contains("HERE"),
            "{en}"
        );
        assert!(lines.iter().any(|l| l.starts_with("plain ")), "{en}");
        let ja = list(&all, Lang::Ja);
        assert!(ja.starts_with("名前"), "{ja}");
        assert_eq!(requirement(Requirement::Sgx, Lang::Ja), "SGX");
    }

    #[test]
    fn a_requirement_reads_in_english_as_require_spells_it() {
        for r in Requirement::ALL {
            assert_eq!(requirement(r, Lang::En), r.as_str());
        }
    }
}
