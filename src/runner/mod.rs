//! Orchestration: the one-command attack (dump + scan + show) and the demo.
//!
//! This is the only layer that starts victims and chains the dumper, the scanner and the
//! renderers; each of those works alone.

pub mod attack;
pub mod demo;
pub mod env;
pub mod matrix;
pub mod present;
pub mod presenter;
pub mod scenario;
