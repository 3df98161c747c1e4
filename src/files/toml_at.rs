//! The one TOML loader whose errors say where: `FILE:LINE:COL: message`, as a compiler's do.
//!
//! Scenario files, platform expectation files and lab exercise files all parse through
//! [`parse`] and report their own checks through [`TomlError::at`], so a byte span (what
//! `toml` errors and `toml::Spanned` values carry) becomes a line and column one way, and
//! every such error reads the same.

use std::ops::Range;

/// A TOML file that is not valid for its schema (syntax, unknown key, a value a check refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct TomlError {
    /// The file, as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters (not bytes).
    pub column: usize,
    /// What is wrong, on one line.
    pub message: String,
}

impl TomlError {
    /// The error for `span` of `text` (its start; 1:1 without a span, for what concerns the
    /// whole file). `msg` is put on one line: toml's messages can end with a newline.
    pub fn at(file: &str, text: &str, span: Option<Range<usize>>, msg: &str) -> Self {
        let (line, column) = span.map_or((1, 1), |s| line_col(text, s.start));
        Self {
            file: file.to_string(),
            line,
            column,
            message: msg.trim().replace('\n', " "),
        }
    }
}

/// Deserializes `text`; `file` names it in the error.
pub fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, TomlError> {
    toml::from_str(text).map_err(|e| TomlError::at(file, text, e.span(), e.message()))
}

/// 1-based line and column (in characters) of byte `offset` in `text`. An offset past the end
/// is the end; one inside a multibyte character counts from the line's start to the end of
/// the text before it (the whole text, should that not be a character boundary).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(1, |l| l.chars().count() + 1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("a\nbc\nd", 3), (2, 2));
        assert_eq!(line_col("", 10), (1, 1));
    }

    #[test]
    fn a_span_at_the_start_is_1_1() {
        assert_eq!(line_col("name = 1\n", 0), (1, 1));
        let e = TomlError::at("f.toml", "x", Some(0..1), "bad");
        assert_eq!(e.to_string(), "f.toml:1:1: bad");
    }

    #[test]
    fn a_span_mid_line() {
        let text = "a = 1\nname = 2\n";
        assert_eq!(line_col(text, 13), (2, 8));
    }

    #[test]
    fn columns_count_characters_after_a_multibyte_one() {
        // "é" is two bytes, "実" three: the column counts each as one.
        let text = "a = \"é\"\nb = \"実\" x\n";
        let x = text.find('x').unwrap();
        assert_eq!(line_col(text, x), (2, 9));
        assert_eq!(line_col(text, text.find('"').unwrap() + 3), (1, 7));
    }

    #[test]
    fn a_span_at_or_past_the_end_is_the_end() {
        let text = "a = 1\nb = ";
        assert_eq!(line_col(text, text.len()), (2, 5));
        assert_eq!(line_col(text, text.len() + 10), (2, 5));
        assert_eq!(line_col("a\n", 2), (2, 1));
    }

    #[test]
    fn without_a_span_the_error_is_at_1_1_and_on_one_line() {
        let e = TomlError::at("f.toml", "a\nb\n", None, "  two\nlines\n");
        assert_eq!(e.to_string(), "f.toml:1:1: two lines");
    }

    #[test]
    fn parse_errors_say_where() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct S {
            a: u32,
        }
        let e = parse::<S>("f.toml", "a = 1\nb = 2\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.column), ("f.toml", 2, 1), "{e}");
        assert!(e.message.contains("unknown field `b`"), "{e}");
        assert!(!e.message.contains('\n'), "{e}");
        assert_eq!(parse::<S>("f.toml", "a = 7").unwrap().a, 7);
    }
}
