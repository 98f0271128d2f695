#!/usr/bin/env bash
# Fetches the Debian source package of lighttpd from SUITE, configures it as
# its debian/rules does, builds lighttpd and its modules there and installs
# them into the tree's debian/tmp (as dh_auto_install does); prints the
# tree's path. Then:
#   TREE/debian/tmp/usr/sbin/lighttpd           the server
#   TREE/debian/tmp/usr/lib/lighttpd/mod_*.so   its modules (lighttpd -m DIR)
# and scripts/build.sh BUILD --with-lighttpd-source=TREE builds the module
# for that server.
#   scripts/lighttpd-tree.sh SUITE     SUITE: bookworm | trixie | sid
#
# The tree is .work/trees/UPSTREAM_VERSION/lighttpd-UPSTREAM_VERSION.
# Cached: once a tree is built, a second call prints it and does nothing
# else (no apt, no network); to look for a newer version in SUITE, run
# apt-get update and remove .work/trees/SUITE.tree.
# Sources come only as deb-src entries for SUITE, derived from the machine's
# own apt sources: no binary package can come from trixie or sid. Building
# needs packages from the machine's own release only (build-dep is not
# possible across releases): the libraries of Debian's options that change
# what lighttpd's core is built with.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
me=lighttpd-tree.sh
export DEBIAN_FRONTEND=noninteractive
# A mirror of the archive may serve sid's Release file after its
# Valid-Until (a week) has passed, as CI's does: apt would refuse it, here
# and in any later apt-get update (so the entries added below say
# Check-Valid-Until: no too). Signatures are still checked; only the date
# is not.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::Check-Valid-Until=false)

suite=${1:-}
case $suite in
    bookworm|trixie|sid) ;;
    *) echo "usage: $me bookworm|trixie|sid" >&2; exit 2 ;;
esac
trees=$here/.work/trees
pointer=$trees/$suite.tree

# ---- cached ----
if [ -f "$pointer" ]; then
    tree=$(cat "$pointer")
    if [ -f "$tree/.audiostream-built" ]; then echo "$tree"; exit 0; fi
fi

# ---- packages to build lighttpd (from this machine's release) ----
packages=(build-essential dpkg-dev autoconf automake libtool pkgconf
          libpcre2-dev zlib1g-dev nettle-dev libxxhash-dev libbrotli-dev
          libzstd-dev libdeflate-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "$me: installing ${missing[*]}" >&2
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get "${apt_opts[@]}" update -qq >&2
        apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

# ---- deb-src entries for SUITE ----
# deb822 stanzas of FILE with type TYPE for suite SUITE: awk -v t=TYPE -v s=SUITE
stanzas='{ n = split($0, l, "\n"); ty = 0; su = 0
           for (i = 1; i <= n; i++) {
             if (l[i] ~ /^Types:/ && (" " substr(l[i], 7) " ") ~ ("[ \t]" t "[ \t]")) ty = 1
             if (l[i] ~ /^Suites:/ && (" " substr(l[i], 8) " ") ~ ("[ \t]" s "[ \t]")) su = 1 }
           if (ty && su) { print; found = 1 } }
         END { exit !found }'
# one-line entries: deb[-src] [options] URI SUITE components
oneline() { echo "^$1[[:space:]]+((\[[^]]*\][[:space:]]+)?[^[:space:]]+)[[:space:]]+$2[[:space:]]+(.*)"; }
has_src_for() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && awk -v RS= -v t=deb-src -v s="$1" "$stanzas" "$f" > /dev/null && return 0
    done
    grep -qsE "$(oneline deb-src "$1")" /etc/apt/sources.list /etc/apt/sources.list.d/*.list
}
# the machine's own release
base=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$base" ] || { echo "$me: no VERSION_CODENAME in /etc/os-release" >&2; exit 1; }
add_src_for() {
    local f out=/etc/apt/sources.list.d/audiostream-src-$1
    : > "$out.sources.new"; : > "$out.list.new"
    # the binary entries of the machine's release itself (not its -updates
    # or -security), turned into deb-src entries for SUITE
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v RS= -v ORS='\n\n' -v t=deb -v s="$base" "$stanzas" "$f" \
          | sed -e '/^#/d' -e 's/^Types:.*/Types: deb-src\nCheck-Valid-Until: no/' -e "s/^Suites:.*/Suites: $1/" \
            >> "$out.sources.new" || true
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -nE "s/$(oneline deb "$base")/deb-src \1 $1 \3/p" "$f" \
          | sed -E -e 's/^deb-src \[/deb-src [check-valid-until=no /' \
                   -e 's/^deb-src ([^[])/deb-src [check-valid-until=no] \1/' >> "$out.list.new"
    done
    for f in "$out.sources" "$out.list"; do
        if [ -s "$f.new" ]; then mv "$f.new" "$f"; else rm -f "$f.new"; fi
    done
    has_src_for "$1" || { echo "$me: found no apt entry for $base to derive deb-src entries for $1 from" >&2; exit 1; }
    echo "$me: added deb-src entries for $1" >&2
}
updated=0
apt_update() {
    echo "$me: apt-get update" >&2
    local i
    # another apt may hold the lists' lock for a while
    for i in 1 2 3 4 5; do
        apt-get "${apt_opts[@]}" update -qq >&2 && break
        [ "$i" -lt 5 ] || { echo "$me: apt-get update failed" >&2; exit 1; }
        sleep 30
    done
    updated=1
}
if ! has_src_for "$suite"; then add_src_for "$suite"; apt_update; fi

# ---- which version SUITE has ----
dsc_of() { apt-get source --print-uris -qq "lighttpd/$suite" 2>/dev/null | awk '$2 ~ /\.dsc$/ { print $2; exit }'; }
dsc=$(dsc_of) || true
if [ -z "$dsc" ] && [ "$updated" = 0 ]; then apt_update; dsc=$(dsc_of) || true; fi
[ -n "$dsc" ] || { echo "$me: apt finds no source of lighttpd in $suite" >&2; exit 1; }
version=${dsc#lighttpd_}; version=${version%.dsc}         # Debian's, e.g. 1.4.85-1
upstream=${version#*:}; upstream=${upstream%-*}           # e.g. 1.4.85
dir=$trees/$upstream
tree=$dir/lighttpd-$upstream
if [ -f "$tree/.audiostream-built" ] && [ "$(cat "$tree/.audiostream-built")" = "$version" ]; then
    echo "$tree" > "$pointer"; echo "$tree"; exit 0
fi

# ---- fetch ----
echo "$me: fetching lighttpd $version ($suite)" >&2
rm -rf "$dir" && mkdir -p "$dir"
fetch() { (cd "$dir" && apt-get "${apt_opts[@]}" source -qq "lighttpd=$version" > "$dir/fetch.log" 2>&1); }
if ! fetch; then
    # the lists may name a file the archive no longer has
    [ "$updated" = 1 ] || apt_update
    rm -rf "$dir" && mkdir -p "$dir"
    fetch || { cat "$dir/fetch.log" >&2; echo "$me: cannot fetch lighttpd $version" >&2; exit 1; }
fi
[ -f "$tree/debian/rules" ] || { echo "$me: no $tree/debian/rules after apt-get source" >&2; exit 1; }

# ---- configure as debian/rules does ----
# Debian builds with autotools (dh_autoreconf, dh_auto_configure). Of the
# --with options in its debian/rules, these change how lighttpd's core and
# its base modules are built: pcre2 (HAVE_PCRE2_H in base.h and
# plugin_config.h), the hashes and crypto the core uses (xxhash, nettle),
# xattr, and the compressors of mod_deflate (zlib is on by default, as in
# Debian's build). The others (TLS libraries,
# databases, LDAP, Lua, PAM, SASL, Kerberos, GeoIP, WebDAV) change only
# code inside their own modules, which no test loads, and would need about
# 30 more -dev packages. Only options that debian/rules passes are passed.
core_options=(attr brotli libdeflate nettle pcre2 xxhash zstd)
debian_options=$(grep -oE -- '--with-[a-z0-9-]+' "$tree/debian/rules" | sed 's/^--with-//' | sort -u)
with=() left_out=()
for o in $debian_options; do
    if printf '%s\n' "${core_options[@]}" | grep -qx -- "$o"; then with+=("--with-$o")
    else left_out+=("$o"); fi
done
echo "$me: configuring with ${with[*]} (Debian's, left out: ${left_out[*]})" >&2
flags() { DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_CFLAGS_MAINT_APPEND=-Wa,--noexecstack \
          DEB_LDFLAGS_MAINT_APPEND=-Wl,-z,noexecstack dpkg-buildflags --get "$1"; }
multiarch=$(dpkg-architecture -q DEB_HOST_MULTIARCH)
gnu_type=$(dpkg-architecture -q DEB_BUILD_GNU_TYPE)
(
    cd "$tree"
    nice autoreconf -fi
    # dh_auto_configure's arguments, then debian/rules' own
    nice ./configure --build="$gnu_type" --prefix=/usr --includedir=/usr/include \
        --mandir=/usr/share/man --infodir=/usr/share/info --sysconfdir=/etc \
        --localstatedir=/var --disable-option-checking --disable-silent-rules \
        --libdir="/usr/lib/$multiarch" --runstatedir=/run --disable-maintainer-mode \
        --disable-dependency-tracking --libdir=/usr/lib/lighttpd --libexecdir=/usr/lib/lighttpd \
        "${with[@]}" \
        CFLAGS="$(flags CFLAGS)" CPPFLAGS="$(flags CPPFLAGS)" LDFLAGS="$(flags LDFLAGS)"
) > "$dir/configure.log" 2>&1 || {
    tail -30 "$dir/configure.log" >&2
    echo "$me: configuring $tree failed (log: $dir/configure.log)" >&2; exit 1; }
# what scripts/lighttpd-source.sh checks: Debian's config.h has these, and
# they change struct layouts a module sees
for define in HAVE_MMAP HAVE_IPV6 HAVE_SYS_UN_H HAVE_PCRE2_H; do
    grep -q "^#define $define 1" "$tree/config.h" || {
        echo "$me: $define is not set in $tree/config.h, but Debian's lighttpd is built with it" >&2
        exit 1; }
done

# ---- build lighttpd and its modules, install into debian/tmp ----
echo "$me: building lighttpd $upstream" >&2
jobs=$(nproc); [ "$jobs" -le 2 ] || jobs=2
(cd "$tree" && nice make -j"$jobs" && rm -rf debian/tmp && make install DESTDIR="$tree/debian/tmp") \
    > "$dir/build.log" 2>&1 || {
    tail -30 "$dir/build.log" >&2
    echo "$me: building lighttpd in $tree failed (log: $dir/build.log)" >&2; exit 1; }
bin=$tree/debian/tmp/usr/sbin/lighttpd
[ -x "$bin" ] && [ -f "$tree/debian/tmp/usr/lib/lighttpd/mod_dirlisting.so" ] || {
    echo "$me: no lighttpd or modules in $tree/debian/tmp after make install" >&2; exit 1; }
"$bin" -v | grep -q "lighttpd/$upstream" || {
    echo "$me: $bin -v says '$("$bin" -v 2>&1 | head -1)', want lighttpd/$upstream" >&2; exit 1; }
echo "$version" > "$tree/.audiostream-built"
echo "$tree" > "$pointer"
echo "$tree"
