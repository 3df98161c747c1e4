//! The one sanitiser for text that came from a file we did not write (a node's demo result, a
//! trainee's status file, a core's notes, a scenario or lab file, a file's name) on its way to
//! a terminal.
//!
//! A terminal obeys what it is sent: ESC starts a sequence that can set the window title,
//! clear the screen, write the clipboard (OSC 52) or hide text; CR and LF let a string forge
//! lines of the table it sits in. So every character a terminal might act on is shown as a
//! visible escape (`\x1b`, `\r`, `\n`, `\u{9b}`), never passed through: C0 controls, DEL, the
//! C1 controls (U+0080–U+009F: U+009B is a one-character CSI on terminals that honour C1 in
//! UTF-8), the Unicode line and paragraph separators, and the bidirectional overrides and
//! isolates, which reorder what follows them on screen ("Trojan Source").
//!
//! [`visible`] is for text output; [`json_text`] keeps JSON output exact for a machine while
//! writing those characters as `\uXXXX` escapes, which JSON readers decode to the same string.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A character a terminal (or a bidi-aware renderer) may act on instead of showing.
fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'            // C0 controls: ESC, CR, LF, BS, BEL, TAB, ...
        | '\u{7f}'                    // DEL
        | '\u{80}'..='\u{9f}'         // C1 controls, U+009B CSI and U+009D OSC among them
        | '\u{2028}' | '\u{2029}'     // line and paragraph separators
        | '\u{200e}' | '\u{200f}'     // left-to-right and right-to-left marks
        | '\u{202a}'..='\u{202e}'     // bidi embeddings and overrides
        | '\u{2066}'..='\u{2069}'     // bidi isolates
    )
}

/// `s` with every character a terminal could act on written as a visible escape: `\x1b`,
/// `\r`, `\n`, `\t`, `\x07`, `\u{9b}`. Text without one is returned as it is, unallocated.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().saturating_add(8));
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`visible`], owned: for the places that keep the text.
pub fn visible_string(s: &str) -> String {
    visible(s).into_owned()
}

/// Serialised JSON with the characters [`is_unsafe`] names that a JSON encoder leaves raw (the
/// C1 controls, DEL, the separators and bidi controls; C0 controls are already escaped by
/// every encoder) written as `\uXXXX`. The JSON means the same to any reader; a terminal that
/// shows it acts on nothing. Such characters can only stand inside JSON strings, where
/// `\uXXXX` is their exact spelling.
pub fn json_text(json: &str) -> Cow<'_, str> {
    // A C0 control outside a string is the encoder's own layout (pretty-printing's newlines
    // and indentation), and inside one the encoder has already escaped it: leave those.
    let raw = |c: char| is_unsafe(c) && u32::from(c) >= 0x20;
    if !json.chars().any(raw) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len().saturating_add(8));
    for c in json.chars() {
        if raw(c) {
            // Every character is_unsafe names lies in the Basic Multilingual Plane: one
            // `\uXXXX` each.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_untouched() {
        for s in ["", "node-a", "6.1.0-18-amd64", "見えない", "a/b c=d \\x1b"] {
            assert!(matches!(visible(s), Cow::Borrowed(_)), "{s}");
            assert_eq!(visible(s), s);
        }
    }

    #[test]
    fn osc_52_clipboard_write_is_shown_not_sent() {
        let s = "host\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07";
        let v = visible(s);
        assert_eq!(v, "host\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07");
        assert!(!v.contains('\x1b') && !v.contains('\x07'));
        // The same with the string terminator ESC \ and the 8-bit OSC (U+009D).
        assert_eq!(visible("\x1b]0;title\x1b\\"), "\\x1b]0;title\\x1b\\");
        assert_eq!(visible("\u{9d}52;c;AA==\u{9c}"), "\\u{9d}52;c;AA==\\u{9c}");
    }

    #[test]
    fn csi_clear_screen_and_hidden_text_are_shown() {
        assert_eq!(visible("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");
        assert_eq!(visible("ok\x1b[8mhidden"), "ok\\x1b[8mhidden");
        // U+009B is a one-character CSI.
        assert_eq!(visible("\u{9b}2J"), "\\u{9b}2J");
        assert_eq!(visible("a\x7fb\x08c"), "a\\x7fb\\x08c");
    }

    #[test]
    fn cr_lf_cannot_forge_table_lines() {
        let forged = "plain\r\nsgx       live      unreadable  unreadable";
        let v = visible(forged);
        assert!(!v.contains('\n') && !v.contains('\r'));
        assert_eq!(v, "plain\\r\\nsgx       live      unreadable  unreadable");
        assert_eq!(visible("a\tb"), "a\\tb");
        assert_eq!(visible("a\u{2028}b"), "a\\u{2028}b");
    }

    #[test]
    fn bidi_overrides_are_shown() {
        assert_eq!(visible("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(visible("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn json_keeps_its_meaning() {
        let value = serde_json::json!({ "host": "a\u{9b}2J\u{202e}b\x1b[2J\u{7f}" });
        for raw in [
            serde_json::to_string(&value).unwrap(),
            serde_json::to_string_pretty(&value).unwrap(),
        ] {
            let safe = json_text(&raw);
            assert!(
                !safe.chars().any(|c| is_unsafe(c) && c != '\n' && c != ' '),
                "{safe}"
            );
            let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
            assert_eq!(back, value);
        }
        assert!(matches!(json_text("{\"a\":\"b\"}"), Cow::Borrowed(_)));
    }
}
