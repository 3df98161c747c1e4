//! Everything a command prints on stdout goes through here: a reader that stops reading
//! (`confidump doctor | head -1`, a closed pipe) ends the output, not the command.
//!
//! `println!` panics when a write fails ("failed printing to stdout: Broken pipe", exit 101):
//! Rust's runtime ignores SIGPIPE, so a write to a pipe without a reader returns EPIPE, and
//! the macro turns that into a panic. Restoring SIGPIPE's default instead would kill the
//! process at the first such write, in the middle of whatever it was doing: a demo with
//! victims, guests and working directories to remove, an `--html` or `--junit` file still to
//! write, an exit status (a CI gate's verdict) still to give. So EPIPE is treated as "the
//! reader has all it wanted": the rest of the output is dropped, the command finishes its
//! work, cleans up, and exits with the status its result calls for. Any other write error
//! (a full disk behind `> file`) is an error like any other.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write met a closed pipe: later output is dropped without trying.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// A write to stdout failed for another reason than a reader that left.
#[derive(Debug, thiserror::Error)]
#[error("writing to stdout: {0}")]
pub struct StdoutError(#[source] pub std::io::Error);

/// Writes `args` to stdout (see the module docs for a closed pipe).
pub fn print(args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    write_to(&mut std::io::stdout().lock(), args, false)
}

/// Writes `args` and a newline to stdout, and flushes when the line is complete (stdout is
/// line-buffered: the flush is where a closed pipe shows).
pub fn print_line(args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    write_to(&mut std::io::stdout().lock(), args, true)
}

/// Writes `text` to stdout as it is.
pub fn print_str(text: &str) -> Result<(), StdoutError> {
    print(format_args!("{text}"))
}

/// Flushes what stdout's line buffer holds (a report that does not end in a newline).
pub fn flush() -> Result<(), StdoutError> {
    if closed() {
        return Ok(());
    }
    match std::io::stdout().lock().flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        r => r.map_err(StdoutError),
    }
}

/// Has a reader left? A long command may stop producing output nobody reads.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

fn write_to(
    out: &mut impl Write,
    args: fmt::Arguments<'_>,
    newline: bool,
) -> Result<(), StdoutError> {
    if closed() {
        return Ok(());
    }
    let result = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n").and_then(|()| out.flush())
        } else {
            // Stdout's line buffer keeps a partial line; its error, if any, shows at the
            // next line (or is dropped at exit, as the reader has gone).
            Ok(())
        }
    });
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => Err(StdoutError(e)),
    }
}

/// `print!` that does not panic on a closed stdout; evaluates to
/// `Result<(), `[`StdoutError`]`>`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::files::stdout::print(format_args!($($arg)*))
    };
}

/// `println!` that does not panic on a closed stdout; evaluates to
/// `Result<(), `[`StdoutError`]`>`.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::files::stdout::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::files::stdout::print_line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone.
    struct Gone;
    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(libc::EPIPE))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A full disk.
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_output_and_other_errors_are_errors() {
        assert!(write_to(&mut Full, format_args!("x"), true).is_err());
        assert!(write_to(&mut Gone, format_args!("x"), true).is_ok());
        assert!(closed());
        // Once closed, nothing is tried: not even the full disk's error.
        assert!(write_to(&mut Full, format_args!("x"), true).is_ok());
        CLOSED.store(false, Ordering::Relaxed);
    }
}
