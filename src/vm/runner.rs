//! The `vm` context's runner adapter: the victim is a process inside a QEMU guest, and the attacker is the host
//! (the cloud operator). The host dumps or reads the QEMU process, or asks QEMU itself for the
//! guest's memory (QMP `dump-guest-memory`). The secret is made inside the guest; the host has
//! only its hash, and does not know where in its own memory the guest's copy sits.

use super::facts;
use crate::context::env::RunEnv;
use crate::context::{
    chain, no_victim_for_mode, only_for, Plan, Ready, RunningVictim, StartError, Target,
    VictimHost, WireSource,
};
use crate::model::{AttackKind, VictimMode};
use crate::procfs::maps::read_maps;
use crate::scenario::Scenario;
use crate::vm::{VmError, VmOptions, VmVictim, WireTap};

/// The `vm` context.
pub struct VmHost;

impl VictimHost for VmHost {
    // A guest boots under TCG in seconds, and the attacks read QEMU's whole memory.
    fn weight(&self) -> u32 {
        6
    }

    fn unavailable(&self, s: &Scenario, env: &RunEnv) -> Option<String> {
        let profile = facts::cvm_to_run(&s.spec, &env.host);
        if let Some(missing) = facts::vm_row_unavailable(profile, &env.host) {
            let missing = env.say(missing);
            // A container in a confidential VM is a confidential container (Kata on a TEE).
            return Some(match (s.spec.guest_container, profile) {
                (Some(_), Some(p)) => env.tf("plan.kata-pod-vm", &[&p.title(), &missing]),
                _ => missing,
            });
        }
        no_victim_for_mode(s, env)
    }

    fn falls_back(&self, s: &Scenario, env: &RunEnv) -> bool {
        facts::falls_back(&s.spec, &env.host)
    }

    fn start(
        &self,
        s: &Scenario,
        env: &RunEnv,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<Box<dyn RunningVictim>, StartError> {
        let name = s.name();
        // The guest has the plain and secretmem victims (the scenario parser allows no other).
        let mode = match s.spec.mode {
            VictimMode::SecretMem => VictimMode::SecretMem,
            _ => VictimMode::Plain,
        };
        let mut opts = VmOptions::new(mode);
        opts.cvm = facts::cvm_to_run(&s.spec, &env.host);
        opts.wire = s.spec.wire;
        opts.guest_container = s.spec.guest_container.is_some();
        let normal = match (s.spec.cvm, opts.cvm) {
            (Some(wanted), None) => format!("; a normal VM: this host has no {}", wanted.as_str()),
            _ => String::new(),
        };
        let inside = if opts.guest_container {
            ", the victim in a container inside"
        } else {
            ""
        };
        on_step(&format!("{name}: booting the guest (QEMU{normal}){inside}"));
        // QEMU dies with the thread that started it (PR_SET_PDEATHSIG): the row's thread
        // outlives the VM, which is stopped before the row returns.
        let vm = VmVictim::start(&opts).map_err(|e| match e {
            VmError::QemuMissing { .. }
            | VmError::KernelMissing { .. }
            | VmError::CvmUnavailable(_) => StartError::Unavailable(chain(&e)),
            _ => StartError::Failed(chain(&e)),
        })?;
        let r = vm.ready();
        // A container's victim is PID 1 of its own pid namespace: the guest's ready line
        // proves it ran there.
        if opts.guest_container && r.guest_pid != 1 {
            return Err(StartError::Failed(format!(
                "the guest's victim is pid {} inside, not PID 1 of its own pid namespace",
                r.guest_pid
            )));
        }
        let mut digest = [0u8; 32];
        if hex::decode_to_slice(&r.ready.secret_sha256, &mut digest).is_err() {
            return Err(StartError::Failed(
                "the guest's ready line has no valid secret_sha256".to_string(),
            ));
        }
        let qemu = vm.qemu_pid();
        let ready = Ready {
            targets: vec![Target {
                of: Some("QEMU".to_string()),
                pid: qemu,
                // The guest-virtual region of the ready line says nothing about where the
                // host holds the guest's page: only a search can tell.
                region: None,
                maps: read_maps(qemu).unwrap_or_default(),
            }],
            secret_sha256: digest,
            secret: None,
            qmp: Some(vm.qmp_socket().to_path_buf()),
            user: None,
            wire: s
                .spec
                .wire
                .map(|_| Box::new(vm.wire().clone()) as Box<dyn WireSource>),
            client: None,
            service: None,
            pod: None,
        };
        Ok(Box::new(RunningVm {
            name: name.to_string(),
            vm,
            ready,
        }))
    }
}

struct RunningVm {
    name: String,
    vm: VmVictim,
    ready: Ready,
}

impl RunningVictim for RunningVm {
    fn ready(&self) -> &Ready {
        &self.ready
    }

    fn plan(&self, attack: AttackKind, env: &RunEnv) -> Plan {
        match attack {
            AttackKind::Dump | AttackKind::Gcore | AttackKind::Live | AttackKind::Qmp => Plan::Run,
            AttackKind::Kernel => Plan::by_design(env.t("plan.kernel.vm")),
            AttackKind::SameUid => Plan::by_design(env.t("plan.same-uid.vm")),
            AttackKind::Wire if self.ready.wire.is_some() => Plan::Run,
            AttackKind::Wire => Plan::by_design(env.t("plan.wire.vm")),
            // A pod VM holds the whole pod: a sibling container is inside the same guest, where
            // the kernel's rules are the container rows' (`--guest-yama` runs them there).
            AttackKind::Pod => Plan::by_design(env.t("plan.pod.vm")),
            AttackKind::Checkpoint | AttackKind::Disk | AttackKind::Client => only_for(attack, env),
        }
    }

    fn stop(self: Box<Self>, on_step: &mut dyn FnMut(&str)) {
        let accel = &self.vm.ready().accel;
        on_step(&format!("{}: stopping the guest ({accel})", self.name));
        self.vm.stop();
    }
}

impl WireSource for WireTap {
    fn bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        WireTap::bytes(self)
    }
}
