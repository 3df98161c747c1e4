#!/usr/bin/env bash
# Builds confidump's Debian package: an install that needs no Rust (issue 19, item 5).
#
#   scripts/package.sh [--binary PATH] [--out DIR]
#
#   --binary PATH  package this already built confidump (static, from this tree) instead of
#                  running `cargo build --release` (tests package the binary cargo test built)
#   --out DIR      where the .deb goes (default: target/package)
#
# The package holds /usr/bin/confidump (debug info stripped), a man page per command and
# bash/zsh/fish completions (both made by the binary itself: `confidump generate …`), the
# guest-kernel fetch script under /usr/share/confidump/, and README.md + docs/*.md under
# /usr/share/doc/confidump/. The binary is statically linked, so the package depends on no
# library; what the demo runs (gdb, QEMU, runc, PostgreSQL) is Recommended: a missing one
# makes its rows n/a, saying what to install. Prints the .deb's path last.
#
# Needs: dpkg-deb (dpkg), objcopy (binutils), gzip; cargo only without --binary.
set -euo pipefail
umask 022

root=$(cd "$(dirname "$0")/.." && pwd)
binary=
out="$root/target/package"
while (($#)); do
    case "$1" in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "package: unknown option $1 (known: --binary PATH, --out DIR)" >&2; exit 2 ;;
    esac
done

for tool in dpkg-deb objcopy gzip md5sum; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "package: needs $tool (apt-get install dpkg binutils gzip coreutils)" >&2; exit 2; }
done

if [[ -z $binary ]]; then
    echo "package: cargo build --release" >&2
    (cd "$root" && cargo build --release)
    # .cargo/config.toml names the target, so the binary sits under the target's triple.
    binary="${CARGO_TARGET_DIR:-$root/target}/x86_64-unknown-linux-gnu/release/confidump"
fi
[[ -x $binary ]] || { echo "package: $binary is not an executable" >&2; exit 2; }
# The one binary must run on any x86-64 Linux and be the guest's /init: no dynamic loader.
if LC_ALL=C objdump -p "$binary" 2>/dev/null | grep -q '^ *INTERP'; then
    echo "package: $binary is dynamically linked; build it from this tree (.cargo/config.toml makes it static)" >&2
    exit 2
fi

version=$("$binary" --version | awk '{print $2}')
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "package: cannot read a version from $binary --version" >&2; exit 2; }
arch=amd64
name="confidump_${version}_${arch}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg="$work/$name"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/man/man1" \
    "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
    "$pkg/usr/share/fish/vendor_completions.d" "$pkg/usr/share/confidump" "$pkg/usr/share/doc/confidump"
chmod 0755 "$pkg"

# The program, without its debug info (about a third of the release build's size).
objcopy --strip-debug "$binary" "$pkg/usr/bin/confidump"
chmod 0755 "$pkg/usr/bin/confidump"
exe="$pkg/usr/bin/confidump"

# Man pages, one per command (confidump.1, confidump-dump.1, confidump-lab-start.1, …).
# Dated by SOURCE_DATE_EPOCH when set (reproducible builds), else today.
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%F)
"$exe" generate man --date "$date" "$work/man" >/dev/null
for page in "$work"/man/*.1; do
    gzip -9 -n -c "$page" >"$pkg/usr/share/man/man1/$(basename "$page").gz"
done
"$exe" generate completions bash >"$pkg/usr/share/bash-completion/completions/confidump"
"$exe" generate completions zsh >"$pkg/usr/share/zsh/vendor-completions/_confidump"
"$exe" generate completions fish >"$pkg/usr/share/fish/vendor_completions.d/confidump.fish"

# The one command an installed confidump names when it has no guest kernel
# (confidump::host::qemu::INSTALLED_FETCH_KERNEL_SCRIPT).
install -m 0755 "$root/scripts/fetch-guest-kernel.sh" "$pkg/usr/share/confidump/fetch-guest-kernel.sh"

install -m 0644 "$root/README.md" "$pkg/usr/share/doc/confidump/README.md"
for doc in "$root"/docs/*.md; do
    install -m 0644 "$doc" "$pkg/usr/share/doc/confidump/$(basename "$doc")"
done
license=$(sed -n 's/^license = "\(.*\)"$/\1/p' "$root/Cargo.toml")
cat >"$pkg/usr/share/doc/confidump/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: confidump

Files: *
Copyright: the confidump authors
License: ${license:-see the source}
EOF

find "$pkg/usr" -type f -exec chmod go-w {} +
installed_kib=$(du -sk --apparent-size "$pkg/usr" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: confidump
Version: $version
Architecture: $arch
Maintainer: ${CONFIDUMP_MAINTAINER:-confidump maintainers <root@localhost>}
Installed-Size: $installed_kib
Section: utils
Priority: optional
Recommends: gdb, qemu-system-x86, runc, postgresql
Suggests: crun, criu, elfutils, man-db
Description: shows what a memory dump of a running program gives away
 A victim holds a fresh secret in a chosen protection (ordinary memory,
 MADV_DONTDUMP, memfd_secret, an SGX enclave, a VM, a container, a database
 row); root's real tools (ptrace, /proc/PID/mem, process_vm_readv, gdb's gcore,
 the kernel's core dump, QEMU's dump-guest-memory) dump or read it, and
 confidump shows where the plaintext sits or which read was refused.
 .
 One statically linked binary. The demo's VM rows need a guest kernel:
 /usr/share/confidump/fetch-guest-kernel.sh fetches one (run it as the user
 who runs the demo). gdb, QEMU, runc and PostgreSQL each enable their rows.
EOF
(cd "$pkg" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"

mkdir -p "$out"
deb="$(cd "$out" && pwd)/$name.deb"
dpkg-deb --build --root-owner-group "$pkg" "$deb" >&2
echo "$deb"
