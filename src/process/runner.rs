//! The `process` context's runner adapter: a victim process on this host, attacked as root
//! (and, for a row whose victim runs as an unprivileged user, by a same-uid attacker). The
//! launcher and the running victim's plan are [`crate::context::launch`]'s, which the sgx and
//! container contexts share.

use crate::context::env::RunEnv;
use crate::context::launch::{start_victim, victim_mode};
use crate::context::{RunningVictim, StartError, VictimHost};
use crate::scenario::Scenario;

/// The `process` context.
pub struct ProcessHost;

impl VictimHost for ProcessHost {
    fn start(
        &self,
        s: &Scenario,
        env: &RunEnv,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<Box<dyn RunningVictim>, StartError> {
        let mode = victim_mode(s, env)?;
        start_victim(s, env, on_step, mode, &[])
    }
}
