#!/usr/bin/env bash
# The module against the lighttpd of each Debian suite, not only the
# installed one: for each SUITE (default: trixie sid; the installed 1.4.69
# of bookworm is the main suite's), as root on Debian 12:
#   1. scripts/lighttpd-tree.sh SUITE: Debian's source package of that
#      suite's lighttpd, configured as Debian does, lighttpd and its modules
#      built (cached in .work/trees/VERSION across steps and runs)
#   2. scripts/build.sh .work/build-VERSION --with-lighttpd-source=TREE
#   3. the core integration tests (test/integration.sh) in that lighttpd,
#      with its own modules (from 1.4.71 HTTP/2 is its mod_h2.so, which
#      lighttpd loads by itself while server.h2proto is on: test_matrix's
#      HTTP/2 listeners fail without it)
#   test/matrix.sh [SUITE...]
# Prints "ok - NAME" / "not ok - NAME" per step (with its time), the
# integration tests' own lines indented under step 3, and, last,
# "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie sid)
# shellcheck source=test/lib/results.sh
. "$here/test/lib/results.sh"
indent() { sed 's/^/    /'; }
comment() { sed 's/^/# /'; }
log=$(mktemp /tmp/audiostream-matrix.XXXXXX)
trap 'rm -f "$log"' EXIT

echo "# packages for building the module and running its tests"
bash "$here/scripts/install-deps.sh" 2>&1 | comment
result "install the packages the suite needs" "${PIPESTATUS[0]}"
[ "$FAILED" -eq 0 ] || finish

declare -A tree_of version_of module_of
for suite in "${suites[@]}"; do
    echo "# lighttpd of $suite"
    t0=$SECONDS
    tree=$(bash "$here/scripts/lighttpd-tree.sh" "$suite" 2> "$log"); rc=$?
    comment < "$log"
    version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$tree/config.h" 2>/dev/null)
    [ -n "$version" ] || rc=1
    result "$suite: lighttpd ${version:-?} from Debian's source package, configured as Debian does, built ($((SECONDS - t0)) s)" "$rc"
    [ "$rc" -eq 0 ] || continue
    tree_of[$suite]=$tree version_of[$suite]=$version

    t0=$SECONDS
    build=$here/.work/build-$version
    bash "$here/scripts/build.sh" "$build" --with-lighttpd-source="$tree" > "$log" 2>&1; rc=$?
    [ "$rc" -eq 0 ] || indent < "$log" | tail -40
    result "$suite: the module builds against lighttpd $version (-Werror) ($((SECONDS - t0)) s)" "$rc"
    [ "$rc" -eq 0 ] || continue
    module_of[$suite]=$build/.libs/mod_audiostream.so
done

for suite in "${suites[@]}"; do
    [ -n "${module_of[$suite]:-}" ] || continue
    version=${version_of[$suite]}
    server=${tree_of[$suite]}/debian/tmp/usr/sbin/lighttpd
    modules=${tree_of[$suite]}/debian/tmp/usr/lib/lighttpd
    build=$here/.work/build-$version
    t0=$SECONDS
    LIGHTTPD=$server LIGHTTPD_MODULES=$modules AUDIOSTREAM_MODULE=${module_of[$suite]} \
        bash "$here/test/integration.sh" "$build" --core > "$log" 2>&1; rc=$?
    indent < "$log"
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    [ -n "$counts" ] && [ "${counts%% passed*}" -gt 0 ] || rc=1
    result "$suite: core integration tests in lighttpd $version (${counts:-did not run to its end}) ($((SECONDS - t0)) s)" "$rc"
done

finish
