//! Where a victim runs: the interface every context implements, and what contexts share.
//!
//! A *context* starts a scenario's victim and learns from its ready line what to attack: which
//! processes (one, or several for a server: each named), where the secret sits in each when
//! that is known, and the secret's SHA-256 (all the attacker is given). The running victim also
//! says which attack paths apply to it and, for the others, why not; it is stopped when dropped.
//! The matrix (`runner::row`) runs every context through this interface alone: it never asks
//! which context it has.
//!
//! Each context is one folder (`process/`, `sgx/`, `vm/`, `container/`, `service/`) whose
//! `runner.rs` implements [`VictimHost`] and [`RunningVictim`]. This module sits below all of
//! them and imports none: it holds the interface, the run environment ([`env::RunEnv`]) and the
//! victim-process launcher that the process, sgx, container and service contexts share
//! ([`launch`]). To add a context: a folder with its `runner.rs`, its `context = "NAME"` value
//! in [`Context`] (`scenario/types.rs`), and one line in `runner::contexts::host_for`.

pub mod env;
pub mod launch;

use std::path::PathBuf;

use self::env::{RunEnv, User};
use crate::model::{AttackKind, Span, Texts};
use crate::procfs::maps::Mapping;
#[cfg(doc)]
use crate::scenario::Context;
use crate::scenario::Scenario;
use crate::secret::Secret;

/// An error and its causes, outermost first, as one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// The n/a reason of a path that belongs to one context only, for every other context.
pub fn only_for(attack: AttackKind, env: &RunEnv) -> Plan {
    let key = match attack {
        AttackKind::Qmp => "plan.only-for.qmp",
        AttackKind::Checkpoint => "plan.only-for.checkpoint",
        AttackKind::Disk => "plan.only-for.disk",
        AttackKind::Client => "plan.only-for.client",
        AttackKind::Wire => "plan.only-for.wire",
        AttackKind::Pod => "plan.only-for.pod",
        _ => "plan.only-for.other",
    };
    Plan::by_design(env.t(key))
}

/// Why `s`'s victim cannot start here: this build has no victim of its mode (`victim --mode`).
pub fn no_victim_for_mode(s: &Scenario, env: &RunEnv) -> Option<String> {
    s.spec.mode.victim_arg().is_none().then(|| {
        env.say(Texts::new(
            format!(
                "this build of confidump has no {:?} victim to start",
                s.spec.mode
            ),
            format!(
                "この confidump のビルドには {:?} の標的プロセスがない。",
                s.spec.mode
            ),
        ))
    })
}

/// A place where victims run: starts them.
pub trait VictimHost: Sync {
    /// Starts `s`'s victim and waits for its ready line. `on_step` is told what is happening
    /// (`NAME: starting the victim (plain)`). The row's availability on this host
    /// (`runner::contexts::unavailable`, which asks [`VictimHost::unavailable`]) was checked
    /// before.
    fn start(
        &self,
        s: &Scenario,
        env: &RunEnv,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<Box<dyn RunningVictim>, StartError>;

    /// How long a row of this context takes, roughly, relative to a process row (1): the
    /// matrix starts the slowest first so that they do not finish last.
    fn weight(&self) -> u32 {
        1
    }

    /// Why `s`'s row cannot run here for a reason of this context's own (beyond the row's
    /// `requires`), if it cannot: a VM row without QEMU, its CVM hardware or a guest kernel.
    /// By default: when this build has no victim of the row's mode ([`no_victim_for_mode`]).
    fn unavailable(&self, s: &Scenario, env: &RunEnv) -> Option<String> {
        no_victim_for_mode(s, env)
    }

    /// Whether `s`'s row runs here as a stand-in for what it shows elsewhere (a confidential
    /// VM's row as a normal VM, `cvm_fallback`), and so reads with its fallback texts.
    fn falls_back(&self, _s: &Scenario, _env: &RunEnv) -> bool {
        false
    }
}

/// Why a victim did not start; the whole row gets this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The host lacks what the context needs (no QEMU, no guest kernel, no CVM hardware):
    /// every cell is n/a.
    Unavailable(String),
    /// Starting failed: every cell is an error.
    Failed(String),
}

/// A victim that announced it is ready. Dropping it stops it (and removes what it wrote);
/// [`RunningVictim::stop`] does the same and tells the progress line.
pub trait RunningVictim {
    /// What its ready line told.
    fn ready(&self) -> &Ready;
    /// Whether `attack` applies to this victim on this host, and if not, why not.
    fn plan(&self, attack: AttackKind, env: &RunEnv) -> Plan;
    /// Ends the victim with SIGQUIT so that the kernel writes its core (the
    /// [`AttackKind::Kernel`] path). Only called when [`RunningVictim::plan`] said it runs.
    fn quit_with_core(&mut self) -> Result<KernelCore, KernelCoreError> {
        Err(KernelCoreError::NotSupported)
    }
    /// Stops the victim.
    fn stop(self: Box<Self>, on_step: &mut dyn FnMut(&str));
}

/// What a victim's ready line told the runner.
#[derive(Debug)]
pub struct Ready {
    /// The processes to attack (at least one), in the order their cells report them.
    pub targets: Vec<Target>,
    /// SHA-256 of the secret: all the attacker is given.
    pub secret_sha256: [u8; 32],
    /// The secret itself when the runner made it (a process victim): lets the attacker also
    /// search fragments of it, and the runner check `/proc/PID/cmdline`. `None` when the
    /// secret was made where the runner cannot see it (inside a guest).
    pub secret: Option<Secret>,
    /// The hypervisor's control socket (QMP), for a victim inside a VM.
    pub qmp: Option<PathBuf>,
    /// The unprivileged user the victim runs as, for a same-uid attacker.
    pub user: Option<User>,
    /// What the victim sends out on a channel the host reads, as the host receives it (a VM
    /// guest's serial console), for the `wire` attack.
    pub wire: Option<Box<dyn WireSource>>,
    /// A database server's client process (the application), attacked on its own.
    pub client: Option<Target>,
    /// A database server's directories, for the disk attack.
    pub service: Option<ServiceDirs>,
    /// Who the `pod` column's attacker is, for a victim in a container.
    pub pod: Option<crate::model::PodAttacker>,
}

/// What a victim sent out on a channel the host reads, as the host received it (a VM guest's
/// serial console): the `wire` attack scans it.
pub trait WireSource: std::fmt::Debug + Send + Sync {
    /// A copy of what was captured so far.
    fn bytes(&self) -> zeroize::Zeroizing<Vec<u8>>;
}

/// Where a database server keeps its files and its socket.
#[derive(Debug, Clone)]
pub struct ServiceDirs {
    /// The cluster's data directory (`PGDATA`).
    pub data_dir: PathBuf,
    /// The directory of its Unix socket (for the `CHECKPOINT` before the disk is read).
    pub socket_dir: PathBuf,
}

/// One process to attack.
#[derive(Debug, Clone)]
pub struct Target {
    /// What it is, in the cells' words: `None` for the victim itself, `Some("QEMU")` for the
    /// process that holds the victim (`confidump's dump of QEMU`), a server process's role
    /// (`postgres checkpointer`).
    pub of: Option<String>,
    /// Its PID.
    pub pid: i32,
    /// Where the secret sits in its address space, when that is known (from the ready line);
    /// `None` when only a search can tell (a guest's memory seen from the host).
    pub region: Option<Span>,
    /// Its `/proc/PID/maps`, read while it ran: names what a core leaves unnamed.
    pub maps: Vec<Mapping>,
}

/// Whether an attack path applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// It runs.
    Run,
    /// It does not: the cell is n/a with `reason`.
    NotApplicable {
        /// Why not, in a sentence.
        reason: String,
        /// True when this host lacks a tool or capability the path needs (the scenario's
        /// expectation then cannot hold here and the cell expects n/a); false when the path
        /// does not apply to this victim by design.
        host_lacks: bool,
    },
}

impl Plan {
    /// Not applicable by design.
    pub fn by_design(reason: impl Into<String>) -> Self {
        Plan::NotApplicable {
            reason: reason.into(),
            host_lacks: false,
        }
    }
    /// Not applicable because the host lacks something.
    pub fn host_lacks(reason: impl Into<String>) -> Self {
        Plan::NotApplicable {
            reason: reason.into(),
            host_lacks: true,
        }
    }
}

/// Why a victim could not be ended for a kernel core dump.
#[derive(Debug, thiserror::Error)]
pub enum KernelCoreError {
    /// This context's victim cannot be ended that way (its plan never runs the kernel path).
    #[error("this victim cannot be ended for a kernel core dump")]
    NotSupported,
    /// Signalling or waiting for the victim process failed.
    #[error(transparent)]
    Process(#[from] launch::ProcessError),
}

/// What the kernel left when a victim was ended with SIGQUIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCore {
    /// The kernel's verdict on the victim, in words (`killed by signal 3, core dumped`).
    pub status: String,
    /// The core file, when the kernel wrote one.
    pub core: Option<PathBuf>,
}
