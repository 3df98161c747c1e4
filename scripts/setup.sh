#!/usr/bin/env bash
# Installs what confidump's demo and tests need on a fresh Debian/Ubuntu machine.
# Idempotent: packages already present are not reinstalled. Needs root (apt-get).
#
#   scripts/setup.sh          the demo, the tests, kubernetes-validate for deploy/'s manifests
#   scripts/setup.sh --cvm    also QEMU >= 9.1 and OVMF (Debian 12: from bookworm-backports)
set -euo pipefail

cvm=0
for arg in "$@"; do
    case "$arg" in
        --cvm) cvm=1 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "setup: unknown option $arg (known: --cvm)" >&2; exit 2 ;;
    esac
done

need=()
command -v gdb   >/dev/null 2>&1 || need+=(gdb)        # gcore: the side-by-side attacker
command -v gcc   >/dev/null 2>&1 || need+=(gcc libc6-dev) # tests build small C victims
command -v eu-stack >/dev/null 2>&1 || need+=(elfutils)   # a second reader of our cores
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86) # the VM context
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)       # unpacks the guest kernel; builds the .deb
command -v objcopy >/dev/null 2>&1 || need+=(binutils)    # scripts/package.sh strips the binary
command -v man   >/dev/null 2>&1 || need+=(man-db)     # tests/package.rs looks up the installed page
command -v chromium >/dev/null 2>&1 || need+=(chromium)   # renders the HTML report in tests
command -v tmux  >/dev/null 2>&1 || need+=(tmux)       # tests read the demo's screens at 80x24 and 120x40
PATH="$PATH:/usr/sbin:/sbin" command -v runc >/dev/null 2>&1 || need+=(runc)  # container context (OCI)
command -v crun  >/dev/null 2>&1 || need+=(crun)       # container context (OCI, in C)
PATH="$PATH:/usr/sbin:/sbin" command -v criu >/dev/null 2>&1 || need+=(criu)  # checkpoint path (reports why not)
# The service context's database server (initdb, postgres and pgcrypto; Debian keeps them in
# /usr/lib/postgresql/*/bin). apt may also create and start a system cluster: confidump never
# uses it, it starts its own private instance.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v python3 >/dev/null 2>&1 || need+=(python3)   # tests parse the JUnit XML; kubernetes-validate's venv
command -v setpriv >/dev/null 2>&1 || need+=(util-linux) # tests drop CAP_SYS_PTRACE from root
command -v rg >/dev/null 2>&1 || need+=(ripgrep)        # the scan benchmark's peer (scripts/bench.sh)
[[ -x /usr/bin/time ]] || need+=(time)                    # peak RSS in scripts/bench.sh
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

# kubernetes-validate (PyPI) checks deploy/'s manifests offline against Kubernetes' own schemas
# (tests/deploy.rs). It goes into a private venv: Debian's python refuses `pip install` into the
# system (PEP 668). tests/deploy.rs looks on PATH, then in this venv.
venv="${XDG_CACHE_HOME:-$HOME/.cache}/confidump/venv"
if ! command -v kubernetes-validate >/dev/null 2>&1 && [[ ! -x $venv/bin/kubernetes-validate ]]; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        [[ $(id -u) -eq 0 ]] || { echo "setup: need root to install python3-venv (run: sudo $0)" >&2; exit 2; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
    fi
    echo "setup: installing kubernetes-validate into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q kubernetes-validate
fi

# --cvm: QEMU >= 9.1 knows `-object sev-snp-guest`, and tests/cvm_qemu.rs has it parse the
# SEV-SNP command line we build. Debian 12 ships QEMU 7.2; its bookworm-backports suite carries
# 10.0. This replaces the distribution's QEMU; the normal VM rows keep working (tests/vm.rs).
if ((cvm)); then
    have=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' || true)
    read -r major minor <<<"${have:-0 0}"
    if ((major > 9 || (major == 9 && minor >= 1))) && [[ -e /usr/share/ovmf/OVMF.fd || -e /usr/share/OVMF/OVMF.fd ]]; then
        echo "setup: QEMU $major.$minor and OVMF are already installed" >&2
    else
        [[ $(id -u) -eq 0 ]] || { echo "setup: --cvm needs root (run: sudo $0 --cvm)" >&2; exit 2; }
        # shellcheck disable=SC1091
        . /etc/os-release
        if [[ ${ID:-} != debian || ${VERSION_CODENAME:-} != bookworm ]]; then
            echo "setup: --cvm knows a source of QEMU >= 9.1 only on Debian 12 (bookworm-backports);" \
                 "on ${PRETTY_NAME:-this system} install QEMU >= 9.1 and OVMF by hand" >&2
            exit 2
        fi
        if ! grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            echo "setup: adding the bookworm-backports apt source" >&2
            cat >/etc/apt/sources.list.d/bookworm-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 ovmf
        echo "setup: $(qemu-system-x86_64 --version | head -n1)" >&2
    fi
fi
echo "setup: ready (gdb, gcc, elfutils, qemu-system-x86, guest kernel, chromium, tmux, runc, crun, criu, postgresql, python3, util-linux, binutils, man-db, cargo, kubernetes-validate$( ((cvm)) && echo ', QEMU >= 9.1 + OVMF'))" >&2
