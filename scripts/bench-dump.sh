#!/usr/bin/env bash
# Times `confidump dump` against gdb's `gcore` on a dense and a sparse process.
#
#   scripts/bench-dump.sh            (as root; N=3 runs each, tools alternating)
#
# dense:  1.5 GiB mapped and written with random-ish non-zero data
# sparse: 4 GiB mapped, 256 MiB written (one page in 16)
# Each core is deleted after its run; `sync` runs (untimed) before each run so one run's
# writeback does not slow the next. Then the dense core is scanned by `confidump scan` and by
# `grep -a -c -F`, then with one canary-shaped needle, five needles and ripgrep (the one-needle
# cliff of issue 13). Prints medians and gcore/ours ratios.
set -euo pipefail

N=${N:-3}
DENSE_MIB=${DENSE_MIB:-1536}
SPARSE_MAPPED_MIB=${SPARSE_MAPPED_MIB:-4096}
SPARSE_TOUCHED_MIB=${SPARSE_TOUCHED_MIB:-256}
NEEDLE=BALLAST-NEEDLE-7f3a9c

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-dump.XXXXXX")
victim=""
cleanup() {
    if [ -n "$victim" ]; then kill "$victim" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && cargo build --release --quiet)
confidump=$root/target/release/confidump
gcc -O2 -o "$work/ballast" "$root/scripts/ballast.c"

start_victim() { # MAPPED_MIB TOUCHED_MIB
    mkfifo "$work/ready"
    "$work/ballast" "$1" "$2" >"$work/ready" &
    victim=$!
    local word=""
    read -r word _ <"$work/ready" || true # blocks until the ballast has written its memory
    rm -f "$work/ready"
    [ "$word" = ready ] || { echo "ballast failed" >&2; exit 1; }
}
stop_victim() { kill "$victim"; wait "$victim" 2>/dev/null || true; victim=""; }

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_ours() { # OUT
    "$confidump" dump "$victim" -o "$1" --force 2>"$work/ours.log"
}
run_gcore() { # OUT
    gcore -o "$work/g" "$victim" >/dev/null 2>&1
    mv "$work/g.$victim" "$1"
}

bench() { # NAME MAPPED TOUCHED
    local name=$1 t0 t1 i tool o g
    start_victim "$2" "$3"
    : >"$work/$name.ours"
    : >"$work/$name.gcore"
    for i in $(seq "$N"); do
        for tool in ours gcore; do
            sync
            t0=$(now); "run_$tool" "$work/$name.$tool.core"; t1=$(now)
            awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.6f\n", a - b}' >>"$work/$name.$tool"
            if [ "$i" = "$N" ]; then
                du -k "$work/$name.$tool.core" | cut -f1 >"$work/$name.$tool.du"
                stat -c %s "$work/$name.$tool.core" >"$work/$name.$tool.len"
            fi
            if [ "$name" = dense ] && [ "$tool" = ours ] && [ "$i" = "$N" ]; then
                mv "$work/$name.$tool.core" "$work/keep.core"
            else
                rm -f "$work/$name.$tool.core"
            fi
        done
    done
    stop_victim
    o=$(median <"$work/$name.ours"); g=$(median <"$work/$name.gcore")
    printf '%-7s ours  median %6.2f s  runs: %s\n' "$name" "$o" "$(tr '\n' ' ' <"$work/$name.ours")"
    printf '%-7s gcore median %6.2f s  runs: %s\n' "$name" "$g" "$(tr '\n' ' ' <"$work/$name.gcore")"
    printf '%-7s ratio gcore/ours %.2fx\n' "$name" "$(awk -v a="$g" -v b="$o" 'BEGIN{printf "%.6f\n", a / b}')"
    printf '%-7s disk use: ours %d MiB (length %d MiB), gcore %d MiB (length %d MiB)\n' "$name" \
        $(( $(cat "$work/$name.ours.du") / 1024 )) $(( $(cat "$work/$name.ours.len") >> 20 )) \
        $(( $(cat "$work/$name.gcore.du") / 1024 )) $(( $(cat "$work/$name.gcore.len") >> 20 ))
    echo "$name   last summary: $(tail -1 "$work/ours.log")"
}

echo "confidump dump vs gcore: N=$N each, alternating; $(nproc) CPUs, $(uname -r)"
bench dense "$DENSE_MIB" "$DENSE_MIB"
bench sparse "$SPARSE_MAPPED_MIB" "$SPARSE_TOUCHED_MIB"

# The sparse curve: 256 MiB touched in 1, 4, 16, 64 GiB mapped, ours only (gcore writes the
# whole mapped size). Cost should follow what is resident, not the address space.
for g in ${CURVE_GIB:-1 4 16 64}; do
    start_victim $((g * 1024)) "$SPARSE_TOUCHED_MIB"
    : >"$work/curve"
    for i in $(seq "$N"); do
        sync
        t0=$(now); run_ours "$work/curve.core"; t1=$(now)
        awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.6f\n", a - b}' >>"$work/curve"
        du_k=$(du -k "$work/curve.core" | cut -f1)
        rm -f "$work/curve.core"
    done
    stop_victim
    printf 'curve   %2d GiB mapped / %d MiB touched: ours median %6.2f s, disk use %d MiB\n' \
        "$g" "$SPARSE_TOUCHED_MIB" "$(median <"$work/curve")" $((du_k / 1024))
done

core=$work/keep.core
size=$(stat -c %s "$core")
elapsed() { awk -v a="$2" -v b="$1" 'BEGIN{printf "%.6f\n", a - b}'; }
: >"$work/scan.ours"; : >"$work/scan.grep"
for i in $(seq "$N"); do
    t0=$(now)
    "$confidump" scan "$core" --needle "$NEEDLE" --format json >"$work/scan.json" 2>"$work/scan.err" \
        || { echo "scan: failed ($(head -1 "$work/scan.err"))"; exit 1; }
    t1=$(now); elapsed "$t0" "$t1" >>"$work/scan.ours"
    t0=$(now); hits=$(grep -a -c -F "$NEEDLE" "$core" || true); t1=$(now)
    elapsed "$t0" "$t1" >>"$work/scan.grep"
done
found=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["hits"]))' "$work/scan.json")
o=$(median <"$work/scan.ours"); g=$(median <"$work/scan.grep")
rate() { awk -v s="$size" -v t="$1" 'BEGIN{printf "%.2f", s / t / 1e9}'; }
printf 'scan    confidump scan median %.2f s (%s GB/s, %s hits)  runs: %s\n' "$o" "$(rate "$o")" "$found" "$(tr '\n' ' ' <"$work/scan.ours")"
printf 'scan    grep -a -c -F  median %.2f s (%s GB/s, %s matching lines)  runs: %s\n' "$g" "$(rate "$g")" "$hits" "$(tr '\n' ' ' <"$work/scan.grep")"
printf 'scan    ratio grep/confidump %.2fx\n' "$(awk -v a="$g" -v b="$o" 'BEGIN{printf "%.6f\n", a / b}')"

# The one-needle cliff (issue 13): one canary-shaped 34-byte needle against five needles, all in
# every encoding, and ripgrep given the five raw needles (when installed), alternating.
one=(--needle CONFIDUMP-0123456789abcdef01234567)
five=("${one[@]}" --needle "$NEEDLE" --needle hunter2 --needle CONFIDUMP-89abcdef0123456789abcdef --needle s3cr3t-passw0rd)
: >"$work/scan.one"; : >"$work/scan.five"; : >"$work/scan.rg"
for i in $(seq "$N"); do
    t0=$(now); "$confidump" scan "$core" "${one[@]}" --format json >/dev/null || true; t1=$(now)
    elapsed "$t0" "$t1" >>"$work/scan.one"
    t0=$(now); "$confidump" scan "$core" "${five[@]}" --format json >/dev/null || true; t1=$(now)
    elapsed "$t0" "$t1" >>"$work/scan.five"
    if command -v rg >/dev/null; then
        t0=$(now)
        rg --no-mmap -a -c -F -e CONFIDUMP-0123456789abcdef01234567 -e "$NEEDLE" -e hunter2 \
            -e CONFIDUMP-89abcdef0123456789abcdef -e s3cr3t-passw0rd "$core" >/dev/null || true
        t1=$(now); elapsed "$t0" "$t1" >>"$work/scan.rg"
    fi
done
for k in one five rg; do
    [ -s "$work/scan.$k" ] || continue
    m=$(median <"$work/scan.$k")
    printf 'scan    %-45s median %.2f s (%s GB/s)\n' "$(case $k in one) echo 'confidump, 1 canary-shaped needle, all encodings';; five) echo 'confidump, 5 needles, all encodings';; rg) echo 'rg --no-mmap -a -c -F, 5 raw needles';; esac)" "$m" "$(rate "$m")"
done
