//! The `container` context's runner adapter: the victim is a process in a container on this host
//! (`confidump victim --context container --runtime namespaces|runc|crun`), and the attacker is
//! the host's root, as the node's operator is. The container's ready line gives the victim's
//! host PID, which every root path uses: a container is packaging, not a boundary.
//!
//! The runner's secret goes in on stdin as for a process victim (the container victim relays
//! it to the process inside), so the runner knows the secret and the attackers only its hash.
//! Dropping the victim sends SIGTERM to `confidump victim`, which stops the container and
//! removes its bundle; if the demo itself dies, the victim's lifeline pipe closes and the
//! container goes too (see [`crate::container`]).

use std::sync::OnceLock;

use super::criu::{self, CriuCheck};
use super::Runtime;
use crate::context::env::RunEnv;
use crate::context::launch::{spawn_victim, victim_mode, RunningProcess};
use crate::context::{Plan, Ready, RunningVictim, StartError, VictimHost};
use crate::model::AttackKind;
use crate::scenario::Scenario;

/// The `container` context.
pub struct ContainerHost;

impl VictimHost for ContainerHost {
    fn weight(&self) -> u32 {
        2
    }

    fn start(
        &self,
        s: &Scenario,
        env: &RunEnv,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<Box<dyn RunningVictim>, StartError> {
        let mode = victim_mode(s, env)?;
        let runtime = s.spec.runtime.unwrap_or(Runtime::Namespaces);
        let extra = ["--context", "container", "--runtime", runtime.as_str()];
        let mut inner = spawn_victim(s, env, on_step, mode, &extra).map_err(|e| match e {
            // The runtime refused to run here (crun 1.8 on hybrid cgroups): its own words,
            // as n/a, not as an error of ours.
            StartError::Failed(why) if runtime_refused(&why) => StartError::Unavailable(why),
            other => other,
        })?;
        inner.ready.pod = s.spec.pod;
        Ok(Box::new(RunningContainer {
            name: s.name().to_string(),
            inner,
            runtime,
        }))
    }
}

/// Whether a failed start is the runtime refusing this host (the container victim's error
/// for [`crate::container::ContainerError::RuntimeUnusable`] and `RuntimeMissing`).
fn runtime_refused(why: &str) -> bool {
    why.contains("not available on this host")
}

struct RunningContainer {
    name: String,
    inner: RunningProcess,
    runtime: Runtime,
}

/// `criu check`, run once per process (it takes a fraction of a second, but every OCI row
/// asks).
fn criu_check() -> &'static CriuCheck {
    static CHECK: OnceLock<CriuCheck> = OnceLock::new();
    CHECK.get_or_init(criu::check)
}

impl RunningVictim for RunningContainer {
    fn ready(&self) -> &Ready {
        &self.inner.ready
    }

    fn plan(&self, attack: AttackKind, env: &RunEnv) -> Plan {
        match attack {
            // The victim is its container's PID 1, and the kernel drops a signal to a pid
            // namespace's init that has no handler for it (`SIGNAL_UNKILLABLE`), even from the
            // host: no core is ever written and the process keeps running. So SIGQUIT is not
            // sent at all.
            AttackKind::Kernel => Plan::by_design(env.t("plan.kernel.container")),
            AttackKind::SameUid => Plan::by_design(env.t("plan.same-uid.container")),
            // A process of the victim's pod (or a hostPID pod) with the kernel's real
            // namespaces and capability sets: see `isolate::sibling`.
            AttackKind::Pod => Plan::Run,
            AttackKind::Checkpoint if self.runtime == Runtime::Namespaces => {
                Plan::by_design(env.t("plan.checkpoint.namespaces"))
            }
            AttackKind::Checkpoint => match criu_check().unavailable_texts() {
                Some(reason) => Plan::host_lacks(env.say(reason)),
                // Honest about what is missing: the column then shows n/a against its
                // expectation, a mismatch, never a pass.
                None => Plan::by_design(env.t("plan.checkpoint.not-wired")),
            },
            _ => self.inner.plan(attack, env),
        }
    }

    fn stop(self: Box<Self>, on_step: &mut dyn FnMut(&str)) {
        on_step(&format!(
            "{}: stopping the {} container (host pid {})",
            self.name,
            self.runtime.as_str(),
            self.inner.victim.pid()
        ));
        drop(self);
    }
}
