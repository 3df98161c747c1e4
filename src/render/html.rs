//! One self-contained HTML page: host facts, the matrix, the lessons and, for each row, the hex
//! view of what the attacker saw.
//!
//! Self-contained because it is mailed around and opened on lab machines without network: CSS
//! is inline, there are no external assets and no script. Every piece of text that reaches the
//! page (the captured bytes, scenario texts, errno reasons, mapping names) goes through
//! [`escape`]: a dump is hostile input, and so is anything a victim put in its memory.
//!
//! The words and colours are those of the terminal table ([`super::matrix`]): red LEAK, green
//! `????`, grey `absent` / `n/a`, a red `✗ expected …` on a mismatch.

use std::fmt::Write as _;

mod views;

use super::matrix::{
    attack_key, cell_at, cell_word, count_mismatches, legend_words, mismatch_note, outcome_key,
    stand_in_label, summary_line, unavailable_word,
};
use crate::i18n::{colon, paren, sep, t, Lang};
use crate::model::{Cell, MatrixReport, Outcome, ScenarioInfo};

/// `s` safe as HTML text and as a double- or single-quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business in a report and some confuse viewers.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --leak:#c62828; --leak-bg:#fdecea; --ok:#1b7a34; --ok-bg:#e6f4ea; --dim:#6b6b6b;
  --dim-bg:#f1f1f1; --ink:#1a1a1a; --line:#d0d0d0; }
* { box-sizing: border-box; }
body { font: 17px/1.45 system-ui, "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", "IPAGothic", sans-serif;
  color: var(--ink); margin: 2rem auto; max-width: 1300px; padding: 0 1.5rem; }
h1 { font-size: 2rem; margin: 0 0 .3rem; }
h2 { font-size: 1.4rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.15rem; margin: 1.6rem 0 .4rem; }
.summary { font-size: 1.2rem; font-weight: 700; margin: .3rem 0 1rem; }
.summary.ok { color: var(--ok); } .summary.bad { color: var(--leak); }
dl.host { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1.2rem; margin: 0; }
dl.host dt { color: var(--dim); } dl.host dd { margin: 0; font-family: ui-monospace, monospace; }
ul.columns { margin: .3rem 0 1rem; padding-left: 1.2rem; }
ul.columns b { font-family: ui-monospace, monospace; }
table.matrix { border-collapse: collapse; width: 100%; margin: .5rem 0; }
table.matrix th, table.matrix td { border: 1px solid var(--line); padding: .45rem .6rem; vertical-align: top; text-align: left; }
table.matrix thead th { background: #fafafa; font-family: ui-monospace, monospace; }
table.matrix th.scenario { min-width: 12rem; font-weight: normal; }
table.matrix th.scenario b { font-family: ui-monospace, monospace; font-size: 1.05rem; }
.standin { color: var(--dim); font-style: italic; display: block; }
td.cell .verdict { font-weight: 800; font-size: 1.15rem; display: block; }
td.cell .where, td.cell .frag, td.cell .reason { display: block; font-size: .85rem; }
td.cell .where { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
td.cell .reason { color: var(--dim); }
td.leak { background: var(--leak-bg); } td.leak .verdict { color: var(--leak); }
td.unreadable { background: var(--ok-bg); } td.unreadable .verdict { color: var(--ok); }
td.absent, td.n-a, td.not-found { background: var(--dim-bg); }
td.absent .verdict, td.n-a .verdict, td.not-found .verdict { color: var(--dim); }
td.error .verdict { color: var(--leak); }
td.mismatch { outline: 3px solid var(--leak); outline-offset: -3px; }
.exp { display: block; color: var(--leak); font-weight: 800; }
.met { color: var(--dim); font-weight: normal; font-size: .9rem; }
td.unavailable { color: var(--dim); background: var(--dim-bg); font-style: italic; }
tr.lesson td { border-top: none; background: #fffdf3; font-size: .95rem; }
tr.lesson b { margin-right: .4rem; }
ul.legend { list-style: none; padding: 0; display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
ul.legend li { display: contents; }
.word { font-weight: 800; font-family: ui-monospace, monospace; }
.word.leak { color: var(--leak); } .word.unreadable { color: var(--ok); }
.word.absent, .word.n-a, .word.not-found, .word.met { color: var(--dim); } .word.mismatch { color: var(--leak); }
article.scenario { border-left: 4px solid var(--line); padding-left: 1rem; margin: 1.2rem 0; }
article.scenario p { margin: .3rem 0; }
p.lesson { background: #fffdf3; padding: .3rem .6rem; }
figure.view { margin: .8rem 0; }
figure.view figcaption { font-weight: 600; margin-bottom: .25rem; }
figure.view figcaption .word { margin-left: .5rem; }
pre.hex { background: #111; color: #ddd; padding: .7rem 1rem; border-radius: 6px; overflow-x: auto;
  font: 15px/1.5 ui-monospace, "DejaVu Sans Mono", monospace; margin: 0; }
pre.hex .addr { color: #8a8a8a; }
pre.hex .hl { background: var(--leak); color: #fff; font-weight: 700; }
pre.hex .q { color: #3ddc84; font-weight: 700; }
pre.hex .abs { color: #9a9a9a; background: repeating-linear-gradient(135deg, #2c2c2c 0 3px, #181818 3px 6px); }
p.hexlegend, p.empty, ul.hexlegend { color: var(--dim); font-size: .9rem; }
ul.hexlegend { list-style: none; padding: 0; margin: .3rem 0; }
ul.hexlegend .q, ul.hexlegend .abs, ul.hexlegend .hl { font-weight: 700; font-family: ui-monospace, monospace; padding: 0 .3rem; margin-right: .5rem; }
ul.hexlegend .q { color: var(--ok); }
ul.hexlegend .abs { color: #555; background: repeating-linear-gradient(135deg, #ddd 0 3px, #f6f6f6 3px 6px); }
ul.hexlegend .hl { background: var(--leak); color: #fff; }
sup.note { color: var(--dim); font-weight: normal; }
tr.notes td { border-top: none; color: var(--dim); font-size: .9rem; background: #fafafa; }
tr.notes span.note { display: block; }
section#summary ul { margin: .3rem 0; }
"#;

/// The page, in `report.lang`.
pub fn render(report: &MatrixReport) -> String {
    // The `lang` attribute is `en` or `ja` ([`Lang`]): a hostile report cannot break out.
    let lang = report.lang;
    let mut out = String::new();
    let title = t(lang, "html.title");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(title)
    );
    let ok = count_mismatches(report) == 0 && !report.cells.is_empty();
    let _ = writeln!(
        out,
        "<header><h1>{}</h1><p class=\"summary {}\">{}</p></header>",
        escape(title),
        if ok { "ok" } else { "bad" },
        escape(&summary_line(report))
    );
    host(&mut out, report, lang);
    matrix(&mut out, report, lang);
    views::views(&mut out, report, lang);
    summary(&mut out, report, lang);
    out.push_str("</body>\n</html>\n");
    out
}

fn host(out: &mut String, r: &MatrixReport, lang: Lang) {
    let h = &r.host;
    let yes_no = |b: bool| t(lang, if b { "html.yes" } else { "html.no" });
    let facts: [(&str, String); 8] = [
        ("html.hostname", h.hostname.clone()),
        ("html.kernel", h.kernel.clone()),
        ("html.uid", h.uid.to_string()),
        ("html.memfd_secret", yes_no(h.memfd_secret).to_string()),
        ("html.gcore", yes_no(h.gcore).to_string()),
        ("html.core_pattern", h.core_pattern.clone()),
        ("html.version", h.confidump.clone()),
        (
            "html.duration",
            format!("{:.1} s", r.millis as f64 / 1000.0),
        ),
    ];
    let _ = writeln!(
        out,
        "<section id=\"host\"><h2>{}</h2><dl class=\"host\">",
        escape(t(lang, "html.host"))
    );
    for (k, v) in facts {
        let _ = writeln!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            escape(t(lang, k)),
            escape(&v)
        );
    }
    out.push_str("</dl></section>\n");
}

/// CSS class of an outcome (`n/a` is not a valid class name).
fn class(o: Outcome) -> &'static str {
    match o {
        Outcome::NotApplicable => "n-a",
        o => outcome_key(o),
    }
}

fn scenario_head(out: &mut String, s: &ScenarioInfo, lang: Lang) {
    let _ = write!(
        out,
        "<b>{}</b><br>{}",
        escape(&s.name),
        escape(s.title.get(lang))
    );
    if let Some(what) = &s.stand_in_for {
        let _ = write!(
            out,
            "<span class=\"standin\">— {}</span>",
            escape(&stand_in_label(lang, what))
        );
    }
}

/// The distinct reasons of a row's `n/a` cells, said once under the row (a path that does not
/// apply usually does not apply for the same reason in several cells).
fn na_reasons<'a>(r: &'a MatrixReport, s: &ScenarioInfo) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for a in &r.attacks {
        if let Some(c) = cell_at(r, &s.name, *a) {
            let why = c.reason.trim();
            if c.observed == Outcome::NotApplicable && !why.is_empty() && !out.contains(&why) {
                out.push(why);
            }
        }
    }
    out
}

fn cell_td(out: &mut String, c: Option<&Cell>, lang: Lang, notes: &[&str]) {
    let Some(c) = c else {
        out.push_str("<td class=\"cell missing\">—</td>");
        return;
    };
    let _ = write!(
        out,
        "<td class=\"cell {}{}\" title=\"{}\"><span class=\"verdict\">{}{}</span>",
        class(c.observed),
        if c.met() { "" } else { " mismatch" },
        escape(&c.command),
        // A row that cannot run here is drawn as one line, never cell by cell.
        escape(cell_word(lang, c, false)),
        if c.met() {
            " <span class=\"met\">✓</span>"
        } else {
            ""
        }
    );
    let note = (c.observed == Outcome::NotApplicable)
        .then(|| notes.iter().position(|n| *n == c.reason.trim()))
        .flatten();
    if let Some(i) = note {
        let _ = write!(out, "<sup class=\"note\">{}</sup>", i + 1);
    }
    if !c.where_.is_empty()
        && matches!(
            c.observed,
            Outcome::Leak | Outcome::Unreadable | Outcome::Absent
        )
    {
        let _ = write!(out, "<span class=\"where\">{}</span>", escape(&c.where_));
    }
    if c.fragments_only && c.observed == Outcome::Leak {
        let _ = write!(
            out,
            "<span class=\"frag\">{}</span>",
            escape(t(lang, "fragments"))
        );
    }
    if !c.met() {
        let _ = write!(
            out,
            "<span class=\"exp\">{}</span>",
            escape(&mismatch_note(lang, c))
        );
    }
    if !c.reason.is_empty() && note.is_none() {
        let _ = write!(out, "<span class=\"reason\">{}</span>", escape(&c.reason));
    }
    out.push_str("</td>");
}

fn matrix(out: &mut String, r: &MatrixReport, lang: Lang) {
    let _ = writeln!(
        out,
        "<section id=\"matrix\"><h2>{}</h2>\n<p>{}</p><ul class=\"columns\">",
        escape(t(lang, "html.matrix")),
        escape(t(lang, "columns"))
    );
    for a in &r.attacks {
        let desc = t(lang, attack_key(*a));
        let _ = writeln!(
            out,
            "<li><b>{}</b> — {}</li>",
            escape(a.as_str()),
            escape(desc)
        );
    }
    let _ = writeln!(out, "</ul><p>{}</p>", escape(t(lang, "rows")));
    let _ = write!(
        out,
        "<table class=\"matrix\">\n<thead><tr><th>{}</th>",
        escape(t(lang, "scenario"))
    );
    for a in &r.attacks {
        let _ = write!(out, "<th>{}</th>", escape(a.as_str()));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let span = r.attacks.len() + 1;
    for s in &r.scenarios {
        // A wholly unavailable row says its reason in its one merged cell.
        let notes = if s.unavailable.is_some() {
            Vec::new()
        } else {
            na_reasons(r, s)
        };
        let _ = write!(
            out,
            "<tr data-scenario=\"{}\"><th class=\"scenario\" scope=\"row\">",
            escape(&s.name)
        );
        scenario_head(out, s, lang);
        out.push_str("</th>");
        match &s.unavailable {
            Some(why) => {
                let _ = write!(
                    out,
                    "<td class=\"unavailable\" colspan=\"{}\"><span class=\"word n-a\">{}</span> — {}</td>",
                    r.attacks.len().max(1),
                    escape(unavailable_word(lang)),
                    escape(why)
                );
            }
            None => {
                for a in &r.attacks {
                    cell_td(out, cell_at(r, &s.name, *a), lang, &notes);
                }
            }
        }
        out.push_str("</tr>\n");
        if !notes.is_empty() {
            let _ = write!(
                out,
                "<tr class=\"notes\"><td colspan=\"{span}\"><b>{}{}</b>",
                escape(t(lang, "html.row-notes")),
                colon(lang)
            );
            for (i, n) in notes.iter().enumerate() {
                let _ = write!(
                    out,
                    "<span class=\"note\"><sup class=\"note\">{}</sup> {}</span>",
                    i + 1,
                    escape(n)
                );
            }
            out.push_str("</td></tr>\n");
        }
        let lesson = s.lesson.get(lang);
        if !lesson.is_empty() {
            let _ = writeln!(
                out,
                "<tr class=\"lesson\"><td colspan=\"{span}\"><b>{}{}</b>{}</td></tr>",
                escape(t(lang, "lesson")),
                colon(lang),
                escape(lesson)
            );
        }
    }
    out.push_str("</tbody></table>\n");

    let _ = write!(
        out,
        "<p><b>{}</b></p><ul class=\"legend\">",
        escape(t(lang, "legend"))
    );
    for (word, o, key) in legend_words(lang) {
        let _ = write!(
            out,
            "<li><span class=\"word {}\">{}</span><span>{}</span></li>",
            class(o),
            escape(word),
            escape(t(lang, key))
        );
    }
    let _ = writeln!(
        out,
        "<li><span class=\"word met\">✓</span><span>{}</span></li>\
         <li><span class=\"word mismatch\">✗</span><span>{}</span></li></ul>",
        escape(t(lang, "legend.met")),
        escape(t(lang, "legend.mismatch"))
    );

    let found: Vec<&Cell> = r.cells.iter().filter(|c| c.detections > 0).collect();
    if !found.is_empty() {
        let _ = write!(out, "<p><b>{}</b></p><ul>", escape(t(lang, "detections")));
        for c in found {
            let _ = write!(
                out,
                "<li>{} · {}{}{}</li>",
                escape(&c.scenario),
                escape(c.attack.as_str()),
                sep(lang),
                escape(&super::matrix::detection_summary(lang, c)),
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}
/// The end of the page: how many cells were as expected, and the ones that were not.
fn summary(out: &mut String, r: &MatrixReport, lang: Lang) {
    let ok = count_mismatches(r) == 0 && !r.cells.is_empty();
    let _ = write!(
        out,
        "<section id=\"summary\"><h2>{}</h2><p class=\"summary {}\">{}</p>",
        escape(t(lang, "html.summary")),
        if ok { "ok" } else { "bad" },
        escape(&summary_line(r))
    );
    let bad: Vec<&Cell> = r.cells.iter().filter(|c| !c.met()).collect();
    if !bad.is_empty() {
        let _ = write!(out, "<p>{}</p><ul>", escape(t(lang, "html.mismatched")));
        for c in bad {
            let _ = write!(
                out,
                "<li>{} · {}{}<span class=\"word {}\">{}</span> — {}{}</li>",
                escape(&c.scenario),
                escape(c.attack.as_str()),
                sep(lang),
                class(c.observed),
                escape(cell_word(
                    lang,
                    c,
                    r.scenarios
                        .iter()
                        .any(|s| s.name == c.scenario && s.unavailable.is_some())
                )),
                escape(&mismatch_note(lang, c)),
                if c.reason.trim().is_empty() {
                    String::new()
                } else {
                    paren(lang, &escape(c.reason.trim()))
                }
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HexWindow;
    use crate::render::matrix::tests::sample;

    #[test]
    fn hostile_text_is_escaped() {
        let mut r = sample(Lang::En);
        r.scenarios[0].title.en = "<img src=x onerror=alert(1)>".into();
        r.host.hostname = "\"><script>x</script>".into();
        let page = render(&r);
        assert!(!page.contains("<img"), "unescaped title");
        assert!(!page.contains("<script"), "unescaped script");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // The captured bytes `<b>` are escaped too, in the ASCII column.
        assert!(page.contains("&lt;"));
        assert!(!page.contains("<b>4111"));
    }

    #[test]
    fn absent_bytes_are_not_drawn_as_refused_ones() {
        let mut r = sample(Lang::En);
        let c = r
            .cells
            .iter_mut()
            .find(|c| c.scenario == "dontdump" && c.attack.as_str() == "gcore")
            .expect("dontdump gcore");
        c.view = Some(HexWindow {
            title: "[anon]: left out (gcore)".into(),
            rows: vec![crate::model::HexRow {
                addr: 0x7f00_0000_0000,
                bytes: vec![None; 16],
                highlight: vec![false; 16],
                absent: vec![true; 16],
                ..Default::default()
            }],
            ..Default::default()
        });
        let page = render(&r);
        assert!(page.contains("<span class=\"abs\">-- -- --"), "{page}");
        assert!(
            page.contains("|<span class=\"abs\">----------------</span>|"),
            "{page}"
        );
        // The secretmem view still shows its refusal as `??`.
        assert!(page.contains("<span class=\"q\">?? ?? ??"), "{page}");
        assert!(
            !page.contains("refused or the bytes were not in the dump"),
            "{page}"
        );
    }

    #[test]
    fn na_reason_once_per_row() {
        let mut r = sample(Lang::En);
        for c in r.cells.iter_mut().filter(|c| c.scenario == "plain") {
            if matches!(c.attack.as_str(), "kernel" | "live") {
                c.observed = Outcome::NotApplicable;
                c.expected = Outcome::NotApplicable;
                c.reason = "no core dumps on this host".into();
            }
        }
        let page = render(&r);
        assert_eq!(
            page.matches("no core dumps on this host").count(),
            1,
            "{page}"
        );
        assert!(page.contains("<sup class=\"note\">1</sup>"), "{page}");
    }

    #[test]
    fn page_has_matrix_views_and_lang() {
        let page = render(&sample(Lang::Ja));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<html lang=\"ja\">"));
        assert!(page.contains("<table class=\"matrix\">"));
        assert!(page.contains("data-outcome=\"unreadable\""));
        assert!(page.contains("<span class=\"q\">?? ?? ??"));
        assert!(
            page.contains("class=\"legend-refused\"") && page.contains("class=\"legend-absent\"")
        );
        // The end of the page sums up, and names the mismatching cell.
        let tail = &page[page.find("id=\"summary\"").expect("a summary section")..];
        assert!(
            tail.contains("期待と異なる結果：1 件") && tail.contains("dontdump · live"),
            "{tail}"
        );
        assert!(page.contains("<span class=\"hl\">34 31 31 31"), "{page}");
        assert!(
            page.contains("漏洩") && page.contains("教訓") && page.contains("エンクレーブの代わり")
        );
        assert!(page.contains("✗ 期待値：漏洩"));
        // Japanese tells a path the host cannot run (gdb missing) from one that does not apply.
        assert!(page.contains("<span class=\"verdict\">実行不可"), "{page}");
        assert!(page.contains(">実行不可</span>") && page.contains(">対象外</span>"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "external asset"
        );
        let en = render(&sample(Lang::En));
        assert!(en.contains("<html lang=\"en\">") && en.contains("stand-in for an enclave"));
    }
}
