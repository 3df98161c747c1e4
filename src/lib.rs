//! confidump: shows, with real mechanisms, what a memory dump of a running program gives away.
//!
//! # Architecture
//!
//! A *victim* holds a secret behind a chosen protection; an *attacker* (root, with root's real
//! tools) dumps or reads its memory and scans what it got. Layers, lowest first; a layer only
//! uses the ones above it in this list (`ARCHITECTURE.md` at the top of the repository is the
//! full map, with where to add a context, an attack path or a detector):
//!
//! | module      | role |
//! |-------------|------|
//! | [`i18n`]    | the one language catalogue: `Lang`, every word of the program in English and Japanese |
//! | [`model`]   | plain data: spans, hits, scan reports, attack kinds, victim modes, CVM profiles, cells, hex windows |
//! | [`secret`]  | the `Secret` wrapper: redacted `Debug`, zeroized on drop |
//! | [`redact`]  | `--redact`: the one transform that takes the secret's bytes out of a result |
//! | [`procfs`]  | `/proc/PID/maps`, smaps flags, tasks, pagemap: pure parsers + thin readers |
//! | [`memory`]  | the [`memory::MemorySource`] trait; the live-process reader; ptrace guards; capturing a hex window |
//! | [`coredump`]| streaming ELF core writer; ELF core reader (goblin) as a `MemorySource` |
//! | [`scan`]    | needles in several encodings and secret shapes, over any `MemorySource` |
//! | [`protect`] | victim-side secret stores: plain heap, hygiene flags, `memfd_secret` |
//! | [`victim`]  | the victim program and its stop-wait loop |
//! | [`host`]    | one probe of what this host can do, and the verdicts doctor and the demo share |
//! | [`isolate`] | what vm and container share: the static confidump they run, new namespaces |
//! | [`sgx`]     | the SGX context: confidump's own enclave, built, measured, signed, loaded |
//! | [`vm`]      | QEMU for the vm context: launcher, initramfs, QMP client, guest init, CVM profiles |
//! | [`container`] | the container context: namespaces, OCI bundle + runc/crun, cleanup, CRIU check |
//! | [`service`] | the confidential-service context: a private PostgreSQL, its client, the disk attack |
//! | [`doctor`]  | what this host can demonstrate, and why not the rest |
//! | [`lab`]     | training exercises: start a victim, hints, answers checked by salted hash |
//! | [`runner`]  | contexts (where a victim runs), attack paths, classification, the matrix: returns cells, draws nothing |
//! | [`render`]  | text table, presenter screens, attack view, hex view, JSON, HTML, JUnit: draw data, never read memory |
//! | [`cli`]     | clap definitions, one file per subcommand |
//!
//! The scanner never knows where its bytes came from: a live process, our core, gdb's, the
//! kernel's or QEMU's all implement [`memory::MemorySource`]. A "protected" verdict therefore
//! always means that a real read by a real attacker failed, never that the scanner looked away.
#![warn(missing_docs)]

pub mod cli;
pub mod container;
pub mod coredump;
pub mod doctor;
pub mod files;
pub mod host;
pub mod i18n;
pub mod isolate;
pub mod lab;
pub mod memory;
pub mod model;
pub mod procfs;
pub mod protect;
pub mod redact;
pub mod render;
pub mod runner;
pub mod scan;
pub mod secret;
pub mod service;
pub mod sgx;
pub mod victim;
pub mod vm;
