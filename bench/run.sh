#!/bin/sh
# make bench: start pve-mock with a large inventory, run the benchmark, then the Python binding
# next to proxmoxer against the same pve-mock, stop it; then the soak run on a mock of its own.
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

# Upload: a sparse 1 GiB file, libproxmox next to curl -F, against a mock whose tasks end at once.
echo
(
    MOCK_ARGS="--task-ms 0" . tools/mock-start.sh
    f=$(mktemp /tmp/pmx-bench-XXXXXX.iso)
    truncate -s "${UPLOAD_BYTES:-1073741824}" "$f"
    "$B/bin/upload-bench" "$(field url)" "$(field fingerprint)" "$(field token)" "$f"
    rm -f "$f"
)

# Soak: SOAK_IN_FLIGHT calls in flight for SOAK_SECONDS against a mock whose tickets live 30 s,
# with faults switched on and off (a separate mock, so the figures above are not disturbed).
echo
(
    MOCK_ARGS="--ticket-lifetime 30 --auth-delay-ms 50" . tools/mock-start.sh
    "$B/bin/soak" "$(field url)" "$(field fingerprint)" "$(field user)" "$(field password)" \
        "${SOAK_SECONDS:-600}" "${SOAK_IN_FLIGHT:-1000}" 30
)
