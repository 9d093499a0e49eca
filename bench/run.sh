#!/bin/sh
# make bench: start pve-mock with a large inventory, run the benchmark, stop pve-mock.
set -u
B=${1:-build}
MOCK_ARGS="--vms 8000" . tools/mock-start.sh
echo "libproxmox benchmark against pve-mock at $(field url) ($(nproc) cores, $(uname -m))"
"$B/bin/bench" "$(field url)" "$(field fingerprint)" "$(field token)"
