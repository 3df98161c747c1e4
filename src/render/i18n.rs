//! English and Japanese strings for the demo's narration. (Interface stub.)

/// `ja` when the locale (LC_ALL, LC_MESSAGES, LANG) is Japanese, else `en`.
pub fn detect_lang() -> &'static str {
    "en"
}

/// The UI string `key` in `lang` (falls back to English, then to the key itself).
pub fn t(_lang: &str, key: &'static str) -> &'static str {
    key
}
