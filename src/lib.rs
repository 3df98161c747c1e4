//! confidump: shows, with real mechanisms, what a memory dump of a running program gives away.
//!
//! # Architecture
//!
//! A *victim* holds a secret behind a chosen protection; an *attacker* (root, with root's real
//! tools) dumps or reads its memory and scans what it got. Layers, lowest first; a layer only
//! uses the ones above it in this list:
//!
//! | module      | role |
//! |-------------|------|
//! | [`model`]   | plain data: address ranges, hits, verdicts, scan reports |
//! | [`secret`]  | the `Secret` wrapper: redacted `Debug`, zeroized on drop |
//! | [`procfs`]  | `/proc/PID/maps`, smaps flags, tasks, pagemap: pure parsers + thin readers |
//! | [`memory`]  | the [`memory::MemorySource`] trait; the live-process reader; ptrace guards |
//! | [`coredump`]| streaming ELF core writer; ELF core reader (goblin) as a `MemorySource` |
//! | [`scan`]    | needles in several encodings and secret shapes, over any `MemorySource` |
//! | [`render`]  | text / JSON / hex views: consume findings, never compute them |
//! | [`protect`] | victim-side secret stores: plain heap, hygiene flags, `memfd_secret` |
//! | [`victim`]  | the victim program |
//! | [`vm`]      | the VM context: QEMU launcher, initramfs, QMP client, guest init, CVM profiles |
//! | [`service`] | the confidential-service context: a private PostgreSQL, its client, the disk attack |
//! | [`doctor`]  | what this host can demonstrate, and why not the rest |
//! | [`runner`]  | attack (dump + scan + show) and the demo orchestration |
//! | [`cli`]     | clap definitions, one file per subcommand |
//!
//! The scanner never knows where its bytes came from: a live process, our core, gdb's, the
//! kernel's or QEMU's all implement [`memory::MemorySource`]. A "protected" verdict therefore
//! always means that a real read by a real attacker failed, never that the scanner looked away.
#![warn(missing_docs)]

pub mod cli;
pub mod coredump;
pub mod doctor;
pub mod memory;
pub mod model;
pub mod procfs;
pub mod protect;
pub mod render;
pub mod runner;
pub mod scan;
pub mod secret;
pub mod service;
pub mod victim;
pub mod vm;
