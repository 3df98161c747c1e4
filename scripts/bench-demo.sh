#!/usr/bin/env bash
# Times the demo matrix (as root): N=3 runs of the process scenarios (the 10 s target of the
# demo-runner issue), then one run of the whole matrix with the VM rows for reference.
# Prints each run's wall time and the median. Exits 1 if the median misses the target or a
# run does not exit 0 (a mismatch or an error).
set -euo pipefail

N=${N:-3}
TARGET_MS=10000
root=$(cd "$(dirname "$0")/.." && pwd)
(cd "$root" && cargo build --release --quiet)
confidump=$root/target/release/confidump

# The process scenarios: the built-in files that do not put their victim in a VM.
scenarios=()
names=()
for f in "$root"/demo/scenarios/*.toml; do
    grep -q '^context *= *"vm"' "$f" && continue
    names+=("$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$f")")
    scenarios+=(--scenario "${names[-1]}")
done

run() { # LABEL ARGS...
    local label=$1 start end ms rc=0
    shift
    start=$(date +%s%N)
    "$confidump" demo --format json "$@" >/dev/null || rc=$?
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    printf '%s: %d.%03d s (exit %d)\n' "$label" $((ms / 1000)) $((ms % 1000)) "$rc" >&2
    if [ "$rc" -ne 0 ]; then
        echo "bench-demo: $label exited $rc (1 = a cell did not match its expectation)" >&2
        exit 1
    fi
    echo "$ms"
}

echo "process scenarios: ${names[*]}" >&2
times=()
for i in $(seq 1 "$N"); do
    times+=("$(run "process matrix, run $i" "${scenarios[@]}")")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (N + 1) / 2 ))p")
printf 'process matrix median: %d.%03d s   target: %d s\n' $((median / 1000)) $((median % 1000)) $((TARGET_MS / 1000))
whole=$(run "whole matrix with VM rows")
printf 'whole matrix (VM rows included, one run): %d.%03d s\n' $((whole / 1000)) $((whole % 1000))
[ "$median" -le "$TARGET_MS" ]
