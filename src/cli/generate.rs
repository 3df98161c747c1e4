//! `confidump generate` (hidden): the man pages and shell completions of this very command
//! line, for a package (scripts/package.sh). They are made from the clap definitions, so they
//! never drift from `--help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use super::{Cli, EXIT_OK};

/// Options of `confidump generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[command(subcommand)]
    pub what: What,
}

/// What `confidump generate` makes.
#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// One man page per command into DIR: confidump.1, confidump-dump.1, confidump-lab-start.1…
    /// (hidden commands left out); prints each file's path.
    Man {
        /// The directory (created if missing; our pages in it are replaced).
        dir: PathBuf,
        /// The pages' date (YYYY-MM-DD), shown in their footer.
        #[arg(long, default_value = "")]
        date: String,
    },
    /// The completion script for SHELL, on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Runs `confidump generate`.
pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Man { dir, date } => {
            for path in man_pages(&dir, &date)? {
                println!("{}", path.display());
            }
        }
        What::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(
                shell,
                &mut without_hidden(Cli::command()),
                "confidump",
                &mut out,
            );
            use std::io::Write;
            std::io::stdout()
                .lock()
                .write_all(&out)
                .context("writing the completion script to stdout")?;
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// `cmd` without its hidden subcommands (`guest-init`, `scan-child`, `generate`):
/// clap_complete offers every subcommand, hidden or not, and clap cannot remove one, so the
/// top command is assembled again from its visible parts.
fn without_hidden(cmd: clap::Command) -> clap::Command {
    let mut top = clap::Command::new("confidump")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(cmd.is_subcommand_required_set())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        top = top.about(about.clone());
    }
    top
}

/// Writes a page for the top command and for every visible subcommand, at every depth, into
/// `dir`; returns the paths written, each command before its subcommands.
pub fn man_pages(dir: &Path, date: &str) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command();
    // Building names each subcommand after its path (`confidump-lab-start`): the page's
    // title and file name come from that.
    cmd.build();
    // Every page names the program and its version (clap_mangen would name a subcommand
    // without one). An empty date would vanish from `.TH` and shift the fields after it.
    let date = if date.is_empty() { "-" } else { date };
    let mut written = Vec::new();
    let mut todo = vec![cmd];
    while let Some(cmd) = todo.pop() {
        // clap's own `help` subcommand is `--help` again: no page of its own. Pushed in
        // reverse, so that they are written in order.
        let at = todo.len();
        let subs = cmd.get_subcommands();
        todo.extend(
            subs.filter(|s| !s.is_hide_set() && s.get_name() != "help")
                .cloned(),
        );
        todo[at..].reverse();
        let man = clap_mangen::Man::new(cmd)
            .date(date)
            .source(format!("confidump {}", env!("CARGO_PKG_VERSION")))
            .manual("confidump");
        let path = dir.join(man.get_filename());
        let mut page = Vec::new();
        man.render(&mut page)
            .with_context(|| format!("rendering {}", path.display()))?;
        // A page is documentation, not memory: `force` replaces an earlier run's page.
        crate::files::output::write_file(&path, &page, true)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_pages_leave_hidden_commands_out() {
        let top = without_hidden(Cli::command());
        let names: Vec<_> = top.get_subcommands().map(|s| s.get_name()).collect();
        assert!(
            names.contains(&"demo") && names.contains(&"lab"),
            "{names:?}"
        );
        for hidden in ["guest-init", "scan-child", "generate"] {
            assert!(!names.contains(&hidden), "{names:?}");
        }
        assert!(top.get_arguments().any(|a| a.get_id() == "verbose"));

        let dir = tempfile::tempdir().unwrap();
        let pages = man_pages(dir.path(), "2026-01-02").unwrap();
        let names: Vec<_> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for page in ["confidump.1", "confidump-dump.1", "confidump-lab-start.1"] {
            assert!(names.iter().any(|n| n == page), "{names:?}");
        }
        assert!(
            !names
                .iter()
                .any(|n| n.contains("guest-init") || n.contains("help")),
            "{names:?}"
        );
        let dump = std::fs::read_to_string(dir.path().join("confidump-dump.1")).unwrap();
        assert!(
            dump.contains(".TH confidump-dump 1 2026-01-02 \"confidump "),
            "{dump}"
        );
    }
}
