#!/bin/sh
# Speed and false positives of `confidump scan --detect`.
#
# 1. Speed: a C ballast program fills SIZE_MIB (default 1024) of memory with random bytes, then
#    64 MiB of text-like data (log lines: dates, short numbers, hex hashes, addresses, words)
#    and a few planted secrets (2 card numbers, a PEM key, a JWT, an AWS key id, a canary);
#    gcore dumps it. One run each, page cache warm, of:
#      confidump scan --needle M (plain needle scan)  |  confidump scan --needle M --detect
#      grep -a -c -E '[0-9]{13,19}'                    |  grep -a -c -F M
#    printing times, GB/s and ratios, and the detections per kind (expected: the 6 planted,
#    each twice: the string literals sit in the binary's data mapping too, which gcore dumps).
# 2. False positives: gcore of ordinary programs (python3 sleeping, bash, sleep); detections
#    per kind (expected: none).
# The cores are deleted on exit. Needs gcc, gdb, jq and a release build.
set -eu
SIZE_MIB=${1:-1024}
BIN=${BIN:-target/x86_64-unknown-linux-gnu/release/confidump}
BIN=$(realpath "$BIN")
W=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do pkill -KILL -P "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done; rm -rf "$W"' EXIT

cat > "$W/ballast.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
static uint64_t x = 88172645463325252ull;
static uint64_t rnd(void) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; }
static const char *words[] = {"INFO", "WARN", "user", "session", "request", "GET", "POST",
    "/api/v1/items", "ok", "timeout", "retry", "cache", "added", "deadbeef", "face", "id"};
int main(int argc, char **argv) {
    size_t n = (size_t)atol(argv[1]) << 20, text = 64u << 20;
    uint64_t *p = malloc(n + text);
    for (size_t i = 0; i < n / 8; i++) p[i] = rnd();
    char *t = (char *)p + n, *end = t + text - 4096;
    while (t < end) {
        t += sprintf(t, "2026-%02u-%02u %02u:%02u:%02u %s %s=%lu amount=%lu.%02u ip=10.%u.%u.%u "
            "sha=%016lx%016lx ptr=0x%012lx %s len=%u\n",
            (unsigned)(rnd() % 12 + 1), (unsigned)(rnd() % 28 + 1), (unsigned)(rnd() % 24),
            (unsigned)(rnd() % 60), (unsigned)(rnd() % 60), words[rnd() % 16], words[rnd() % 16],
            (unsigned long)(rnd() % 10000000000ull), (unsigned long)(rnd() % 100000),
            (unsigned)(rnd() % 100), (unsigned)(rnd() % 256), (unsigned)(rnd() % 256),
            (unsigned)(rnd() % 256), (unsigned long)rnd(), (unsigned long)rnd(),
            (unsigned long)(rnd() & 0xffffffffffffull), words[rnd() % 16], (unsigned)(rnd() % 65536));
    }
    /* Planted secrets, spread over the random part; a marker near the end for the needles. */
    const char *s[] = {" 4111111111111111 ", " 5555 5555 5555 4444 ", " AKIAIOSFODNN7EXAMPLE ",
        " CONFIDUMP-0123456789abcdef01234567 ",
        " eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c ",
        "\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
        "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
        "NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ\n"
        "-----END PRIVATE KEY-----\n"};
    for (int i = 0; i < 6; i++) memcpy((char *)p + (size_t)(i + 1) * (n / 8) + 12345, s[i], strlen(s[i]));
    memcpy((char *)p + n - 1000, "hunter2-bench-marker", 20);
    __asm__ volatile("" : : "r"(p) : "memory");
    printf("ready\n"); fflush(stdout);
    pause();
}
C
gcc -O2 -o "$W/ballast" "$W/ballast.c"

now() { date +%s.%N; }
# run NAME CMD...: one timed run; prints seconds and GB/s over the core's size.
run() {
    name=$1; shift
    t0=$(now); "$@" > "$W/out" 2>/dev/null || true; t1=$(now)
    awk -v n="$name" -v a="$t0" -v b="$t1" -v s="$SIZE" -v o="$(head -c 60 "$W/out" | head -1)" \
        'BEGIN { t = b - a; printf "%-34s %7.3f s %6.2f GB/s   %s\n", n, t, s / t / 1e9, o }'
    echo "$t0 $t1" > "$W/t.$name"
}
secs() { awk '{ print $2 - $1 }' "$W/t.$1"; }
kinds() { jq -r '[.detections[]?.kind] | group_by(.) | map("\(.[0])=\(length)") | join(" ") | if . == "" then "none" else . end' "$1"; }

mkfifo "$W/ready"
"$W/ballast" "$SIZE_MIB" > "$W/ready" & PID=$!; PIDS="$PIDS $PID"
read -r _ < "$W/ready"
gcore -o "$W/core" "$PID" > /dev/null 2>&1
kill "$PID"
CORE="$W/core.$PID"
SIZE=$(stat -c %s "$CORE")
echo "core: $SIZE bytes ($SIZE_MIB MiB random + 64 MiB text-like + 6 planted secrets)"
cat "$CORE" > /dev/null   # warm the page cache for every tool
run plain "$BIN" scan "$CORE" --needle hunter2-bench-marker
run detect "$BIN" scan "$CORE" --needle hunter2-bench-marker --detect
run grepE grep -a -c -E '[0-9]{13,19}' "$CORE"
run grepF grep -a -c -F hunter2-bench-marker "$CORE"
awk -v p="$(secs plain)" -v d="$(secs detect)" -v e="$(secs grepE)" -v f="$(secs grepF)" 'BEGIN {
    printf "ratios: detect/plain %.2f   grepE/detect %.2f   grepF/detect %.2f   detect/grepF %.2f\n",
        d / p, e / d, f / d, d / f }'
"$BIN" scan "$CORE" --detect --format json > "$W/r.json" || true
echo "detections in the ballast core (6 planted, each also in the ballast binary's data: 12): $(kinds "$W/r.json")"
rm -f "$CORE"

echo "false positives, gcore of ordinary programs:"
fp() {
    name=$1; shift
    "$@" & P=$!; PIDS="$PIDS $P"
    # Ready when blocked in clock_nanosleep (230), nanosleep (35) or wait4 (61): imports done.
    until case "$(cut -d' ' -f1 /proc/$P/syscall 2>/dev/null)" in 230|35|61) true;; *) false;; esac
    do :; done
    gcore -o "$W/fp" "$P" > /dev/null 2>&1
    # bash and gdb leave a `sleep 60` child, and gdb ignores SIGTERM: kill the child, then it.
    pkill -KILL -P "$P" 2>/dev/null || true
    kill -KILL "$P" 2>/dev/null || true
    "$BIN" scan "$W/fp.$P" --detect --format json > "$W/fp.json" || true
    printf '  %-8s %10s bytes scanned: %s\n' "$name" "$(jq .bytes_scanned "$W/fp.json")" "$(kinds "$W/fp.json")"
    rm -f "$W/fp.$P"
}
fp python3 python3 -c 'import time; time.sleep(60)'
fp bash bash -c 'sleep 60; true'
fp sleep sleep 60
fp gdb gdb -q -batch -ex 'shell sleep 60'
