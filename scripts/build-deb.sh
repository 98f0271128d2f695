#!/usr/bin/env bash
# Builds the Debian package lighttpd-mod-audiostream, as root on Debian:
# installs what building needs, fetches and configures the source of the
# installed lighttpd (scripts/lighttpd-source.sh), and runs
# dpkg-buildpackage on a copy of this tree in .work/deb/, where the .deb,
# .changes and .buildinfo land. Prints the path of the .deb.
#   bash scripts/build-deb.sh
# DEB_BUILD_OPTIONS is passed on (e.g. nocheck skips the unit tests).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/.work/deb
apt_opts=(-o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)

# `apt-get source lighttpd` needs deb-src entries
. "$(dirname "$0")/deb-src.sh"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

have_deb_src || { add_deb_src; apt-get update -qq; }
# the lighttpd to build for, and what configuring its source needs
missing=()
for p in lighttpd dpkg-dev libpcre2-dev zlib1g-dev; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install "${apt_opts[@]}" "${missing[@]}" >/dev/null
fi
apt-cache showsrc lighttpd >/dev/null 2>&1 || apt-get update -qq
lsrc=$(bash "$here/scripts/lighttpd-source.sh")

# A copy as a fresh clone has it: dpkg-buildpackage writes its output next
# to the tree it builds, and debhelper writes into debian/.
version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
tree=$out/lighttpd-mod-audiostream-${version%-*}
rm -rf "$out" && mkdir -p "$tree"
tar -C "$here" -cf - --anchored --exclude=./.git --exclude=./.work --exclude='./build*' \
    --exclude=./autom4te.cache --exclude=./m4 --exclude=./configure --exclude='./configure~' --exclude=./aclocal.m4 \
    --exclude=./Makefile.in --exclude='./audiostream_config.h*' \
    --exclude=./debian/.debhelper --exclude=./debian/tmp --exclude=./debian/files \
    --exclude=./debian/lighttpd-mod-audiostream --exclude='./debian/*.substvars' \
    --exclude='./debian/*.debhelper.log' --exclude=./debian/debhelper-build-stamp \
    . | tar -C "$tree" -xf -

cd "$tree"
if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
    apt-get update -qq
    apt-get build-dep "${apt_opts[@]}" ./ >/dev/null
fi
LIGHTTPD_SOURCE=$lsrc DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
    nice dpkg-buildpackage -b -us -uc > "$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
    exit 1; }
ls "$out"/lighttpd-mod-audiostream_"$version"_*.deb
