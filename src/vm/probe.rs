//! The guest-side Yama probe: what the guest's root gets from `dump` and `scan --pid` against
//! another process once Yama's `ptrace_scope` is set.
//!
//! This host's kernel has no Yama; the guest's (a Debian kernel) does. So the refusal that
//! `ptrace_scope` makes, and confidump's explanation of it, are built for real inside a guest:
//! PID 1 forks a child that only waits, writes the value to
//! `/proc/sys/kernel/yama/ptrace_scope`, runs the same code `dump` ([`Freeze::new`]) and
//! `scan --pid` ([`LiveProcess::open`]) run, and reports their errors on the console
//! ([`super::start::YamaProbe`]). The guest is thrown away afterwards, so even 3 (which cannot
//! be lowered without a reboot) costs nothing.

use std::io::Write;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use super::guest::MARKER;
use super::start::{YamaProbe, PROBE_WORD};
use crate::memory::live::LiveProcess;
use crate::memory::ptrace::Freeze;

/// Why the probe could not run (said in its line's `attach` field).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No process to probe against.
    #[error("fork: {0}")]
    Fork(nix::errno::Errno),
    /// Yama's setting could not be written.
    #[error("setting /proc/sys/kernel/yama/ptrace_scope: {0}")]
    SetScope(#[source] std::io::Error),
}

/// Runs the probe for `scope` and prints its line; problems are reported in the line.
pub fn run(scope: u8) {
    let probe = probe(scope).unwrap_or_else(|e| YamaProbe {
        scope,
        attach: Some(format!("the probe could not run: {e}")),
        read: None,
    });
    let json = serde_json::to_string(&probe).unwrap_or_else(|_| "{}".to_string());
    println!("{MARKER} {PROBE_WORD} {json}");
    let _ = std::io::stdout().flush();
}

fn probe(scope: u8) -> Result<YamaProbe, ProbeError> {
    // SAFETY: PID 1 has not started any thread yet; the child only sleeps until killed.
    let target = match unsafe { fork() }.map_err(ProbeError::Fork)? {
        ForkResult::Child => loop {
            nix::unistd::pause();
        },
        ForkResult::Parent { child } => child,
    };
    let set = std::fs::write("/proc/sys/kernel/yama/ptrace_scope", format!("{scope}\n"))
        .map_err(ProbeError::SetScope);
    let result = set.map(|()| {
        let pid = target.as_raw();
        YamaProbe {
            scope,
            attach: Freeze::new(pid).err().map(|e| e.to_string()),
            read: LiveProcess::open(pid, false).err().map(|e| e.to_string()),
        }
    });
    let _ = kill(target, Signal::SIGKILL);
    let _ = waitpid(target, None);
    result
}
