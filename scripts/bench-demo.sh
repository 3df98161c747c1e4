#!/usr/bin/env bash
# Times the demo matrix (as root): N=3 runs of the process scenarios (the 10 s target of the
# demo-runner issue), then N runs of the whole matrix, every row (the 20 s target of the
# containers-and-services issue). The VM rows start from the booted guest saved in
# ~/.cache/confidump/guest-snapshot; if there is none yet, the first whole run boots and saves
# it (a one-time cost, said on the line).
# Then scripts/bench-vm.sh: a guest's full boot beside a restore of the saved one, and a dump of
# its QEMU (VM=0 leaves it out).
# Prints the machine and the date first, then each run's wall time and the medians: the block
# docs/performance.md ("Timings") quotes, the one place the docs take their figures from.
# Exits 1 if a median misses its target or a run does not exit 0 (a mismatch or an error).
set -euo pipefail

N=${N:-3}
TARGET_MS=10000
WHOLE_TARGET_MS=20000
root=$(cd "$(dirname "$0")/.." && pwd)
(cd "$root" && cargo build --release --quiet)
confidump=$root/target/x86_64-unknown-linux-gnu/release/confidump

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
printf 'machine: %s vCPUs (%s), %s, Linux %s\n' "$(nproc)" "$cpu" "$mem" "$(uname -r)"
printf 'date: %s, load before: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)"

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
snapshots=$(ls "${XDG_CACHE_HOME:-$HOME/.cache}"/confidump/guest-snapshot/*.state 2>/dev/null | wc -l)
wholes=()
for i in $(seq 1 "$N"); do
    label="whole matrix, run $i"
    [ "$i" -eq 1 ] && [ "$snapshots" -eq 0 ] && label="$label (no saved guest yet: boots and saves one)"
    wholes+=("$(run "$label")")
done
whole=$(printf '%s\n' "${wholes[@]}" | sort -n | sed -n "$(( (N + 1) / 2 ))p")
printf 'whole matrix median: %d.%03d s   target: < %d s\n' $((whole / 1000)) $((whole % 1000)) $((WHOLE_TARGET_MS / 1000))
if [ "${VM:-1}" != 0 ]; then
    "$root/scripts/bench-vm.sh"
fi
printf 'load after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
[ "$median" -le "$TARGET_MS" ] && [ "$whole" -lt "$WHOLE_TARGET_MS" ]
