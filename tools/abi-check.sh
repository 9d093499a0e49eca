#!/bin/sh
# Compare the symbols libproxmox.so exports with abi/libproxmox.symbols, which only ever grows:
# a listed symbol that disappeared breaks programs linked against an older build; an exported
# symbol missing from the list was added without being recorded ("make abi-update" appends it).
# Also checks that nothing outside pmx_* / pve_* is exported.
set -eu
so=$1
list=abi/libproxmox.symbols
update=${2:-}
now=$(mktemp)
trap 'rm -f "$now"' EXIT
nm -D --defined-only "$so" | awk '$2 ~ /[TDBRVW]/ {print $3}' | sed 's/@.*//' | sort -u >"$now"
bad=$(grep -Ev '^(pmx_|pve_)' "$now" || true)
if [ -n "$bad" ]; then
    echo "abi: exported symbols outside pmx_*/pve_*:"; echo "$bad"; exit 1
fi
if [ "$update" = "--update" ]; then
    sort -u "$list" | comm -13 - "$now" >>"$list"
    echo "abi: $(wc -l <"$list") symbols recorded"
    exit 0
fi
removed=$(sort -u "$list" | comm -23 - "$now")
added=$(sort -u "$list" | comm -13 - "$now")
if [ -n "$removed" ]; then
    echo "abi: symbols removed (they must stay):"; echo "$removed"; exit 1
fi
if [ -n "$added" ]; then
    echo "abi: new symbols not recorded in $list (run 'make abi-update'):"; echo "$added"; exit 1
fi
echo "abi: $(wc -l <"$now") exported symbols match $list"
