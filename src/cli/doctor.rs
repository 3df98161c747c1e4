//! `confidump doctor`: what this host can demonstrate, and why not the rest.

use std::process::ExitCode;

use super::{EXIT_ERROR, EXIT_MISMATCH, EXIT_OK};
use crate::doctor::{self, DoctorError};
use crate::host::HostFacts;
use crate::i18n::Lang;
use crate::render;
use crate::runner::matrix::RunEnv;
use crate::runner::{platform, select};

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
        let a = match doctor::attest() {
            Err(e @ DoctorError::NotInCvm) => {
                eprintln!("confidump: {e}");
                return Ok(ExitCode::from(EXIT_ERROR));
            }
            a => a?,
        };
        match args.format {
            FormatArg::Json => crate::outln!("{}", serde_json::to_string(&a)?)?,
            FormatArg::Text => crate::out!("{}", render::doctor::attest_text(&a))?,
        }
        return Ok(ExitCode::from(EXIT_OK));
    }
    let lang = args.lang.unwrap_or_else(crate::i18n::detect_lang);
    if let Some(name) = &args.platform {
        let check = platform::check_builtin(name, &HostFacts::shared(), lang)?;
        match args.format {
            FormatArg::Json => crate::outln!("{}", render::doctor::platform_json(&check, lang))?,
            FormatArg::Text => crate::out!("{}", render::doctor::platform_text(&check, lang))?,
        }
        let lacks = check.lacking > 0;
        return Ok(ExitCode::from(if lacks { EXIT_MISMATCH } else { EXIT_OK }));
    }
    let report = doctor::check_host_in(lang);
    let exe = std::env::current_exe()?;
    let na_rows = select::unavailable_rows(&RunEnv::probe(exe).in_lang(lang))?;
    match args.format {
        FormatArg::Json => crate::outln!("{}", render::doctor::report_json(&report, &na_rows))?,
        FormatArg::Text => crate::out!("{}", render::doctor::report_text(&report, &na_rows, lang))?,
    }
    Ok(ExitCode::from(EXIT_OK))
}
