#!/usr/bin/env bash
# Mutation fuzzing of confidump's parsers of hostile input (issue 14, item 6), on stable Rust:
# the core reader + scanner (seeded with our core, gdb's gcore core, the kernel's core of a live
# victim and a QEMU dump-guest-memory core of a small guest), the lab and platform parsers, the
# /proc parsers, the scenario parser and the QMP client (a fake QEMU sending mutated replies).
# Checks per input: no panic, under 1 s, allocation peak under 2x the input (+1 MiB).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 90: 6 targets, the core reader twice: 10.5 min)
#   FUZZ_SEED=N scripts/fuzz.sh            reproduce a run
set -eu
cd "$(dirname "$0")/.."
FUZZ_SECS=${1:-90} nice -n 10 cargo test --release --test fuzz -- --nocapture 2>&1 | grep -E "fuzz:|  |panicked|test result"
