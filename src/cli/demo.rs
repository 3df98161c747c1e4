//! `confidump demo`: every scenario attacked along every path, as a matrix.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use unicode_width::UnicodeWidthStr;

use super::scan::use_color;
use super::{EXIT_MISMATCH, EXIT_OK};
use crate::host::Requirement;
use crate::i18n::Lang;
use crate::model::{count_mismatches, MatrixReport};
use crate::redact::Redact;
use crate::render;
use crate::render::presenter::{self, PresentOptions};
use crate::runner::matrix::{self, RunEnv, Scenario};
use crate::runner::{demo, platform};
use crate::scenario::{self, Context as RunContext, RunAs};

const EXAMPLES: &str = "\
Starts one real victim per scenario (this same program, `confidump victim`), each holding a
fresh random canary, and attacks it along every path that applies there, as root would (the
table's columns; the others are n/a with the reason):
  dump        confidump's dump (threads frozen, every mapping copied), then a scan of the core
  gcore       gdb's own gcore, with its defaults
  kernel      the kernel's core dump (SIGQUIT), where core_pattern is a plain file name
  live        a live read (process_vm_readv, /proc/PID/mem); writes no file
  qmp         a victim in a VM: QEMU's dump-guest-memory (the cloud operator's virsh dump)
  same-uid    the live read by a non-root attacker with the victim's uid
  wire        a victim in a VM: what the guest sent out on its serial console
  checkpoint  a victim in an OCI container: CRIU's checkpoint (runc checkpoint)
  disk        a database: its data directory, after CHECKPOINT
  client      a database: root's dump and live read of its client
The attackers get only the secret's SHA-256 and must find it.

Cells: leak (found), unreadable (the read was refused: ????), absent (the tool left the
region out without reading it: proves nothing), not-found (read, and the secret was not in
it), n/a (cannot run here; the reason says why), error (the attack failed).
Scenarios are TOML files (demo/scenarios/*.toml, built in); add your own with --scenario-dir.

Regression runs on confidential hardware: --require names capabilities whose rows must run
(sgx, sev-snp, tdx, memfd_secret, unprivileged-user, container-runtime, postgresql,
cvm-guest, sev-snp-host, tdx-host, runc, crun, sql-enclave; sev-snp, tdx and cvm-guest mean
running inside such a guest); a required row that is n/a is a failure (exit 1; JSON
\"required\": true; a JUnit failure saying what is missing).
--platform NAME (built in: linux, azure-dcsv3, azure-cvm, snp-host, tdx-host; demo/expect/)
or --expect-file FILE adds a platform's required capabilities, rows and cell expectations.

JSON on stdout is what logs keep (a pod's log, a CI job's output): its hex views carry no byte
of a secret (null where the secret was, as --redact makes them) unless --reveal is given.
A JSON --output file is 0600 and keeps them; the text table is for a screen and keeps them too.

Exit status: 0 every cell as expected, 1 a mismatch or a required capability missing, 2 an
error (e.g. a bad scenario or expectation file).

Examples:
  sudo confidump demo
  sudo confidump demo --scenario plain --scenario secretmem
  sudo confidump demo --format json --junit demo.xml --html demo.html
  sudo confidump demo --format json --output demo.json      (0600: the report holds the bytes)
  sudo confidump demo --format json --reveal | jq .         the bytes on stdout too (see below)
  sudo confidump demo --redact --html handout.html          the secrets' bytes drawn as █
  sudo confidump demo --platform azure-dcsv3 --format json --junit node.xml
  sudo confidump demo --require sgx --scenario sgx
  confidump demo --list
  confidump demo --from demo.json --html demo.html          a saved result drawn again";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DemoFormat {
    /// The matrix as a table, a lesson under each row.
    #[default]
    Text,
    /// The MatrixReport JSON (host, scenarios, cells, mismatches).
    Json,
}

/// Options of `confidump demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct DemoArgs {
    /// Output format (stdout, or --output).
    #[arg(long, value_enum, default_value_t = DemoFormat::Text)]
    pub format: DemoFormat,
    /// Where the report goes; redaction (of the table, JSON, HTML, JUnit and presenter).
    #[command(flatten)]
    pub out: super::ReportOut,
    /// Run only this scenario (repeatable); see --list.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// List the scenarios (name, title, what each needs) and exit.
    #[arg(long)]
    pub list: bool,
    /// Also load the *.toml scenarios of this directory (same name = replaces a built-in).
    #[arg(long, value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
    /// Also write a JUnit XML file (one test case per cell).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a self-contained HTML report (0600: it shows what the attacker saw).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Overwrite the --output, --junit and --html files if they exist (only regular files,
    /// never through a symlink).
    #[arg(long)]
    pub force: bool,
    /// Presenter mode: one scenario at a time, Enter to continue.
    #[arg(long)]
    pub present: bool,
    /// Language (default: from the locale).
    #[arg(long, value_parser = super::lang_parser(true))]
    pub lang: Option<Lang>,
    /// Capabilities whose rows must run (comma-separated; every name is listed below).
    #[arg(long = "require", value_name = "CAP,...")]
    pub require: Vec<String>,
    /// Run as this platform expects (built in: linux, azure-dcsv3, azure-cvm, snp-host,
    /// tdx-host): its required capabilities, rows and cell expectations.
    #[arg(long, value_name = "NAME", conflicts_with = "expect_file")]
    pub platform: Option<String>,
    /// Like --platform, from an expectation file (TOML, as demo/expect/*.toml).
    #[arg(long, value_name = "FILE")]
    pub expect_file: Option<PathBuf>,
    /// Scenarios run at once (default 4).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub jobs: usize,
    /// Run nothing: draw a result saved with `--format json --output FILE` again (the table,
    /// JSON, --junit, --html). Needs no root.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["list", "scenarios", "scenario_dir", "present", "require", "platform", "expect_file"]
    )]
    pub from: Option<PathBuf>,
}

/// Runs `confidump demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.from {
        return redraw(&args, path);
    }
    let all = scenario::load_all(args.scenario_dir.as_deref())?;
    let exe = std::env::current_exe().context("finding this program to start the victims")?;
    let lang = args.lang.unwrap_or_else(crate::i18n::detect_lang);
    if args.list {
        let env = RunEnv::probe(exe).in_lang(lang);
        let scenarios = matrix::for_host(all, &env);
        crate::out!("{}", list(&scenarios, lang))?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    let valid: Vec<String> = all.iter().map(|s| s.info.name.clone()).collect();
    let platform = match (&args.platform, &args.expect_file) {
        (Some(name), _) => Some(platform::builtin(name, &valid)?),
        (None, Some(file)) => Some(platform::load_file(file, &valid)?),
        (None, None) => None,
    };
    let mut required = platform::parse_requirements(&args.require).map_err(anyhow::Error::msg)?;
    // --scenario narrows the run; otherwise the platform's rows are the run.
    let names = match &platform {
        Some(p) if args.scenarios.is_empty() => p.rows.clone(),
        _ => args.scenarios.clone(),
    };
    let mut selected = scenario::select(all, &names)?;
    if let Some(p) = &platform {
        required.extend(p.require.iter().copied());
        selected = p.apply(selected);
    }
    // Not root, by mistake: stop before starting anything (no row means what it says as an
    // ordinary user; see `needs_root`).
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        bail!("{}", needs_root(&selected, euid.as_raw()));
    }
    if args.present && args.out.output.is_some() {
        bail!("--output writes the table or JSON: presenter mode draws on the terminal");
    }
    // The output paths are checked before the run, not after it.
    for path in args.junit.iter().chain(&args.html).chain(&args.out.output) {
        crate::files::output::check_target(path, args.force)?;
    }
    // Working directories of demos killed earlier (SIGKILL leaves them): ours, owner gone.
    super::sweep_leftovers();
    let color = use_color();
    let env = RunEnv::probe(exe).in_lang(lang);
    let scenarios = matrix::for_host(selected, &env);
    if scenarios
        .iter()
        .any(|s| matches!(s.spec.context, RunContext::Vm | RunContext::Container))
    {
        super::prepare_static_binary(lang);
    }
    let mut report = if args.present {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut out = std::io::stdout();
        let infos: Vec<_> = scenarios.iter().map(|s| s.info.clone()).collect();
        let redact = args.out.redact;
        let mut engine = |i: usize, step: &mut dyn FnMut(&str)| match scenarios.get(i) {
            Some(s) => {
                let mut cells = matrix::run_scenario(s, &env, step);
                if redact {
                    cells.iter_mut().for_each(Redact::redact);
                }
                cells
            }
            None => Vec::new(),
        };
        let opts = PresentOptions::for_terminal(color);
        let host = demo::host_info(&env);
        match presenter::run(&infos, lang, host, opts, &mut input, &mut out, &mut engine)
            .context("presenter mode")?
        {
            Some(r) => r,
            // The presenter was left before the end: nothing to judge.
            None => {
                eprintln!("confidump: presenter mode ended without a report: nothing to judge");
                return Ok(ExitCode::from(EXIT_OK));
            }
        }
    } else {
        let mut progress = render::progress::Progress::new(std::io::stderr().is_terminal());
        let mut step = |m: &str| progress.step(m);
        let mut report = demo::run_demo(&scenarios, &env, lang, args.jobs, &mut step);
        progress.finish();
        // One transform before any rendering: every output below is drawn from it.
        if args.out.redact {
            report.redact();
        }
        mark_required(&scenarios, &mut report, &required);
        print_report(&args, &report)?;
        report
    };
    // The presenter drew its screens already; the marks still decide the files and the exit.
    mark_required(&scenarios, &mut report, &required);
    // A required capability no selected row stands for is checked directly.
    let unrowed = platform::unrowed_missing(&scenarios, &required, &env.host);
    for (r, why) in &unrowed {
        eprintln!(
            "confidump: required capability {} is missing: {why}",
            r.as_str()
        );
    }
    write_files(&args, &report)?;
    Ok(ExitCode::from(
        if report.mismatches == 0 && unrowed.is_empty() {
            EXIT_OK
        } else {
            EXIT_MISMATCH
        },
    ))
}

/// The report on stdout (or `--output`): the table, or JSON.
fn print_report(args: &DemoArgs, report: &MatrixReport) -> anyhow::Result<()> {
    let text = match args.format {
        DemoFormat::Json => {
            // JSON on stdout is a log line (a pod's log, CI output): without the secret's
            // bytes unless --reveal. The files (HTML 0600) are drawn unchanged.
            let mut json = report.clone();
            if args.out.redacts(true) {
                json.redact();
            }
            let text = serde_json::to_string_pretty(&json).context("encoding the report")?;
            format!("{text}\n")
        }
        DemoFormat::Text => {
            render::table::render_table(report, args.out.color(), render::term::width())
        }
    };
    args.out.emit(&text, args.force)
}

/// `--junit` and `--html`.
fn write_files(args: &DemoArgs, report: &MatrixReport) -> anyhow::Result<()> {
    if let Some(path) = &args.junit {
        let junit = render::junit::render(report)?;
        args.out.write_file(path, junit.as_bytes(), args.force)?;
    }
    if let Some(path) = &args.html {
        // The page shows what the attacker saw (leaked bytes included): 0600, like a dump
        // (0640 only redacted, with --group-readable).
        let html = render::html::render(report);
        args.out.write_file(path, html.as_bytes(), args.force)?;
    }
    Ok(())
}

/// `--from FILE`: a saved result drawn again, through the same renderers as a run. The exit
/// status is that run's verdict, its mismatches counted again from its cells (a file's own
/// count is not trusted).
fn redraw(args: &DemoArgs, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    for out in args.junit.iter().chain(&args.html).chain(&args.out.output) {
        crate::files::output::check_target(out, args.force)?;
    }
    // Bounded, regular files only (a FIFO or /dev/zero is refused, not waited on).
    let text = crate::files::input::read_user_text(
        path,
        super::report::RESULT_LIMIT,
        "a demo result file",
    )?;
    let mut report: MatrixReport = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a demo result (`demo --format json`): {e}",
            path.display()
        )
    })?;
    if args.out.redact {
        report.redact();
    }
    report.mismatches = count_mismatches(&report.cells);
    print_report(args, &report)?;
    write_files(args, &report)?;
    Ok(ExitCode::from(if report.mismatches == 0 {
        EXIT_OK
    } else {
        EXIT_MISMATCH
    }))
}

/// Why `demo` stops at once for an ordinary user, and how to run it.
///
/// Is there a row an ordinary user could run honestly? No: every row has root's columns
/// (confidump's dump, gcore, the kernel's core, a live read), whose verdicts mean "root was
/// refused" or "root read it". As another uid, a refusal would be that user's own limit (the
/// uid rule, a non-dumpable victim, yama), not the victim's protection — the demo would teach
/// the wrong lesson — and the same-uid column must start its victim as another user, which
/// only root can. So the answer is the same for every selection.
fn needs_root(selected: &[Scenario], euid: u32) -> String {
    let names: Vec<&str> = selected.iter().map(|s| s.info.name.as_str()).collect();
    let rows = match names.len() {
        0 => "every row".to_string(),
        1 => format!("the row {}", names.join("")),
        n if n <= 6 => format!("all {n} selected rows ({})", names.join(", ")),
        n => format!(
            "all {n} selected rows ({}, and {} more)",
            names[..5].join(", "),
            n - 5
        ),
    };
    let again: Vec<String> = std::env::args().skip(1).map(|a| shell_quote(&a)).collect();
    format!(
        "demo needs root, and this is uid {euid}: {rows} attack their victims as root would \
         (only root's CAP_SYS_PTRACE reads another user's or a non-dumpable process, and only \
         root can start the same-uid column's victim as another user), so as uid {euid} a \
         refused read would show your own limits, not the victim's protection; run it as: \
         sudo confidump {}",
        again.join(" ")
    )
}

/// `arg` as the shell reads it back: bare when plain, else in single quotes.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Marks the required cells that could not run (failures) and recounts the mismatches.
fn mark_required(
    scenarios: &[Scenario],
    report: &mut MatrixReport,
    required: &BTreeSet<Requirement>,
) {
    platform::mark_required(scenarios, &mut report.cells, required);
    report.mismatches = count_mismatches(&report.cells);
}

/// `--list`: name, title, what each needs, and whether this host has it (in `lang`).
fn list(scenarios: &[Scenario], lang: Lang) -> String {
    let ja = lang == Lang::Ja;
    let rows: Vec<[String; 4]> = scenarios
        .iter()
        .map(|s| {
            let mut needs: Vec<String> = Vec::new();
            if s.spec.context == RunContext::Vm {
                needs.push(
                    if ja {
                        "QEMU、ゲストカーネル"
                    } else {
                        "qemu, guest kernel"
                    }
                    .to_string(),
                );
            }
            if let Some(cvm) = s.spec.cvm {
                needs.push(
                    match (cvm, ja) {
                        (crate::model::CvmProfile::SevSnp, false) => "SEV-SNP host",
                        (crate::model::CvmProfile::Tdx, false) => "TDX host",
                        (crate::model::CvmProfile::SevSnp, true) => "SEV-SNP ホスト",
                        (crate::model::CvmProfile::Tdx, true) => "TDX ホスト",
                    }
                    .to_string()
                        // Without it the row still runs, as a normal VM (its title says so).
                        + match (s.spec.cvm_fallback, ja) {
                            (false, _) => "",
                            (true, false) => " (else a normal VM)",
                            (true, true) => "（なければ通常の VM）",
                        },
                );
            }
            needs.extend(
                s.spec
                    .requires
                    .iter()
                    .map(|r| if ja { requirement_ja(*r) } else { r.as_str() }.to_string()),
            );
            if s.spec.run_as == RunAs::Unprivileged {
                needs.push(
                    if ja {
                        "非特権ユーザー（same-uid）"
                    } else {
                        "unprivileged-user (same-uid)"
                    }
                    .to_string(),
                );
            }
            let needs = if needs.is_empty() {
                "-".to_string()
            } else {
                needs.join(if ja { "、" } else { ", " })
            };
            let here = match (&s.info.unavailable, ja) {
                (None, false) => "runs".to_string(),
                (None, true) => "実行できる".to_string(),
                (Some(why), false) => format!("n/a: {why}"),
                (Some(why), true) => {
                    format!("{} — {why}", crate::render::matrix::unavailable_word(lang))
                }
            };
            let origin = if s.spec.origin == "built-in" {
                String::new()
            } else {
                crate::i18n::paren(lang, &s.spec.origin)
            };
            [
                s.info.name.clone(),
                s.info.title.get(lang).to_string(),
                needs,
                format!("{here}{origin}"),
            ]
        })
        .collect();
    let heads = if ja {
        ["名前", "タイトル", "必要なもの", "この環境"]
    } else {
        ["NAME", "TITLE", "NEEDS", "HERE"]
    };
    let cols = |i: usize| {
        rows.iter()
            .map(|r| UnicodeWidthStr::width(r[i].as_str()))
            .chain([UnicodeWidthStr::width(heads[i])])
            .max()
            .unwrap_or(0)
    };
    let pad = |text: &str, w: usize| {
        let fill = w.saturating_sub(UnicodeWidthStr::width(text));
        format!("{text}{}", " ".repeat(fill))
    };
    let (w0, w1, w2) = (cols(0), cols(1), cols(2));
    let mut out = String::new();
    let line = |out: &mut String, r: [&str; 4]| {
        let _ = writeln!(
            out,
            "{}  {}  {}  {}",
            pad(r[0], w0),
            pad(r[1], w1),
            pad(r[2], w2),
            r[3]
        );
    };
    line(&mut out, heads);
    for [name, title, needs, here] in &rows {
        line(&mut out, [name, title, needs, here]);
    }
    out
}

/// A requirement's name for a Japanese reader (technical names stay as they are).
fn requirement_ja(r: Requirement) -> &'static str {
    match r {
        Requirement::Sgx => "SGX",
        Requirement::SevSnp => "SEV-SNP ゲスト",
        Requirement::Tdx => "TDX ゲスト",
        Requirement::MemfdSecret => "memfd_secret",
        Requirement::UnprivilegedUser => "非特権ユーザー",
        Requirement::ContainerRuntime => "コンテナランタイム",
        Requirement::Postgres => "PostgreSQL",
        Requirement::CvmGuest => "機密 VM のゲスト",
        Requirement::SevSnpHost => "SEV-SNP ホスト",
        Requirement::TdxHost => "TDX ホスト",
        Requirement::Runc => "runc",
        Requirement::Crun => "crun",
        Requirement::SqlEnclave => "データベースサーバー内のエンクレーブ",
    }
}
