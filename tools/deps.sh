#!/bin/sh
# Install the Debian packages libproxmox needs to build, test and run pve-mock, when missing.
# Runs as root, or through sudo when available; says clearly what to do otherwise.
PKGS="gcc make pkg-config libcurl4-openssl-dev libcjson-dev libssl-dev check libevent-dev zlib1g-dev libcurl3-gnutls"
missing=""
for p in $PKGS; do
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
if ! $SUDO apt-get install -y -q $missing >/tmp/libproxmox-deps.log 2>&1; then
    $SUDO apt-get update -q >>/tmp/libproxmox-deps.log 2>&1
    if ! $SUDO apt-get install -y -q $missing >>/tmp/libproxmox-deps.log 2>&1; then
        echo "deps: apt-get install failed; see /tmp/libproxmox-deps.log" >&2
        tail -n 20 /tmp/libproxmox-deps.log >&2
        exit 1
    fi
fi
echo "deps: installed:$missing"
