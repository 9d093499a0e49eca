#!/bin/sh
# make docs: the HTML reference from the public headers' comments, in BUILD/docs/html.
# Fails on any Doxygen warning: an undocumented public function, type, member or macro, or a
# malformed comment.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-build}
cd "$top"
mkdir -p "$B/docs"
log="$B/docs/warnings.log"
(cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $B/docs"; echo "WARN_LOGFILE = $log") | doxygen - >/dev/null
if [ -s "$log" ]; then
    echo "docs: $(wc -l <"$log") Doxygen warnings (every public symbol needs a doc comment):" >&2
    cat "$log" >&2
    exit 1
fi
echo "docs: $B/docs/html/index.html ($(ls "$B/docs/html" | wc -l) files), no warnings"
