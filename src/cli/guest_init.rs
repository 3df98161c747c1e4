//! `confidump guest-init` (hidden): PID 1 inside a confidump guest, and the victim of a pod
//! VM's container; what it runs is [`crate::vm::guest`].

use std::process::ExitCode;

use crate::model::VictimMode as Mode;
use crate::vm::guest::Wire;

/// Options of the hidden `confidump guest-init` (PID 1 inside a confidump guest).
#[derive(Debug, clap::Args)]
pub struct GuestInitArgs {
    /// The victim mode.
    #[arg(long, value_parser = super::victim::mode_parser(), required_unless_present = "await_start")]
    pub mode: Option<Mode>,
    /// Wait for the host's start line on the console (it names the mode; see vm::start).
    #[arg(long = "await", conflicts_with_all = ["mode", "container", "in_container", "wire"])]
    pub await_start: bool,
    /// Run the victim in new pid, mount, uts, ipc and net namespaces (a pod VM's container).
    #[arg(long)]
    pub container: bool,
    /// Be that victim: PID 1 of the container's namespaces, started by guest-init.
    #[arg(long, hide = true)]
    pub in_container: bool,
    /// Also send the secret out on this channel once.
    #[arg(long, value_parser = super::victim::wire_parser())]
    pub wire: Option<Wire>,
}

/// Runs `confidump guest-init` (PID 1 of a guest; never returns on success: it powers off).
pub fn run_guest_init(args: GuestInitArgs) -> anyhow::Result<ExitCode> {
    match args.mode {
        None => crate::vm::guest::run_init_awaiting()?,
        Some(mode) if args.in_container => crate::vm::guest::run_contained(mode, args.wire)?,
        Some(mode) => crate::vm::guest::run_init(mode, args.container, args.wire)?,
    }
    Ok(ExitCode::SUCCESS)
}
