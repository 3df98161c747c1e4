//! `confidump lab status --html`: one self-contained page of a trainee's progress, written
//! with `maud`, which escapes every string of the report by construction.

use maud::{html, PreEscaped, DOCTYPE};

use super::html::Shown;
use crate::i18n::{t, Lang};
use crate::lab::progress::{minutes, state_key, StatusReport};

const CSS: &str =
    "body{font-family:sans-serif}td,th{padding:.2em .8em;border-bottom:1px solid #ccc}\
                   .solved{color:#070}.shown{color:#a50}.locked{color:#888}";

/// The status page of `rep`, headings in `lang`.
pub fn page(rep: &StatusReport, lang: Lang) -> String {
    let l = lang;
    let page = html! {
        (DOCTYPE)
        meta charset="utf-8";
        title { "confidump lab: " (Shown(&rep.trainee)) }
        style { (PreEscaped(CSS)) }
        h1 { "confidump lab: " (Shown(&rep.trainee)) }
        @if !rep.machine.is_empty() || !rep.account.is_empty() {
            p { (t(l, "machine")) (crate::i18n::colon(l)) " " (Shown(&rep.machine)) " " (Shown(&rep.account)) }
        }
        p { (t(l, "report.self")) }
        table {
            tr {
                th { "#" }
                th { (t(l, "exercise")) }
                th { (t(l, "state")) }
                th { (t(l, "tries")) }
                th { (t(l, "hints")) }
                th { (t(l, "time")) }
            }
            @for (i, p) in rep.exercises.iter().enumerate() {
                @let state = state_key(&p.state);
                tr class=(state) {
                    td { (i + 1) }
                    td { (Shown(&p.title)) " " small { "(" (Shown(&p.exercise)) ")" } }
                    td { (t(l, state)) }
                    td { (p.attempts) }
                    td { (p.hints) }
                    td { (minutes(p.seconds)) }
                }
            }
        }
        @if rep.exercises.iter().any(|p| state_key(&p.state) == "shown") {
            p { (t(l, "status.shown.note")) }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::progress::Progress;

    #[test]
    fn hostile_names_are_escaped() {
        let rep = StatusReport {
            trainee: "<script>alert(1)</script>@\"h\"".to_string(),
            machine: String::new(),
            account: String::new(),
            exercises: vec![Progress {
                exercise: "x\"><script>".to_string(),
                title: "a & 'b'".to_string(),
                state: "solved".to_string(),
                attempts: 2,
                hints: 1,
                seconds: Some(61),
            }],
        };
        let html = page(&rep, Lang::En);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("\"h\""), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;@&quot;h&quot;"));
        assert!(html.contains("x&quot;&gt;&lt;script&gt;"));
        assert!(html.contains("a &amp; 'b'"), "{html}");
        assert!(html.contains("<tr class=\"solved\"><td>1</td>"), "{html}");
        assert!(html.contains("<td>2</td><td>1</td><td>1:01</td></tr></table>\n"));
    }
}
