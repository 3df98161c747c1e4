#!/usr/bin/env bash
# The benchmark of issue 13: confidump's dump and scan beside their peers, in one table.
#
#   scripts/bench.sh [--quick]          as root; needs gcc, gdb (gcore), ripgrep, cargo
#
# Rows (medians of N=3 runs, tools alternating within each run, page cache warm):
#   sparse  256 MiB touched in 1, 4, 16, 64 GiB mapped: confidump, and gcore and the elfcore
#           peer up to PEER_MAX_GIB mapped (they write the whole address space: 64 GiB of disk)
#   dense   2 GiB resident: confidump, gcore, the elfcore peer, and the floor: `dd if=/dev/zero
#           of=FILE bs=8M count=256`, the time to write the same bytes, in the same run
#   freeze  every dump row: how long the victim was seen stopped (`t`), sampled every 1 ms
#   scan    a 1 GiB core (confidump's dump of a dense victim) for 5 needles in all encodings
#           vs `rg --no-mmap -a -c -F` with the 5 raw needles; `--detect`; a live scan
#           (`scan --pid`) of the same victim
#   RSS     peak RSS of every tool (GNU time's %M)
# `--quick`: one run each, curve 1 and 4 GiB, dense 1 GiB (3 minutes at load 11 on 2 vCPUs,
# build included; the full run is about three times that).
# The load average is printed per group: on a shared machine figures swing ±30%, so compare
# only rows of the same run. Each core is deleted after its run, and `sync` runs (untimed)
# before each run so one run's writeback does not slow the next. Victims and files are
# removed on exit, Ctrl-C included. Environment: N, CURVE_GIB, PEER_MAX_GIB, DENSE_MIB,
# SCAN_MIB, TMPDIR (where cores are written), CONFIDUMP (the binary to measure; default: build
# this tree's).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
quick=0
for a in "$@"; do
    case $a in
        --quick) quick=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench.sh: unknown option $a (known: --quick)" >&2; exit 2 ;;
    esac
done
if ((quick)); then
    N=${N:-1}; CURVE_GIB=${CURVE_GIB:-"1 4"}; DENSE_MIB=${DENSE_MIB:-1024}
fi
N=${N:-3}
CURVE_GIB=${CURVE_GIB:-"1 4 16 64"}
PEER_MAX_GIB=${PEER_MAX_GIB:-4}
DENSE_MIB=${DENSE_MIB:-2048}
SCAN_MIB=${SCAN_MIB:-1024}
TOUCHED_MIB=256
NEEDLES=(CONFIDUMP-0123456789abcdef01234567 BALLAST-NEEDLE-7f3a9c hunter2
    CONFIDUMP-89abcdef0123456789abcdef s3cr3t-passw0rd)

[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root (gcore and the peers attach with ptrace)" >&2; exit 2; }
for t in gcc gcore rg cargo; do
    command -v "$t" >/dev/null || { echo "bench.sh: $t not found (scripts/setup.sh installs it)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/confidump-bench.XXXXXX")
victim="" sampler=""
cleanup() {
    [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
    if [ -n "$victim" ]; then kill "$victim" 2>/dev/null || true; wait "$victim" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# At most one dump at a time, beside the scan's core: gcore writes a sparse victim's whole
# address space (PEER_MAX_GIB), a dense dump its resident size.
biggest=$((PEER_MAX_GIB > DENSE_MIB / 1024 ? PEER_MAX_GIB : DENSE_MIB / 1024))
need_gib=$((biggest + SCAN_MIB / 1024 + 2))
free_gib=$(($(df -Pk "$work" | awk 'NR==2 {print $4}') >> 20))
((free_gib >= need_gib)) || { echo "bench.sh: $work has $free_gib GiB free, needs $need_gib" >&2; exit 2; }

# Build everything: confidump, the elfcore peer (its own Cargo project and target dir), the
# ballast victim and the freeze sampler.
echo "building ..." >&2
# CONFIDUMP names another build to measure (an A/B against an older tree's binary).
if [ -z "${CONFIDUMP:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
fi
confidump=${CONFIDUMP:-$root/target/x86_64-unknown-linux-gnu/release/confidump}
# The peer is built under this tree's .cargo/config.toml too (static, explicit target).
(cd "$root/scripts/elfcore-peer" && cargo build --release --quiet --target-dir "$root/target/elfcore-peer")
peer=$root/target/elfcore-peer/x86_64-unknown-linux-gnu/release/elfcore-peer
gcc -O2 -o "$work/ballast" "$root/scripts/ballast.c"
gcc -O2 -o "$work/freeze-sampler" "$root/scripts/freeze-sampler.c"

now() { date +%s.%N; }
load1() { cut -d' ' -f1 /proc/loadavg; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

start_victim() { # MAPPED_MIB TOUCHED_MIB
    mkfifo "$work/ready"
    "$work/ballast" "$1" "$2" >"$work/ready" &
    victim=$!
    local word=""
    read -r word _ <"$work/ready" || true # blocks until the ballast has written its memory
    rm -f "$work/ready"
    [ "$word" = ready ] || { echo "bench.sh: ballast failed" >&2; exit 1; }
}
stop_victim() { kill "$victim"; wait "$victim" 2>/dev/null || true; victim=""; }

# One dump with each tool into OUT. Failures stop the benchmark: a failed tool is no figure.
tool_ours() { "$confidump" dump "$victim" -o "$1" --force 2>"$work/ours.log"; }
tool_short() { "$confidump" dump "$victim" -o "$1" --force --short-freeze 2>"$work/short.log"; }
tool_gcore() { gcore -o "$work/g" "$victim" >"$work/gcore.log" 2>&1 && mv "$work/g.$victim" "$1"; }
tool_elfcore() { "$peer" "$victim" "$1" 2>"$work/elfcore.log"; }
tool_dd() { dd if=/dev/zero of="$1" bs=8M count=$((DENSE_MIB / 8)) status=none; }
# GNU time runs programs, not functions: it runs `bash -c` (a few ms, the same for every tool).
export -f tool_ours tool_short tool_gcore tool_elfcore tool_dd
export confidump peer work DENSE_MIB
timed() { # NAME ARGS...: runs the function NAME under GNU time, peak RSS to $work/rss
    /usr/bin/time -f %M -o "$work/rss" bash -c '"$@"' _ "$@"
}

# run_dump KEY TOOL: one timed run, the victim's stopped time sampled from outside.
run_dump() {
    local key=$1 tool=$2 out=$work/run.core t0 t1
    sync
    if [ "$tool" != dd ]; then
        mkfifo "$work/sready"
        "$work/freeze-sampler" "$victim" >"$work/freeze" 3>"$work/sready" &
        sampler=$!
        read -r _ <"$work/sready"
        rm -f "$work/sready"
    fi
    t0=$(now)
    victim=$victim timed "tool_$tool" "$out" ||
        { echo "bench.sh: $tool failed on $key: $(tail -3 "$work/$tool.log" 2>/dev/null)" >&2; exit 1; }
    t1=$(now)
    if [ -n "$sampler" ]; then
        kill -TERM "$sampler"; wait "$sampler" || true; sampler=""
        cut -d' ' -f1 "$work/freeze" >>"$work/$key.$tool.freeze"
    fi
    awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.4f\n", a - b}' >>"$work/$key.$tool.t"
    tail -1 "$work/rss" >>"$work/$key.$tool.rss"
    du -k "$out" | cut -f1 >"$work/$key.$tool.du"
    rm -f "$out"
}

# Tool names in the table.
label() {
    case $1 in
        ours) echo confidump ;; short) echo "confidump --short-freeze" ;; gcore) echo "gdb gcore" ;;
        elfcore) echo "elfcore crate" ;; dd) echo "dd (write floor)" ;; *) echo "$1" ;;
    esac
}

rows=$work/rows
printf '%-26s %-24s %9s %7s %9s %9s %8s %7s %6s  %s\n' tool victim "median s" "GB/s" "freeze ms" \
    "disk MiB" "RSS MiB" "x ours" load1 runs >"$rows"
# row TOOL VICTIM KEY BASEKEY [BYTES]: one line from the files of KEY; the ratio is this row's
# median over BASEKEY's (ours = 1.00); GB/s when BYTES is given.
row() {
    local tool=$1 vic=$2 key=$3 base=$4 bytes=${5:-} m b fr du rss gbs
    m=$(median <"$work/$key.t")
    b=$(median <"$work/$base.t")
    fr=-; [ -s "$work/$key.freeze" ] && fr=$(median <"$work/$key.freeze")
    du=-; [ -s "$work/$key.du" ] && du=$(($(cat "$work/$key.du") / 1024))
    rss=$(sort -g "$work/$key.rss" | tail -1 | awk '{printf "%.1f", $1 / 1024}')
    gbs=-; [ -n "$bytes" ] && gbs=$(awk -v s="$bytes" -v t="$m" 'BEGIN {printf "%.2f", s / t / 1e9}')
    printf '%-26s %-24s %9.3f %7s %9s %9s %8s %7.2f %6s  %s\n' "$tool" "$vic" "$m" "$gbs" "$fr" "$du" \
        "$rss" "$(awk -v a="$m" -v b="$b" 'BEGIN {print a / b}')" "$(cat "$work/$key.load")" \
        "$(tr '\n' ' ' <"$work/$key.t")" >>"$rows"
}

short=""
"$confidump" dump --help | grep -q -- --short-freeze && short=short

# --- sparse: cost must follow what is resident, not the address space --------------------
for g in $CURVE_GIB; do
    key=sparse$g
    tools=(ours)
    ((g <= PEER_MAX_GIB)) && tools+=(gcore elfcore)
    echo "sparse: $g GiB mapped / $TOUCHED_MIB MiB touched: ${tools[*]} x $N" >&2
    start_victim $((g * 1024)) "$TOUCHED_MIB"
    awk '/^VmRSS:/ {print $2}' "/proc/$victim/status" >"$work/$key.resident_kib"
    for t in "${tools[@]}"; do load1 >"$work/$key.$t.load"; done
    for _ in $(seq "$N"); do
        for t in "${tools[@]}"; do run_dump "$key" "$t"; done
    done
    stop_victim
    for t in "${tools[@]}"; do
        row "$(label "$t")" "sparse ${g}G/${TOUCHED_MIB}M" "$key.$t" "$key.ours"
    done
done

# --- dense: against the peers and the disk's write floor -----------------------------------
tools=(ours ${short:+"$short"} gcore elfcore dd)
echo "dense: $DENSE_MIB MiB resident: ${tools[*]} x $N" >&2
start_victim "$DENSE_MIB" "$DENSE_MIB"
for t in "${tools[@]}"; do load1 >"$work/dense.$t.load"; done
for _ in $(seq "$N"); do
    for t in "${tools[@]}"; do run_dump dense "$t"; done
done
stop_victim
for t in "${tools[@]}"; do row "$(label "$t")" "dense ${DENSE_MIB}M" "dense.$t" dense.ours; done

# --- scan: a core, the detectors, a live process -------------------------------------------
echo "scan: $SCAN_MIB MiB core and live victim x $N" >&2
start_victim "$SCAN_MIB" "$SCAN_MIB"
core=$work/scan.core
"$confidump" dump "$victim" -o "$core" 2>/dev/null
size=$(stat -c %s "$core")
# Arrays do not cross `bash -c`: the needles (no blanks, no wildcards) go as words of a string.
NEEDLE_ARGS="" RG_ARGS=""
for n in "${NEEDLES[@]}"; do NEEDLE_ARGS+=" --needle $n"; RG_ARGS+=" -e $n"; done
# shellcheck disable=SC2086
scan_core() { "$confidump" scan "$core" $NEEDLE_ARGS --format json; }
scan_detect() { "$confidump" scan "$core" --detect --format json; }
# shellcheck disable=SC2086
scan_live() { "$confidump" scan --pid "$victim" $NEEDLE_ARGS --format json; }
# shellcheck disable=SC2086
scan_rg() { rg --no-mmap -a -c -F $RG_ARGS "$core"; }
export -f scan_core scan_detect scan_live scan_rg
export core NEEDLE_ARGS RG_ARGS
for t in core rg detect live; do load1 >"$work/scan.$t.load"; done
for _ in $(seq "$N"); do
    for t in core rg detect live; do
        t0=$(now)
        # Exit 1 is "expectation not met" (scan) or "no match" (rg): only >1 is a failure.
        rc=0; victim=$victim timed "scan_$t" >"$work/scan.out" 2>"$work/scan.err" || rc=$?
        t1=$(now)
        ((rc <= 1)) || { echo "bench.sh: scan $t failed: $(head -3 "$work/scan.err")" >&2; exit 1; }
        awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.4f\n", a - b}' >>"$work/scan.$t.t"
        tail -1 "$work/rss" >>"$work/scan.$t.rss"
        grep -o '"bytes_scanned": *[0-9]*' "$work/scan.out" | grep -o '[0-9]*$' >"$work/scan.$t.bytes" || true
        case $t in core | live) grep -c '"needle"' "$work/scan.out" >"$work/scan.$t.hits" || true ;; esac
    done
done
stop_victim
bytes_of() { if [ -s "$work/scan.$1.bytes" ]; then cat "$work/scan.$1.bytes"; else echo "$size"; fi; }
row "confidump scan, 5 needles" "core ${SCAN_MIB}M" scan.core scan.core "$(bytes_of core)"
row "rg --no-mmap -a -c -F" "core ${SCAN_MIB}M" scan.rg scan.core "$size"
row "confidump scan --detect" "core ${SCAN_MIB}M" scan.detect scan.core "$(bytes_of detect)"
row "confidump scan --pid" "live ${SCAN_MIB}M" scan.live scan.core "$(bytes_of live)"

# --- the table ------------------------------------------------------------------------------
echo
echo "confidump bench: $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(($(awk '/MemTotal/ {print $2}' /proc/meminfo) >> 20)) GiB RAM"
echo "N=$N runs per tool, alternating; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); cores written to $(df -P "$work" | awk 'NR==2 {print $1}')"
cat "$rows"
echo "x ours: this row's median / confidump's on the same victim (scan rows: / the 5-needle core scan)."
echo "hits: core scan $(cat "$work/scan.core.hits" 2>/dev/null || echo ?), live scan $(cat "$work/scan.live.hits" 2>/dev/null || echo ?)"

# The issue's targets, checked on this run's figures.
med() { median <"$work/$1.t"; }
check() { # TEXT AWK-CONDITION
    if awk "BEGIN {exit !($2)}"; then echo "  met      $1"; else echo "  NOT met  $1"; fi
}
echo "targets (issue 13):"
if [ -s "$work/sparse4.gcore.t" ]; then
    check "sparse 4G: gcore/ours >= 15 ($(awk -v a="$(med sparse4.gcore)" -v b="$(med sparse4.ours)" 'BEGIN {printf "%.1f", a / b}'))" "$(med sparse4.gcore) / $(med sparse4.ours) >= 15"
    res=$(cat "$work/sparse4.resident_kib") du4=$(cat "$work/sparse4.ours.du")
    check "sparse 4G: disk use <= 1.1x resident ($((du4 / 1024)) MiB for $((res / 1024)) MiB)" "$du4 <= 1.1 * $res"
    check "sparse 4G: elfcore/ours >= 10 ($(awk -v a="$(med sparse4.elfcore)" -v b="$(med sparse4.ours)" 'BEGIN {printf "%.1f", a / b}'))" "$(med sparse4.elfcore) / $(med sparse4.ours) >= 10"
fi
d=$(med dense.ours)
check "dense: gcore/ours >= 2 ($(awk -v a="$(med dense.gcore)" -v b="$d" 'BEGIN {printf "%.2f", a / b}'))" "$(med dense.gcore) / $d >= 2"
check "dense: elfcore/ours >= 1.5 ($(awk -v a="$(med dense.elfcore)" -v b="$d" 'BEGIN {printf "%.2f", a / b}'))" "$(med dense.elfcore) / $d >= 1.5"
check "dense: ours/dd <= 1.2 ($(awk -v a="$d" -v b="$(med dense.dd)" 'BEGIN {printf "%.2f", a / b}'))" "$d / $(med dense.dd) <= 1.2"
fo=$(median <"$work/dense.${short:-ours}.freeze") fg=$(median <"$work/dense.gcore.freeze")
check "freeze: $(label "${short:-ours}") <= gcore/3 ($fo ms vs $fg ms)" "$fo * 3 <= $fg"
check "scan: faster than rg ($(med scan.core) s vs $(med scan.rg) s)" "$(med scan.core) < $(med scan.rg)"
check "detect >= 2.5 GB/s" "$(bytes_of detect) / $(med scan.detect) / 1e9 >= 2.5"
check "live scan >= 3.5 GB/s" "$(bytes_of live) / $(med scan.live) / 1e9 >= 3.5"
maxrss=$(cat "$work"/*.ours.rss "$work"/*.short.rss "$work"/scan.core.rss "$work"/scan.detect.rss "$work"/scan.live.rss 2>/dev/null | sort -g | tail -1 || true)
check "peak RSS of any dump or scan < 64 MiB ($((maxrss / 1024)) MiB)" "$maxrss < 65536"
