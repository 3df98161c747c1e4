//! Demo scenarios as data: `demo/scenarios/*.toml`, built into the binary, plus any directory
//! an instructor points `--scenario-dir` at.
//!
//! A scenario says what the victim holds and how (`mode`, `secret`), how the attacker searches
//! (`search`), what the host must offer (`requires`, `run_as`), and what each attack path must
//! give (`[expect]`). The runner (`runner::matrix`) turns it into real processes; nothing here
//! does I/O except reading the files.
//!
//! ```toml
//! name = "plain"
//! title  = { en = "Ordinary heap memory", ja = "…" }   # also title.en = "…"
//! holds  = { en = "a canary in a heap allocation", ja = "…" }
//! lesson = { en = "Any root tool reads it.", ja = "…" }
//! mode = "plain"            # victim --mode (crate::model::VictimMode)
//! [expect]                  # per attack path (crate::model::AttackKind): an outcome;
//! dump = "leak"             #   an omitted path means n/a
//! ```
//!
//! README.md's "Scenarios are data" example is the whole schema, every key and value with what
//! it means; `tests/docs.rs` runs it through [`parse`] and checks that it names everything the
//! parser accepts.
//!
//! Every error names the file and the line (TOML errors carry byte spans; we turn them into
//! line numbers), so an instructor can fix a file without reading Rust.
//!
//! `types.rs` holds the [`Scenario`] the runner and the contexts read, `parse.rs` the parser
//! and its checks, `load.rs` the built-in files, `--scenario-dir` and `--scenario` selection.
//! This module sits below every context: they read a scenario, it names none of them.

mod load;
mod parse;
mod types;

pub use load::{builtin, load_all, load_dir, select};
pub use parse::parse;
pub use types::{
    AttackKind, Context, CvmKind, DbStore, Fallback, GuestContainer, Requirement, RunAs, Runtime,
    Scenario, ScenarioError, Search, SecretVia, Spec, VictimMode,
};
