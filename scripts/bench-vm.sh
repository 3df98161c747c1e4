#!/usr/bin/env bash
# VM context timings, 3 runs each, median printed:
#   boot   — `confidump victim --context vm --accel tcg --no-snapshot` from start to the ready
#            line: a full TCG boot (target ≤ 6 s)
#   ready  — the same without --no-snapshot: QEMU restores the saved booted guest (the first run
#            saves it if there is none)
#   dump   — `confidump dump QEMU_PID` of a 128 MiB guest's QEMU (target ≤ 1 s)
# Needs root, QEMU and a guest kernel (scripts/setup.sh). Builds confidump first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/x86_64-unknown-linux-gnu/release/confidump
work=$(mktemp -d)
victim=
cleanup() { [[ -n $victim ]] && kill "$victim" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

boot_times=() ready_times=() dump_times=()
for run in 1 2 3 4 5 6; do
    extra=()
    (( run <= 3 )) && extra=(--no-snapshot)
    mkfifo "$work/in.$run" "$work/out.$run"
    t0=$(now)
    # stdin: a fifo we hold open (closing it stops the victim); stdout: the ready line.
    "$bin" victim --context vm --mode secretmem --accel tcg --memory 128 "${extra[@]}" \
        --until-eof < "$work/in.$run" > "$work/out.$run" 2> "$work/err.$run" &
    victim=$!
    exec 3> "$work/in.$run" 4< "$work/out.$run"
    # Blocks until the victim prints its ready line (or exits: then the read fails).
    IFS= read -r line <&4 || { cat "$work/err.$run" >&2; exit 1; }
    t1=$(now)
    printf '%s\n' "$line" > "$work/ready"
    took=$(echo "$t1 - $t0" | awk '{print $1 - $3}')
    if (( run <= 3 )); then boot_times+=("$took"); else ready_times+=("$took"); fi
    qemu=$(sed -n 's/.*"qemu_pid":\([0-9]*\).*/\1/p' "$work/ready")
    t0=$(now)
    "$bin" dump "$qemu" -o "$work/qemu.core" --force > /dev/null 2>&1
    t1=$(now)
    dump_times+=("$(echo "$t1 - $t0" | awk '{print $1 - $3}')")
    rm -f "$work/qemu.core"
    exec 3>&- 4<&-   # end of stdin: the guest powers off
    wait "$victim" || true
    victim=
done
printf 'runs (s): boot %s | restore %s | dump %s\n' "${boot_times[*]}" "${ready_times[*]}" "${dump_times[*]}"
printf 'guest booted under TCG, ready (median of 3): %.2f s (target <= 6 s)\n' "$(printf '%s\n' "${boot_times[@]}" | median)"
printf 'guest restored from the saved boot, ready (median of 3): %.2f s\n' "$(printf '%s\n' "${ready_times[@]}" | median)"
printf 'confidump dump of the 128 MiB guest QEMU (median of 6): %.2f s (target <= 1 s)\n' "$(printf '%s\n' "${dump_times[@]}" | median)"
