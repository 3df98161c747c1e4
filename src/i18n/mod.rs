//! The one language catalogue: every word confidump writes itself, in English and Japanese,
//! and the one rule for choosing between them.
//!
//! Two forms of text exist. Words of the program are keys here ([`t`], [`tf`] when the text
//! holds values), in tables by area: `ui.rs` (the demo's table, reports, presenter, doctor),
//! `lab.rs` (the training labs), `reasons.rs` (what the runner writes into cells and rows, what
//! doctor says a check enables). Words that come from data (scenario, lab and platform files,
//! host facts) arrive as [`crate::model::Texts`], an English and a Japanese text, whose
//! [`crate::model::Texts::get`] chooses by the same rule ([`choose`]): Japanese when asked for
//! and present, else English.
//!
//! A missing translation shows up in review as an empty column, and in the tests below: every
//! key has both texts, with the same placeholders. Nothing outside this module tests which
//! language it is in; code asks for a key in a [`Lang`] and gets the words.

mod lab;
mod reasons;
mod ui;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language confidump speaks. Its spelling (`en`, `ja`) is the one of `--lang`, of a
/// report's `lang` in JSON and of `<html lang>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English, the default and the fallback of every text.
    #[default]
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// Every language, in the order `--lang` lists them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// `en` or `ja`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A language name that is not `en` or `ja`.
#[derive(Debug, thiserror::Error)]
#[error("unknown language {0:?} (expected en or ja)")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLang(s.to_string()))
    }
}

/// The language of the locale: Japanese when it is Japanese, else English.
///
/// Follows POSIX precedence: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not
/// empty decides, so `LC_ALL=C LANG=ja_JP.UTF-8` is English, as every other program on the
/// machine would read it.
pub fn detect_lang() -> Lang {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let locale = var("LC_ALL")
        .or_else(|| var("LC_MESSAGES"))
        .or_else(|| var("LANG"));
    lang_of_locale(locale.as_deref())
}

/// The language of a locale name (`ja_JP.UTF-8` → Japanese); English for anything else.
pub fn lang_of_locale(locale: Option<&str>) -> Lang {
    match locale {
        Some(l) if l.starts_with("ja") => Lang::Ja,
        _ => Lang::En,
    }
}

/// The one fallback rule: the Japanese text in Japanese unless it is empty, else the English.
pub fn choose<'a>(lang: Lang, en: &'a str, ja: &'a str) -> &'a str {
    match lang {
        Lang::Ja if !ja.is_empty() => ja,
        _ => en,
    }
}

/// The catalogue's text `key` in `lang` (by [`choose`]; the key itself when it is unknown).
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    match entries().find(|(k, _, _)| *k == key) {
        Some((_, en, ja)) => choose(lang, en, ja),
        None => key,
    }
}

/// The catalogue's text `key` in `lang` with its placeholders filled by `args`: `{}` takes the
/// next argument, `{0}`, `{1}`… the one at that index (for a language that says them in
/// another order). A placeholder without an argument, and a named one (`{name}`, filled by
/// its caller), stays as it is.
pub fn tf(lang: Lang, key: &'static str, args: &[&dyn fmt::Display]) -> String {
    fill(t(lang, key), args)
}

/// `text` with its placeholders filled (see [`tf`]).
fn fill(text: &str, args: &[&dyn fmt::Display]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut next = 0;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .filter(|&c| after[..c].bytes().all(|b| b.is_ascii_digit()));
        let Some(close) = close else {
            out.push('{');
            rest = after;
            continue;
        };
        let index = if close == 0 {
            next += 1;
            Some(next - 1)
        } else {
            after[..close].parse::<usize>().ok()
        };
        match index.and_then(|i| args.get(i)) {
            Some(a) => out.push_str(&a.to_string()),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Every text of the catalogue as `(key, English, Japanese)`, for checks that walk it
/// (`tests/japanese.rs`: one register, full-width punctuation, no English left in Japanese).
pub fn entries() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    ui::STRINGS.iter().chain(lab::WORDS).chain(reasons::REASONS)
}

/// What follows a label (`lesson: `): a full-width colon in Japanese, which joins no sentences.
pub fn sep(lang: Lang) -> &'static str {
    t(lang, "punct.sep")
}

/// A label's colon with nothing after it (`<b>lesson:</b>`): full-width in Japanese.
pub fn colon(lang: Lang) -> &'static str {
    sep(lang).trim_end()
}

/// `text` in parentheses after what precedes it: ` (text)` in English, `（text）` in Japanese,
/// whose full-width parentheses take no space before them.
pub fn paren(lang: Lang, text: &str) -> String {
    tf(lang, "punct.paren", &[&text])
}

/// Items of a list in a sentence: `a, b` in English, `a、b` in Japanese.
pub fn list(lang: Lang, items: &[impl AsRef<str>]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    items.join(t(lang, "list.sep"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The placeholders of a text: `{}`, `{n}`, … in order of appearance.
    fn placeholders(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(a) = rest.find('{') {
            let Some(b) = rest[a..].find('}') else { break };
            out.push(&rest[a..=a + b]);
            rest = &rest[a + b + 1..];
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn every_key_has_both_languages_and_the_same_placeholders() {
        for (k, en, ja) in entries() {
            assert!(!en.is_empty() && !ja.is_empty(), "{k} lacks a translation");
            assert_eq!(
                placeholders(en),
                placeholders(ja),
                "{k}: the English and the Japanese take different values"
            );
        }
        let mut keys: Vec<_> = entries().map(|(k, _, _)| *k).collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate keys");
    }

    #[test]
    fn lookup_and_fallbacks() {
        assert_eq!(t(Lang::En, "leak"), "LEAK");
        assert_eq!(t(Lang::Ja, "leak"), "漏洩");
        assert_eq!(t(Lang::Ja, "no-such-key"), "no-such-key");
        assert_eq!(choose(Lang::Ja, "en", ""), "en");
        assert_eq!(tf(Lang::En, "punct.paren", &[&"x"]), " (x)");
        assert_eq!(tf(Lang::Ja, "punct.paren", &[&"x"]), "（x）");
        assert_eq!(tf(Lang::En, "punct.paren", &[]), " ({})");
        assert_eq!(
            tf(Lang::Ja, "reason.each-process", &[&"なかった", &5]),
            "なかった（5 個のプロセスのどれにもない）。"
        );
        assert_eq!(
            tf(Lang::En, "doctor.lacks", &[]),
            "this host lacks {m} of the {n} capabilities {name} requires"
        );
        assert_eq!(fill("{1} の {0}（{}）", &[&"a", &"b"]), "b の a（a）");
        assert_eq!(fill("{2} {x} {", &[&"a"]), "{2} {x} {");
        assert_eq!(sep(Lang::Ja), "：");
        assert_eq!(colon(Lang::En), ":");
        assert_eq!(list(Lang::Ja, &["a", "b"]), "a、b");
    }

    #[test]
    fn names_and_locales() {
        for l in Lang::ALL {
            assert_eq!(l.to_string().parse::<Lang>().ok(), Some(l));
            assert_eq!(
                serde_json::to_string(&l).ok(),
                Some(format!("\"{}\"", l.as_str()))
            );
        }
        assert!("fr".parse::<Lang>().is_err());
        assert_eq!(lang_of_locale(Some("ja_JP.UTF-8")), Lang::Ja);
        assert_eq!(lang_of_locale(Some("ja")), Lang::Ja);
        assert_eq!(lang_of_locale(Some("C.UTF-8")), Lang::En);
        assert_eq!(lang_of_locale(None), Lang::En);
    }
}
