//! `confidump lab status --html`: one self-contained page of a trainee's progress.

use super::html::escape;
use crate::i18n::{t, Lang};
use crate::lab::progress::{minutes, state_key, StatusReport};

/// The status page of `rep`, headings in `lang`; every string of the report is escaped.
pub fn page(rep: &StatusReport, lang: Lang) -> String {
    let l = lang;
    let mut page = format!(
        "<!doctype html><meta charset=utf-8><title>confidump lab: {0}</title>\
         <style>body{{font-family:sans-serif}}td,th{{padding:.2em .8em;border-bottom:1px solid #ccc}}\
         .solved{{color:#070}}.locked{{color:#888}}</style><h1>confidump lab: {0}</h1><table>\
         <tr><th>#</th><th>{1}</th><th>{2}</th><th>{3}</th><th>{4}</th><th>{5}</th></tr>",
        escape(&rep.trainee),
        t(l, "exercise"),
        t(l, "state"),
        t(l, "tries"),
        t(l, "hints"),
        t(l, "time")
    );
    for (i, p) in rep.exercises.iter().enumerate() {
        let state = state_key(&p.state);
        page.push_str(&format!(
            "<tr class={}><td>{}</td><td>{} <small>({})</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            state,
            i + 1,
            escape(&p.title),
            escape(&p.exercise),
            t(l, state),
            p.attempts,
            p.hints,
            minutes(p.seconds)
        ));
    }
    page.push_str("</table>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::progress::Progress;

    #[test]
    fn hostile_names_are_escaped() {
        let rep = StatusReport {
            trainee: "<script>alert(1)</script>@\"h\"".to_string(),
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
        assert!(html.contains("a &amp; &#39;b&#39;"));
        assert!(html.contains("<tr class=solved><td>1</td>"));
        assert!(html.contains("<td>2</td><td>1</td><td>1:01</td></tr></table>\n"));
    }
}
