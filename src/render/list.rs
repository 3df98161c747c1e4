//! `demo --list`: the scenarios, each with its title, what it needs and whether this host has
//! it, as a table in the reader's language.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use crate::host::Requirement;
use crate::runner::matrix::Scenario;
use crate::runner::scenario::{Context as RunContext, RunAs};

/// `--list`: name, title, what each needs, and whether this host has it (in `lang`).
pub fn list(scenarios: &[Scenario], lang: &str) -> String {
    let ja = lang == "ja";
    let rows: Vec<[String; 4]> = scenarios
        .iter()
        .map(|s| {
            let mut needs: Vec<String> = Vec::new();
            if s.spec.context == RunContext::Vm {
                needs.push(
                    if ja {
                        "QEMU、ゲストカーネル"
                    } else {
                        "qemu, guest kernel"
                    }
                    .to_string(),
                );
            }
            if let Some(cvm) = s.spec.cvm {
                needs.push(
                    match (cvm, ja) {
                        (crate::model::CvmProfile::SevSnp, false) => "SEV-SNP host",
                        (crate::model::CvmProfile::Tdx, false) => "TDX host",
                        (crate::model::CvmProfile::SevSnp, true) => "SEV-SNP ホスト",
                        (crate::model::CvmProfile::Tdx, true) => "TDX ホスト",
                    }
                    .to_string()
                        // Without it the row still runs, as a normal VM (its title says so).
                        + match (s.spec.cvm_fallback, ja) {
                            (false, _) => "",
                            (true, false) => " (else a normal VM)",
                            (true, true) => "（なければ通常の VM）",
                        },
                );
            }
            needs.extend(
                s.spec
                    .requires
                    .iter()
                    .map(|r| if ja { requirement_ja(*r) } else { r.as_str() }.to_string()),
            );
            if s.spec.run_as == RunAs::Unprivileged {
                needs.push(
                    if ja {
                        "非特権ユーザー（same-uid）"
                    } else {
                        "unprivileged-user (same-uid)"
                    }
                    .to_string(),
                );
            }
            let needs = if needs.is_empty() {
                "-".to_string()
            } else {
                needs.join(if ja { "、" } else { ", " })
            };
            let here = match (&s.info.unavailable, ja) {
                (None, false) => "runs".to_string(),
                (None, true) => "実行できる".to_string(),
                (Some(why), false) => format!("n/a: {why}"),
                (Some(why), true) => {
                    format!("{} — {why}", crate::render::matrix::unavailable_word(lang))
                }
            };
            let origin = if s.spec.origin == "built-in" {
                String::new()
            } else {
                crate::render::i18n::paren(lang, &s.spec.origin)
            };
            [
                s.info.name.clone(),
                s.info.title.get(lang).to_string(),
                needs,
                format!("{here}{origin}"),
            ]
        })
        .collect();
    let heads = if ja {
        ["名前", "タイトル", "必要なもの", "この環境"]
    } else {
        ["NAME", "TITLE", "NEEDS", "HERE"]
    };
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

/// A requirement's name for a Japanese reader (technical names stay as they are).
fn requirement_ja(r: Requirement) -> &'static str {
    match r {
        Requirement::Sgx => "SGX",
        Requirement::SevSnp => "SEV-SNP ゲスト",
        Requirement::Tdx => "TDX ゲスト",
        Requirement::MemfdSecret => "memfd_secret",
        Requirement::UnprivilegedUser => "非特権ユーザー",
        Requirement::ContainerRuntime => "コンテナランタイム",
        Requirement::Postgres => "PostgreSQL",
        Requirement::CvmGuest => "機密 VM のゲスト",
        Requirement::SevSnpHost => "SEV-SNP ホスト",
        Requirement::TdxHost => "TDX ホスト",
        Requirement::Runc => "runc",
        Requirement::Crun => "crun",
        Requirement::SqlEnclave => "データベースサーバー内のエンクレーブ",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_scenario_under_the_heads() {
        let all = crate::runner::scenario::builtin().unwrap();
        let en = list(&all, "en");
        let lines: Vec<&str> = en.lines().collect();
        assert_eq!(lines.len(), all.len() + 1);
        assert!(lines[0].starts_with("NAME"), "{en}");
        assert!(
            lines[0].contains("TITLE") && lines[0].contains("HERE"),
            "{en}"
        );
        assert!(lines.iter().any(|l| l.starts_with("plain ")), "{en}");
        let ja = list(&all, "ja");
        assert!(ja.starts_with("名前"), "{ja}");
        assert_eq!(requirement_ja(Requirement::Sgx), "SGX");
    }
}
