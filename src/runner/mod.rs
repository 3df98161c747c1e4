//! Orchestration: the one-command attack (dump + scan + capture the view) and the demo matrix.
//!
//! This is the layer that starts victims (in their context, through [`contexts::host_for`]) and
//! chains the dumper and the scanner; each of those works alone. It returns data (cells, reports, captured hex windows)
//! and draws nothing: `cli` hands what it returns to `render`.

pub mod attack;
pub mod bundle;
pub mod classify;
pub mod contexts;
pub mod demo;
pub mod leftovers;
pub mod matrix;
pub mod nodes;
pub mod paths;
pub mod platform;
pub mod pod;
pub mod row;
pub mod same_uid;
pub mod scan;
pub mod select;
pub mod show;
pub mod trace;
pub mod victim;
