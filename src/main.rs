//! The `confidump` binary: parse, run, print one line per error and map it to an exit code.
//! Nothing else lives here.

use std::process::ExitCode;

use clap::Parser;
use confidump::cli::{self, Cli, EXIT_ERROR};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = cli::run(cli);
    // A signal's cleanup under way ends the process by that signal, not by this return.
    confidump::files::cleanup::before_exit();
    match result {
        Ok(code) => code,
        Err(err) => {
            // One line: the error and its causes, outermost first, each once.
            // An error may quote a file we did not write (a path, a JSON error's excerpt):
            // shown, never interpreted by the terminal.
            let line = error_line(&err);
            eprintln!(
                "confidump: error: {}",
                confidump::render::sanitize::visible(&line)
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    // A terminal gets colours and times; a pipe or a file gets plain lines without escape
    // codes or timestamps (a log collector adds its own).
    let fmt = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        fmt.boxed()
    } else {
        fmt.with_ansi(false).without_time().boxed()
    };
    // The filter is the log's own: a bug-report bundle's trace of the SGX and VM steps has
    // its own (debug), whatever RUST_LOG says.
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(confidump::runner::trace::layer())
        .init();
}

/// The one line `main` prints for an error: its causes, outermost first, each once.
///
/// A refusal to attach or read names its rule and its remedy in one sentence: that sentence
/// is the whole story, so it is printed alone (not under "dumping pid N: stopping the
/// threads: ..."). Otherwise a cause whose text is already in the previous one (an error
/// whose message includes its source) is skipped, and an outer context that the next cause
/// repeats at its start ("cannot read pid N" before "cannot read pid N: ...") gives way to it.
fn error_line(err: &anyhow::Error) -> String {
    use confidump::memory::{live::LiveError, ptrace::PtraceError};
    for cause in err.chain() {
        let refusal = matches!(
            cause.downcast_ref::<PtraceError>(),
            Some(PtraceError::Refused { .. })
        ) || matches!(
            cause.downcast_ref::<LiveError>(),
            Some(LiveError::Refused { .. })
        );
        if refusal {
            return cause.to_string();
        }
    }
    dedupe_chain(err.chain().map(|c| c.to_string()))
}

/// Joins causes with `: `, each once (see [`error_line`]).
fn dedupe_chain(causes: impl Iterator<Item = String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for text in causes {
        if let Some(prev) = parts.last() {
            if prev.contains(&text) {
                continue;
            }
            if text.starts_with(prev.as_str()) {
                parts.pop();
            }
        }
        parts.push(text);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_printed_once() {
        let chain = |v: &[&str]| dedupe_chain(v.iter().map(|s| s.to_string()));
        // An error whose message includes its source's.
        assert_eq!(
            chain(&[
                "dumping pid 5: stopping the threads",
                "stopping the threads",
                "EPERM"
            ]),
            "dumping pid 5: stopping the threads: EPERM"
        );
        // A context that the cause repeats.
        assert_eq!(
            chain(&["cannot read pid 5", "cannot read pid 5: gone"]),
            "cannot read pid 5: gone"
        );
        assert_eq!(
            chain(&["x.core", "No such file or directory (os error 2)"]),
            "x.core: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn a_refusal_is_its_own_sentence() {
        let refused = confidump::memory::ptrace::PtraceError::Refused {
            pid: 5,
            why: "pid 5 belongs to uid 0: run it as root".into(),
        };
        let err = anyhow::Error::new(refused)
            .context("stopping the threads")
            .context("dumping pid 5");
        assert_eq!(
            error_line(&err),
            "cannot attach to pid 5: pid 5 belongs to uid 0: run it as root"
        );
    }
}
