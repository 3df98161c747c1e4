//! `confidump doctor`: what this host can demonstrate, and why not the rest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::{EXIT_ERROR, EXIT_MISMATCH, EXIT_OK};
use crate::doctor::{self, DoctorError};
use crate::host::HostFacts;
use crate::host::Requirement;
use crate::i18n::Lang;
use crate::model::MatrixReport;
use crate::redact::Redact;
use crate::render;
use crate::runner::bundle::Bundle;
use crate::runner::matrix::RunEnv;
use crate::runner::trace::Capture;
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
--bundle FILE: also writes one .tar.gz (0600, never through a link, whole or not at all) for a
  bug report on confidential hardware: doctor's JSON; with --demo-result, that saved demo
  result and its JUnit; kernel and firmware versions, the kernel config lines that matter
  (CONFIG_X86_SGX, CONFIG_AMD_MEM_ENCRYPT, CONFIG_INTEL_TDX_GUEST, CONFIG_TSM_REPORTS, …), the
  SGX/SEV/TDX lines of the kernel log, CPU flags, QEMU and OVMF versions, and the debug trace
  of the SGX loader's and the CVM launch's steps (`demo --bundle` runs the demo and packs its
  own). No secret: results are redacted, memory views dropped, canary-shaped strings scrubbed.
  MANIFEST.txt in it says what each file is; docs/hardware.md says where to send it.
Exit status: 0 ok, 1 (--platform) this host lacks something the platform requires, 2 error
(e.g. --attest outside a confidential VM).

Examples:
  confidump doctor
  confidump doctor --lang ja
  confidump doctor --platform snp-host
  confidump doctor --attest --format json
  sudo confidump doctor --bundle report.tgz
  sudo confidump doctor --bundle report.tgz --demo-result demo.json
  tar -tzf report.tgz                                   what the bundle holds";

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
    /// Also write a bug-report bundle (.tar.gz, 0600) of this host: see below.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["attest", "platform"])]
    pub bundle: Option<PathBuf>,
    /// With --bundle: a saved demo result (`demo --format json --output FILE`) to pack, redacted,
    /// with its JUnit.
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub demo_result: Option<PathBuf>,
    /// With --bundle: overwrite the bundle if it exists (a regular file only, never a link).
    #[arg(long, requires = "bundle")]
    pub force: bool,
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
    let bundle = BundleRun::start(args.bundle.as_deref(), args.force)?;
    let saved = match &args.demo_result {
        Some(p) => Some(crate::runner::demo::load_result(p)?),
        None => None,
    };
    let report = doctor::check_host_in(lang);
    let exe = std::env::current_exe()?;
    let na_rows = select::unavailable_rows(&RunEnv::probe(exe).in_lang(lang))?;
    match args.format {
        FormatArg::Json => crate::outln!("{}", render::doctor::report_json(&report, &na_rows))?,
        FormatArg::Text => crate::out!("{}", render::doctor::report_text(&report, &na_rows, lang))?,
    }
    if let Some(b) = bundle {
        b.finish(saved.as_ref().map(|r| (r, &[][..])), lang)?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// A bug-report bundle being made (`doctor --bundle`, `demo --bundle`): the trace is captured
/// from [`BundleRun::start`] on; [`BundleRun::finish`] packs and writes it.
pub struct BundleRun {
    path: PathBuf,
    force: bool,
    capture: Capture,
}

impl BundleRun {
    /// Checks the bundle's path (before the run, not after it) and starts capturing the trace.
    /// Call it first: the capture names its directory in this process's environment.
    pub fn start(path: Option<&Path>, force: bool) -> anyhow::Result<Option<Self>> {
        let Some(path) = path else {
            return Ok(None);
        };
        crate::files::output::check_target(path, force)?;
        let capture = Capture::start()?;
        Ok(Some(Self {
            path: path.to_path_buf(),
            force,
            capture,
        }))
    }

    /// Packs doctor's JSON, `demo` (a run's report and the required capabilities it lacked)
    /// when given, the host's facts and the trace, and writes the bundle.
    pub fn finish(
        self,
        demo: Option<(&MatrixReport, &[(Requirement, String)])>,
        lang: Lang,
    ) -> anyhow::Result<()> {
        let trace = self.capture.finish();
        let mut b = Bundle::new();
        let report = doctor::check_host_in(lang);
        let exe = std::env::current_exe()?;
        let na_rows = select::unavailable_rows(&RunEnv::probe(exe).in_lang(lang))?;
        let doctor_json = render::doctor::report_json(&report, &na_rows);
        b.add(
            "doctor.json",
            "`confidump doctor --format json`: what this host can demonstrate",
            serde_json::to_string_pretty(&doctor_json)?,
        );
        if let Some((report, missing)) = demo {
            // The redaction path, and no memory at all: a bug report needs the verdicts, not
            // the bytes around them.
            let mut shown = report.clone();
            shown.redact();
            shown.cells.iter_mut().for_each(|c| c.view = None);
            b.add(
                "demo.json",
                "the demo's result (`demo --format json`), redacted, without memory views",
                serde_json::to_string_pretty(&shown).context("encoding the demo result")?,
            );
            b.add(
                "demo.junit.xml",
                "the demo's JUnit",
                render::junit::render(&shown, missing)?,
            );
        }
        b.add_host_facts();
        let trace = if trace.is_empty() {
            "(no SGX loader or CVM launch step ran in this run: no SGX row or VM row was started)\n"
                .to_string()
        } else {
            trace
        };
        b.add(
            "trace.log",
            "debug trace of the SGX loader's and the CVM launch's steps (each ioctl, each QEMU start, with its result)",
            trace,
        );
        b.write(&self.path, self.force)?;
        eprintln!(
            "confidump: wrote the bundle {} ({} files: {})",
            crate::render::sanitize::visible(&self.path.display().to_string()),
            b.names().len(),
            b.names().join(", ")
        );
        Ok(())
    }
}
