#!/bin/sh
# make demo: start pve-mock on a free port, run the demo against it, stop pve-mock.
set -u
B=${1:-build}
out=$(mktemp)
"$B/bin/pve-mock" --listen 127.0.0.1:0 --task-ms 1500 >"$out" &
mock=$!
trap 'kill $mock 2>/dev/null; rm -f "$out"' EXIT INT TERM
i=0
while [ ! -s "$out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
line=$(head -n 1 "$out")
field() { printf '%s' "$line" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
[ -n "$line" ] || { echo "demo: pve-mock did not start" >&2; exit 1; }
echo "pve-mock   listening at $(field url)"
PROXMOX_VE_ENDPOINT=$(field url) PROXMOX_VE_USERNAME=$(field user) \
PROXMOX_VE_PASSWORD=$(field password) PROXMOX_VE_FINGERPRINT=$(field fingerprint) \
    "$B/bin/demo" 101
