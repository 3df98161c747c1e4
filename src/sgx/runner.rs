//! The `sgx` context's runner adapter: the victim's secret sits in a real SGX enclave confidump builds, signs
//! and loads through the kernel's driver (`confidump victim --context sgx --mode plain`, plus
//! `--debug-enclave` for the pitfall row). The enclave lives in a host process, so it is
//! started and attacked like the process context's victim; what differs is the memory the
//! kernel gives root: `????` for a production enclave, plaintext (EDBGRD) for a debug one, and
//! nothing in any core file (the enclave's mapping is VM_IO | VM_DONTDUMP).
//!
//! On a host without SGX the row is `n/a` with [`super::facts::sgx_missing`]'s words,
//! the same ones doctor and `victim --context sgx` print.

use crate::context::env::RunEnv;
use crate::context::launch::start_victim;
use crate::context::{RunningVictim, StartError, VictimHost};
use crate::scenario::Scenario;

/// The `sgx` context.
pub struct SgxHost;

impl VictimHost for SgxHost {
    // An enclave is started by its own context (`victim --context sgx`), not by `--mode`.
    // Without SGX the row cannot run, whether or not its file says `requires = ["sgx"]` (the
    // victim would exit 2 with the same words; the row must say n/a, not error).
    fn unavailable(&self, _s: &Scenario, env: &RunEnv) -> Option<String> {
        super::facts::sgx_missing(&env.host.sgx).map(|t| env.say(t))
    }

    fn start(
        &self,
        s: &Scenario,
        env: &RunEnv,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<Box<dyn RunningVictim>, StartError> {
        let extra: &[&str] = if s.spec.debug_enclave {
            &["--context", "sgx", "--debug-enclave"]
        } else {
            &["--context", "sgx"]
        };
        start_victim(s, env, on_step, "plain", extra)
    }
}
