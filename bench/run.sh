#!/bin/sh
# make bench: start pve-mock with a large inventory, run the benchmark, stop pve-mock; then the
# Python binding next to proxmoxer against the same pve-mock.
set -u
B=${1:-build}
PY=${2:-/usr/bin/python3}
ca=$(mktemp)
MOCK_ARGS="--vms 8000 --ca-out $ca" . tools/mock-start.sh
trap 'kill $mock_pid 2>/dev/null; rm -f "$mock_out" "$ca"' EXIT INT TERM
echo "libproxmox benchmark against pve-mock at $(field url) ($(nproc) cores, $(uname -m))"
"$B/bin/bench" "$(field url)" "$(field fingerprint)" "$(field token)"
if command -v "$PY" >/dev/null 2>&1; then
    LIBPROXMOX_LIBRARY="$(pwd)/$B/lib/libproxmox.so.1" "$PY" bench/bench_python.py \
        "$(field url)" "$(field fingerprint)" "$(field token)" "$ca" "${BENCH_SECONDS:-3}"
else
    echo "(no $PY: the Python figures are skipped)"
fi
