//! What runs killed earlier (SIGKILL cannot be caught) left behind, removed before a command
//! starts anything of its own.

/// Removes, each kind where it lives: working directories, PostgreSQL instances (their
/// processes, shared memory and data directory, which holds the plaintext of the database
/// rows), containers and their bundles, VM snapshot temporaries. Only what belongs to runs
/// whose process is gone. Every command that could have made such things calls this first.
pub fn sweep() {
    crate::files::workdir::remove_stale();
    let tmp = std::env::temp_dir();
    let base = std::fs::canonicalize(&tmp).unwrap_or(tmp);
    for note in crate::service::instance::sweep_stale(&base) {
        tracing::info!("{note}");
    }
    let removed = crate::container::cleanup::remove_stale();
    tracing::info!(?removed, "stale containers and bundles");
    crate::vm::snapshot::sweep_stale_temps();
}
