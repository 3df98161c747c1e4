//! Stopping a process's threads with `PTRACE_SEIZE` + `PTRACE_INTERRUPT` behind RAII guards.
