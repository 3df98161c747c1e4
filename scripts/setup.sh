#!/usr/bin/env bash
# Installs what confidump's demo and tests need on a fresh Debian/Ubuntu machine.
# Idempotent: packages already present are not reinstalled. Needs root (apt-get).
set -euo pipefail

need=()
command -v gdb   >/dev/null 2>&1 || need+=(gdb)        # gcore: the side-by-side attacker
command -v gcc   >/dev/null 2>&1 || need+=(gcc libc6-dev) # tests build small C victims
command -v eu-stack >/dev/null 2>&1 || need+=(elfutils)   # a second reader of our cores
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86) # the VM context
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)       # unpacks the guest kernel
command -v chromium >/dev/null 2>&1 || need+=(chromium)   # renders the HTML report in tests
# The service context's database server (initdb, postgres and pgcrypto; Debian keeps them in
# /usr/lib/postgresql/*/bin). apt may also create and start a system cluster: confidump never
# uses it, it starts its own private instance.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
[[ -e /usr/share/fonts/opentype/ipafont-gothic ]] || need+=(fonts-ipafont-gothic) # Japanese text
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found: install Rust (rustup) first" >&2; exit 2; }

if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup: need root to install: ${need[*]} (run: sudo $0)" >&2
        exit 2
    fi
    echo "setup: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# The guest kernel for the VM tests (cached; a no-op when already fetched). On a machine whose
# apt lists were never fetched, apt knows no kernel package yet: fetch the lists first.
if [[ $(id -u) -eq 0 ]] && ! apt-cache search --names-only '^linux-image-.*-cloud-amd64$' 2>/dev/null | grep -q .; then
    apt-get update -qq
fi
"$(dirname "$0")/fetch-guest-kernel.sh"
echo "setup: ready (gdb, gcc, elfutils, qemu-system-x86, guest kernel, chromium, postgresql, cargo)" >&2
