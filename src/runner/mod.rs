//! Orchestration: the one-command attack (dump + scan + show) and the demo.
