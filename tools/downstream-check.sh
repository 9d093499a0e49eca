#!/bin/sh
# make downstream-check: install into a staging directory, then use it as a downstream project
# would: build a program and an example with pkg-config and with CMake (find_package), run them,
# import the Python package, read the man pages; finally uninstall and check nothing is left.
#   sh tools/downstream-check.sh BUILD_DIR [PYTHON]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-build}
PY=${2:-/usr/bin/python3}
stage=$(mktemp -d /tmp/libproxmox-downstream.XXXXXX)
trap 'rm -rf "$stage"' EXIT INT TERM
prefix=/usr/local
root="$stage/root"
make -C "$top" -s --no-print-directory install B="$B" DESTDIR="$root" PREFIX=$prefix >/dev/null
lib="$root$prefix/lib"
export LD_LIBRARY_PATH="$lib"

echo "downstream: pkg-config"
flags=$(PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --cflags --libs libproxmox)
echo "  pkg-config --cflags --libs libproxmox: $flags"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$stage/version-pc" "$top/tests/downstream/version.c" $flags
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$stage/typed-pc" "$top/examples/typed.c" $flags
"$stage/version-pc"

echo "downstream: CMake find_package(libproxmox)"
cmake -S "$top/tests/downstream" -B "$stage/cmake" -DCMAKE_PREFIX_PATH="$root$prefix" \
    -DEXAMPLES_DIR="$top/examples" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$stage/cmake.log" 2>&1 ||
    { cat "$stage/cmake.log"; exit 1; }
grep -- "-- libproxmox" "$stage/cmake.log" | sed 's/^/  /'
cmake --build "$stage/cmake" -j2 >"$stage/build.log" 2>&1 || { cat "$stage/build.log"; exit 1; }
"$stage/cmake/version"
"$stage/cmake/version_static"
test -x "$stage/cmake/typed"
# the shared target really links the shared library
objdump -p "$stage/cmake/version" | grep -q 'NEEDED *libproxmox.so.1$'

echo "downstream: man pages"
for m in pmx pve-mock; do
    MANWIDTH=80 man -l "$root$prefix/share/man/man1/$m.1" 2>/dev/null | head -n 4 | tail -n 1 | sed 's/^ */  /'
done

pydir=$(make -C "$top" -s --no-print-directory -f "$top/Makefile" PREFIX=$prefix PYTHON="$PY" \
    print-pythondir 2>/dev/null || true)
if [ -n "$pydir" ] && [ -d "$root$pydir/libproxmox" ]; then
    echo "downstream: Python package in $pydir"
    (cd "$stage" && PYTHONPATH="$root$pydir" LIBPROXMOX_LIBRARY="$lib/libproxmox.so.1" "$PY" -c '
import importlib.metadata, libproxmox, libproxmox.aio
assert libproxmox.library_version() == libproxmox.__version__
assert importlib.metadata.version("libproxmox") == libproxmox.__version__
print("  import libproxmox: %s from %s" % (libproxmox.__version__, libproxmox.__file__))
')
fi

make -C "$top" -s --no-print-directory uninstall B="$B" DESTDIR="$root" PREFIX=$prefix >/dev/null
left=$(find "$root" -type f)
if [ -n "$left" ]; then
    echo "downstream: uninstall left files behind:" >&2
    echo "$left" >&2
    exit 1
fi
echo "downstream: ok (pkg-config, CMake, Python, man pages; uninstall leaves nothing)"
