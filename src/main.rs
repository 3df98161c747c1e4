//! The `confidump` binary: parse, run, map errors to exit codes. Nothing else lives here.

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
            let line = cli::error_line(&err);
            eprintln!(
                "confidump: error: {}",
                confidump::render::sanitize::visible(&line)
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A terminal gets colours and times; a pipe or a file gets plain lines without escape
    // codes or timestamps (a log collector adds its own).
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        builder.init();
    } else {
        builder.with_ansi(false).without_time().init();
    }
}
