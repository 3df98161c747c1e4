//! Text in the languages the demo speaks.

use serde::{Deserialize, Serialize};

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

    /// The text in `lang` (`en` or `ja`), falling back to English.
    pub fn get(&self, lang: &str) -> &str {
        if lang == "ja" && !self.ja.is_empty() {
            &self.ja
        } else {
            &self.en
        }
    }
}

/// English only (the Japanese falls back to it): for tests and callers that have one text.
impl From<&str> for Texts {
    fn from(en: &str) -> Self {
        Self::new(en, "")
    }
}
