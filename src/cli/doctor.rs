//! `confidump doctor`: what this host can demonstrate, and why not the rest.

use std::process::ExitCode;

use super::{EXIT_ERROR, EXIT_OK};
use crate::doctor::{self, DoctorError};

const DOCTOR_HELP: &str = "\
Each check says yes/no, why, and what it enables in the demo. --format json prints
  {\"checks\":[{\"name\",\"ok\",\"detail\",\"enables\"},…],\"summary\":{\"NAME\":{\"ok\",\"reason\"},…}}
Check names: memfd_secret ptrace core_pattern gdb qemu kvm guest_kernel sgx sev_snp tdx cvm_guest.
KVM: /dev/kvm may open yet hang a nested Linux guest; doctor does not boot one (untested).

--attest (inside an SEV-SNP/TDX guest): a configfs-tsm report for a fresh random nonce.
Exit status: 0 ok, 2 error (e.g. --attest outside a confidential VM).";

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
}

/// Runs `confidump doctor`.
pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    if args.attest {
        return match doctor::attest() {
            Ok(a) => {
                match args.format {
                    FormatArg::Json => println!("{}", serde_json::to_string(&a)?),
                    FormatArg::Text => {
                        println!("provider: {}", a.provider);
                        println!("nonce:    {}", a.nonce);
                        println!("report (base64):\n{}", a.outblob);
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
    let report = doctor::check_host();
    match args.format {
        FormatArg::Json => println!("{}", report.to_json()),
        FormatArg::Text => {
            let width = report
                .checks
                .iter()
                .map(|c| c.name.len())
                .max()
                .unwrap_or(0);
            for c in &report.checks {
                println!(
                    "{:<width$}  {:<3}  {}  [{}]",
                    c.name,
                    if c.ok { "yes" } else { "no" },
                    c.detail,
                    c.enables
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
