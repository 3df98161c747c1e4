//! The `process` context: the victim is an ordinary process on this host (this same executable,
//! `victim` subcommand), the secret in one of its memory protections: its victim side
//! (`victim.rs`) and its runner adapter (`runner.rs`, started by the shared launcher,
//! [`crate::context::launch`]).

pub mod runner;
pub mod victim;
