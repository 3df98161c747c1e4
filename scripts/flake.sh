#!/usr/bin/env bash
# Runs one test N times, one run after another, and prints how many passed and failed: the way
# to show that a test is not flaky, or to catch the race that makes it so.
#
#   scripts/flake.sh TEST [N]      TEST as `cargo test` names it: FILE::NAME, e.g.
#                                  reliability::an_interrupted_demo_leaves_no_victim_running
#                                  (N defaults to 20)
#
# The test binary is built once (`cargo test --release --no-run`), then run N times with
# `--exact`; each failing run's output is kept in a 0600 log whose path is printed. Exit status:
# 0 when every run passed, 1 otherwise, 2 for a usage error.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case ${1:-} in
    "" | -h | --help) usage; [ -n "${1:-}" ]; exit $? ;;
esac
test=$1
n=${2:-20}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "flake.sh: N must be a positive whole number, not '$n'" >&2; exit 2; }
[[ $test == *::* ]] || { echo "flake.sh: name the test as FILE::NAME (e.g. reliability::a_test)" >&2; exit 2; }
file=${test%%::*}
name=${test#*::}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "building the $file tests ..." >&2
exe=$(cargo test --release --no-run --test "$file" --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])' | tail -n 1)
[ -x "$exe" ] || { echo "flake.sh: no test binary for '$file' (cargo test --release --no-run --test $file)" >&2; exit 2; }
"$exe" --exact "$name" --list 2>/dev/null | grep -q ': test$' ||
    { echo "flake.sh: $file has no test named '$name'" >&2; exit 2; }

umask 077
logs=$(mktemp -d "${TMPDIR:-/tmp}/flake.XXXXXX")
pass=0 fail=0
start=$(date +%s)
for ((i = 1; i <= n; i++)); do
    log=$logs/run-$i.log
    if "$exe" --exact "$name" --test-threads 1 >"$log" 2>&1; then
        pass=$((pass + 1))
        rm -f "$log"
    else
        fail=$((fail + 1))
        echo "run $i failed: $log" >&2
    fi
    printf '\r%s: %d/%d run, %d failed' "$test" "$i" "$n" "$fail" >&2
done
echo >&2
rmdir "$logs" 2>/dev/null || true
echo "$test: $pass passed, $fail failed ($n runs, $(($(date +%s) - start)) s)"
[ "$fail" -eq 0 ]
