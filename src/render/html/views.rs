//! The page's last part before the summary: for each row, the hex view of what each attack
//! captured, with a legend that tells the three ways a byte is drawn apart (the secret's bytes
//! highlighted, `??` refused, `--` not in the dump).

use maud::{html, Markup};

use super::{class, scenario_head, Shown};
use crate::i18n::{sep, t, Lang};
use crate::model::{Cell, Gap, HexRow, HexWindow, MatrixReport, ScenarioInfo};
use crate::render::matrix::{cell_at, outcome_word};

pub(super) fn views(r: &MatrixReport, lang: Lang) -> Markup {
    html! {
        section #views {
            h2 { (Shown(t(lang, "html.views"))) }
            (hex_legend(lang))
            @for s in &r.scenarios { (scenario(r, s, lang)) }
        }
    }
}

fn scenario(r: &MatrixReport, s: &ScenarioInfo, lang: Lang) -> Markup {
    let holds = s.holds.get(lang);
    let lesson = s.lesson.get(lang);
    let shown: Vec<(&Cell, &HexWindow)> = r
        .attacks
        .iter()
        .filter_map(|a| cell_at(r, &s.name, *a))
        .filter_map(|c| c.view.as_ref().map(|w| (c, w)))
        .collect();
    html! {
        article.scenario id={ "s-" (Shown(&s.name)) } {
            h3 { (scenario_head(s, lang)) }
            @if !holds.is_empty() {
                p { (Shown(t(lang, "html.holds"))) (Shown(sep(lang))) (Shown(holds)) }
            }
            @if !lesson.is_empty() {
                p.lesson { b { (Shown(t(lang, "lesson"))) (Shown(sep(lang))) } (Shown(lesson)) }
            }
            @for (c, w) in &shown { (view(s, c, w, lang)) }
            @if shown.is_empty() {
                p.empty { (Shown(t(lang, "html.no-view"))) }
            }
        }
    }
}

/// One line per way a byte is drawn, each glyph in its real style: refused and absent bytes
/// must never be read as the same thing.
fn hex_legend(lang: Lang) -> Markup {
    html! {
        ul.hexlegend {
            li.legend-hl { span.hl { "41 42" } (Shown(t(lang, "hex.highlight"))) }
            li.legend-refused { span.q { "??" } (Shown(t(lang, "hex.refused"))) }
            li.legend-absent { span.abs { "--" } (Shown(t(lang, "hex.absent"))) }
        }
    }
}

fn view(s: &ScenarioInfo, c: &Cell, w: &HexWindow, lang: Lang) -> Markup {
    let where_ = if c.where_.is_empty() {
        String::new()
    } else {
        format!(" · {}", c.where_)
    };
    html! {
        figure.view data-attack=(Shown(c.attack.as_str())) data-outcome=(class(c.observed)) {
            figcaption {
                (Shown(&s.name)) " · " (Shown(c.attack.as_str())) (Shown(&where_)) " "
                span.word.(class(c.observed)) { (Shown(outcome_word(lang, c.observed))) }
                br;
                small { (Shown(&w.title)) }
            }
            pre.hex { @for row in &w.rows { (hex_row(row)) } }
            @if !c.command.is_empty() {
                p.hexlegend {
                    (Shown(t(lang, "html.command"))) (Shown(sep(lang))) code { (Shown(&c.command)) }
                }
            }
        }
    }
}

/// A run of bytes drawn alike: its class (empty: plain), its hex and its ASCII text, and
/// the gap that follows it in the hex column.
struct Run {
    class: &'static str,
    hex: String,
    ascii: String,
    gap: &'static str,
}

/// One line of the hex view: the address, the hex column, the ASCII column.
fn hex_row(row: &HexRow) -> Markup {
    // Each byte as (hex, ascii, class); runs of one class become one span, spaces included,
    // so a highlighted secret reads as one bar and `??` as one block.
    let cells: Vec<(String, char, &str)> = row
        .bytes
        .iter()
        .enumerate()
        .map(|(i, b)| match b {
            // Taken out by --redact: drawn as a bar, in the secret's colour.
            None if row.is_redacted(i) => ("██".to_string(), '█', "hl"),
            None => match row.gap(i) {
                Some(Gap::Absent) => ("--".to_string(), '-', "abs"),
                _ => ("??".to_string(), '?', "q"),
            },
            Some(b) => {
                let ch = if b.is_ascii_graphic() || *b == b' ' {
                    char::from(*b)
                } else {
                    '.'
                };
                let hl = row.highlight.get(i).copied().unwrap_or(false);
                (format!("{b:02x}"), ch, if hl { "hl" } else { "" })
            }
        })
        .collect();
    let mut runs: Vec<Run> = Vec::new();
    let mut i = 0;
    while i < cells.len() {
        let cls = cells[i].2;
        let mut j = i;
        while j < cells.len() && cells[j].2 == cls {
            j += 1;
        }
        let mut run = Run {
            class: cls,
            hex: String::new(),
            ascii: String::new(),
            gap: "",
        };
        for (k, (hx, ch, _)) in cells[i..j].iter().enumerate() {
            let at = i + k;
            run.hex.push_str(hx);
            run.ascii.push(*ch);
            // The gap after a byte belongs to the run unless the run ends there.
            if at + 1 < j {
                run.hex.push(' ');
                if at == 7 {
                    run.hex.push(' ');
                }
            }
        }
        if j < cells.len() {
            run.gap = if j - 1 == 7 { "  " } else { " " };
        }
        runs.push(run);
        i = j;
    }
    // Short rows (the last of a window) keep the ASCII column aligned.
    let mut pad = String::new();
    for k in cells.len()..16 {
        pad.push_str(if k == 0 { "  " } else { "   " });
        if k == 8 {
            pad.push(' ');
        }
    }
    html! {
        span.addr { (format!("{:#018x}", row.addr)) } "  "
        @for run in &runs {
            @if run.class.is_empty() { (run.hex) } @else { span class=(run.class) { (run.hex) } }
            (run.gap)
        }
        (pad) "  |"
        @for run in &runs {
            @if run.class.is_empty() { (run.ascii) } @else { span class=(run.class) { (run.ascii) } }
        }
        "|\n"
    }
}
