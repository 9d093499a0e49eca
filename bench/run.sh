#!/bin/sh
# make bench: library size and relocations, then pve-mock with a large inventory: calls per
# second, decode speed, fetch + decode against a plain libcurl + cJSON loop (gzip and plain), and
# a large listing element by element; the Python binding next to proxmoxer; uploads; a soak run.
# Reports figures; never fails on them.
set -u
B=${1:-build}
PY=${2:-/usr/bin/python3}
SO=$B/lib/libproxmox.so.1
stripped=$(mktemp)
strip -o "$stripped" "$B/lib/libproxmox.so.1.0.0"
echo "libproxmox.so: $(wc -c <"$stripped") bytes stripped ($(wc -c <"$B/lib/libproxmox.so.1.0.0") with debug info), $(readelf -rW "$B/lib/libproxmox.so.1.0.0" | grep -c ' R_') relocations"
rm -f "$stripped"
(
    MOCK_ARGS="--vms 8000" . tools/mock-start.sh
    echo "pve-mock at $(field url) ($(nproc) cores, $(uname -m))"
    "$B/bin/bench" main "$(field url)" "$(field fingerprint)" "$(field token)" "$SO"
    echo
    echo "W2: GET /cluster/resources, 40 calls, 4 in flight: fetch + decode (each in its own process)"
    "$B/bin/bench" header
    "$B/bin/bench" floor "$(field url)" "$(field token)"
    # the typed call three times: its peak depends on whether the four decodes run in step
    for zip in gzip plain; do
        for mode in curl typed typed typed; do
            "$B/bin/bench" w2 "$mode" "$zip" "$(field url)" "$(field fingerprint)" "$(field token)"
        done
    done
)
(
    MOCK_ARGS="--vms 200000 --quiet" . tools/mock-start.sh
    echo
    echo "A listing of about 50 MB (200,000 guests), element by element, PMX_CALL_NO_BODY:"
    "$B/bin/bench" items "$(field url)" "$(field fingerprint)" "$(field token)"
)

# Python: the binding (libproxmox.Client, libproxmox.aio.Client) next to proxmoxer, against the
# same kind of mock, TLS verified for both (the mock's CA).
echo
(
    ca=$(mktemp)
    MOCK_ARGS="--ca-out $ca" . tools/mock-start.sh
    trap 'kill $mock_pid 2>/dev/null; rm -f "$mock_out" "$ca"' EXIT INT TERM
    if command -v "$PY" >/dev/null 2>&1; then
        LIBPROXMOX_LIBRARY="$(pwd)/$B/lib/libproxmox.so.1" "$PY" bench/bench_python.py \
            "$(field url)" "$(field fingerprint)" "$(field token)" "$ca" "${BENCH_SECONDS:-3}"
    else
        echo "(no $PY: the Python figures are skipped)"
    fi
)

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
