#!/bin/sh
# make bench: start pve-mock with a large inventory, run the benchmark, stop pve-mock.
set -u
B=${1:-build}
out=$(mktemp)
"$B/bin/pve-mock" --listen 127.0.0.1:0 --vms 8000 >"$out" &
mock=$!
trap 'kill $mock 2>/dev/null; rm -f "$out"' EXIT INT TERM
i=0
while [ ! -s "$out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
line=$(head -n 1 "$out")
field() { printf '%s' "$line" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
[ -n "$line" ] || { echo "bench: pve-mock did not start" >&2; exit 1; }
echo "libproxmox benchmark against pve-mock at $(field url) ($(nproc) cores, $(uname -m))"
"$B/bin/bench" "$(field url)" "$(field fingerprint)" "$(field token)"
