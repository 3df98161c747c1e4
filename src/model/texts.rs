//! Text in the languages the demo speaks, for words that come from data (scenario, lab and
//! platform files, host facts); the program's own words are keys of [`crate::i18n`].

use serde::{Deserialize, Serialize};

use crate::i18n::{choose, Lang};

/// Text in the languages the demo speaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Texts {
    /// English.
    pub en: String,
    /// Japanese.
    #[serde(default)]
    pub ja: String,
}

impl Texts {
    /// A text in both languages.
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> Self {
        Self {
            en: en.into(),
            ja: ja.into(),
        }
    }

    /// The same text in both languages (a path, a command, a technical name).
    pub fn same(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            en: text.clone(),
            ja: text,
        }
    }

    /// The text in `lang`, by the catalogue's one rule ([`choose`]: English when there is no
    /// Japanese).
    pub fn get(&self, lang: Lang) -> &str {
        choose(lang, &self.en, &self.ja)
    }

    /// [`Self::get`], owned.
    pub fn into_lang(self, lang: Lang) -> String {
        self.get(lang).to_string()
    }
}

/// English only (the Japanese falls back to it): for tests and callers that have one text.
impl From<&str> for Texts {
    fn from(en: &str) -> Self {
        Self::new(en, "")
    }
}
