#!/bin/sh
# Smoke test for pve-mock: start it on a free port, read the ready line, check
# a handful of answers with curl. Usage: tests/mock_smoke.sh [path/to/pve-mock]
# Exits non-zero on the first failure.
set -u
MOCK=${1:-build/bin/pve-mock}
TMP=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

"$MOCK" --nodes 2 --auth-delay-ms 300 --task-ms 400 --tfa --ca-out "$TMP/ca.pem" \
    --upload-dir "$TMP" >"$TMP/ready" 2>"$TMP/stderr" &
PID=$!
i=0
while [ ! -s "$TMP/ready" ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "no ready line (stderr: $(cat "$TMP/stderr"))"
    sleep 0.05
done
READY=$(head -n 1 "$TMP/ready")
field() { printf '%s' "$READY" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
URL=$(field url)
FP=$(field fingerprint)
TOKEN=$(field token)
USER=$(field user)
PASS=$(field password)
CTL=$(field control_url)
[ -n "$URL" ] && [ -n "$TOKEN" ] && [ -n "$PASS" ] && [ -n "$CTL" ] || fail "bad ready line: $READY"
URL2=$(printf '%s' "$READY" | sed -n 's/.*"urls":\["[^"]*","\([^"]*\)"\].*/\1/p')
[ -n "$URL2" ] || fail "no second listener in $READY"
printf '%s' "$FP" | grep -Eq '^([0-9A-F]{2}:){31}[0-9A-F]{2}$' || fail "fingerprint $FP"
ok "ready line"
A="$URL/api2/json"
PORT=${URL##*:}

# status line + body of one request: $1 = expected status, rest = curl args
expect() {
    want=$1
    shift
    got=$(curl -sk -o "$TMP/body" -w '%{http_code}' "$@")
    [ "$got" = "$want" ] || fail "curl $* -> $got, want $want: $(cat "$TMP/body")"
}
body_has() { grep -q -- "$1" "$TMP/body" || fail "body lacks $1: $(cat "$TMP/body")"; }

# CA file + hostname check (no -k)
curl -s --cacert "$TMP/ca.pem" -o /dev/null "https://localhost:$PORT/api2/json/access/domains" ||
    fail "CA-file verification"
ok "CA file verifies localhost"

expect 401 "$A/version"
ok "no ticket -> 401"

expect 200 -H "Authorization: PVEAPIToken=$TOKEN" "$A/version"
body_has '"version":"9.0.3"'
ok "token auth"

expect 401 -d "username=$USER" -d "password=wrong" "$A/access/ticket"
body_has '"message":"authentication failure\\n"'
ok "bad password -> 401 with JSON"

expect 200 --data-urlencode "username=$USER" --data-urlencode "password=$PASS" "$A/access/ticket"
TICKET=$(sed -n 's/.*"ticket":"\([^"]*\)".*/\1/p' "$TMP/body")
CSRF=$(sed -n 's/.*"CSRFPreventionToken":"\([^"]*\)".*/\1/p' "$TMP/body")
[ -n "$TICKET" ] && [ -n "$CSRF" ] || fail "login: $(cat "$TMP/body")"
ok "password login"

expect 200 --cookie "PVEAuthCookie=$TICKET" "$A/nodes"
body_has '"node":"pve1"'
expect 401 --cookie "PVEAuthCookie=$TICKET" -X POST "$A/nodes/pve1/qemu/101/status/start"
expect 200 --cookie "PVEAuthCookie=$TICKET" -H "CSRFPreventionToken: $CSRF" -X POST \
    "$A/nodes/pve1/qemu/101/status/start"
UPID=$(sed -n 's/.*"data":"\(UPID:[^"]*\)".*/\1/p' "$TMP/body")
printf '%s' "$UPID" | grep -Eq '^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:101:root@pam:$' ||
    fail "UPID $UPID"
ok "ticket + CSRF start -> UPID"

sleep 1
expect 200 --cookie "PVEAuthCookie=$TICKET" "$A/nodes/pve1/tasks/$UPID/status"
body_has '"exitstatus":"OK"'
expect 200 --cookie "PVEAuthCookie=$TICKET" "$A/nodes/pve1/tasks/$UPID/log?limit=0"
body_has 'TASK OK'
expect 200 --cookie "PVEAuthCookie=$TICKET" "$A/nodes/pve1/qemu/101/status/current"
body_has '"status":"running"'
ok "task finished and VM running"

expect 400 -H "Authorization: PVEAPIToken=$TOKEN" -d vmid=abc "$A/nodes/pve1/qemu"
body_has '"errors":{"vmid"'
expect 500 -H "Authorization: PVEAPIToken=$TOKEN" -d vmid=100 "$A/nodes/pve1/qemu"
body_has 'VM 100 already exists'
expect 501 -H "Authorization: PVEAPIToken=$TOKEN" "$A/no/such/path"
body_has "Method 'GET /no/such/path' not implemented"
ok "error shapes"

curl -s -X POST "$CTL/_mock/reset" >/dev/null
curl -sk -H "Authorization: PVEAPIToken=$TOKEN" -o /dev/null -o /dev/null "$A/version" "$A/nodes"
curl -s "$CTL/_mock/stats" | grep -q '"connections":1,' || fail "keep-alive: $(curl -s "$CTL/_mock/stats")"
curl -s "$CTL/_mock/requests" | grep -q '"total":2,' || fail "request log: $(curl -s "$CTL/_mock/requests")"
ok "keep-alive reuse, request log"

# an upload as curl -F sends it, to the second node's own listener, checksum verified
head -c 300000 /dev/urandom >"$TMP/up.iso"
SUM=$(sha256sum "$TMP/up.iso" | cut -d' ' -f1)
expect 200 -H "Authorization: PVEAPIToken=$TOKEN" -H 'Expect:' -F content=iso \
    -F checksum-algorithm=sha256 -F checksum="$SUM" -F "filename=@$TMP/up.iso" \
    "$URL2/api2/json/nodes/pve2/storage/local/upload"
UPID=$(sed -n 's/.*"data":"\(UPID:[^"]*\)".*/\1/p' "$TMP/body")
sleep 1
expect 200 -H "Authorization: PVEAPIToken=$TOKEN" "$A/nodes/pve2/tasks/$UPID/status"
body_has '"exitstatus":"OK"'
expect 200 -H "Authorization: PVEAPIToken=$TOKEN" "$A/nodes/pve2/storage/local/content"
body_has '"volid":"local:iso/up.iso"'
expect 500 -H "Authorization: PVEAPIToken=$TOKEN" -H 'Expect:' -F content=iso -F "filename=@$TMP/up.iso" \
    "$A/nodes/pve2/storage/local/upload"
body_has 'unable to proxy file uploads'
ok "upload to the node's own listener"

# a stream without Content-Length, closed at the end
curl -s -X POST -d '{"download_size":1000000}' "$CTL/_mock/faults" >/dev/null
curl -sk -H "Authorization: PVEAPIToken=$TOKEN" -D "$TMP/hdr" -o "$TMP/dl" \
    "$A/nodes/pve1/storage/local/file-restore/download?volume=x&filepath=Lw==" || fail "download"
[ "$(wc -c <"$TMP/dl")" = 1000000 ] || fail "download size $(wc -c <"$TMP/dl")"
grep -qi '^content-length' "$TMP/hdr" && fail "download has a Content-Length"
ok "streamed download"

# a listener down and up again
curl -s -X POST -d '{"index":0,"action":"down"}' "$CTL/_mock/listener" >/dev/null
curl -sk -o /dev/null "$A/version" && fail "listener 0 still answers"
curl -s -X POST -d '{"index":0,"action":"up"}' "$CTL/_mock/listener" >/dev/null
expect 401 "$A/version"
ok "listener down and up"

curl -sk -H "Authorization: PVEAPIToken=$TOKEN" -H 'Accept-Encoding: gzip' -D "$TMP/hdr" \
    -o /dev/null "$A/cluster/resources"
grep -qi '^content-encoding: gzip' "$TMP/hdr" || echo "note - gzip unavailable (libz.so.1 missing?)"

curl -s -X POST -d '{"fail_5xx":1,"fail_status":503}' "$CTL/_mock/faults" >/dev/null
expect 503 -H "Authorization: PVEAPIToken=$TOKEN" "$A/version"
expect 200 -H "Authorization: PVEAPIToken=$TOKEN" "$A/version"
ok "fault injection"

kill "$PID"
wait "$PID"
rc=$?
PID=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
ok "clean exit"
echo "all pve-mock smoke checks passed"
