#!/bin/sh
# ABI checks of build/lib/libproxmox.so (make abi-check):
# 1. exported symbols against abi/libproxmox.symbols, which only ever grows: a listed symbol that
#    disappeared breaks programs linked against an older build; an exported symbol missing from
#    the list was added without being recorded ("make abi-update" appends it); nothing outside
#    pmx_* / pve_* is exported;
# 2. generated struct layouts: schema/layout.txt must extend abi/layout.txt (the layouts of the
#    last release): every recorded member of every struct still there, in the same place, with
#    the same type;
# 3. type layouts of the whole public ABI with abidiff (Debian abigail-tools) against the dump
#    abi/libproxmox.abi when one is committed: incompatible changes fail.
# Usage: tools/abi-check.sh SO [--update]   (--update appends new symbols and rewrites the
# baseline layout and dump from this build: for the release manager).
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
    cp schema/layout.txt abi/layout.txt
    echo "abi: abi/layout.txt is the new layout baseline"
    if command -v abidw >/dev/null 2>&1; then
        abidw --no-corpus-path --headers-dir include/proxmox --out-file abi/libproxmox.abi "$so"
        echo "abi: abi/libproxmox.abi dumped"
    else
        echo "abi: abidw (abigail-tools) not installed: abi/libproxmox.abi not written" >&2
        exit 1
    fi
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

# 2. layouts: each baseline struct's members are a prefix, in order, of the current ones.
if [ -f abi/layout.txt ]; then
    if ! awk '
        FNR == 1 { file++ }
        /^#/ || NF == 0 { next }
        file == 1 { base[$1, ++nb[$1]] = $2 " " $3; next }
        { cur[$1, ++nc[$1]] = $2 " " $3 }
        END {
            bad = 0
            for (k in base) {
                split(k, a, SUBSEP)
                if (cur[a[1], a[2]] != base[k]) {
                    printf "abi: %s member %d was \"%s\", now \"%s\"\n", a[1], a[2], base[k], cur[a[1], a[2]]
                    bad = 1
                }
            }
            exit bad
        }' abi/layout.txt schema/layout.txt; then
        echo "abi: a released struct member moved, changed type or disappeared (schema/layout.txt vs abi/layout.txt)"
        exit 1
    fi
    echo "abi: schema/layout.txt keeps every member of abi/layout.txt in place"
fi

# 3. abidiff against the committed dump.
if [ -f abi/libproxmox.abi ]; then
    if ! command -v abidiff >/dev/null 2>&1; then
        echo "abi: abi/libproxmox.abi is committed but abidiff is missing (apt-get install abigail-tools)" >&2
        exit 1
    fi
    rc=0
    abidiff --no-added-syms --headers-dir2 include/proxmox abi/libproxmox.abi "$so" >"$now" 2>&1 || rc=$?
    # abidiff exit status bits: 1 error, 2 usage, 4 ABI change, 8 incompatible ABI change
    if [ $((rc & 3)) -ne 0 ]; then
        cat "$now"; echo "abi: abidiff failed (status $rc)"; exit 1
    fi
    if [ $((rc & 8)) -ne 0 ]; then
        cat "$now"; echo "abi: abidiff found incompatible changes against abi/libproxmox.abi"; exit 1
    fi
    # abidiff calls a moved or retyped struct member a (compatible) "ABI change"; for us only
    # appended members and grown sizes are compatible.
    if [ $((rc & 4)) -ne 0 ] && grep -Eq 'offset changed|deletion|removed|type of .* changed|name of .* changed|[0-9]+ data member change' "$now"; then
        cat "$now"; echo "abi: abidiff: struct members moved, changed or disappeared against abi/libproxmox.abi"; exit 1
    fi
    if [ $((rc & 4)) -ne 0 ]; then
        echo "abi: abidiff: compatible changes against abi/libproxmox.abi (additions):"
        head -n 40 "$now"
    else
        echo "abi: abidiff: type layouts match abi/libproxmox.abi"
    fi
fi
