#!/usr/bin/env bash
# Times the whole demo matrix: `confidump demo --format json`, N=3 runs (as root).
# Prints each run's wall time, the median, and the target (10 s). Exits 1 if the median
# misses the target or a run does not exit 0 (a mismatch or an error).
set -euo pipefail

N=${N:-3}
TARGET_MS=10000
root=$(cd "$(dirname "$0")/.." && pwd)
(cd "$root" && cargo build --release --quiet)
confidump=$root/target/release/confidump

times=()
for i in $(seq 1 "$N"); do
    start=$(date +%s%N)
    rc=0
    "$confidump" demo --format json >/dev/null || rc=$?
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    times+=("$ms")
    printf 'run %d: %d.%03d s (exit %d)\n' "$i" $((ms / 1000)) $((ms % 1000)) "$rc"
    if [ "$rc" -ne 0 ]; then
        echo "bench-demo: run $i exited $rc (1 = a cell did not match its expectation)" >&2
        exit 1
    fi
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (N + 1) / 2 ))p")
printf 'median: %d.%03d s   target: %d s\n' $((median / 1000)) $((median % 1000)) $((TARGET_MS / 1000))
[ "$median" -le "$TARGET_MS" ]
