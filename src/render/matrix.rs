//! The demo matrix's shared words: verdict words and styles, the summary line, the mismatch
//! note, detections by kind, the stand-in label. The terminal table ([`super::table`]), the HTML
//! report and presenter mode all speak through these, so the three say the same thing.
//!
//! Line breaking and display widths live in [`super::wrap`]; they are re-exported here for the
//! renderers that already take them from this module.

use super::style::{DIM, GREEN_BOLD, RED_BOLD};
use crate::i18n::{self, t, tf, Lang};
use crate::model::{AttackKind, Cell, DetectorKind, MatrixReport, Outcome, Texts};

pub use super::table::render_table;
pub use super::wrap::{display_width, truncate, wrap};

/// The verdict word of an outcome in `lang`: `LEAK`, `????`, `absent`, `n/a`...
pub fn outcome_word(lang: Lang, o: Outcome) -> &'static str {
    t(lang, outcome_key(o))
}

/// Whether an `n/a` cell applies to its scenario but could not run on this host (the host lacks
/// what its path needs), rather than not applying at all (qmp for a process, same-uid for a root
/// victim). English says `n/a` for both; Japanese tells them apart (実行不可, 対象外).
///
/// The cell says so itself (`runnable`, schema 2); a cell its run required is one that could
/// not run; and every cell of a row that cannot run here (`row_unavailable`: its scenario's
/// `unavailable`) is one too, also in a schema 1 result, which had no `runnable`.
pub fn cannot_run_here(c: &Cell, row_unavailable: bool) -> bool {
    c.observed == Outcome::NotApplicable && (row_unavailable || c.required || !c.runnable)
}

/// The verdict word of a cell in `lang`: its outcome's ([`outcome_word`]), or, for an `n/a`
/// the host could not run ([`cannot_run_here`]), the word for that ([`unavailable_word`]).
pub fn cell_word(lang: Lang, c: &Cell, row_unavailable: bool) -> &'static str {
    if cannot_run_here(c, row_unavailable) {
        unavailable_word(lang)
    } else {
        outcome_word(lang, c.observed)
    }
}

/// The word of a row or cell that cannot run on this host: `n/a`, `実行不可`.
pub fn unavailable_word(lang: Lang) -> &'static str {
    t(lang, "n/a.host")
}

/// The legend's verdict words in `lang`, each with its outcome (for its style) and the key of
/// what it means. The word for a path this host cannot run has its own line only in a language
/// that does not say `n/a` for both (Japanese: 対象外, 実行不可).
pub fn legend_words(lang: Lang) -> Vec<(&'static str, Outcome, &'static str)> {
    let mut words = Vec::new();
    for (o, key) in [
        (Outcome::Leak, "legend.leak"),
        (Outcome::Unreadable, "legend.unreadable"),
        (Outcome::Absent, "legend.absent"),
        (Outcome::NotApplicable, "legend.n/a"),
        (Outcome::NotFound, "legend.not-found"),
    ] {
        words.push((outcome_word(lang, o), o, key));
        if o == Outcome::NotApplicable && unavailable_word(lang) != outcome_word(lang, o) {
            words.push((unavailable_word(lang), o, "legend.n/a.host"));
        }
    }
    words
}

/// The i18n key (and CSS class) of an outcome: its JSON spelling.
pub fn outcome_key(o: Outcome) -> &'static str {
    o.as_str()
}

/// The ANSI style of an outcome: red for a leak, green for a refused read, dim for the
/// outcomes that prove nothing either way.
pub(crate) fn outcome_style(o: Outcome) -> &'static str {
    match o {
        Outcome::Leak | Outcome::Error => RED_BOLD,
        Outcome::Unreadable => GREEN_BOLD,
        Outcome::Absent | Outcome::NotApplicable | Outcome::NotFound => DIM,
    }
}

/// The cell of `scenario` × `attack`, if the run produced one.
pub fn cell_at<'a>(
    report: &'a MatrixReport,
    scenario: &str,
    attack: AttackKind,
) -> Option<&'a Cell> {
    report
        .cells
        .iter()
        .find(|c| c.scenario == scenario && c.attack == attack)
}

/// `stand-in for an enclave (SGX)` in `lang`: the scenario file says what is stood in for in
/// both languages (`stand_in_for.en`, `.ja`).
pub fn stand_in_label(lang: Lang, what: &Texts) -> String {
    // A file without `stand_in_for.ja`: the few names the catalogue knows, else the English
    // without its article.
    let ja = match what.ja.as_str() {
        "" => {
            let en = what.en.trim_start_matches("an ").trim_start_matches("a ");
            ["name.enclave", "name.sgx-enclave", "name.cvm"]
                .into_iter()
                .find(|k| t(Lang::En, k) == en)
                .map_or(en, |k| t(Lang::Ja, k))
        }
        ja => ja,
    };
    tf(
        lang,
        "stand-in",
        &[&Texts::new(what.en.as_str(), ja).get(lang)],
    )
}

/// Number of cells whose observation differs from the expectation (counted from the cells,
/// so the final line can never disagree with what the table shows).
pub fn count_mismatches(report: &MatrixReport) -> usize {
    crate::model::count_mismatches(&report.cells)
}

/// `all N cells as expected` / `M mismatches (of N cells)` in `lang`.
pub fn summary_line(report: &MatrixReport) -> String {
    let lang = report.lang;
    let n = report.cells.len();
    let m = count_mismatches(report);
    let tmpl = match (n, m) {
        (0, _) => t(lang, "no-cells"),
        (_, 0) => t(lang, "all-met"),
        (_, 1) => t(lang, "mismatch.one"),
        _ => t(lang, "mismatches"),
    };
    tmpl.replace("{n}", &n.to_string())
        .replace("{m}", &m.to_string())
}

/// `✗ expected ????` in `lang`.
pub fn mismatch_note(lang: Lang, c: &Cell) -> String {
    if c.required {
        return t(lang, "required.note").to_string();
    }
    t(lang, "mismatch.note").replace("{x}", outcome_word(lang, c.expected))
}

/// What the detectors found in a cell, by kind: `2 canaries, 1 card number` /
/// `カナリア 2 件、カード番号 1 件`; the bare count when the kinds are not known.
pub fn detection_summary(lang: Lang, c: &Cell) -> String {
    let unit = |n: usize| {
        t(
            lang,
            if n == 1 {
                "detections.one"
            } else {
                "detections.unit"
            },
        )
    };
    if c.detected.is_empty() {
        return format!("{} {}", c.detections, unit(c.detections));
    }
    let parts: Vec<String> = c
        .detected
        .iter()
        .map(|(kind, &n)| {
            let name = match (kind, n == 1) {
                (DetectorKind::CardNumber, true) => "det.card-number.one",
                (DetectorKind::CardNumber, false) => "det.card-number.many",
                (DetectorKind::PemPrivateKey, true) => "det.pem-private-key.one",
                (DetectorKind::PemPrivateKey, false) => "det.pem-private-key.many",
                (DetectorKind::Jwt, true) => "det.jwt.one",
                (DetectorKind::Jwt, false) => "det.jwt.many",
                (DetectorKind::AwsAccessKeyId, true) => "det.aws-access-key-id.one",
                (DetectorKind::AwsAccessKeyId, false) => "det.aws-access-key-id.many",
                (DetectorKind::Canary, true) => "det.canary.one",
                (DetectorKind::Canary, false) => "det.canary.many",
            };
            // Japanese counts with a unit after the name (`カナリア 2 件`); English puts the
            // number first and says the unit in the name (`2 canaries`).
            Texts::new(
                format!("{n} {}", t(Lang::En, name)),
                format!("{} {n} {}", t(Lang::Ja, name), unit(n)),
            )
            .into_lang(lang)
        })
        .collect();
    i18n::list(lang, &parts)
}

/// The i18n key describing an attack path.
pub fn attack_key(attack: AttackKind) -> &'static str {
    match attack {
        AttackKind::Dump => "attack.dump",
        AttackKind::Gcore => "attack.gcore",
        AttackKind::Kernel => "attack.kernel",
        AttackKind::Live => "attack.live",
        AttackKind::Qmp => "attack.qmp",
        AttackKind::SameUid => "attack.same-uid",
        AttackKind::Wire => "attack.wire",
        AttackKind::Checkpoint => "attack.checkpoint",
        AttackKind::Disk => "attack.disk",
        AttackKind::Client => "attack.client",
        AttackKind::Pod => "attack.pod",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{HexRow, HexWindow, HostInfo, ScenarioInfo, Texts};

    fn texts(en: &str, ja: &str) -> Texts {
        Texts {
            en: en.into(),
            ja: ja.into(),
        }
    }

    pub(crate) fn cell(
        s: &str,
        a: &str,
        expected: Outcome,
        observed: Outcome,
        where_: &str,
    ) -> Cell {
        Cell {
            scenario: s.into(),
            attack: a.parse().unwrap_or(AttackKind::Dump),
            expected,
            observed,
            runnable: true,
            where_: where_.into(),
            reason: String::new(),
            command: format!("confidump attack --path {a} --pid 4242"),
            millis: 120,
            hits: usize::from(observed == Outcome::Leak),
            fragments_only: false,
            detections: 0,
            detected: Default::default(),
            view: None,
            required: false,
        }
    }

    /// A realistic report: a leaking row, a protected row (stand-in), a row with an n/a
    /// cell and a mismatch, and a wholly unavailable row.
    pub(crate) fn sample(lang: Lang) -> MatrixReport {
        use Outcome::*;
        let attacks: Vec<String> = ["dump", "gcore", "kernel", "live", "same-uid"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let scenarios = vec![
            ScenarioInfo {
                name: "plain".into(),
                title: texts("Secret in ordinary heap memory", "通常のヒープメモリにある秘密"),
                holds: texts("a card number in a heap buffer", "ヒープ上のバッファにカード番号"),
                lesson: texts(
                    "Ordinary memory is in every dump: anyone who can dump the process has the secret.",
                    "通常のメモリはどのダンプにも含まれる。ダンプできる者は誰でも秘密を手に入れる。",
                ),
                stand_in_for: None,
                unavailable: None,
                needs: Vec::new(),
            },
            ScenarioInfo {
                name: "secretmem".into(),
                title: texts("Secret in memfd_secret memory", "memfd_secret メモリにある秘密"),
                holds: texts("the key in memfd_secret pages", "memfd_secret のページに鍵"),
                lesson: texts(
                    "The kernel refuses every read of these pages, even root's.",
                    "カーネルはこのページの読み取りを root でも拒否する。",
                ),
                stand_in_for: Some("an enclave".into()),
                unavailable: None,
                needs: Vec::new(),
            },
            ScenarioInfo {
                name: "dontdump".into(),
                title: texts("MADV_DONTDUMP only", "MADV_DONTDUMP のみ"),
                holds: texts("the key in a DONTDUMP area", "DONTDUMP 領域に鍵"),
                lesson: texts(
                    "Left out of dumps is not protected: a live read still gets it.",
                    "ダンプから除外されても保護ではない。実行中に読めば取れる。",
                ),
                stand_in_for: None,
                unavailable: None,
                needs: Vec::new(),
            },
            ScenarioInfo {
                name: "sgx".into(),
                title: texts("Secret in an SGX enclave", "SGX エンクレーブ内の秘密"),
                holds: texts("the key inside an enclave", "エンクレーブ内に鍵"),
                lesson: texts("", ""),
                stand_in_for: None,
                unavailable: Some("needs SGX: this CPU has none".into()),
                needs: Vec::new(),
            },
        ];
        let mut cells = Vec::new();
        for a in &attacks {
            let mut c = cell("plain", a, Leak, Leak, "[heap]");
            if a == "live" {
                c.where_ = "[heap], [stack], /usr/lib/x86_64-linux-gnu/libc.so.6".into();
            }
            if a == "same-uid" {
                c.fragments_only = true;
                c.detections = 1;
            }
            if a == "dump" {
                c.detections = 2;
                c.detected = [
                    (crate::model::DetectorKind::CardNumber, 1),
                    (crate::model::DetectorKind::Canary, 1),
                ]
                .into_iter()
                .collect();
                c.view = Some(HexWindow {
                    title: "[heap] at 0x5581c0".into(),
                    rows: vec![HexRow {
                        addr: 0x5581c0,
                        bytes: b"<b>4111 1111 11".iter().map(|b| Some(*b)).collect(),
                        highlight: (0..15).map(|i| i >= 3).collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            }
            cells.push(c);
        }
        for a in &attacks {
            let mut c = cell(
                "secretmem",
                a,
                Unreadable,
                Unreadable,
                "/secretmem (deleted)",
            );
            if a == "gcore" {
                // Schema 2: the claim stays, the cell says it could not run here.
                c = cell("secretmem", a, Absent, NotApplicable, "");
                c.runnable = false;
                c.reason = "gdb is not installed".into();
            }
            if a == "dump" {
                c.view = Some(HexWindow {
                    title: "/secretmem (deleted): read refused (EIO)".into(),
                    rows: vec![HexRow {
                        addr: 0x7f0000000000,
                        bytes: vec![None; 16],
                        highlight: vec![false; 16],
                        ..Default::default()
                    }],
                    ..Default::default()
                });
            }
            cells.push(c);
        }
        for a in &attacks {
            let c = match a.as_str() {
                "dump" | "gcore" | "kernel" => cell("dontdump", a, Absent, Absent, "[anon]"),
                "live" => {
                    let mut c = cell("dontdump", a, Leak, Unreadable, "[anon]");
                    c.reason = "EIO: <script>alert(1)</script>".into();
                    c
                }
                _ => cell("dontdump", a, Leak, Leak, "[anon]"),
            };
            cells.push(c);
        }
        MatrixReport {
            schema: crate::model::MATRIX_SCHEMA,
            host: HostInfo {
                kernel: "6.1.0-18-amd64".into(),
                hostname: "lab-1".into(),
                uid: 0,
                memfd_secret: true,
                gcore: false,
                core_pattern: "core".into(),
                confidump: "0.1.0".into(),
                ..HostInfo::default()
            },
            lang,
            scenarios,
            attacks: attacks.iter().filter_map(|a| a.parse().ok()).collect(),
            mismatches: 1,
            cells,
            millis: 4321,
        }
    }

    /// 対象外 (the path does not apply: no command kept) and 実行不可 (the host lacks what the path
    /// needs: the command that would have run is kept; a required cell; a row that cannot run).
    #[test]
    fn a_stand_in_without_japanese_names_what_the_catalogue_knows() {
        let enclave = Texts::from("an enclave");
        assert_eq!(
            stand_in_label(Lang::En, &enclave),
            "stand-in for an enclave"
        );
        assert_eq!(stand_in_label(Lang::Ja, &enclave), "エンクレーブの代わり");
        let other = Texts::from("a TPM");
        assert_eq!(stand_in_label(Lang::Ja, &other), "TPMの代わり");
        let both = Texts::new("an SEV-SNP VM", "SEV-SNP VM");
        assert_eq!(stand_in_label(Lang::Ja, &both), "SEV-SNP VMの代わり");
    }

    #[test]
    fn japanese_tells_not_applicable_from_cannot_run_here() {
        use Outcome::NotApplicable;
        let by_design = cell("plain", "qmp", NotApplicable, NotApplicable, "");
        let mut lacks = cell("plain", "gcore", Outcome::Leak, NotApplicable, "");
        lacks.runnable = false;
        let mut required = by_design.clone();
        required.required = true;
        assert_eq!(cell_word(Lang::Ja, &by_design, false), "対象外");
        assert_eq!(cell_word(Lang::Ja, &lacks, false), "実行不可");
        assert_eq!(cell_word(Lang::Ja, &required, false), "実行不可");
        assert_eq!(cell_word(Lang::Ja, &by_design, true), "実行不可");
        for c in [&by_design, &lacks, &required] {
            assert_eq!(cell_word(Lang::En, c, false), "n/a");
        }
        // Other outcomes keep their word, whatever the row.
        let leak = cell("plain", "dump", Outcome::Leak, Outcome::Leak, "[heap]");
        assert_eq!(cell_word(Lang::Ja, &leak, true), "漏洩");
        // One legend line for n/a in English, two in Japanese.
        let words = |lang| -> Vec<&str> { legend_words(lang).iter().map(|w| w.0).collect() };
        assert_eq!(words(Lang::En).iter().filter(|w| **w == "n/a").count(), 1);
        assert!(words(Lang::Ja).contains(&"対象外") && words(Lang::Ja).contains(&"実行不可"));
    }

    /// `s` without ANSI colour codes.
    pub(crate) fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut esc = false;
        for ch in s.chars() {
            match (esc, ch) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    }
}
