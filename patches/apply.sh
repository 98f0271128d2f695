#!/usr/bin/env bash
# Adds mod_audiostream to a lighttpd source tree as one of its own modules:
# copies mod_audiostream/*.c *.h into LIGHTTPD_TREE/src/mod_audiostream/,
# lists them there for automake (sources.am) and meson (meson.build), and
# applies the patch series for the tree's lighttpd version (patches/VERSION/
# series, with patch -p1), which adds --with-audiostream to configure.ac and
# src/Makefile.am and -Dwith_audiostream to meson_options.txt and
# src/meson.build.
#   patches/apply.sh [--series VERSION] LIGHTTPD_TREE
# --series: use another version's series (a tree this script does not know).
# Nothing is changed unless every patch applies (with no fuzz, as dpkg-source
# applies quilt patches). Run again on a tree it patched, it only refreshes
# the copied sources. Afterwards:
#   autoreconf -fi && ./configure --with-audiostream ... && make
#   meson setup -Dwith_audiostream=true build && ninja -C build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sources=$(cd "$here/../mod_audiostream" && pwd)

die() { echo "apply.sh: $*" >&2; exit 1; }
supported() { (cd "$here" && ls -d [0-9]*/ 2>/dev/null | tr -d / | tr '\n' ' '); }

series_version=
while [ $# -gt 0 ]; do
    case $1 in
        --series) [ $# -ge 2 ] || die "--series needs a VERSION"; series_version=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || die "usage: patches/apply.sh [--series VERSION] LIGHTTPD_TREE"
tree=$1
[ -f "$tree/src/plugin.h" ] && [ -f "$tree/configure.ac" ] \
    || die "'$tree' is not a lighttpd source tree (no src/plugin.h or configure.ac)"
tree=$(cd "$tree" && pwd)

# lighttpd's version, as its configure.ac declares it: AC_INIT([lighttpd],[1.4.79],...)
version=$(sed -n 's/^AC_INIT(\[lighttpd\], *\[\([0-9.]*\)\].*/\1/p' "$tree/configure.ac")
[ -n "$version" ] || die "cannot read lighttpd's version from AC_INIT in $tree/configure.ac"
series_version=${series_version:-$version}
dir=$here/$series_version
[ -f "$dir/series" ] || die "no patch series for lighttpd $series_version (have: $(supported));" \
    "--series VERSION tries another version's series"
mapfile -t patches < <(grep -v '^[[:space:]]*\(#\|$\)' "$dir/series")
[ ${#patches[@]} -gt 0 ] || die "$dir/series lists no patches"

# every patch of the series, forward (-N) or already applied (-R, last patch
# first), tried on a copy of the files it touches: the dry run of patch N
# must see patches 1..N-1. Prints the patch that does not apply.
series_applies() { # -N | -R
    local scratch p rc=0 list=("${patches[@]}") i
    scratch=$(mktemp -d)
    for p in "${patches[@]}"; do sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$dir/$p"; done | sort -u |
        while read -r f; do
            mkdir -p "$scratch/t/$(dirname "$f")"; [ ! -f "$tree/$f" ] || cp "$tree/$f" "$scratch/t/$f"
        done
    if [ "$1" = -R ]; then
        list=(); for ((i = ${#patches[@]} - 1; i >= 0; i--)); do list+=("${patches[i]}"); done
    fi
    for p in "${list[@]}"; do
        (cd "$scratch/t" && patch -p1 -s -f -F0 --no-backup-if-mismatch "$1" < "$dir/$p") > "$scratch/log" 2>&1 \
            || { cat "$scratch/log" >&2; echo "$p"; rc=1; break; }
    done
    rm -rf "$scratch"
    return $rc
}

already=0
if failed=$(series_applies -N 2>&1); then
    :
elif series_applies -R > /dev/null 2>&1; then
    already=1
else
    echo "$failed" | sed '$d' >&2
    die "patch $(echo "$failed" | tail -1) of the lighttpd $series_version series does not apply to" \
        "$tree (its output is above); nothing was changed"
fi

# the sources, listed for both build systems
dest=$tree/src/mod_audiostream
mkdir -p "$dest"
rm -f "$dest"/*.c "$dest"/*.h
cp "$sources"/*.c "$sources"/*.h "$dest/"
files=$(cd "$dest" && ls -- *.c *.h | LC_ALL=C sort)
{
    echo "# Written by mod_audiostream's patches/apply.sh: the module's sources."
    echo "audiostream_sources = \\"
    echo "$files" | sed 's|^|\tmod_audiostream/|; $!s|$| \\|'
} > "$dest/sources.am"
{
    echo "# Written by mod_audiostream's patches/apply.sh: the module's sources."
    echo "audiostream_src = files("
    echo "$files" | grep '\.c$' | sed "s|.*|\t'&',|"
    echo ")"
} > "$dest/meson.build"

if [ "$already" = 1 ]; then
    echo "apply.sh: lighttpd $version in $tree already has the series; refreshed src/mod_audiostream/"
    exit 0
fi
for p in "${patches[@]}"; do
    (cd "$tree" && patch -p1 -s -f -F0 --no-backup-if-mismatch < "$dir/$p") || die "patch $p failed"
done
echo "apply.sh: added mod_audiostream to lighttpd $version in $tree ($series_version series: ${patches[*]})"
echo "apply.sh: next: autoreconf -fi && ./configure --with-audiostream, or meson setup -Dwith_audiostream=true"
