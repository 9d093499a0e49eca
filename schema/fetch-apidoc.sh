#!/bin/sh
# Fetch the API schema from a PVE node and unwrap it to plain JSON.
#   schema/fetch-apidoc.sh HOST[:PORT] [OUT]     (OUT defaults to stdout)
# Credentials (one of):
#   PROXMOX_VE_API_TOKEN=USER@REALM!TOKENID=SECRET
#   PROXMOX_VE_USERNAME=root@pam PROXMOX_VE_PASSWORD=...
# TLS: PROXMOX_VE_INSECURE=1 skips verification; PVE_CA_FILE=path uses that CA.
# Then: sha256sum OUT, and run pmx-gen --schema OUT --update-pin (set pve_version in
# schema/pin.json). pmx-gen also accepts the wrapped apidoc.js directly.
set -eu
HOST=${1:?usage: fetch-apidoc.sh HOST[:PORT] [OUT]}
OUT=${2:-}
case "$HOST" in *:*) ;; *) HOST="$HOST:8006" ;; esac
BASE="https://$HOST"
set -- -fsS
[ "${PROXMOX_VE_INSECURE:-0}" = 1 ] && set -- "$@" -k
[ -n "${PVE_CA_FILE:-}" ] && set -- "$@" --cacert "$PVE_CA_FILE"
TMP=$(mktemp) || exit 1
trap 'rm -f "$TMP"' EXIT INT TERM
if [ -n "${PROXMOX_VE_API_TOKEN:-}" ]; then
    curl "$@" -H "Authorization: PVEAPIToken=$PROXMOX_VE_API_TOKEN" \
        "$BASE/pve-docs/api-viewer/apidoc.js" -o "$TMP"
elif [ -n "${PROXMOX_VE_USERNAME:-}" ] && [ -n "${PROXMOX_VE_PASSWORD:-}" ]; then
    TICKET=$(curl "$@" --data-urlencode "username=$PROXMOX_VE_USERNAME" \
        --data-urlencode "password=$PROXMOX_VE_PASSWORD" "$BASE/api2/json/access/ticket" |
        sed -n 's/.*"ticket":"\([^"]*\)".*/\1/p')
    [ -n "$TICKET" ] || { echo "fetch-apidoc: login failed" >&2; exit 1; }
    curl "$@" -b "PVEAuthCookie=$TICKET" "$BASE/pve-docs/api-viewer/apidoc.js" -o "$TMP"
else
    # apidoc.js is a static file that PVE serves without login on most setups.
    curl "$@" "$BASE/pve-docs/api-viewer/apidoc.js" -o "$TMP"
fi
# Unwrap "const apiSchema = [ ... ];": from the first '[' after apiSchema to its matching ']'
# (strings and escapes respected; the viewer's JavaScript follows the array).
unwrap() {
    awk 'BEGIN { RS = "\001" } {
        s = index($0, "apiSchema"); if (s == 0) { print "fetch-apidoc: no apiSchema" > "/dev/stderr"; exit 1 }
        rest = substr($0, s); b = index(rest, "["); n = length(rest)
        depth = 0; ins = 0; esc = 0
        for (i = b; i <= n; i++) {
            c = substr(rest, i, 1)
            if (ins) { if (esc) esc = 0; else if (c == "\\") esc = 1; else if (c == "\"") ins = 0; continue }
            if (c == "\"") ins = 1
            else if (c == "[" || c == "{") depth++
            else if (c == "]" || c == "}") { depth--; if (depth == 0) { printf "%s\n", substr(rest, b, i - b + 1); exit 0 } }
        }
        print "fetch-apidoc: truncated apidoc.js" > "/dev/stderr"; exit 1 }' "$TMP"
}
if [ -n "$OUT" ]; then unwrap > "$OUT"; else unwrap; fi
