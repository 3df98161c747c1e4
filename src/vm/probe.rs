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
//!
//! The `pod` column's attackers are probed the same way: a second child drops to the
//! container runtime's default capabilities (what a pod's app holds, so that the capability
//! rule cannot decide first) and waits, and each [`PodAttacker`] is placed beside it by the
//! host's own mechanism ([`crate::isolate::sibling`]: its pid namespace, uid 0, the variant's
//! capabilities) and runs `scan-child` against it, as the container rows do on the host. Yama
//! refuses what it refuses there for real: under scope 1 the sidecar without `CAP_SYS_PTRACE`,
//! under 3 every one of them.

use std::io::Write;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use super::guest::MARKER;
use super::start::{YamaProbe, PROBE_WORD};
use crate::memory::live::LiveProcess;
use crate::memory::ptrace::Freeze;
use crate::model::{ChildScan, PodAttacker, RUNTIME_DEFAULT_CAPS};

/// Why the probe could not run (said in its line's `attach` field).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No process to probe against.
    #[error("fork: {0}")]
    Fork(nix::errno::Errno),
    /// The pod attackers' target could not drop its capabilities.
    #[error("dropping the target's capabilities: {0}")]
    Capabilities(std::io::Error),
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
        pod: Vec::new(),
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
    let result = set.and_then(|()| {
        let pid = target.as_raw();
        Ok(YamaProbe {
            scope,
            attach: Freeze::new(pid).err().map(|e| e.to_string()),
            read: LiveProcess::open(pid, false).err().map(|e| e.to_string()),
            pod: pod_probes()?,
        })
    });
    let _ = kill(target, Signal::SIGKILL);
    let _ = waitpid(target, None);
    result
}

/// What one of the `pod` column's attackers got in the guest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodProbe {
    /// Who attacked.
    pub attacker: PodAttacker,
    /// Its refusal as it explained it (`None`: it opened the process).
    pub refused: Option<String>,
}

/// Every [`PodAttacker`] against a target with the runtime's default capabilities.
fn pod_probes() -> Result<Vec<PodProbe>, ProbeError> {
    let (ready_r, ready_w) = nix::unistd::pipe().map_err(ProbeError::Fork)?;
    // SAFETY: PID 1 has not started any thread yet; the child drops its capabilities, says so
    // on the pipe and sleeps until killed.
    let target = match unsafe { fork() }.map_err(ProbeError::Fork)? {
        ForkResult::Child => {
            drop(ready_r);
            let code = match crate::isolate::sibling::drop_capabilities(RUNTIME_DEFAULT_CAPS) {
                Ok(()) => b'1',
                Err(_) => b'0',
            };
            let _ = nix::unistd::write(&ready_w, &[code]);
            drop(ready_w);
            loop {
                nix::unistd::pause();
            }
        }
        ForkResult::Parent { child } => child,
    };
    drop(ready_w);
    let mut said = [0u8; 1];
    let dropped = nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&ready_r), &mut said)
        .is_ok_and(|n| n == 1 && said[0] == b'1');
    let result = if dropped {
        Ok(PodAttacker::ALL
            .into_iter()
            .map(|attacker| PodProbe {
                attacker,
                refused: pod_attack(attacker, target.as_raw()),
            })
            .collect())
    } else {
        Err(ProbeError::Capabilities(std::io::Error::other(
            "the target could not drop to the runtime's default capabilities",
        )))
    };
    let _ = kill(target, Signal::SIGKILL);
    let _ = waitpid(target, None);
    result
}

/// `scan-child` run as `attacker` against `target`: the refusal it explained, if any.
fn pod_attack(attacker: PodAttacker, target: i32) -> Option<String> {
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let inner = match crate::isolate::sibling::prepare(&mut cmd, attacker, target) {
        Ok(p) => p,
        Err(e) => return Some(format!("placing the attacker: {e}")),
    };
    // Any hash: the probe asks whether the process opens, not what it holds.
    let zeros = "0".repeat(64);
    cmd.args([
        "scan-child",
        "--pid",
        &inner.to_string(),
        "--sha256",
        &zeros,
    ]);
    match cmd.output() {
        Ok(out) => match serde_json::from_slice::<ChildScan>(&out.stdout) {
            Ok(ChildScan::Report(_)) => None,
            Ok(ChildScan::Refused { reason, .. }) => Some(reason),
            Ok(ChildScan::Failed { reason }) => Some(format!("the attacker failed: {reason}")),
            Err(e) => Some(format!(
                "the attacker answered no scan ({}): {e}",
                out.status
            )),
        },
        Err(e) => Some(format!("running the attacker: {e}")),
    }
}
