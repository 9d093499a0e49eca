# Sourced by examples/demo.sh and bench/run.sh: start pve-mock on a free loopback port with the
# extra arguments in MOCK_ARGS, wait for its ready line, stop it on exit. Afterwards `field NAME` prints
# a string member of the ready line ("url", "token", "fingerprint", "user", "password").
# Needs B (the build directory) set.
mock_out=$(mktemp)
# shellcheck disable=SC2086
"$B/bin/pve-mock" --listen 127.0.0.1:0 ${MOCK_ARGS:-} >"$mock_out" &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null; rm -f "$mock_out"' EXIT INT TERM
i=0
while [ ! -s "$mock_out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mock_line=$(head -n 1 "$mock_out")
field() { printf '%s' "$mock_line" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
[ -n "$mock_line" ] || { echo "pve-mock did not start" >&2; exit 1; }
