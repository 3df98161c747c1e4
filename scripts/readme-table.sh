#!/usr/bin/env bash
# The README's sample table: the block between its `<!-- sample-table: begin … -->` and
# `<!-- sample-table: end -->` lines, drawn by confidump's own renderer (`demo --from`) at 80
# columns from a recorded result, tests/golden/readme-demo.json. This script is the one way
# that block is written; tests/docs.rs runs it with --check and fails when the README and the
# renderer differ.
#
#   scripts/readme-table.sh            redraw the README's block from the recorded result
#   scripts/readme-table.sh --check    only compare: exit 1 (and a diff) when they differ
#   scripts/readme-table.sh --record   run the rows again (root; QEMU and a guest kernel for
#                                      vm-secretmem), record the result, then redraw
#
# CONFIDUMP=PATH uses that binary instead of building one (the test passes the one it tests).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
readme=$root/README.md
recorded=$root/tests/golden/readme-demo.json
# The rows --record runs: one of each kind of lesson, few enough to read in a README.
rows=(plain dontdump secretmem vm-secretmem)
width=80
begin='<!-- sample-table: begin'
end='<!-- sample-table: end -->'

mode=write
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --record) mode=record ;;
    *) echo "usage: $0 [--check | --record]" >&2; exit 2 ;;
esac

if [ -n "${CONFIDUMP:-}" ]; then
    confidump=$CONFIDUMP
else
    (cd "$root" && cargo build --release --quiet)
    confidump=$root/target/x86_64-unknown-linux-gnu/release/confidump
fi

if [ "$mode" = record ]; then
    args=()
    for r in "${rows[@]}"; do args+=(--scenario "$r"); done
    # --redact: the recorded file holds no byte of the run's canaries. English: the README's.
    rc=0
    "$confidump" demo "${args[@]}" --lang en --format json --redact \
        --output "$recorded" --force || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "readme-table: the demo exited $rc (1 = a cell missed its expectation): fix that, or" \
             "record it knowingly (the table then shows the ✗)" >&2
        exit "$rc"
    fi
fi

# What the block says, from the recorded file only: its rows, its host, and the table.
kernel=$(grep -m1 -o '"kernel": "[^"]*"' "$recorded" | sed 's/.*: "\(.*\)"/\1/')
names=$(sed -n '/^  "scenarios": \[/,/^  \],/p' "$recorded" |
    sed -n 's/^      "name": "\(.*\)",$/\1/p')
command="confidump demo"
for n in $names; do command="$command --scenario $n"; done
said="What \`$command\` printed on Linux $kernel (this project's machine, as root), drawn again at
$width columns from its recorded result \`tests/golden/readme-demo.json\`:"
rc=0
table=$(COLUMNS=$width NO_COLOR=1 "$confidump" demo --from "$recorded") || rc=$?
# 1 is the recorded run's own verdict (a mismatch, drawn as ✗); 2 is an error.
[ "$rc" -le 1 ] || { echo "readme-table: demo --from $recorded exited $rc" >&2; exit 2; }

block=$(mktemp)
new=$(mktemp)
trap 'rm -f "$block" "$new"' EXIT
{
    echo "$said" | tr '\n' ' ' | fold -s -w 96 | sed 's/ *$//'
    echo
    echo
    echo '```text'
    printf '%s\n' "$table"
    echo '```'
} > "$block"

# The README with the lines between the markers replaced by the block.
awk -v begin="$begin" -v end="$end" -v block="$block" '
    index($0, begin) == 1 { print; while ((getline l < block) > 0) print l; skip = 1; found++; next }
    index($0, end) == 1 { skip = 0; ended++ }
    !skip { print }
    END { if (found != 1 || ended != 1) { print "markers: begin " found ", end " ended > "/dev/stderr"; exit 3 } }
' "$readme" > "$new" || { echo "readme-table: README.md needs one '$begin …' line and one '$end' line" >&2; exit 2; }

if [ "$mode" = check ]; then
    if ! diff -u "$readme" "$new" >&2; then
        echo "readme-table: README.md's sample table is not what the renderer draws from" \
             "tests/golden/readme-demo.json: run scripts/readme-table.sh" >&2
        exit 1
    fi
    exit 0
fi
if cmp -s "$readme" "$new"; then
    echo "readme-table: README.md is up to date" >&2
else
    cat "$new" > "$readme"
    echo "readme-table: README.md's sample table redrawn" >&2
fi
