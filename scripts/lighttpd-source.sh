#!/usr/bin/env bash
# Fetches the Debian source package of the *installed* lighttpd and
# configures it so that its config.h matches Debian's binary; prints the
# configured tree's path. lighttpd installs no headers, and refuses a module
# built for another version; struct layouts depend on config.h.
#   scripts/lighttpd-source.sh [WORK_DIR]      (default: .work/lighttpd-src)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$here/.work/lighttpd-src}

version=$(dpkg-query -W -f='${Version}' lighttpd 2>/dev/null) || {
    echo "lighttpd-source.sh: lighttpd is not installed (apt-get install lighttpd)" >&2; exit 1; }
upstream=${version#*:}; upstream=${upstream%-*}
tree=$work/lighttpd-$upstream
stamp=$tree/.audiostream-configured-$version

if [ ! -f "$stamp" ]; then
    rm -rf "$work" && mkdir -p "$work"
    (cd "$work" && apt-get source -qq "lighttpd=$version" >&2) || {
        echo "lighttpd-source.sh: cannot fetch the source of lighttpd $version;" \
             "apt needs deb-src entries (scripts/install-deps.sh adds them), and the" \
             "archive must still carry this version (else upgrade lighttpd)" >&2
        exit 1; }
    # Debian builds with autotools (debian/rules). Of its options, only these
    # change the headers a module includes: pcre2 (base.h, plugin_config.h)
    # and what configure detects by itself (HAVE_MMAP in chunk.h, HAVE_IPV6
    # and HAVE_SYS_UN_H in sock_addr.h). The TLS, database and compression
    # options only change code inside their own modules.
    (cd "$tree" && ./configure --with-pcre2 --with-zlib > "$work/configure.log" 2>&1) || {
        tail -20 "$work/configure.log" >&2
        echo "lighttpd-source.sh: configuring $tree failed (log: $work/configure.log)" >&2
        exit 1; }
    touch "$stamp"
fi

for define in HAVE_MMAP HAVE_IPV6 HAVE_SYS_UN_H HAVE_PCRE2_H; do
    grep -q "^#define $define 1" "$tree/config.h" || {
        echo "lighttpd-source.sh: $define is not set in $tree/config.h, but Debian's" \
             "lighttpd is built with it: struct layouts would differ" >&2; exit 1; }
done
echo "$tree"
