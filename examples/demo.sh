#!/bin/sh
# make demo: start pve-mock on a free port; pmx logs in, lists nodes and VMs; an example program
# creates a VM whose net0 comes from the typed property-string struct; pmx starts it with --wait
# and shows its status; pve-mock is stopped.
set -u
B=${1:-build}
MOCK_ARGS="--task-ms 1500" . tools/mock-start.sh
export PROXMOX_VE_ENDPOINT="$(field url)" PROXMOX_VE_USERNAME="$(field user)" \
       PROXMOX_VE_PASSWORD="$(field password)" PROXMOX_VE_FINGERPRINT="$(field fingerprint)"
unset PROXMOX_VE_API_TOKEN PROXMOX_VE_INSECURE
step() { printf '\n$ %s\n' "$*"; "$@" || { echo "demo: '$*' failed" >&2; exit 1; }; }
echo "pve-mock at $PROXMOX_VE_ENDPOINT (user $PROXMOX_VE_USERNAME, pinned fingerprint)"
step "$B/bin/pmx" get /version
step "$B/bin/pmx" get /nodes
step "$B/bin/pmx" get /nodes/pve1/qemu
step "$B/bin/create_vm" pve1 300 demo-vm
step "$B/bin/pmx" create /nodes/pve1/qemu/300/status/start --wait
step "$B/bin/pmx" get /nodes/pve1/qemu/300/status/current
step "$B/bin/pmx" get /nodes/pve1/qemu/300/config
echo
echo "demo: done"
