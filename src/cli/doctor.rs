//! `confidump doctor`: what this host can demonstrate, and why not the rest.

use std::process::ExitCode;

use super::{EXIT_ERROR, EXIT_MISMATCH, EXIT_OK};
use crate::doctor::{self, DoctorError};
use crate::host::HostFacts;
use crate::i18n::{sep, t, Lang};
use crate::runner::matrix::RunEnv;
use crate::runner::platform;
use unicode_width::UnicodeWidthStr;

const DOCTOR_HELP: &str = "\
Each check says yes/no, why, and what it enables in the demo. --format json prints
  {\"checks\":[{\"name\",\"ok\",\"detail\",\"enables\"},…],\"summary\":{\"NAME\":{\"ok\",\"reason\"},…}}
Check names: memfd_secret ptrace core_pattern gdb qemu kvm guest_kernel sgx sev_snp tdx
cvm_guest unprivileged_user container_runtime postgresql.
Then the demo rows that will be n/a here, each with the reason the demo prints.
container_runtime says of each runtime found whether it runs here (crun refuses hybrid
cgroups: v1 mounted beside a v2 that holds controllers).
KVM: /dev/kvm may open yet hang a nested Linux guest; doctor boots none, but says \"falls back
to TCG\" once a VM run here has had to (the VM launcher records it per kernel).
--lang en|ja: the language of the text (default: from the locale).

--attest (inside an SEV-SNP/TDX guest): a configfs-tsm report for a fresh random nonce.
--platform NAME (linux, azure-dcsv3, azure-cvm, snp-host, tdx-host): what that platform
  requires (demo/expect/NAME.toml) and what of it this host lacks, each with why.
Exit status: 0 ok, 1 (--platform) this host lacks something the platform requires, 2 error
(e.g. --attest outside a confidential VM).

Examples:
  confidump doctor
  confidump doctor --lang ja
  confidump doctor --platform snp-host
  confidump doctor --attest --format json";

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// One line per check.
    Text,
    /// One JSON object.
    Json,
}

/// Options of `confidump doctor`.
#[derive(Debug, clap::Args)]
#[command(after_help = DOCTOR_HELP)]
pub struct DoctorArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    /// Fetch an attestation report (configfs-tsm) instead: inside a confidential VM only.
    #[arg(long)]
    pub attest: bool,
    /// Say what this platform requires that this host lacks (see `demo --platform`).
    #[arg(long, value_name = "NAME", conflicts_with = "attest")]
    pub platform: Option<String>,
    /// Language (default: from the locale).
    #[arg(long, value_parser = super::lang_parser(true))]
    pub lang: Option<Lang>,
}

/// Runs `confidump doctor`.
pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    if args.attest {
        return match doctor::attest() {
            Ok(a) => {
                match args.format {
                    FormatArg::Json => crate::outln!("{}", serde_json::to_string(&a)?)?,
                    FormatArg::Text => {
                        crate::outln!("provider: {}", a.provider)?;
                        crate::outln!("nonce:    {}", a.nonce)?;
                        crate::outln!("report (base64):\n{}", a.outblob)?;
                    }
                }
                Ok(ExitCode::from(EXIT_OK))
            }
            Err(e @ DoctorError::NotInCvm) => {
                eprintln!("confidump: {e}");
                Ok(ExitCode::from(EXIT_ERROR))
            }
            Err(e) => Err(e.into()),
        };
    }
    let lang = args.lang.unwrap_or_else(crate::i18n::detect_lang);
    if let Some(name) = &args.platform {
        return platform_check(name, args.format, lang);
    }
    let report = doctor::check_host_in(lang);
    let na_rows = na_rows(lang)?;
    match args.format {
        FormatArg::Json => {
            let mut doc: serde_json::Value = serde_json::to_value(&report)?;
            doc["na_rows"] = na_rows
                .iter()
                .map(|(name, why)| serde_json::json!({"name": name, "reason": why}))
                .collect();
            crate::outln!("{doc}")?;
        }
        FormatArg::Text => {
            let width = report
                .checks
                .iter()
                .map(|c| c.name.len())
                .max()
                .unwrap_or(0);
            let (yes, no) = (t(lang, "doctor.yes"), t(lang, "doctor.no"));
            for c in &report.checks {
                let verdict = if c.ok { yes } else { no };
                let pad = " ".repeat(3usize.saturating_sub(UnicodeWidthStr::width(verdict)));
                crate::outln!(
                    "{:<width$}  {verdict}{pad}  {}  [{}]",
                    c.name,
                    c.detail,
                    c.enables
                )?;
            }
            crate::outln!()?;
            if na_rows.is_empty() {
                crate::outln!("{}", t(lang, "doctor.all-rows"))?;
            } else {
                crate::outln!("{}", t(lang, "doctor.na-rows"))?;
                let w = na_rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
                for (name, why) in &na_rows {
                    crate::outln!("  {name:<w$}  {why}")?;
                }
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The built-in demo rows that cannot run here, each with the reason the demo's `n/a` gives
/// (the runner's own check, over the same host probe).
fn na_rows(lang: Lang) -> anyhow::Result<Vec<(String, String)>> {
    let exe = std::env::current_exe()?;
    let env = RunEnv::probe(exe).in_lang(lang);
    Ok(
        crate::runner::matrix::for_host(crate::scenario::builtin()?, &env)
            .into_iter()
            .filter_map(|s| s.info.unavailable.map(|why| (s.info.name, why)))
            .collect(),
    )
}

/// `--platform NAME`: each capability the platform requires, and why this host lacks it.
fn platform_check(name: &str, format: FormatArg, lang: Lang) -> anyhow::Result<ExitCode> {
    let rows: Vec<String> = crate::scenario::builtin()?
        .into_iter()
        .map(|s| s.info.name)
        .collect();
    let p = platform::builtin(name, &rows)?;
    let facts = HostFacts::shared();
    let checks: Vec<(&str, Option<String>)> = p
        .require
        .iter()
        .map(|r| {
            let why = crate::runner::contexts::requirement_missing(*r, &facts)
                .map(|t| t.get(lang).to_string());
            (r.as_str(), why)
        })
        .collect();
    let lacking = checks.iter().filter(|(_, m)| m.is_some()).count();
    match format {
        FormatArg::Json => {
            let requires: Vec<_> = checks
                .iter()
                .map(|(n, m)| serde_json::json!({"name": n, "ok": m.is_none(), "missing": m}))
                .collect();
            let doc = serde_json::json!({
                "platform": p.name,
                "description": p.description.get(lang),
                "rows": p.rows,
                "requires": requires,
                "lacking": lacking,
            });
            crate::outln!("{doc}")?;
        }
        FormatArg::Text => {
            let named = |key: &'static str| t(lang, key).replace("{name}", &p.name);
            crate::outln!(
                "{}{}{}",
                named("doctor.platform"),
                sep(lang),
                p.description.get(lang)
            )?;
            let width = checks.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            let (yes, no) = (t(lang, "doctor.yes"), t(lang, "doctor.no"));
            let pad = " ".repeat(3usize.saturating_sub(UnicodeWidthStr::width(no)));
            for (n, m) in &checks {
                match m {
                    None => crate::outln!("{n:<width$}  {yes}")?,
                    Some(why) => crate::outln!("{n:<width$}  {no}{pad}  {why}")?,
                }
            }
            crate::outln!(
                "{}{}{}",
                t(lang, "doctor.rows"),
                sep(lang),
                p.rows.join(t(lang, "list.sep"))
            )?;
            if checks.is_empty() {
                crate::outln!("{}", named("doctor.requires-nothing"))?;
            } else if lacking == 0 {
                crate::outln!("{}", named("doctor.has-all"))?;
            } else {
                crate::outln!(
                    "{}",
                    named("doctor.lacks")
                        .replace("{m}", &lacking.to_string())
                        .replace("{n}", &checks.len().to_string())
                )?;
            }
        }
    }
    Ok(ExitCode::from(if lacking == 0 {
        EXIT_OK
    } else {
        EXIT_MISMATCH
    }))
}
