#!/usr/bin/env bash
# Fetches a guest kernel for `confidump victim --context vm`: Debian's cloud kernel (small, with
# a serial console, initramfs support and memfd_secret built in), downloaded with
# `apt-get download` and unpacked with `dpkg-deb -x`. No root needed; nothing is installed.
#
# Result: $CACHE/vmlinuz (+ $CACHE/version), where
#   CACHE=${CONFIDUMP_GUEST_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/confidump/guest-kernel}
# which is where confidump looks when --kernel is not given and /boot has no readable kernel.
# Idempotent: an existing vmlinuz is kept (pass --force to fetch again).
# Override the package with CONFIDUMP_GUEST_KERNEL_PKG=linux-image-…-cloud-amd64.
set -euo pipefail

cache=${CONFIDUMP_GUEST_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/confidump/guest-kernel}
force=0
[[ ${1:-} == --force ]] && force=1

if [[ -s $cache/vmlinuz && $force -eq 0 ]]; then
    echo "fetch-guest-kernel: already have $cache/vmlinuz ($(cat "$cache/version" 2>/dev/null || echo unknown))" >&2
    exit 0
fi
for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || { echo "fetch-guest-kernel: needs $tool (a Debian/Ubuntu host) or pass --kernel to confidump" >&2; exit 2; }
done

pkg=${CONFIDUMP_GUEST_KERNEL_PKG:-}
if [[ -z $pkg ]]; then
    # The newest signed Debian 6.1 cloud kernel (Debian 12's own series; 6.1 needs
    # secretmem.enable=1, which confidump passes). Unsigned/dbg variants are skipped.
    pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' | awk '{print $1}' | sort -V | tail -n1)
fi
if [[ -z $pkg ]]; then
    echo "fetch-guest-kernel: no linux-image-*-cloud-amd64 package known to apt (run apt-get update?)" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-guest-kernel: apt-get download $pkg" >&2
(cd "$work" && apt-get download -q "$pkg" >&2)
deb=$(ls "$work"/*.deb)
echo "fetch-guest-kernel: dpkg-deb -x $(basename "$deb")" >&2
dpkg-deb -x "$deb" "$work/root"
vmlinuz=$(ls "$work"/root/boot/vmlinuz-* | head -n1)
[[ -s $vmlinuz ]] || { echo "fetch-guest-kernel: no /boot/vmlinuz-* in $pkg" >&2; exit 2; }

mkdir -p "$cache"
cp "$vmlinuz" "$cache/vmlinuz.tmp"
mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
basename "$vmlinuz" | sed 's/^vmlinuz-//' > "$cache/version"
echo "fetch-guest-kernel: $cache/vmlinuz ($(cat "$cache/version"))" >&2
