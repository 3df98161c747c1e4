//! One self-contained HTML page: host facts, the matrix, the lessons and, for each row, the hex
//! view of what the attacker saw.
//!
//! Self-contained because it is mailed around and opened on lab machines without network: CSS
//! is inline, there are no external assets and no script. The page is written with `maud`,
//! which escapes every piece of text that reaches it (the captured bytes, scenario texts,
//! errno reasons, mapping names) by construction: a dump is hostile input, and so is anything
//! a victim put in its memory. [`Shown`] also draws control characters as U+FFFD.
//!
//! The words and colours are those of the terminal table ([`super::matrix`]): red LEAK, green
//! `????`, grey `absent` / `n/a`, a red `✗ expected …` on a mismatch.

use maud::{html, Markup, PreEscaped, Render, DOCTYPE};

mod views;

use super::matrix::{
    attack_key, cell_at, cell_word, count_mismatches, legend_words, mismatch_note, outcome_key,
    stand_in_label, summary_line, unavailable_word,
};
use crate::i18n::{colon, paren, sep, t, Lang};
use crate::model::{Cell, MatrixReport, Outcome, ScenarioInfo};

/// Text as a page shows it: escaped by maud like any text, and control characters (which have
/// no business in a report, and some confuse viewers) drawn as U+FFFD.
pub struct Shown<'a>(pub &'a str);

impl Render for Shown<'_> {
    fn render_to(&self, buffer: &mut String) {
        let odd = |c: char| c.is_control() && c != '\n' && c != '\t';
        if self.0.contains(odd) {
            self.0.replace(odd, "\u{fffd}").as_str().render_to(buffer);
        } else {
            self.0.render_to(buffer);
        }
    }
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
section#overview { margin: .2rem 0 1rem; }
table.overview { border-collapse: collapse; font: 14px/1.3 ui-monospace, monospace; }
table.overview th, table.overview td { padding: .08rem .55rem; text-align: left; border-bottom: 1px solid #eee; }
table.overview thead th { border-bottom: 2px solid var(--line); }
table.overview td { font-weight: 700; }
table.overview td.leak { color: var(--leak); background: var(--leak-bg); }
table.overview td.unreadable { color: var(--ok); background: var(--ok-bg); }
table.overview td:not(.leak):not(.unreadable) { color: var(--dim); }
table.overview td.na { font-weight: 400; }
table.overview td.mismatch { outline: 2px solid var(--leak); }
table.overview a { color: inherit; }
p.na-rows, p.legend-line { color: var(--dim); margin: .35rem 0; font-size: .9rem; }
p.na-rows.bad { color: var(--leak); }
"#;

/// The page, in `report.lang`.
pub fn render(report: &MatrixReport) -> String {
    let lang = report.lang;
    let title = t(lang, "html.title");
    let ok = count_mismatches(report) == 0 && !report.cells.is_empty();
    let page = html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (Shown(title)) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (Shown(title)) }
                    p.summary.ok[ok].bad[!ok] { (Shown(&summary_line(report))) }
                }
                (overview(report, lang))
                (host(report, lang))
                (matrix(report, lang))
                (views::views(report, lang))
                (summary(report, lang))
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// The page opens on the whole run at a glance, as the terminal's summary: a line per row that
/// runs here, a short word per path, each row's name a link to its details in the matrix below;
/// the rows that cannot run here in one line; the legend.
fn overview(r: &MatrixReport, lang: Lang) -> Markup {
    use super::summary::{columns, glyph_key, legend, unavailable_line, word};
    let cols = columns(r);
    let mut used: Vec<&'static str> = Vec::new();
    let mut mismatch = false;
    for c in r.cells.iter().filter(|c| cols.contains(&c.attack)) {
        let k = glyph_key(c);
        if !used.contains(&k) {
            used.push(k);
        }
        mismatch |= !c.met();
    }
    let (na, required) = unavailable_line(r);
    html! {
        section #overview {
            table.overview {
                thead {
                    tr {
                        th { (Shown(t(lang, "sum.scenario"))) }
                        @for a in &cols { th title=(t(lang, attack_key(*a))) { (Shown(a.as_str())) } }
                    }
                }
                tbody {
                    @for s in r.scenarios.iter().filter(|s| s.unavailable.is_none()) {
                        tr {
                            th scope="row" {
                                a href=(format!("#row-{}", s.name)) { (Shown(&s.name)) }
                            }
                            @for a in &cols {
                                @match cell_at(r, &s.name, *a) {
                                    Some(c) => {
                                        td.(class(c.observed)).mismatch[!c.met()].na[glyph_key(c) == "sum.n/a"] {
                                            (Shown(word(lang, glyph_key(c))))
                                            @if !c.met() { "✗" }
                                        }
                                    }
                                    None => { td {} }
                                }
                            }
                        }
                    }
                }
            }
            @if !na.is_empty() {
                p.na-rows.bad[required] {
                    (Shown(&na)) (Shown(t(lang, "sum.na.tail")))
                }
            }
            p.legend-line { (Shown(&legend(lang, &used, mismatch || required).join(" · "))) }
        }
    }
}

fn host(r: &MatrixReport, lang: Lang) -> Markup {
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
    html! {
        section #host {
            h2 { (Shown(t(lang, "html.host"))) }
            dl.host {
                @for (k, v) in &facts {
                    dt { (Shown(t(lang, k))) }
                    dd { (Shown(v)) }
                }
            }
        }
    }
}

/// CSS class of an outcome (`n/a` is not a valid class name).
fn class(o: Outcome) -> &'static str {
    match o {
        Outcome::NotApplicable => "n-a",
        o => outcome_key(o),
    }
}

fn scenario_head(s: &ScenarioInfo, lang: Lang) -> Markup {
    html! {
        b { (Shown(&s.name)) }
        br;
        (Shown(s.title.get(lang)))
        @if let Some(what) = &s.stand_in_for {
            span.standin { "— " (Shown(&stand_in_label(lang, what))) }
        }
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

fn cell_td(c: Option<&Cell>, lang: Lang, notes: &[&str]) -> Markup {
    let Some(c) = c else {
        return html! { td class="cell missing" { "—" } };
    };
    let note = (c.observed == Outcome::NotApplicable)
        .then(|| notes.iter().position(|n| *n == c.reason.trim()))
        .flatten();
    let show_where = !c.where_.is_empty()
        && matches!(
            c.observed,
            Outcome::Leak | Outcome::Unreadable | Outcome::Absent
        );
    html! {
        td.cell.(class(c.observed)).mismatch[!c.met()] title=(Shown(&c.command)) {
            // A row that cannot run here is drawn as one line, never cell by cell.
            span.verdict {
                (Shown(cell_word(lang, c, false)))
                @if c.met() { " " span.met { "✓" } }
            }
            @if let Some(i) = note { sup.note { (i + 1) } }
            @if show_where { span class="where" { (Shown(&c.where_)) } }
            @if c.fragments_only && c.observed == Outcome::Leak {
                span.frag { (Shown(t(lang, "fragments"))) }
            }
            @if !c.met() { span.exp { (Shown(&mismatch_note(lang, c))) } }
            @if !c.reason.is_empty() && note.is_none() { span.reason { (Shown(&c.reason)) } }
        }
    }
}

/// One scenario's rows of the matrix: its cells, the reasons of its `n/a` cells, its lesson.
fn scenario_rows(r: &MatrixReport, s: &ScenarioInfo, lang: Lang) -> Markup {
    let span = r.attacks.len() + 1;
    // A wholly unavailable row says its reason in its one merged cell.
    let notes = if s.unavailable.is_some() {
        Vec::new()
    } else {
        na_reasons(r, s)
    };
    let lesson = s.lesson.get(lang);
    html! {
        tr data-scenario=(Shown(&s.name)) id=(format!("row-{}", s.name)) {
            th.scenario scope="row" { (scenario_head(s, lang)) }
            @match &s.unavailable {
                Some(why) => {
                    td.unavailable colspan=(r.attacks.len().max(1)) {
                        span class="word n-a" { (Shown(unavailable_word(lang))) }
                        " — " (Shown(why))
                    }
                }
                None => {
                    @for a in &r.attacks { (cell_td(cell_at(r, &s.name, *a), lang, &notes)) }
                }
            }
        }
        @if !notes.is_empty() {
            tr.notes {
                td colspan=(span) {
                    b { (Shown(t(lang, "html.row-notes"))) (Shown(colon(lang))) }
                    @for (i, n) in notes.iter().enumerate() {
                        span.note { sup.note { (i + 1) } " " (Shown(n)) }
                    }
                }
            }
        }
        @if !lesson.is_empty() {
            tr.lesson {
                td colspan=(span) {
                    b { (Shown(t(lang, "lesson"))) (Shown(colon(lang))) }
                    (Shown(lesson))
                }
            }
        }
    }
}

fn matrix(r: &MatrixReport, lang: Lang) -> Markup {
    let found: Vec<&Cell> = r.cells.iter().filter(|c| c.detections > 0).collect();
    html! {
        section #matrix {
            h2 { (Shown(t(lang, "html.matrix"))) }
            p { (Shown(t(lang, "columns"))) }
            ul.columns {
                @for a in &r.attacks {
                    li { b { (Shown(a.as_str())) } " — " (Shown(t(lang, attack_key(*a)))) }
                }
            }
            p { (Shown(t(lang, "rows"))) }
            table.matrix {
                thead {
                    tr {
                        th { (Shown(t(lang, "scenario"))) }
                        @for a in &r.attacks { th { (Shown(a.as_str())) } }
                    }
                }
                tbody {
                    @for s in &r.scenarios { (scenario_rows(r, s, lang)) }
                }
            }
            p { b { (Shown(t(lang, "legend"))) } }
            ul.legend {
                @for (word, o, key) in legend_words(lang) {
                    li { span.word.(class(o)) { (Shown(word)) } span { (Shown(t(lang, key))) } }
                }
                li { span.word.met { "✓" } span { (Shown(t(lang, "legend.met"))) } }
                li { span.word.mismatch { "✗" } span { (Shown(t(lang, "legend.mismatch"))) } }
            }
            @if !found.is_empty() {
                p { b { (Shown(t(lang, "detections"))) } }
                ul {
                    @for c in &found {
                        li {
                            (Shown(&c.scenario)) " · " (Shown(c.attack.as_str())) (Shown(sep(lang)))
                            (Shown(&super::matrix::detection_summary(lang, c)))
                        }
                    }
                }
            }
        }
    }
}

/// The end of the page: how many cells were as expected, and the ones that were not.
fn summary(r: &MatrixReport, lang: Lang) -> Markup {
    let ok = count_mismatches(r) == 0 && !r.cells.is_empty();
    let bad: Vec<&Cell> = r.cells.iter().filter(|c| !c.met()).collect();
    let unavailable = |c: &Cell| {
        r.scenarios
            .iter()
            .any(|s| s.name == c.scenario && s.unavailable.is_some())
    };
    html! {
        section #summary {
            h2 { (Shown(t(lang, "html.summary"))) }
            p.summary.ok[ok].bad[!ok] { (Shown(&summary_line(r))) }
            @if !bad.is_empty() {
                p { (Shown(t(lang, "html.mismatched"))) }
                ul {
                    @for c in &bad {
                        li {
                            (Shown(&c.scenario)) " · " (Shown(c.attack.as_str())) (Shown(sep(lang)))
                            span.word.(class(c.observed)) {
                                (Shown(cell_word(lang, c, unavailable(c))))
                            }
                            " — " (Shown(&mismatch_note(lang, c)))
                            @if !c.reason.trim().is_empty() {
                                (Shown(&paren(lang, c.reason.trim())))
                            }
                        }
                    }
                }
            }
        }
    }
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
