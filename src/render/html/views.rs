//! The page's last part before the summary: for each row, the hex view of what each attack
//! captured, with a legend that tells the three ways a byte is drawn apart (the secret's bytes
//! highlighted, `??` refused, `--` not in the dump).

use std::fmt::Write as _;

use super::{class, escape, scenario_head};
use crate::i18n::{sep, t, Lang};
use crate::model::{Cell, Gap, HexWindow, MatrixReport, ScenarioInfo};
use crate::render::matrix::{cell_at, outcome_word};

pub(super) fn views(out: &mut String, r: &MatrixReport, lang: Lang) {
    let _ = writeln!(
        out,
        "<section id=\"views\"><h2>{}</h2>\n{}",
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
                "<p>{}{}{}</p>",
                escape(t(lang, "html.holds")),
                sep(lang),
                escape(holds)
            );
        }
        let lesson = s.lesson.get(lang);
        if !lesson.is_empty() {
            let _ = write!(
                out,
                "<p class=\"lesson\"><b>{}{}</b>{}</p>",
                escape(t(lang, "lesson")),
                sep(lang),
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
/// One line per way a byte is drawn, each glyph in its real style: refused and absent bytes
/// must never be read as the same thing.
fn hex_legend(lang: Lang) -> String {
    format!(
        "<ul class=\"hexlegend\"><li class=\"legend-hl\"><span class=\"hl\">41 42</span>{}</li>\
         <li class=\"legend-refused\"><span class=\"q\">??</span>{}</li>\
         <li class=\"legend-absent\"><span class=\"abs\">--</span>{}</li></ul>",
        escape(t(lang, "hex.highlight")),
        escape(t(lang, "hex.refused")),
        escape(t(lang, "hex.absent"))
    )
}
fn view(out: &mut String, s: &ScenarioInfo, c: &Cell, w: &HexWindow, lang: Lang) {
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
                None => match row.gap(i) {
                    Some(Gap::Absent) => ("--".to_string(), "-".to_string(), "abs"),
                    _ => ("??".to_string(), "?".to_string(), "q"),
                },
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
            "<p class=\"hexlegend\">{}{}<code>{}</code></p>",
            escape(t(lang, "html.command")),
            sep(lang),
            escape(&c.command)
        );
    }
    out.push_str("</figure>\n");
}
