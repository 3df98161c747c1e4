//! The database client: confidump itself, over the `postgres` crate, storing one secret in one of
//! three ways and reading it back so the server has really handled it.
//!
//! | store              | what the server receives             | where the key is            |
//! |--------------------|--------------------------------------|-----------------------------|
//! | `plaintext`        | the secret                           | (none)                      |
//! | `server-encrypted` | secret and key, `pgp_sym_encrypt`    | sent with every query       |
//! | `client-encrypted` | AES-256-GCM ciphertext only          | never leaves this process   |
//!
//! The client keeps the secret (and its key) for its whole run: it is the application that uses
//! them, and an attacker on the client machine finds them there in every store.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::model::Span;

/// How many times each store reads the secret back.
pub const READS: usize = 3;
/// `CONFIDUMP-` + 24 lowercase hex digits: the canary shape the scanner confirms by hash.
const CANARY_PREFIX: &str = "CONFIDUMP-";

/// Where the secret is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Store {
    /// An ordinary `text` column.
    Plaintext,
    /// `pgp_sym_encrypt` (pgcrypto) in the server, with the key sent in the SQL.
    ServerEncrypted,
    /// AES-256-GCM in the client; the server stores and returns only ciphertext (the Always
    /// Encrypted principle, without enclaves).
    ClientEncrypted,
}

impl Store {
    /// Every store, in the order the demo shows them.
    pub const ALL: [Store; 3] = [
        Store::Plaintext,
        Store::ServerEncrypted,
        Store::ClientEncrypted,
    ];

    /// The table this store uses: one per store, so that one instance can serve all three.
    pub fn table(&self) -> &'static str {
        match self {
            Store::Plaintext => "secret_plaintext",
            Store::ServerEncrypted => "secret_server_encrypted",
            Store::ClientEncrypted => "secret_client_encrypted",
        }
    }

    /// The name on the command line and in the ready line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Store::Plaintext => "plaintext",
            Store::ServerEncrypted => "server-encrypted",
            Store::ClientEncrypted => "client-encrypted",
        }
    }
}

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting to the server failed.
    #[error("cannot connect to the PostgreSQL server")]
    Connect(#[source] postgres::Error),
    /// A statement failed.
    #[error("{what} failed")]
    Query {
        /// The step.
        what: &'static str,
        /// The server's (or the driver's) error.
        source: postgres::Error,
    },
    /// pgcrypto is not there.
    #[error("the pgcrypto extension is not available: install the `postgresql-contrib` package (part of `postgresql-15` on Debian 12)")]
    NoPgcrypto(#[source] postgres::Error),
    /// The value read back is not the secret.
    #[error("the {0} store returned a different value than was stored")]
    Mismatch(&'static str),
    /// AES-GCM failed (a tampered or truncated ciphertext).
    #[error("AES-256-GCM {0} failed")]
    Crypto(&'static str),
    /// The OS random source failed.
    #[error("the OS random source (getrandom) failed")]
    Random,
}

fn q(what: &'static str) -> impl FnOnce(postgres::Error) -> ClientError {
    move |source| ClientError::Query { what, source }
}

/// A connected client that has stored the secret and read it back.
pub struct StoreClient {
    client: postgres::Client,
    store: Store,
    secret: Zeroizing<String>,
    /// The key of the server-encrypted store (sent to the server) or of the client-encrypted
    /// one (never sent). Empty for plaintext.
    key: Zeroizing<Vec<u8>>,
    backend_pid: i32,
}

impl std::fmt::Debug for StoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreClient")
            .field("store", &self.store)
            .field("secret", &"[REDACTED]")
            .field("backend_pid", &self.backend_pid)
            .finish()
    }
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, ClientError> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::getrandom(&mut b[..]).map_err(|_| ClientError::Random)?;
    Ok(b)
}

/// A fresh canary, `CONFIDUMP-` + 24 random lowercase hex digits.
pub fn fresh_canary() -> Result<Zeroizing<String>, ClientError> {
    let bytes = random::<12>()?;
    let mut s = Zeroizing::new(String::with_capacity(CANARY_PREFIX.len() + 24));
    s.push_str(CANARY_PREFIX);
    for b in bytes.iter() {
        for nibble in [b >> 4, b & 0xf] {
            s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    Ok(s)
}

impl StoreClient {
    /// Creates the table, stores a fresh canary in `store`'s way, reads it back [`READS`] times
    /// (checking each read), and issues a `CHECKPOINT` so the data files hold what the server
    /// wrote, as they will after the server's next automatic checkpoint.
    pub fn run(mut client: postgres::Client, store: Store) -> Result<Self, ClientError> {
        let secret = fresh_canary()?;
        let backend_pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(q("asking for the backend pid"))?
            .try_get(0)
            .map_err(q("reading the backend pid"))?;
        let t = store.table();
        let key = match store {
            Store::Plaintext => {
                client
                    .batch_execute(&format!(
                        "CREATE TABLE {t} (id int PRIMARY KEY, value text NOT NULL)"
                    ))
                    .map_err(q("CREATE TABLE"))?;
                client
                    .execute(
                        &format!("INSERT INTO {t} VALUES (1, $1)"),
                        &[&secret.as_str()],
                    )
                    .map_err(q("INSERT"))?;
                for _ in 0..READS {
                    let row = client
                        .query_one(&format!("SELECT value FROM {t} WHERE id = 1"), &[])
                        .map_err(q("SELECT"))?;
                    let got: Zeroizing<String> =
                        Zeroizing::new(row.try_get(0).map_err(q("reading the value"))?);
                    if *got != *secret {
                        return Err(ClientError::Mismatch(store.as_str()));
                    }
                }
                Zeroizing::new(Vec::new())
            }
            Store::ServerEncrypted => {
                client
                    .batch_execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
                    .map_err(ClientError::NoPgcrypto)?;
                client
                    .batch_execute(&format!(
                        "CREATE TABLE {t} (id int PRIMARY KEY, value bytea NOT NULL)"
                    ))
                    .map_err(q("CREATE TABLE"))?;
                // A passphrase as such code usually has one: text, sent along with the query.
                let key = Zeroizing::new(hex::encode(*random::<16>()?).into_bytes());
                let key_text = std::str::from_utf8(&key).map_err(|_| ClientError::Random)?;
                client
                    .execute(
                        &format!("INSERT INTO {t} VALUES (1, pgp_sym_encrypt($1, $2))"),
                        &[&secret.as_str(), &key_text],
                    )
                    .map_err(q("INSERT with pgp_sym_encrypt"))?;
                for _ in 0..READS {
                    let row = client
                        .query_one(
                            &format!("SELECT pgp_sym_decrypt(value, $1) FROM {t} WHERE id = 1"),
                            &[&key_text],
                        )
                        .map_err(q("SELECT with pgp_sym_decrypt"))?;
                    let got: Zeroizing<String> =
                        Zeroizing::new(row.try_get(0).map_err(q("reading the value"))?);
                    if *got != *secret {
                        return Err(ClientError::Mismatch(store.as_str()));
                    }
                }
                key
            }
            Store::ClientEncrypted => {
                client
                    .batch_execute(&format!(
                        "CREATE TABLE {t} (id int PRIMARY KEY, value bytea NOT NULL)"
                    ))
                    .map_err(q("CREATE TABLE"))?;
                let key = random::<32>()?;
                let blob = encrypt(&key[..], secret.as_bytes())?;
                client
                    .execute(&format!("INSERT INTO {t} VALUES (1, $1)"), &[&blob])
                    .map_err(q("INSERT"))?;
                for _ in 0..READS {
                    let row = client
                        .query_one(&format!("SELECT value FROM {t} WHERE id = 1"), &[])
                        .map_err(q("SELECT"))?;
                    let blob: Vec<u8> = row.try_get(0).map_err(q("reading the value"))?;
                    let got = decrypt(&key[..], &blob)?;
                    if got.as_slice() != secret.as_bytes() {
                        return Err(ClientError::Mismatch(store.as_str()));
                    }
                }
                Zeroizing::new(key.to_vec())
            }
        };
        client
            .batch_execute("CHECKPOINT")
            .map_err(q("CHECKPOINT"))?;
        Ok(Self {
            client,
            store,
            secret,
            key,
            backend_pid,
        })
    }

    /// The store in use.
    pub fn store(&self) -> Store {
        self.store
    }

    /// The secret, for hashing (the caller prints only its hash).
    pub fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// Where the client's copy of the secret lives in this process.
    pub fn secret_region(&self) -> Span {
        let start = self.secret.as_ptr() as u64;
        Span::new(start, start + self.secret.len() as u64)
    }

    /// Whether a key is in use (server- or client-encrypted); its bytes are never exposed.
    pub fn has_key(&self) -> bool {
        !self.key.is_empty()
    }

    /// The pid of the server backend serving this client.
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Closes the connection (the backend exits).
    pub fn close(self) {
        let _ = self.client.close();
    }
}

/// `nonce (12 bytes) || AES-256-GCM(key, nonce, plaintext)`.
fn encrypt(key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ClientError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| ClientError::Crypto("key setup"))?;
    let nonce = random::<12>()?;
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce[..]), plaintext)
        .map_err(|_| ClientError::Crypto("encryption"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

fn decrypt(key: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| ClientError::Crypto("key setup"))?;
    let (nonce, ct) = blob
        .split_first_chunk::<12>()
        .ok_or(ClientError::Crypto("decryption"))?;
    cipher
        .decrypt(Nonce::from_slice(nonce), ct)
        .map(Zeroizing::new)
        .map_err(|_| ClientError::Crypto("decryption"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_has_the_scanner_shape() {
        let c = fresh_canary().unwrap();
        assert_eq!(c.len(), 34);
        assert!(c.starts_with(CANARY_PREFIX));
        assert!(c[10..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(*c, *fresh_canary().unwrap());
    }

    #[test]
    fn aes_gcm_round_trip_and_ciphertext_hides_the_secret() {
        let key = [7u8; 32];
        let blob = encrypt(&key, b"CONFIDUMP-0123").unwrap();
        assert_eq!(blob.len(), 12 + 14 + 16);
        assert!(!blob.windows(9).any(|w| w == b"CONFIDUMP"));
        assert_eq!(&decrypt(&key, &blob).unwrap()[..], b"CONFIDUMP-0123");
        let mut bad = blob.clone();
        bad[20] ^= 1;
        assert!(decrypt(&key, &bad).is_err());
        assert!(decrypt(&[8u8; 32], &blob).is_err());
    }
}
