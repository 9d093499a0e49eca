#!/bin/sh
# Install the Debian packages libproxmox needs, when missing. Runs as root, or through sudo when
# available; says in one line what to install otherwise.
#   sh tools/deps.sh [build|check|bench|docs]...   (no argument: build + check)
# build: compile the library and programs; check: tests (Check, libuv, pytest, a locale with a
# decimal comma built on the fly from Debian's locales sources); bench: the
# Python comparison (proxmoxer); docs: the HTML reference (Doxygen).
BUILD="gcc make pkg-config libcurl4-openssl-dev libcjson-dev libssl-dev libevent-dev zlib1g-dev"
CHECK="check libuv1-dev python3 python3-pytest python3-mypy cmake locales"
[ $# -eq 0 ] && set -- build check
PKGS=""
for group in "$@"; do
    case $group in
    build) PKGS="$PKGS $BUILD" ;;
    check) PKGS="$PKGS $BUILD $CHECK" ;;
    bench) PKGS="$PKGS $BUILD python3 python3-proxmoxer" ;;
    docs) PKGS="$PKGS doxygen" ;;
    *) echo "deps: unknown group '$group' (build, check, bench, docs)" >&2; exit 2 ;;
    esac
done
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; make sure these (or your system's equivalents) are installed:$PKGS" >&2
    exit 0
fi
missing=""
for p in $PKGS; do
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "deps: cannot install packages: not root and no password-less sudo." >&2
    echo "deps: run as root:  apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
APT="$SUDO apt-get -o DPkg::Lock::Timeout=300" # wait for another apt (boot-time updates) to end
if ! $APT install -y -q $missing >/tmp/libproxmox-deps.log 2>&1; then
    $APT update -q >>/tmp/libproxmox-deps.log 2>&1
    if ! $APT install -y -q $missing >>/tmp/libproxmox-deps.log 2>&1; then
        echo "deps: apt-get install failed; see /tmp/libproxmox-deps.log" >&2
        tail -n 20 /tmp/libproxmox-deps.log >&2
        exit 1
    fi
fi
echo "deps: installed:$missing"
