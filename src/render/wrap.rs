//! Line breaking for the terminal: display widths, and wrapping that reads well in English and
//! in Japanese. The table, presenter mode and the lessons all wrap through [`wrap`].
//!
//! Widths are display widths (a CJK character takes two columns). English breaks at spaces.
//! Japanese has no spaces, and UAX #14 alone allows a break between any two ideographs or kana,
//! which splits words (`エン/クレーブ`, `カ/ナリア`) and is why this is not a UAX #14 crate:
//! here Japanese breaks at *phrase* boundaries (after a run of hiragana — the particles and
//! endings that close a phrase — when a new content word starts, and after `、` `。` and closing
//! brackets), with kinsoku: no line starts with a small kana, a prolonged sound mark or closing
//! punctuation, and none ends with an opening bracket. Only a phrase wider than a whole line is
//! split inside, and then still never against those rules.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns `s` takes on a terminal (CJK characters take two).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// `s` cut to `width` columns, with `…` when something was cut.
pub fn truncate(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for ch in s.chars() {
        let cw = char_width(ch);
        if w + cw + 1 > width {
            break;
        }
        out.push(ch);
        w += cw;
    }
    out.push('…');
    out
}

/// Characters no line may start with (kinsoku): closing punctuation, small kana, the prolonged
/// sound mark, and their ASCII cousins.
const NO_LINE_START: &str = "、。，．・：；？！）」』】〕〉》ー…‥ゝゞヽヾ々\
    ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ\
    ,.:;!?)]}%";
/// Characters no line may end with: opening brackets.
const NO_LINE_END: &str = "（「『【〔〈《([{";
/// Characters after which a Japanese line may break (end of a clause or a bracket).
const BREAK_AFTER: &str = "、。，．）」』】〕〉》！？";

fn is_hiragana(c: char) -> bool {
    ('\u{3041}'..='\u{309f}').contains(&c)
}

/// May a line break between `a` and `b` (no space between them)?
fn may_break(a: char, b: char) -> bool {
    if NO_LINE_START.contains(b) || NO_LINE_END.contains(a) {
        return false;
    }
    let (wa, wb) = (char_width(a) > 1, char_width(b) > 1);
    if !wa && !wb {
        // Inside an English word (or a path): only at a space, handled by the caller.
        return false;
    }
    if BREAK_AFTER.contains(a) || NO_LINE_END.contains(b) {
        return true;
    }
    // A phrase ends with its hiragana (particles, endings); the next content word starts a
    // new one. Kanji, katakana and Latin runs stay whole.
    is_hiragana(a) && !is_hiragana(b)
}

/// A piece that is never broken unless wider than a line, and whether a space precedes it.
struct Unit {
    text: String,
    space_before: bool,
}

fn units(s: &str) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let mut space = false;
    let mut prev: Option<char> = None;
    for ch in s.chars() {
        if ch.is_whitespace() {
            space = true;
            prev = None;
            continue;
        }
        let join = match (prev, out.last_mut()) {
            (Some(p), Some(_)) => !may_break(p, ch),
            _ => false,
        };
        match out.last_mut() {
            Some(last) if join => last.text.push(ch),
            _ => out.push(Unit {
                text: ch.to_string(),
                space_before: space && !out.is_empty(),
            }),
        }
        space = false;
        prev = Some(ch);
    }
    out
}

/// Splits a unit wider than `width` into pieces that fit: English after `/`, `-`, `_`, `,` or `:`
/// when it can, else anywhere; never against kinsoku unless a piece could not fit otherwise.
fn split_long(unit: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = unit.chars().collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut w = 0;
        let mut end = start;
        while end < chars.len() && w + char_width(chars[end]) <= width {
            w += char_width(chars[end]);
            end += 1;
        }
        if end == start {
            end = start + 1; // a character wider than the line
        }
        if end < chars.len() {
            // Prefer a soft break point, then any break kinsoku allows.
            let soft = (start + 1..=end)
                .rev()
                .find(|&i| matches!(chars[i - 1], '/' | '-' | '_' | ',' | ':'));
            let allowed = (start + 1..=end).rev().find(|&i| {
                let (a, b) = (chars[i - 1], chars[i]);
                !NO_LINE_START.contains(b) && !NO_LINE_END.contains(a)
            });
            if let Some(i) = soft.filter(|&i| i > start + (end - start) / 2).or(allowed) {
                end = i;
            }
        }
        pieces.push(chars[start..end].iter().collect());
        start = end;
    }
    pieces
}

/// Display width of the widest piece [`wrap`] never breaks (a word, or a CJK character with
/// its punctuation) that is at most `cap` wide: a column this wide splits none of them (a
/// wider one is split or cut whatever the column).
pub fn longest_unit(s: &str, cap: usize) -> usize {
    units(s)
        .iter()
        .map(|u| display_width(&u.text))
        .filter(|&w| w <= cap)
        .max()
        .unwrap_or(0)
}

/// Wraps `s` to `width` display columns (see the module docs for where lines break).
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for u in units(s) {
        let sep = if u.space_before && !cur.is_empty() {
            " "
        } else {
            ""
        };
        let uw = display_width(&u.text);
        if display_width(&cur) + sep.len() + uw <= width {
            cur.push_str(sep);
            cur.push_str(&u.text);
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if uw <= width {
            cur = u.text;
        } else {
            let mut pieces = split_long(&u.text, width);
            cur = pieces.pop().unwrap_or_default();
            lines.extend(pieces);
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `head` then `text` wrapped to `width`, later lines indented under the text: a hanging
/// indent, for legend entries, footnotes and list lines.
pub fn hang(head: &str, text: &str, width: usize) -> Vec<String> {
    let hw = display_width(head);
    let pad = " ".repeat(hw);
    wrap(text, width.saturating_sub(hw).max(8))
        .into_iter()
        .enumerate()
        .map(|(i, l)| format!("{}{l}", if i == 0 { head } else { &pad }))
        .collect()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn fits(lines: &[String], width: usize) {
        for l in lines {
            assert!(display_width(l) <= width, "{l:?} wider than {width}");
        }
    }

    #[test]
    fn english_breaks_at_spaces() {
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        assert_eq!(wrap("", 7), vec![""]);
        let p = wrap("[heap], /usr/lib/x86_64-linux-gnu/libc.so.6", 16);
        fits(&p, 16);
        assert_eq!(p[0], "[heap],");
        assert!(p[1].ends_with(['/', '-']), "{p:?}");
    }

    #[test]
    fn japanese_breaks_at_phrases() {
        let title = wrap("通常のヒープメモリにある秘密", 26);
        assert_eq!(title, vec!["通常のヒープメモリにある", "秘密"]);
        let l = wrap("通常のメモリはどのダンプにも含まれる。", 10);
        fits(&l, 10);
        assert_eq!(l.concat(), "通常のメモリはどのダンプにも含まれる。");
        assert!(l.contains(&"通常の".to_string()), "{l:?}");
        // Words are never split when a line can hold them.
        for w in [12, 14, 16, 18, 20] {
            let l = wrap(
                "memfd_secret はエンクレーブの代役で、カナリアはキャッシュにある",
                w,
            );
            fits(&l, w);
            let joined = l.join("|");
            for word in ["エンクレーブ", "カナリア", "キャッシュ"] {
                assert!(joined.contains(word), "{word} split at {w}: {joined}");
            }
        }
    }

    #[test]
    fn kinsoku() {
        for w in 10..24 {
            for s in [
                "ジャッキー・チェンの「キャッシュ」は、ショートカット。ッャ",
                "読み取りを拒否した（EIO）。ダンプ",
                "ーーーーーーーーーーーーーーーーーーーーーーー",
            ] {
                let l = wrap(s, w);
                for (i, line) in l.iter().enumerate() {
                    let first = line.chars().next().unwrap_or(' ');
                    // Only a run of nothing but forbidden characters may break the rule.
                    if i > 0 && !s.starts_with('ー') {
                        assert!(!NO_LINE_START.contains(first), "{line:?} in {l:?} at {w}");
                    }
                    let last = line.chars().last().unwrap_or(' ');
                    assert!(!NO_LINE_END.contains(last), "{line:?} in {l:?}");
                }
                fits(&l, w);
            }
        }
    }

    #[test]
    fn truncate_and_hang() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(display_width(&truncate("日本語のテキスト", 7)), 7);
        assert_eq!(
            hang("  qmp  ", "the hypervisor dumps the guest", 20),
            vec![
                "  qmp  the",
                "       hypervisor",
                "       dumps the",
                "       guest"
            ]
        );
    }
}
