//! confidump: shows, with real mechanisms, what a memory dump of a running program gives away.
//!
//! # Architecture
//!
//! A *victim* holds a secret behind a chosen protection; an *attacker* (root, with root's real
//! tools) dumps or reads its memory and scans what it got.
//!
//! The modules form layers, each using only the ones below it. The one table of them is the
//! `layers` block in `ARCHITECTURE.md` at the top of the repository (`tests/layers.rs` enforces
//! it); that file is also the map of what each folder owns, and says where to add a context, an
//! attack path or a detector.
//!
//! The scanner never knows where its bytes came from: a live process, our core, gdb's, the
//! kernel's or QEMU's all implement [`memory::MemorySource`]. A "protected" verdict therefore
//! always means that a real read by a real attacker failed, never that the scanner looked away.
#![warn(missing_docs)]

pub mod cli;
pub mod container;
pub mod context;
pub mod coredump;
pub mod doctor;
pub mod files;
pub mod host;
pub mod i18n;
pub mod isolate;
pub mod lab;
pub mod memory;
pub mod model;
pub mod process;
pub mod procfs;
pub mod protect;
pub mod redact;
pub mod render;
pub mod runner;
pub mod scan;
pub mod scenario;
pub mod secret;
pub mod service;
pub mod sgx;
pub mod victim;
pub mod vm;
