//! `confidump victim --context container`: start the victim in a container, print the
//! host-side ready line, wait for a stop signal (or the end of stdin), then stop it and remove
//! the container and its bundle.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use zeroize::Zeroizing;

use super::victim::{GenerateArg, RuntimeArg, VictimArgs};
use crate::container::{ContainerOptions, ContainerVictim, Runtime, SecretDelivery, StopOutcome};
use crate::victim::{Generator, Mode, StopReason};

/// Runs `confidump victim --context container`.
pub fn run(args: VictimArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    let runtime = match args.runtime {
        RuntimeArg::Namespaces => Runtime::Namespaces,
        RuntimeArg::Runc => Runtime::Runc,
        RuntimeArg::Crun => Runtime::Crun,
    };
    let secret = if let Some(arg) = args.secret_arg {
        SecretDelivery::Arg(Zeroizing::new(arg.into_bytes()))
    } else if let Some(path) = args.secret_file {
        SecretDelivery::File(path)
    } else if args.secret_stdin {
        SecretDelivery::Stdin
    } else {
        SecretDelivery::Generate(match args.generate {
            Some(GenerateArg::Pan) => Generator::Pan,
            Some(GenerateArg::Canary) | None => Generator::Canary,
        })
    };
    // Stop signals are read from a signalfd; blocked from now on so that one arriving while
    // the container starts is not lost (it stops the victim right after the ready line).
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)?;

    let mut opts = ContainerOptions::new(runtime, mode);
    opts.secret = secret;
    opts.until_eof = args.until_eof;
    let ctr = ContainerVictim::start(&opts)
        .with_context(|| format!("starting the victim in a {} container", runtime.as_str()))?;
    let ready = ctr.ready();
    eprintln!(
        "confidump: victim ready in {} container {} (host pid {}, pid {} inside)",
        runtime.as_str(),
        ready.container.id,
        ready.ready.pid,
        ready.container.pid_in_container
    );
    super::victim::announce(&ready.to_json(), args.ready_file.as_deref())?;

    // Our stdin is the relay's (--until-eof closes the victim's stdin at its end), so only a
    // signal or the victim's exit ends the wait.
    let why = match crate::victim::wait_for_stop(&sfd, false, ctr.exit_fd())? {
        StopReason::Signal(_) => "signal",
        StopReason::StdinEof | StopReason::Exited => {
            let closed_by_us = ctr.lifeline().lock().map(|l| l.is_none()).unwrap_or(false);
            if closed_by_us {
                "end of stdin"
            } else {
                let tail = ctr.stderr_tail();
                drop(ctr);
                bail!("the container's victim exited unexpectedly; its last messages:\n{tail}");
            }
        }
    };
    tracing::info!(why, "stopping the container");
    match ctr.stop() {
        StopOutcome::Stopped | StopOutcome::AlreadyExited => {
            eprintln!("confidump: container stopped and removed ({why})")
        }
        StopOutcome::Killed => {
            eprintln!("confidump: the victim did not stop in time: killed; container removed")
        }
    }
    Ok(ExitCode::SUCCESS)
}
