//! `confidump doctor`'s text: one line per check, the demo rows that will be n/a here, and
//! what a platform requires that this host lacks.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use crate::doctor::{Attestation, DoctorReport};
use crate::i18n::{sep, t, Lang};
use crate::runner::platform::HostCheck;

/// The checks, each `NAME  yes|no  detail  [enables]`, then the rows that will be n/a here
/// (`na_rows`: name and reason), in `lang`.
pub fn report_text(report: &DoctorReport, na_rows: &[(String, String)], lang: Lang) -> String {
    let mut out = String::new();
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let (yes, no) = (t(lang, "doctor.yes"), t(lang, "doctor.no"));
    for c in &report.checks {
        let verdict = if c.ok { yes } else { no };
        let pad = " ".repeat(3usize.saturating_sub(UnicodeWidthStr::width(verdict)));
        let _ = writeln!(
            out,
            "{:<width$}  {verdict}{pad}  {}  [{}]",
            c.name, c.detail, c.enables
        );
    }
    out.push('\n');
    if na_rows.is_empty() {
        let _ = writeln!(out, "{}", t(lang, "doctor.all-rows"));
    } else {
        let _ = writeln!(out, "{}", t(lang, "doctor.na-rows"));
        let w = na_rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, why) in na_rows {
            let _ = writeln!(out, "  {name:<w$}  {why}");
        }
    }
    out
}

/// `doctor --format json`: the report, and the rows that will be n/a here as `na_rows`.
pub fn report_json(report: &DoctorReport, na_rows: &[(String, String)]) -> serde_json::Value {
    let mut doc = serde_json::to_value(report).unwrap_or_default();
    doc["na_rows"] = na_rows
        .iter()
        .map(|(name, why)| serde_json::json!({"name": name, "reason": why}))
        .collect();
    doc
}

/// `doctor --attest`: the provider, the nonce, then the report in base64.
pub fn attest_text(a: &Attestation) -> String {
    format!(
        "provider: {}\nnonce:    {}\nreport (base64):\n{}\n",
        a.provider, a.nonce, a.outblob
    )
}

/// `doctor --platform NAME`: the platform, each capability it requires (and why this host
/// lacks it), its rows, and the count, in `lang`.
pub fn platform_text(c: &HostCheck, lang: Lang) -> String {
    let p = &c.platform;
    let mut out = String::new();
    let named = |key: &'static str| t(lang, key).replace("{name}", &p.name);
    let _ = writeln!(
        out,
        "{}{}{}",
        named("doctor.platform"),
        sep(lang),
        p.description.get(lang)
    );
    let width = c.checks.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let (yes, no) = (t(lang, "doctor.yes"), t(lang, "doctor.no"));
    let pad = " ".repeat(3usize.saturating_sub(UnicodeWidthStr::width(no)));
    for (n, m) in &c.checks {
        let _ = match m {
            None => writeln!(out, "{n:<width$}  {yes}"),
            Some(why) => writeln!(out, "{n:<width$}  {no}{pad}  {why}"),
        };
    }
    let _ = writeln!(
        out,
        "{}{}{}",
        t(lang, "doctor.rows"),
        sep(lang),
        p.rows.join(t(lang, "list.sep"))
    );
    let last = if c.checks.is_empty() {
        named("doctor.requires-nothing")
    } else if c.lacking == 0 {
        named("doctor.has-all")
    } else {
        named("doctor.lacks")
            .replace("{m}", &c.lacking.to_string())
            .replace("{n}", &c.checks.len().to_string())
    };
    let _ = writeln!(out, "{last}");
    out
}

/// `doctor --platform NAME --format json`.
pub fn platform_json(c: &HostCheck, lang: Lang) -> serde_json::Value {
    let requires: Vec<_> = c
        .checks
        .iter()
        .map(|(n, m)| serde_json::json!({"name": n, "ok": m.is_none(), "missing": m}))
        .collect();
    serde_json::json!({
        "platform": c.platform.name,
        "description": c.platform.description.get(lang),
        "rows": c.platform.rows,
        "requires": requires,
        "lacking": c.lacking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Check;

    #[test]
    fn checks_line_up_and_na_rows_follow() {
        let report = DoctorReport {
            checks: vec![Check {
                name: "gdb",
                ok: false,
                detail: "not installed".into(),
                enables: "gcore",
            }],
            summary: Default::default(),
        };
        let text = report_text(&report, &[("vm".into(), "no qemu".into())], Lang::En);
        assert_eq!(
            text,
            "gdb  no   not installed  [gcore]\n\nDemo rows that will be n/a on this host (the demo's own reasons):\n  vm  no qemu\n"
        );
        assert!(
            report_text(&report, &[], Lang::En).ends_with("Every demo row runs on this host.\n")
        );
    }

    #[test]
    fn a_platform_says_what_is_lacking() {
        let rows: Vec<String> = crate::scenario::builtin()
            .unwrap()
            .into_iter()
            .map(|s| s.info.name)
            .collect();
        let platform = crate::runner::platform::builtin("azure-dcsv3", &rows).unwrap();
        let c = HostCheck {
            platform,
            checks: vec![("sgx", Some("no /dev/sgx_enclave".into()))],
            lacking: 1,
        };
        let text = platform_text(&c, Lang::En);
        assert!(text.starts_with("platform azure-dcsv3"), "{text}");
        assert!(text.contains("sgx  no   no /dev/sgx_enclave\n"), "{text}");
        assert!(text.ends_with("this host lacks 1 of the 1 capabilities azure-dcsv3 requires\n"));
        assert_eq!(platform_json(&c, Lang::En)["lacking"], 1);
    }

    #[test]
    fn the_json_report_lists_the_na_rows() {
        let report = DoctorReport {
            checks: Vec::new(),
            summary: Default::default(),
        };
        let doc = report_json(&report, &[("vm".into(), "no qemu".into())]);
        assert_eq!(doc["na_rows"][0]["name"], "vm");
        assert_eq!(doc["na_rows"][0]["reason"], "no qemu");
        assert!(
            doc["checks"].as_array().is_some_and(|c| c.is_empty()),
            "{doc}"
        );
    }

    #[test]
    fn an_attestation_is_three_labelled_parts() {
        let a = Attestation {
            provider: "sev_guest".into(),
            nonce: "ab".into(),
            outblob: "Zm9v".into(),
        };
        assert_eq!(
            attest_text(&a),
            "provider: sev_guest\nnonce:    ab\nreport (base64):\nZm9v\n"
        );
    }
}
