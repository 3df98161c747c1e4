#!/bin/sh
# Times `confidump scan` against `grep -a -c -F` on a gcore core of a process holding
# SIZE_MIB of random bytes and one marker (default 1536), then deletes the core. Needs gcc, gdb, a release build.
set -eu
SIZE_MIB=${1:-1536}
BIN=${BIN:-target/release/confidump}
W=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$W"' EXIT
cat > "$W/fill.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    size_t n = (size_t)atol(argv[1]) << 20;
    uint64_t *p = malloc(n), x = 88172645463325252ull;
    for (size_t i = 0; i < n / 8; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; p[i] = x; }
    /* A marker near the end, so both tools must read everything and find one match. */
    memcpy((char *)p + n - 1000, "hunter2-bench-marker", 20);
    /* Keep the stores: without this gcc drops the memcpy into never-read memory. */
    __asm__ volatile("" : : "r"(p) : "memory");
    printf("ready\n"); fflush(stdout);
    pause();
}
C
gcc -O2 -o "$W/fill" "$W/fill.c"
mkfifo "$W/ready"
"$W/fill" "$SIZE_MIB" > "$W/ready" & PID=$!
read -r _ < "$W/ready"
gcore -o "$W/core" "$PID" > /dev/null 2>&1
CORE="$W/core.$PID"
ls -l "$CORE"
cat "$CORE" > /dev/null   # warm the page cache for both tools
echo "grep -a -c -F:"
time grep -a -c -F 'hunter2-bench-marker' "$CORE" || true
echo "confidump scan:"
time "$BIN" scan "$CORE" --needle 'hunter2-bench-marker' | head -1
