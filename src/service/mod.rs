//! The confidential-service context: a real database server and a real client.
//!
//! The service the document names is Azure SQL with Always Encrypted: the client encrypts a
//! column with a key the server never sees, so the server's memory, its disk and its operator's
//! dumps hold only ciphertext. This context shows that principle, and how "encrypting in the
//! database" fails it, with a private PostgreSQL instance from the distribution:
//!
//! - [`instance`]: the instance's lifecycle (initdb as an unprivileged user, Unix socket only,
//!   stopped and removed on exit, nothing outliving a killed victim);
//! - [`client`]: confidump as the client (the `postgres` crate), with the three [`Store`]s;
//! - [`disk`]: the `disk` attack, the project's scanner over the data directory's files.
//!
//! [`ServiceVictim::start`] does all of it and yields a [`ServiceReady`] that lists every
//! process to attack: the server's (postmaster first, then its children) and the client (this
//! process, which holds the secret in every store).
//!
//! ```no_run
//! use confidump::service::{ServiceOptions, ServiceVictim, Store};
//!
//! let victim = ServiceVictim::start(&ServiceOptions::new(Store::ClientEncrypted)).unwrap();
//! println!("{}", victim.ready().to_json());
//! victim.stop().unwrap();
//! ```

pub mod client;
pub mod disk;
pub mod facts;
pub mod instance;
mod leftovers;
pub mod programs;
pub mod runner;
pub mod victim;

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use client::{ClientError, Store, StoreClient};
pub use instance::{InstanceError, InstanceOptions, PgInstance, StopOutcome};

use crate::victim::ReadyLine;

/// Errors of the service context.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The instance could not be set up, or not stopped cleanly.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// The client failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Options of [`ServiceVictim::start`].
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// How the secret is stored.
    pub store: Store,
    /// The instance's options.
    pub instance: InstanceOptions,
}

impl ServiceOptions {
    /// `store` with default instance options.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            instance: InstanceOptions::default(),
        }
    }
}

/// The processes to attack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePids {
    /// The postmaster first, then every other server process (the client's backend among them).
    pub server: Vec<i32>,
    /// The client: the victim process itself.
    pub client: i32,
    /// The backend serving the client (also in `server`).
    pub backend: i32,
}

/// The ready line of a service victim: the process victim's keys (`pid` = the client, `region`
/// = the client's copy of the secret, `mode` = the store) plus the service's facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceReady {
    /// `event`, `pid` (the client), `mode` (the store), `secret_sha256`, `secret_len`, `region`.
    #[serde(flatten)]
    pub ready: ReadyLine,
    /// Always `service`.
    pub context: String,
    /// The store: `plaintext`, `server-encrypted` or `client-encrypted`.
    pub store: String,
    /// Every process to attack.
    pub pids: ServicePids,
    /// The cluster's data directory: the `disk` attack's target.
    pub data_dir: PathBuf,
    /// The directory holding the server's Unix socket.
    pub socket_dir: PathBuf,
    /// The user the server runs as.
    pub server_user: String,
    /// `postgres --version`.
    pub server_version: Option<String>,
    /// Seconds from the start (initdb included) to ready.
    pub start_secs: f64,
}

impl ServiceReady {
    /// The line as printed: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

/// A running service victim: the server, and this process as its client holding the secret.
/// Dropping it closes the client, stops the server and removes its directory.
pub struct ServiceVictim {
    // Field order is drop order: the client's connection closes before the server stops.
    client: Option<StoreClient>,
    instance: Option<PgInstance>,
    ready: ServiceReady,
    /// A pidfd of the postmaster: readable once it has exited.
    exit_fd: Option<std::os::fd::OwnedFd>,
}

impl std::fmt::Debug for ServiceVictim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceVictim")
            .field("ready", &self.ready)
            .finish()
    }
}

impl ServiceVictim {
    /// Starts the instance, stores the secret and reads it back, and lists the processes.
    /// Call it from a thread that lives as long as the victim (the server dies with it).
    pub fn start(opts: &ServiceOptions) -> Result<Self, ServiceError> {
        let t0 = Instant::now();
        let instance = PgInstance::start(&opts.instance)?;
        let conn = instance.connect().map_err(ClientError::Connect)?;
        let client = StoreClient::run(conn, opts.store)?;
        let digest: [u8; 32] = sha2::Sha256::digest(client.secret()).into();
        let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        let ready = ServiceReady {
            ready: ReadyLine::new(
                me,
                opts.store.as_str(),
                &digest,
                client.secret().len(),
                client.secret_region(),
            ),
            context: "service".to_string(),
            store: opts.store.as_str().to_string(),
            pids: ServicePids {
                server: instance.server_pids_serving(client.backend_pid()),
                client: me,
                backend: client.backend_pid(),
            },
            data_dir: instance.data_dir().to_path_buf(),
            socket_dir: instance.socket_dir().to_path_buf(),
            server_user: instance.user().name.clone(),
            server_version: instance.version().map(str::to_string),
            start_secs: t0.elapsed().as_secs_f64(),
        };
        let exit_fd = instance
            .postmaster_pid()
            .and_then(crate::memory::alive::pidfd_open);
        Ok(Self {
            client: Some(client),
            instance: Some(instance),
            ready,
            exit_fd,
        })
    }

    /// What the attacker needs.
    pub fn ready(&self) -> &ServiceReady {
        &self.ready
    }

    /// Things worth telling the user (stale directories removed on the way).
    pub fn notes(&self) -> &[String] {
        self.instance.as_ref().map_or(&[], |i| i.notes())
    }

    /// Readable (for `poll`) once the server's postmaster has exited.
    pub fn exit_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.exit_fd.as_ref().map(|f| f.as_fd())
    }

    /// True once the server has exited on its own (the victim should then stop).
    pub fn server_exited(&mut self) -> bool {
        self.instance.as_mut().map_or(true, |i| i.exited())
    }

    /// Closes the client, stops the server, removes its directory; says how the server went.
    pub fn stop(mut self) -> Result<StopOutcome, ServiceError> {
        if let Some(c) = self.client.take() {
            c.close();
        }
        match self.instance.take() {
            Some(i) => Ok(i.stop()?),
            None => Ok(StopOutcome::AlreadyExited),
        }
    }
}
