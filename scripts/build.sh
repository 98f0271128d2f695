#!/usr/bin/env bash
# Builds mod_audiostream and its test programs against the installed
# lighttpd's source (fetched and configured on first use), or against the
# tree given with --with-lighttpd-source=DIR (scripts/lighttpd-tree.sh).
#   scripts/build.sh [BUILD_DIR [configure arguments...]]
# e.g. scripts/build.sh build-asan CFLAGS="-g -O1 -fsanitize=address,undefined"
#      scripts/build.sh .work/build-1.4.85 --with-lighttpd-source=.work/trees/1.4.85/lighttpd-1.4.85
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}; shift || true
args=() lsrc=
for a in "$@"; do
    case $a in
        # a tree of the caller's, relative to where it was called from
        --with-lighttpd-source=*) lsrc=$(cd "${a#*=}" && pwd) ;;
        *) args+=("$a") ;;
    esac
done
[ -n "$lsrc" ] || lsrc=$(bash "$here/scripts/lighttpd-source.sh")

[ -x "$here/configure" ] && [ "$here/configure" -nt "$here/configure.ac" ] \
    || (cd "$here" && autoreconf -fi >/dev/null 2>&1) || (cd "$here" && autoreconf -fi)
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$here/configure" -nt config.status ]; then
    "$here/configure" -q --with-lighttpd-source="$lsrc" ${args[@]+"${args[@]}"}
fi
make -s -j"$(nproc)" >/dev/null
make -s -j"$(nproc)" check TESTS= >/dev/null   # test programs and the test capture device
make -s -j"$(nproc)" bench/loadgen >/dev/null   # the listener crowds of the integration tests
echo "$build"
