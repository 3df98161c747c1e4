//! The `process` context: the victim is a child process on this host (this same executable,
//! `victim` subcommand), started by the shared launcher ([`crate::context::launch`]).

pub mod runner;
