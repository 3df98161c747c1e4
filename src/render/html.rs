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

use super::i18n::t;
use super::matrix::{
    attack_key, cell_at, count_mismatches, mismatch_note, outcome_key, outcome_word,
    stand_in_label, summary_line,
};
use crate::model::{Cell, HexWindow, MatrixReport, Outcome, ScenarioInfo};

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

/// The `lang` attribute: only the languages we speak, so a hostile `lang` cannot break out.
fn html_lang(lang: &str) -> &'static str {
    if lang == "ja" {
        "ja"
    } else {
        "en"
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
p.hexlegend, p.empty { color: var(--dim); font-size: .9rem; }
p.hexlegend .q { color: var(--ok); font-weight: 700; font-family: ui-monospace, monospace; }
p.hexlegend .hl { background: var(--leak); color: #fff; padding: 0 .2rem; }
"#;

/// The page, in `report.lang`.
pub fn render(report: &MatrixReport) -> String {
    let lang = html_lang(&report.lang);
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
    views(&mut out, report, lang);
    out.push_str("</body>\n</html>\n");
    out
}

fn host(out: &mut String, r: &MatrixReport, lang: &str) {
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

fn scenario_head(out: &mut String, s: &ScenarioInfo, lang: &str) {
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

fn cell_td(out: &mut String, c: Option<&Cell>, lang: &str) {
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
        escape(outcome_word(lang, c.observed)),
        if c.met() {
            " <span class=\"met\">✓</span>"
        } else {
            ""
        }
    );
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
    if !c.reason.is_empty() {
        let _ = write!(out, "<span class=\"reason\">{}</span>", escape(&c.reason));
    }
    out.push_str("</td>");
}

fn matrix(out: &mut String, r: &MatrixReport, lang: &str) {
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
                    escape(outcome_word(lang, Outcome::NotApplicable)),
                    escape(why)
                );
            }
            None => {
                for a in &r.attacks {
                    cell_td(out, cell_at(r, &s.name, *a), lang);
                }
            }
        }
        out.push_str("</tr>\n");
        let lesson = s.lesson.get(lang);
        if !lesson.is_empty() {
            let _ = writeln!(
                out,
                "<tr class=\"lesson\"><td colspan=\"{span}\"><b>{}:</b>{}</td></tr>",
                escape(t(lang, "lesson")),
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
    for (o, key) in [
        (Outcome::Leak, "legend.leak"),
        (Outcome::Unreadable, "legend.unreadable"),
        (Outcome::Absent, "legend.absent"),
        (Outcome::NotApplicable, "legend.n/a"),
        (Outcome::NotFound, "legend.not-found"),
    ] {
        let _ = write!(
            out,
            "<li><span class=\"word {}\">{}</span><span>{}</span></li>",
            class(o),
            escape(outcome_word(lang, o)),
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
                "<li>{} · {}: {}</li>",
                escape(&c.scenario),
                escape(c.attack.as_str()),
                escape(&super::matrix::detection_summary(lang, c)),
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn views(out: &mut String, r: &MatrixReport, lang: &str) {
    let _ = writeln!(
        out,
        "<section id=\"views\"><h2>{}</h2>\n<p class=\"hexlegend\">{}</p>",
        escape(t(lang, "html.views")),
        hex_legend(lang)
    );
    for s in &r.scenarios {
        let _ = write!(
            out,
            "<article class=\"scenario\" id=\"s-{}\"><h3>",
            escape(&s.name)
        );
        scenario_head(out, s, lang);
        out.push_str("</h3>");
        let holds = s.holds.get(lang);
        if !holds.is_empty() {
            let _ = write!(
                out,
                "<p>{}: {}</p>",
                escape(t(lang, "html.holds")),
                escape(holds)
            );
        }
        let lesson = s.lesson.get(lang);
        if !lesson.is_empty() {
            let _ = write!(
                out,
                "<p class=\"lesson\"><b>{}:</b> {}</p>",
                escape(t(lang, "lesson")),
                escape(lesson)
            );
        }
        let mut any = false;
        for a in &r.attacks {
            let Some(c) = cell_at(r, &s.name, *a) else {
                continue;
            };
            let Some(w) = &c.view else { continue };
            any = true;
            view(out, s, c, w, lang);
        }
        if !any {
            let _ = write!(
                out,
                "<p class=\"empty\">{}</p>",
                escape(t(lang, "html.no-view"))
            );
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

fn hex_legend(lang: &str) -> String {
    // The legend text names `??` and "highlighted"; show both in their real styles.
    let text = escape(t(lang, "html.hex-legend"));
    text.replacen("??", "<span class=\"q\">??</span>", 1)
}

fn view(out: &mut String, s: &ScenarioInfo, c: &Cell, w: &HexWindow, lang: &str) {
    let where_ = if c.where_.is_empty() {
        String::new()
    } else {
        format!(" · {}", c.where_)
    };
    let _ = write!(
        out,
        "<figure class=\"view\" data-attack=\"{}\" data-outcome=\"{}\"><figcaption>{} · {}{} \
         <span class=\"word {}\">{}</span><br><small>{}</small></figcaption>\n<pre class=\"hex\">",
        escape(c.attack.as_str()),
        class(c.observed),
        escape(&s.name),
        escape(c.attack.as_str()),
        escape(&where_),
        class(c.observed),
        escape(outcome_word(lang, c.observed)),
        escape(&w.title)
    );
    for row in &w.rows {
        let _ = write!(out, "<span class=\"addr\">{:#018x}</span>  ", row.addr);
        // Each byte as (hex, ascii, class); runs of one class become one span, spaces
        // included, so a highlighted secret reads as one bar and `??` as one block.
        let cells: Vec<(String, String, &str)> = row
            .bytes
            .iter()
            .enumerate()
            .map(|(i, b)| match b {
                // Taken out by --redact: drawn as a bar, in the secret's colour.
                None if row.is_redacted(i) => ("██".to_string(), "█".to_string(), "hl"),
                None => ("??".to_string(), "?".to_string(), "q"),
                Some(b) => {
                    let ch = if b.is_ascii_graphic() || *b == b' ' {
                        escape(&char::from(*b).to_string())
                    } else {
                        ".".to_string()
                    };
                    let hl = row.highlight.get(i).copied().unwrap_or(false);
                    (format!("{b:02x}"), ch, if hl { "hl" } else { "" })
                }
            })
            .collect();
        let mut hex = String::new();
        let mut ascii = String::new();
        let mut i = 0;
        while i < cells.len() {
            let cls = cells[i].2;
            let mut j = i;
            while j < cells.len() && cells[j].2 == cls {
                j += 1;
            }
            let mut h = String::new();
            let mut a = String::new();
            for (k, (hx, ch, _)) in cells[i..j].iter().enumerate() {
                let at = i + k;
                h.push_str(hx);
                a.push_str(ch);
                // The gap after a byte belongs to the run unless the run ends there.
                if at + 1 < j {
                    h.push(' ');
                    if at == 7 {
                        h.push(' ');
                    }
                }
            }
            if cls.is_empty() {
                hex.push_str(&h);
                ascii.push_str(&a);
            } else {
                let _ = write!(hex, "<span class=\"{cls}\">{h}</span>");
                let _ = write!(ascii, "<span class=\"{cls}\">{a}</span>");
            }
            if j < cells.len() {
                hex.push(' ');
                if j - 1 == 7 {
                    hex.push(' ');
                }
            }
            i = j;
        }
        out.push_str(&hex);
        // Short rows (the last of a window) keep the ASCII column aligned.
        for k in cells.len()..16 {
            out.push_str(if k == 0 { "  " } else { "   " });
            if k == 8 {
                out.push(' ');
            }
        }
        let _ = writeln!(out, "  |{ascii}|");
    }
    out.push_str("</pre>");
    if !c.command.is_empty() {
        let _ = write!(
            out,
            "<p class=\"hexlegend\">{}: <code>{}</code></p>",
            escape(t(lang, "html.command")),
            escape(&c.command)
        );
    }
    out.push_str("</figure>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::matrix::tests::sample;

    #[test]
    fn hostile_text_is_escaped() {
        let mut r = sample("en");
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
    fn page_has_matrix_views_and_lang() {
        let page = render(&sample("ja"));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<html lang=\"ja\">"));
        assert!(page.contains("<table class=\"matrix\">"));
        assert!(page.contains("data-outcome=\"unreadable\""));
        assert!(page.contains("<span class=\"q\">?? ?? ??"));
        assert!(page.contains("<span class=\"hl\">34 31 31 31"), "{page}");
        assert!(
            page.contains("漏洩") && page.contains("教訓") && page.contains("エンクレーブの代役")
        );
        assert!(page.contains("✗ 期待値: 漏洩"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "external asset"
        );
        let en = render(&sample("en"));
        assert!(en.contains("<html lang=\"en\">") && en.contains("stand-in for an enclave"));
    }
}
