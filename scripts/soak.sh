#!/usr/bin/env bash
# Soak test of confidump's reliability promises (issue 14, item 7; issue 25, item 1). Needs
# root, gcc.
#
#   scripts/soak.sh [ROUNDS]                 (default 100)
#   scripts/soak.sh --interrupt [N]          (until N signals reached a running target; 200)
#
# Rounds of:
#   1. a dump of a 64 MiB victim killed at a random moment by a random signal
#      (SIGINT, SIGTERM, SIGHUP, SIGKILL): the victim must run again, no file may remain;
#   2. a dump of a victim that churns threads, forks and execs: must succeed (exit 0);
#   3. a dump of a victim that exits at a random moment: exit 0 with a truthful core, or
#      exit 2 "exited during the dump" / "no process" - never a core listing refusals;
#   4. a dump of a victim held by a second tracer: exit 2 naming the tracer.
# Prints the counts; exits 1 if any count that must be 0 is not.
#
# --interrupt: each round starts one of every built-in scenario (`demo --scenario NAME`), every
# lab exercise (`lab start NAME --any-order`, `lab solve NAME`) and every victim context
# (`victim --context process|vm|container|service`), in turn, with its own TMPDIR and lab state,
# and sends it a random signal (SIGINT, SIGTERM, SIGHUP, SIGKILL; to the process or, like
# Ctrl-C, to its process group) at a random moment. Then, as a user would: after SIGKILL the
# next command that could have made what was left (`demo --scenario plain`, which sweeps), and
# `lab reset` after a lab round (a target that `lab start` finished starting runs on by design).
# Then it counts what holds a secret: processes that were not there before (confidump, postgres,
# QEMU, runc, crun), files anywhere under the round's directories, the XDG cache and /tmp whose
# bytes have the canary's shape (CONFIDUMP- and 24 hex digits), and new System V segments.
set -u
interrupt=0
if [ "${1:-}" = --interrupt ]; then interrupt=1; shift; fi
ROUNDS=${1:-$((interrupt ? 200 : 100))}
cd "$(dirname "$0")/.."
cargo build --release -q || exit 2
BIN=$PWD/target/x86_64-unknown-linux-gnu/release/confidump
WORK=$(mktemp -d /tmp/soak-work.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

if ((interrupt)); then
    canary='CONFIDUMP-[0-9a-f]{24}'
    # A round's processes: confidump, PostgreSQL, QEMU and runc started by it (its TMPDIR, under
    # $WORK, is in their environment), or in its session. Others (another user's demo) are not
    # the soak's to count.
    watched() {
        local p
        for p in $(ps -eo pid=,args= | awk '/confidump|postgres|qemu-system|runc|crun/ && !/soak.sh|awk/ {print $1}'); do
            if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -q "^TMPDIR=$WORK/" ||
                [[ " $sessions " == *" $(ps -o sid= -p "$p" | tr -d ' ') "* ]]; then
                echo "$p"
            fi
        done
    }
    sessions=""
    before=" "
    # Orphaned segments only (no process attached): a running server's are not left behind.
    segments() { ipcs -m | awk '$1 ~ /^0x/ && $6 == 0 {print $2}' | sort; }
    # /tmp/confidump-* of runs whose owner is gone (the VM's directory goes to /tmp when TMPDIR
    # is too long); a live run's, another user's demo in progress, is not left behind.
    dead_owner_dirs() {
        local d pid
        for d in /tmp/confidump-*; do
            [ -e "$d" ] || continue
            pid=$(sed -nE 's/.*-p([0-9]+)-.*/\1/p; s/^\/tmp\/confidump-pg\.([0-9]+)\..*/\1/p' <<<"$d" | head -n1)
            [ -n "$pid" ] && [ ! -e "/proc/$pid" ] && echo "$d"
        done
    }
    seg_before=$(segments)
    targets=()
    while read -r name _; do targets+=("demo --scenario $name"); done < <("$BIN" demo --list --lang en | tail -n +2)
    while read -r _ name _; do
        targets+=("lab start $name --any-order" "lab solve $name")
    done < <("$BIN" lab list --lang en)
    targets+=("victim --context process --mode plain --generate canary"
        "victim --context vm --mode plain"
        "victim --context container --runtime runc --mode plain --generate canary"
        "victim --context service --store plaintext")
    sigs=(INT TERM HUP KILL)
    procs_left=0 files_left=0 segs_left=0 finished=0 interrupts=0
    declare -A per_sig=() span=()
    now_ms() { date +%s%3N; }
    start=$(date +%s)
    # ROUNDS counts signals that reached a running target; a target that ended before its
    # moment teaches the next moment for it (its measured run time bounds the span).
    for ((r = 0; interrupts < ROUNDS && r < 4 * ROUNDS; r++)); do
        t=${targets[r % ${#targets[@]}]}
        sig=${sigs[RANDOM % 4]}
        group=$((RANDOM % 2))
        root=$WORK/r$r
        mkdir -p "$root/tmp" "$root/state"
        # Like /tmp: the database rows' server runs as nobody and keeps its data under TMPDIR.
        chmod 0711 "$WORK" "$root"
        chmod 1777 "$root/tmp"
        if [ -z "${span[$t]:-}" ]; then
            # VM rows and the database take longest to get going.
            case $t in *vm* | *coco* | *pod* | *cvm*) span[$t]=8000 ;; *db* | *database* | *service*) span[$t]=4000 ;; *) span[$t]=2500 ;; esac
        fi
        ms=$((RANDOM * span[$t] / 32768))
        # shellcheck disable=SC2086 # $t is the command's words
        TMPDIR=$root/tmp XDG_STATE_HOME=$root/state setsid "$BIN" $t </dev/null >/dev/null 2>&1 &
        P=$!
        sessions="$sessions $P"
        t0=$(now_ms)
        while kill -0 "$P" 2>/dev/null && (($(now_ms) - t0 < ms)); do sleep 0.01; done
        if kill -0 "$P" 2>/dev/null && [ "$(ps -o stat= -p "$P")" != Z ]; then
            if ((group)); then kill -s "$sig" -- "-$P" 2>/dev/null; else kill -s "$sig" "$P" 2>/dev/null; fi
            per_sig[$sig]=$((${per_sig[$sig]:-0} + 1))
            interrupts=$((interrupts + 1))
        else
            finished=$((finished + 1))
            took=$(($(now_ms) - t0))
            ((took < span[$t])) && span[$t]=$((took > 50 ? took : 50))
        fi
        wait "$P" 2>/dev/null
        env=(env TMPDIR="$root/tmp" XDG_STATE_HOME="$root/state")
        if [ "$sig" = KILL ]; then "${env[@]}" "$BIN" demo --scenario plain >/dev/null 2>&1; fi
        case $t in lab*) "${env[@]}" "$BIN" lab reset >/dev/null 2>&1 ;; esac
        # Processes: a victim stops within its grace period, PostgreSQL's backends a moment
        # after their postmaster.
        left=""
        for _ in $(seq 100); do
            left=$(for p in $(watched); do [[ $before == *" $p "* ]] || echo "$p"; done)
            [ -z "$left" ] && break
            sleep 0.1
        done
        if [ -n "$left" ]; then
            procs_left=$((procs_left + $(wc -w <<<"$left")))
            echo "round $r ($t, SIG$sig$( ((group)) && echo ' to the group')): left running: $(ps -o pid=,args= -p "$(tr '\n' ',' <<<"$left" | sed 's/,$//')" | cut -c1-160)" >&2
            kill -9 $left 2>/dev/null
        fi
        # shellcheck disable=SC2046 # one path a line
        found=$(grep -rlaE "$canary" "$root" "${XDG_CACHE_HOME:-$HOME/.cache}/confidump" $(dead_owner_dirs) 2>/dev/null)
        if [ -n "$found" ]; then
            files_left=$((files_left + $(wc -l <<<"$found")))
            echo "round $r ($t, SIG$sig): secret left in: $found" >&2
        fi
        new_segs=$(comm -13 <(echo "$seg_before") <(segments))
        if [ -n "$new_segs" ]; then
            segs_left=$((segs_left + $(wc -w <<<"$new_segs")))
            echo "round $r ($t, SIG$sig): System V segments left: $new_segs" >&2
            seg_before=$(segments)
        fi
        rm -rf "$root"
        printf '\r%d rounds, %d/%d interrupts, %d s' $((r + 1)) "$interrupts" "$ROUNDS" $(($(date +%s) - start)) >&2
    done
    echo >&2
    echo "rounds: $r over ${#targets[@]} targets ($(($(date +%s) - start)) s); interrupts: $interrupts"
    echo "signals sent: $(for s in "${!per_sig[@]}"; do printf 'SIG%s %d, ' "$s" "${per_sig[$s]}"; done)rounds that ended before their moment: $finished"
    echo "processes left: $procs_left (must be 0)"
    echo "files holding a canary: $files_left (must be 0)"
    echo "System V segments left: $segs_left (must be 0)"
    ((interrupts >= ROUNDS)) || echo "fewer interrupts than asked ($interrupts of $ROUNDS)" >&2
    exit $((procs_left + files_left + segs_left > 0 || interrupts < ROUNDS))
fi

cat > "$WORK/churn.c" <<'C'
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static void *quick(void *a) { (void)a; return NULL; }
int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
    int exit_after_ms = argc > 2 ? atoi(argv[2]) : -1;
    int churn = argc > 3 && strcmp(argv[3], "churn") == 0;
    char *p = malloc(mib << 20);
    for (size_t i = 0; i < (mib << 20); i += 4096) p[i] = (char)(i >> 12) | 1;
    printf("ready %d\n", getpid());
    fflush(stdout);
    if (exit_after_ms >= 0) { usleep(exit_after_ms * 1000); _exit(0); }
    for (unsigned n = 0;; n++) {
        if (!churn) { pause(); continue; }
        pthread_t t[8];
        for (int i = 0; i < 8; i++) pthread_create(&t[i], 0, quick, 0);
        for (int i = 0; i < 8; i++) pthread_join(t[i], 0);
        if (n % 50 == 0) {
            pid_t c = fork();
            if (c == 0) { execl("/bin/true", "true", (char *)0); _exit(1); }
            if (c > 0) waitpid(c, 0, 0);
        }
    }
}
C
gcc -O1 -pthread -o "$WORK/churn" "$WORK/churn.c" || exit 2

start_victim() { # args: MIB EXIT_AFTER_MS MODE ; sets VPID
    coproc V { exec "$WORK/churn" "$@"; }
    read -r _ VPID <&"${V[0]}"
}
state_of() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }
tracer_of() { awk '/^TracerPid:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

killed=0; finished=0; left_stopped=0; files_left=0; churn_fail=0; wrong=0; dying_exited=0
dying_ok=0; tracer_named=0
sigs=(INT TERM HUP KILL)
for ((r = 0; r < ROUNDS; r++)); do
    # 1. a dump killed at a random moment.
    start_victim 64 -1 still
    out="$WORK/out$r"; mkdir "$out"
    "$BIN" dump "$VPID" -o "$out/v.core" 2>/dev/null & D=$!
    sleep "0.$(printf '%03d' $((RANDOM % 300)))"
    if kill -s "${sigs[RANDOM % 4]}" "$D" 2>/dev/null; then killed=$((killed + 1)); fi
    wait "$D" 2>/dev/null; rc=$?
    [ "$rc" = 0 ] && finished=$((finished + 1))
    # The victim must run again: not stopped, not traced (the kernel detaches at once).
    for _ in $(seq 100); do [ "$(tracer_of "$VPID")" = 0 ] && break; sleep 0.01; done
    case "$(state_of "$VPID")" in t|T) left_stopped=$((left_stopped + 1));; esac
    [ "$(tracer_of "$VPID")" = 0 ] || left_stopped=$((left_stopped + 1))
    n=$(find "$out" -mindepth 1 ! -name v.core | wc -l)
    # A core present after a failed run must at least be complete (killed after the commit).
    if [ "$rc" != 0 ] && [ -e "$out/v.core" ] && ! "$BIN" scan "$out/v.core" --needle soak >/dev/null 2>&1; then
        n=$((n + 1))
    fi
    files_left=$((files_left + n))
    kill -9 "$VPID" 2>/dev/null; wait "$VPID" 2>/dev/null; rm -rf "$out"

    # 2. a thread-churning, forking victim: every dump must succeed.
    start_victim 8 -1 churn
    if ! "$BIN" dump "$VPID" -o "$WORK/c.core" --force >/dev/null 2>"$WORK/err"; then
        churn_fail=$((churn_fail + 1)); echo "churn dump failed: $(cat "$WORK/err")" >&2
    fi
    kill -9 "$VPID" 2>/dev/null; wait "$VPID" 2>/dev/null; rm -f "$WORK/c.core"

    # 3. a victim that exits during the dump.
    start_victim 256 $((RANDOM % 200)) still
    if "$BIN" dump "$VPID" -o "$WORK/d.core" --force >"$WORK/out" 2>"$WORK/err"; then
        # A finished dump of a victim that died must not list refusals it could not prove.
        # Kernel pages ([vvar], [vsyscall], ...) are unreadable in every process; anything else
        # listed as unreadable is a refusal the dead victim cannot prove.
        listed=$(sed -n 's/.*unreadable ranges (\([^)]*\)).*/\1/p' "$WORK/err" | tr ',' '\n' |
            grep -vE '^ *\[(vvar|vsyscall|vvar_vclock|vdso)\]' | grep -c . || true)
        if [ "$listed" != 0 ]; then
            wrong=$((wrong + 1)); echo "wrong verdict: $(cat "$WORK/err")" >&2
        else
            dying_ok=$((dying_ok + 1))
        fi
    else
        if grep -qE 'exited during the dump|no process with PID' "$WORK/err"; then
            dying_exited=$((dying_exited + 1))
        else
            wrong=$((wrong + 1)); echo "unexpected error: $(cat "$WORK/err")" >&2
        fi
        [ -e "$WORK/d.core" ] && files_left=$((files_left + 1))
    fi
    wait "$VPID" 2>/dev/null; rm -f "$WORK/d.core"

    # 4. a victim held by a second tracer (every 10th round: gdb is slow to start).
    if ((r % 10 == 0)) && command -v gdb >/dev/null; then
        start_victim 8 -1 still
        gdb -q -nx -batch -p "$VPID" -ex 'shell sleep 3' >/dev/null 2>&1 & G=$!
        for _ in $(seq 500); do [ "$(tracer_of "$VPID")" != 0 ] && break; sleep 0.01; done
        if "$BIN" dump "$VPID" -o "$WORK/t.core" 2>"$WORK/err"; then
            wrong=$((wrong + 1)); echo "dump of a traced victim succeeded" >&2
        elif grep -q "already traced by pid" "$WORK/err"; then
            tracer_named=$((tracer_named + 1))
        else
            wrong=$((wrong + 1)); echo "traced victim: $(cat "$WORK/err")" >&2
        fi
        [ -e "$WORK/t.core" ] && files_left=$((files_left + 1))
        wait "$G" 2>/dev/null
        kill -9 "$VPID" 2>/dev/null; wait "$VPID" 2>/dev/null
    fi
done
echo "rounds: $ROUNDS"
echo "dumps killed at a random moment: $killed (finished before the signal: $finished)"
echo "victims left stopped or traced: $left_stopped (must be 0)"
echo "files left behind: $files_left (must be 0)"
echo "dumps of thread/fork/exec-churning victims that failed: $churn_fail (must be 0)"
echo "victims exiting mid-dump: $dying_exited refused as 'exited', $dying_ok complete before the exit"
echo "second tracer named: $tracer_named"
echo "wrong verdicts: $wrong (must be 0)"
[ $((left_stopped + files_left + churn_fail + wrong)) = 0 ]
