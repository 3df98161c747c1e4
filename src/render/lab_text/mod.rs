//! The lab's texts for people: the task sheet, a check's verdict, `lab status` and `lab report`.
//!
//! By job: [`exercise`] (the list, the task sheet, hints, reset), [`check`] (a check's verdict),
//! [`solve`] (the reference solution's steps), [`progress`] (`lab status`, `lab report`). This
//! module holds what they share: padding and wrapping by display width, and the JSON line.

mod check;
mod exercise;
mod progress;
mod solve;

pub use check::checked;
pub use exercise::{hint_reply, list_json, list_text, reset_reply, started};
pub use progress::{report_csv, report_table, status_table};
pub use solve::solve_event;

use unicode_width::UnicodeWidthStr;

use super::sanitize::{json_text, visible};
use super::wrap::hang;
use crate::lab::Exercise;

/// Where the lab's sentences are wrapped (display columns).
const WRAP: usize = 100;

/// `text` wrapped to [`WRAP`] columns, every line after `indent`, each ending in a newline.
fn para(indent: &str, text: &str) -> String {
    super::wrap::hang(indent, text, WRAP)
        .into_iter()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

/// `text`'s lines wrapped to `width` columns, each with `indent` before it and its own
/// leading spaces kept (a task's numbered list stays indented).
fn wrapped(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let body = line.trim_start();
        let head = format!("{indent}{}", line.strip_suffix(body).unwrap_or(""));
        if body.is_empty() {
            out.push('\n');
            continue;
        }
        let shown = visible(body);
        if UnicodeWidthStr::width(head.as_str()) + UnicodeWidthStr::width(shown.as_ref()) <= width {
            // A line that fits keeps its own spacing (`check SECRET   (or --file FILE)`).
            out.push_str(&format!("{head}{shown}\n"));
            continue;
        }
        for l in hang(&head, &shown, width) {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// The width of the exercise-name column: the longest name (at least 10).
pub fn name_width(all: &[Exercise]) -> usize {
    widest(all.iter().map(|e| e.name.as_str()))
}

fn widest<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0).max(10)
}

/// `text` padded to `width` display columns (a Japanese word is two columns a character).
pub fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(UnicodeWidthStr::width(text));
    format!("{text}{}", " ".repeat(fill))
}

/// `text` right-aligned in `width` display columns.
pub fn pad_left(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(UnicodeWidthStr::width(text));
    format!("{}{text}", " ".repeat(fill))
}

/// `value` as JSON for scripts (shown, never interpreted by a terminal) when `json`, else
/// `text()`: what a lab command prints.
pub fn say<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<String, serde_json::Error> {
    Ok(if json {
        format!("{}\n", json_text(&serde_json::to_string_pretty(value)?))
    } else {
        text()
    })
}

#[cfg(test)]
mod tests;
