//! Renderers: text, JSON, hex views, the attack view, the demo matrix and presenter screens.
//! They consume data; none computes it, and none reads memory.
//!
//! [`text`] and [`json`] turn a [`crate::model::ScanReport`] into output; [`attack`] is the
//! verdict-first view of `confidump attack`; [`hexview`] draws a captured
//! [`crate::model::HexWindow`], with unreadable bytes as `??`. The demo matrix
//! ([`crate::model::MatrixReport`]) is drawn by [`table`] (terminal table, fitted to the width
//! [`term`] finds, wrapped by [`wrap`]), [`html`] (one
//! self-contained page), [`junit`] and [`presenter`] (one scenario at a time, for a room), in
//! the words of [`crate::i18n`] (English, Japanese) and [`matrix`]; [`progress`] shows slow steps on a terminal.
//! [`summary`] draws the demo on one screen, and the default terminal view around it.
//! [`fleet`] merges several nodes' demo results into one matrix.

pub mod attack;
pub mod baseline;
pub mod doctor;
pub mod fleet;
pub mod hexview;
pub mod html;
pub mod json;
pub mod junit;
pub mod lab_page;
pub mod lab_text;
pub mod list;
pub mod matrix;
pub mod output;
pub mod presenter;
pub mod progress;
pub mod sanitize;
pub mod summary;
pub mod table;
pub mod term;
pub mod text;
pub mod wrap;

/// ANSI styles, used only when the caller asks for colour.
pub(crate) mod style {
    pub const RED_BOLD: &str = "\x1b[1;31m";
    pub const GREEN_BOLD: &str = "\x1b[1;32m";
    pub const YELLOW: &str = "\x1b[33m";
    pub const YELLOW_BOLD: &str = "\x1b[1;33m";
    pub const BOLD: &str = "\x1b[1m";
    pub const DIM: &str = "\x1b[2m";
    pub const RESET: &str = "\x1b[0m";

    /// `s` wrapped in `code` when `color`.
    pub fn paint(s: &str, code: &str, color: bool) -> String {
        if color {
            format!("{code}{s}{RESET}")
        } else {
            s.to_string()
        }
    }
}
