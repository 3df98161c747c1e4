//! The `service` context's runner adapter: a private PostgreSQL server and its client
//! (`confidump victim --context service --store S`), attacked as the database's operator can.
//!
//! The victim process is the client: it starts the server (initdb as an unprivileged user,
//! Unix socket only), stores a fresh canary the way the store says and reads it back, then
//! announces every process to attack (`pids.server`: the postmaster first, then every other
//! server process, the client's backend among them), the client (`pid`) and the data
//! directory. The runner attacks every server process (`dump`, `gcore`, `live`: a leak in any
//! one is the cell's leak, named by its role), the data directory after a `CHECKPOINT`
//! (`disk`), and the client (`client`). The secret is made in the client: the runner has only
//! its hash.
//!
//! The server dies with the victim: dropping the victim sends it SIGTERM (it stops the server
//! and removes its directory); if the demo is killed, the victim gets SIGKILL from
//! `PR_SET_PDEATHSIG` and its server goes with it (`crate::service::instance`), and the next
//! run removes the directory left behind.

use super::{ServiceReady, Store};
use crate::context::env::RunEnv;
use crate::context::launch::{gcore_plan, Launch, VictimProcess};
use crate::context::{
    chain, only_for, Plan, Ready, RunningVictim, ServiceDirs, StartError, Target, VictimHost,
};
use crate::model::AttackKind;
use crate::procfs::maps::read_maps;
use crate::scenario::{DbStore, Scenario, SecretVia};

/// The `service` context.
pub struct ServiceHost;

impl VictimHost for ServiceHost {
    // initdb, then gdb on every server process.
    fn weight(&self) -> u32 {
        5
    }

    fn start(
        &self,
        s: &Scenario,
        env: &RunEnv,
        on_step: &mut dyn FnMut(&str),
    ) -> Result<Box<dyn RunningVictim>, StartError> {
        let name = s.name();
        // The row's requirements were checked before: the enclave store never gets here.
        let Some(store) = s.spec.store.and_then(service_store) else {
            return Err(StartError::Unavailable(
                super::facts::SQL_ENCLAVE_MISSING.to_string(),
            ));
        };
        on_step(&format!(
            "{name}: starting PostgreSQL and its client ({})",
            store.as_str()
        ));
        let mut extra = vec!["--context", "service", "--store", store.as_str()];
        if s.spec.statement_log {
            extra.push("--statement-log");
        }
        let launch = Launch {
            mode: None,
            extra: &extra,
            secret: None,
            via: SecretVia::Stdin,
            user: None,
            core_dir: None,
        };
        let victim =
            VictimProcess::spawn(&env.exe, &launch).map_err(|e| StartError::Failed(chain(&e)))?;
        let svc: ServiceReady = serde_json::from_str(victim.line.trim())
            .map_err(|e| StartError::Failed(format!("the service victim's ready line: {e}")))?;
        let mut digest = [0u8; 32];
        if hex::decode_to_slice(&svc.ready.secret_sha256, &mut digest).is_err() {
            return Err(StartError::Failed(
                "the service victim's ready line has no valid secret_sha256".to_string(),
            ));
        }
        let client_region = victim
            .ready
            .region_span()
            .map_err(|e| StartError::Failed(format!("the service victim's ready line: {e}")))?;
        let targets = svc
            .pids
            .server
            .iter()
            .map(|&pid| Target {
                of: Some(format!("{} {pid}", role(pid, svc.pids.backend))),
                pid,
                // Where a server process holds the secret is for the search to tell.
                region: None,
                maps: read_maps(pid).unwrap_or_default(),
            })
            .collect();
        let client = Target {
            of: Some(format!("client {}", svc.pids.client)),
            pid: svc.pids.client,
            region: Some(client_region),
            maps: read_maps(svc.pids.client).unwrap_or_default(),
        };
        let ready = Ready {
            targets,
            secret_sha256: digest,
            secret: None,
            qmp: None,
            user: None,
            wire: None,
            client: Some(client),
            service: Some(ServiceDirs {
                data_dir: svc.data_dir.clone(),
                socket_dir: svc.socket_dir.clone(),
            }),
            pod: None,
        };
        Ok(Box::new(RunningService {
            name: name.to_string(),
            victim,
            ready,
        }))
    }
}

/// The store `victim --context service --store` runs for a row's `store` (`None` for the
/// enclave, which no host has).
fn service_store(store: DbStore) -> Option<Store> {
    match store {
        DbStore::Plaintext => Some(Store::Plaintext),
        DbStore::ServerEncrypted => Some(Store::ServerEncrypted),
        DbStore::ClientEncrypted => Some(Store::ClientEncrypted),
        DbStore::Enclave => None,
    }
}

/// A server process's role, from its command line: PostgreSQL's children retitle themselves
/// (`postgres: checkpointer`, `postgres: confidump postgres [local] idle`); the postmaster
/// keeps its command line.
fn role(pid: i32, backend: i32) -> String {
    if pid == backend {
        return "backend".to_string();
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    role_of(&String::from_utf8_lossy(&cmdline))
}

/// [`role`] over a command line's text (NUL-separated arguments).
fn role_of(cmdline: &str) -> String {
    let text = cmdline.trim_end_matches(['\0', ' ']);
    match text.strip_prefix("postgres: ") {
        // A client connection's title is `USER DB HOST STATE`.
        Some(t) if t.contains("[local]") || t.contains(" idle") => "backend".to_string(),
        Some(t) => t.trim().replace(' ', "-"),
        None if text.split('\0').any(|a| a == "-D") => "postmaster".to_string(),
        None => "server process".to_string(),
    }
}

struct RunningService {
    name: String,
    victim: VictimProcess,
    ready: Ready,
}

impl RunningVictim for RunningService {
    fn ready(&self) -> &Ready {
        &self.ready
    }

    fn plan(&self, attack: AttackKind, env: &RunEnv) -> Plan {
        match attack {
            AttackKind::Dump | AttackKind::Live | AttackKind::Disk | AttackKind::Client => {
                Plan::Run
            }
            AttackKind::Gcore => gcore_plan(env),
            AttackKind::Kernel => Plan::by_design(env.t("plan.kernel.db")),
            AttackKind::SameUid => Plan::by_design(env.t("plan.same-uid.db")),
            AttackKind::Qmp | AttackKind::Checkpoint | AttackKind::Wire | AttackKind::Pod => {
                only_for(attack, env)
            }
        }
    }

    fn stop(self: Box<Self>, on_step: &mut dyn FnMut(&str)) {
        on_step(&format!(
            "{}: stopping PostgreSQL (client pid {})",
            self.name,
            self.victim.pid()
        ));
        drop(self);
    }
}

#[cfg(test)]
mod tests {
    use super::role_of;

    #[test]
    fn roles_from_command_lines() {
        assert_eq!(
            role_of("/usr/lib/postgresql/15/bin/postgres\0-D\0/tmp/x/data\0-k\0/tmp/x\0"),
            "postmaster"
        );
        assert_eq!(role_of("postgres: checkpointer "), "checkpointer");
        assert_eq!(role_of("postgres: background writer "), "background-writer");
        assert_eq!(
            role_of("postgres: confidump postgres [local] idle"),
            "backend"
        );
        assert_eq!(role_of(""), "server process");
    }
}
