//! The screen output goes to: its size, so the table and presenter mode fit it, and whether
//! it takes colours ([`use_color`]).
//!
//! `COLUMNS` / `LINES` win (what a user or a test sets), then the terminal on stdout (its
//! window size), else a default: a pipe or a file has no width, and 100 columns × 30 lines is
//! what a projector at a readable font gives.

/// Columns when nothing says otherwise.
pub const DEFAULT_WIDTH: usize = 100;
/// Lines when nothing says otherwise.
pub const DEFAULT_HEIGHT: usize = 30;
/// Narrower than this, nothing we draw is readable; a smaller `COLUMNS` is taken as this.
pub const MIN_WIDTH: usize = 40;

/// A positive number from the environment variable `var`.
fn from_env(var: &str) -> Option<usize> {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

/// Width of the screen stdout goes to, in columns.
pub fn width() -> usize {
    from_env("COLUMNS")
        .or_else(|| {
            terminal_size::terminal_size_of(std::io::stdout())
                .map(|(w, _)| usize::from(w.0))
                .filter(|&w| w > 0)
        })
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// Height of the screen stdout goes to, in lines.
pub fn height() -> usize {
    from_env("LINES")
        .or_else(|| {
            terminal_size::terminal_size_of(std::io::stdout())
                .map(|(_, h)| usize::from(h.0))
                .filter(|&h| h > 0)
        })
        .unwrap_or(DEFAULT_HEIGHT)
}

/// Colours on a terminal, unless `NO_COLOR` is set (<https://no-color.org>).
pub fn use_color() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none()
}
