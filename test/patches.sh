#!/usr/bin/env bash
# The patches/ series, on real lighttpd trees: for every lighttpd version
# patches/ has a series for,
#  - fetches lighttpd's source from the Debian suite that ships it
#    (apt-get source lighttpd/SUITE, with a private apt state whose deb-src
#    entries are derived from the machine's own apt sources, so nothing can
#    be installed from trixie or sid, and the machine's apt is left alone);
#  - applies the series with patches/apply.sh to the pristine upstream tree
#    (the orig tarball) and to Debian's patched tree, and records it there as
#    a quilt patch (dpkg-source --commit), as a packager would;
#  - builds lighttpd with the module inside it, with autotools
#    (--with-audiostream) and meson (-Dwith_audiostream=true);
#  - runs the core integration tests against each built lighttpd, with the
#    modules built next to it: every autotools build, and the meson build of
#    the newest version (both build systems make the same lighttpd and
#    module, each build is checked; six runs of the core tests would not
#    leave the suite within CI's 60 minutes).
#   test/patches.sh [--build DIR] [VERSION...]     (default: every patches/VERSION)
# --build DIR: a build of ours (test tools, test capture device; default:
# scripts/build.sh build). PATCH_BUILDS="autotools meson" (the default)
# picks the build systems. Installs what it needs (as root).
# Prints "ok - NAME" / "not ok - NAME" and, last, "N passed, N failed".
# shellcheck disable=SC2317  # the steps are functions that run() calls
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
work=$here/.work/patch-trees
export DEBIAN_FRONTEND=noninteractive

# the Debian suite that ships each lighttpd version
declare -A SUITE=([1.4.69]=bookworm [1.4.79]=trixie [1.4.85]=sid)
BUILDS=${PATCH_BUILDS:-autotools meson}

# shellcheck source=test/lib/results.sh
. "$here/test/lib/results.sh"
# run NAME LOG command...: by the command's status; a failure shows the log's end
run() {
    local name=$1 log=$2; shift 2
    if "$@" > "$log" 2>&1; then result "$name" 0; return 0; fi
    result "$name" 1; tail -n 25 "$log" | sed 's/^/    /'; return 1
}
secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

build=
versions=()
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$(cd "$2" && pwd) || exit 2; shift 2 ;;
        *) versions+=("$1"); shift ;;
    esac
done
if [ ${#versions[@]} -eq 0 ]; then
    mapfile -t versions < <(cd "$here/patches" && ls -d [0-9]*/ | tr -d / | sort -V)
fi

# ---- packages and our own build ----
echo "# packages, and our build (test tools, test capture device)"
install_packages() {
    bash "$here/scripts/install-deps.sh" || return 1
    local p missing=()
    for p in meson ninja-build autoconf automake libtool pkgconf dpkg-dev xz-utils patch; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}
run "install the packages building lighttpd needs (autotools, meson)" "/tmp/patches-install.$$.log" install_packages \
    || finish
rm -f "/tmp/patches-install.$$.log"
if [ -z "$build" ]; then
    build=$(bash "$here/scripts/build.sh" "$here/build"); result "build our test tools and test capture device" $?
    [ -n "$build" ] || finish
fi

mkdir -p "$work/dl"
logs=$work/logs
rm -rf "$logs"; mkdir -p "$logs"

# ---- a private apt for Debian's source packages ----
# deb-src entries for bookworm, trixie and sid on the machine's own Debian
# archive (the URIs of its apt sources that end in /debian), in an apt state
# of their own: `apt-get source` can fetch from them, nothing is installed
# from them, and the machine's lists stay as they are.
apt_dir=$(mktemp -d /tmp/audiostream-apt.XXXXXX)
trap 'rm -rf "$apt_dir"' EXIT
APT=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt_dir/parts"
     -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
     -o APT::Sandbox::User=root -o Acquire::Retries=3
     # a mirror may serve sid's Release after its week of Valid-Until, as
     # CI's does; signatures are still checked, only the date is not
     -o Acquire::Check-Valid-Until=false)
private_apt() {
    mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    local uris
    uris=$({ sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr '[:blank:]' '\n'
             sed -n 's/^deb\(-src\)\{0,1\}[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]\{1,\}\).*/\3/p' \
                 /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
           } | sed -n 's|/*$||; \|://[^/]*/debian$|p' | sort -u)
    [ -n "$uris" ] || { echo "no Debian archive (a URI ending in /debian) in the machine's apt sources"; return 1; }
    local suites; suites=$(printf '%s\n' "${SUITE[@]}" | sort -u | tr '\n' ' ')
    echo "$uris" | sed "s|.*|Types: deb-src\nURIs: &\nSuites: ${suites% }\nComponents: main\nCheck-Valid-Until: no\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n|" \
        > "$apt_dir/parts/audiostream-patches-src.sources"
    apt-get "${APT[@]}" update
}
run "a private apt with deb-src entries for $(printf '%s\n' "${SUITE[@]}" | sort -u | tr '\n' ' ')on the machine's Debian archive" \
    "$logs/apt-update.log" private_apt || finish

# ---- apply.sh's refusals (on a copy of the files it reads and patches) ----
refusals() { # VERSION PRISTINE_TREE
    local v=$1 src=$2 t=$logs/refuse why=$logs/refuse.why f out
    : > "$why"
    for kind in unknown broken; do
        rm -rf "$t"; mkdir -p "$t/src"
        for f in configure.ac src/plugin.h src/Makefile.am meson_options.txt src/meson.build; do cp "$src/$f" "$t/$f"; done
        if [ "$kind" = unknown ]; then
            sed -i "s/^AC_INIT(\[lighttpd\],\[$v\]/AC_INIT([lighttpd],[1.4.0]/" "$t/configure.ac"
            out=$("$here/patches/apply.sh" "$t" 2>&1) && echo "applied to a tree of lighttpd 1.4.0: $out"
            grep -q 'no patch series for lighttpd 1.4.0' <<< "$out" || echo "unknown version: $out"
        else
            # the second patch of the series cannot apply: the first must not be applied either
            sed -i "/maxminddb/d" "$t/src/meson.build"
            cp "$t/configure.ac" "$t/configure.ac.before"
            out=$("$here/patches/apply.sh" "$t" 2>&1) && echo "applied with a broken src/meson.build: $out"
            grep -q 'does not apply' <<< "$out" || echo "broken tree: $out"
            cmp -s "$t/configure.ac" "$t/configure.ac.before" || echo "configure.ac was patched although the series failed"
            [ ! -e "$t/src/mod_audiostream" ] || echo "sources were copied although the series failed"
        fi
    done > "$why"
    verdict "apply.sh refuses a lighttpd version without a series, and changes nothing when a patch fails" "$why"
}

# ---- one version ----

# fetch VERSION: downloads lighttpd's source package from its suite; sets DSC
fetch() {
    local v=$1 suite=${SUITE[$1]}
    # (in an empty directory: apt names no file it finds there already)
    DSC=$(cd "$apt_dir" && apt-get "${APT[@]}" source --print-uris "lighttpd/$suite" 2>/dev/null \
              | sed -n "s/^'[^']*' \(lighttpd_[^ ]*\.dsc\) .*/\1/p")
    [ -n "$DSC" ] || { echo "apt-get source --print-uris lighttpd/$suite names no .dsc"; return 1; }
    local dv=${DSC#lighttpd_}; dv=${dv%.dsc}; local uv=${dv#*:}; uv=${uv%-*}
    [ "$uv" = "$v" ] || { echo "Debian $suite now carries lighttpd $dv, not $v: patches/ needs a series for $uv"; return 1; }
    (cd "$work/dl" && apt-get "${APT[@]}" source -q --download-only "lighttpd/$suite")
}

# series_sets_handler VERSION: the series passes -DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA
# (on a line it adds, not in a comment)
series_sets_handler() { grep -qE '^\+[^#]*-DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA' "$here/patches/$1/"*.patch; }

# handler_check VERSION TREE BUILD_DIR: the series' r->handler_module setting
# (audiostream_compat.h) compiles against this lighttpd, the other does not
handler_check() {
    local v=$1 tree=$2 b=$3 right=() wrong=(-DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA) err=$logs/$1-handler.err
    if series_sets_handler "$v"; then
        right=(-DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA); wrong=()
    fi
    cc_glue() {
        gcc -fsyntax-only -Werror=incompatible-pointer-types -DHAVE_CONFIG_H -D_GNU_SOURCE \
            -I"$b" -I"$b/src" -I"$tree/src" "$@" "$tree/src/mod_audiostream/mod_audiostream.c"
    }
    cc_glue "${right[@]}" > "$err" 2>&1 || { echo "the series' setting (${right[*]:-none}) does not compile:"; head -5 "$err"; }
    if cc_glue "${wrong[@]}" > "$err" 2>&1; then
        echo "the other setting (${wrong[*]:-none}) compiles too: a wrong series would go unnoticed"
    else
        grep -q 'incompatible-pointer-types' "$err" || { echo "the other setting fails for another reason:"; head -5 "$err"; }
    fi
}

# compile_line_check VERSION LINE BUILD_LOG: the module's compile line and warnings
compile_line_check() {
    local v=$1 line=$2 log=$3
    [ -n "$line" ] || { echo "no compile line of mod_audiostream/mod_audiostream.c"; return; }
    grep -q -- '-Werror=incompatible-pointer-types' <<< "$line" || echo "compiled without -Werror=incompatible-pointer-types"
    if series_sets_handler "$v"; then
        grep -q -- '-DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA' <<< "$line" || echo "compiled without -DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA"
    else
        ! grep -q -- '-DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA' <<< "$line" || echo "compiled with -DAUDIOSTREAM_HANDLER_IS_PLUGIN_DATA"
    fi
    grep -E 'mod_audiostream/[^ :]*:[0-9]+:[0-9]+: (warning|error)' "$log" | head -10
}

# a pkg-config that knows everything but ALSA
fake_pkg_config() {
    local f=$logs/pkg-config-without-alsa
    printf '#!/bin/sh\nfor a; do case $a in alsa*) exit 1 ;; esac; done\nexec pkg-config "$@"\n' > "$f"
    chmod +x "$f"; echo "$f"
}

# suite VERSION LABEL LIGHTTPD MODULE_DIR: the core integration tests against that
# lighttpd, its modules linked from MODULE_DIR with our module from there too
suite() {
    local v=$1 label=$2 lighttpd=$3 mods=$4 log=$logs/suite-${2// /-}.log why=$logs/suite.why
    LIGHTTPD=$lighttpd LIGHTTPD_MODULES=$mods AUDIOSTREAM_MODULE=$mods/mod_audiostream.so KEEP_WORK=1 \
        bash "$here/test/integration.sh" "$build" --core > "$log" 2>&1
    sed -e "s/^ok - /ok - $label: /" -e "s/^not ok - /not ok - $label: /" "$log" \
        | grep -vE '^([0-9]+ passed, [0-9]+ failed|test files kept in .*)$'
    add_counts "$log" "$label: the integration tests"
    # they ran this build's modules, not Debian's
    local w; w=$(sed -n 's/^test files kept in //p' "$log" | tail -1)
    { [ -n "$w" ] && [ -d "$w/modules" ] || echo "no test directory kept"
      cmp -s "$w/modules/mod_audiostream.so" "$mods/mod_audiostream.so" \
          || echo "the suite's mod_audiostream.so is not this build's"
      [ "$(readlink -f "$w/modules/mod_accesslog.so")" = "$(readlink -f "$mods/mod_accesslog.so")" ] \
          || echo "the suite's mod_accesslog.so is $(readlink -f "$w/modules/mod_accesslog.so"), not this build's"
      grep -qs "lighttpd/$v" "$w"/*/error.log || echo "no error.log says lighttpd/$v started"
    } > "$why" 2>&1
    verdict "$label: the tests ran this build's lighttpd, modules and mod_audiostream.so" "$why"
    [ -z "$w" ] || rm -rf "$w"
}

declare -A TIMES
one_version() {
    local v=$1 suite=${SUITE[$1]:-} t0=$SECONDS t
    echo "# lighttpd $v (Debian ${suite:-?})"
    [ -n "$suite" ] || { result "$v: test/patches.sh knows the Debian suite that ships it" 1; return; }
    run "$v: Debian $suite carries lighttpd $v; its source package downloads" "$logs/$v-fetch.log" fetch "$v" || return
    local vdir=$work/$v orig_tar
    for orig_tar in "$work/dl/lighttpd_$v.orig.tar."*; do [[ $orig_tar == *.asc ]] || break; done
    rm -rf "$vdir"; mkdir -p "$vdir/upstream" "$vdir/debian"
    local tree=$vdir/upstream/lighttpd-$v deb=$vdir/debian/lighttpd-$v
    unpack() {
        tar -C "$vdir/upstream" -xf "$orig_tar" \
            && (cd "$vdir/debian" && dpkg-source -q --no-check -x "$work/dl/$DSC" "lighttpd-$v")
    }
    run "$v: the upstream tree (orig tarball) and Debian's patched tree unpack" "$logs/$v-extract.log" unpack || return

    [ "$v" = "${versions[0]}" ] && refusals "$v" "$tree"
    run "$v: apply.sh adds mod_audiostream to the pristine upstream tree" "$logs/$v-apply.log" \
        "$here/patches/apply.sh" "$tree" || return
    local why=$logs/$v.why sums out
    sums=$(cd "$tree" && md5sum configure.ac src/Makefile.am meson_options.txt src/meson.build)
    { out=$("$here/patches/apply.sh" "$tree" 2>&1) || echo "second run failed: $out"
      grep -q 'already has the series' <<< "$out" || echo "second run: $out"
      [ "$sums" = "$(cd "$tree" && md5sum configure.ac src/Makefile.am meson_options.txt src/meson.build)" ] \
          || echo "the second run changed the build files"
      diff -r -x sources.am -x meson.build "$here/mod_audiostream" "$tree/src/mod_audiostream" \
          || echo "src/mod_audiostream/ differs from mod_audiostream/"; } > "$why" 2>&1
    verdict "$v: apply.sh run again leaves the build files alone and refreshes the sources" "$why"

    # Debian's tree: the series applies with fuzz 0, as dpkg-source applies
    # quilt patches; a packager records it as one patch, and the source
    # package built with it unpacks with it applied
    run "$v: the series applies to Debian's patched tree (${DSC%.dsc})" "$logs/$v-apply-debian.log" \
        "$here/patches/apply.sh" "$deb"
    package() {
        ln -sf "$orig_tar" "$work/dl/lighttpd_$v.orig.tar."*.asc "$vdir/debian/" 2>/dev/null
        (cd "$deb" && EDITOR=true VISUAL=true dpkg-source --commit . mod-audiostream.patch) || return 1
        grep -qx 'mod-audiostream.patch' "$deb/debian/patches/series" || { echo "not in debian/patches/series"; return 1; }
        (cd "$vdir/debian" && dpkg-source -q -b "lighttpd-$v" && dpkg-source -q --no-check -x "$DSC" repacked) || return 1
        local r=$vdir/debian/repacked
        diff -r -x sources.am -x meson.build "$here/mod_audiostream" "$r/src/mod_audiostream" \
            && grep -q 'AC_ARG_WITH(\[audiostream\]' "$r/configure.ac" && grep -q "with_audiostream" "$r/meson_options.txt"
    }
    run "$v: dpkg-source --commit records it as a quilt patch; the source package rebuilt with it unpacks with it" \
        "$logs/$v-package.log" package

    # ---- autotools ----
    local b=$vdir/build-autotools
    if [[ " $BUILDS " == *" autotools "* ]]; then
        t=$SECONDS
        autotools() {
            (cd "$tree" && nice autoreconf -fi) && mkdir -p "$b" && cd "$b" \
                && nice "$tree/configure" --with-audiostream && nice make -j2 V=1
        }
        if run "$v autotools: autoreconf, configure --with-audiostream, make build lighttpd and mod_audiostream.so" \
               "$logs/$v-autotools.log" autotools; then
            { [ -x "$b/src/lighttpd" ] && [ -f "$b/src/.libs/mod_audiostream.so" ] || echo "no src/lighttpd or src/.libs/mod_audiostream.so"
              "$b/src/lighttpd" -v 2>&1 | grep -q "lighttpd/$v" || echo "lighttpd -v: $("$b/src/lighttpd" -v 2>&1)"
              compile_line_check "$v" "$(grep -E '^libtool: compile: .*mod_audiostream/mod_audiostream\.c' "$logs/$v-autotools.log" | head -1)" \
                  "$logs/$v-autotools.log"; } > "$why" 2>&1
            verdict "$v autotools: mod_audiostream compiles with the series' handler setting and -Werror=incompatible-pointer-types, without a warning" "$why"
            handler_check "$v" "$tree" "$b" > "$why" 2>&1
            verdict "$v: the series' r->handler_module setting compiles against lighttpd $v, the other one does not" "$why"
            TIMES[$v-autotools-build]=$((SECONDS - t)); t=$SECONDS
            suite "$v" "$v autotools" "$b/src/lighttpd" "$b/src/.libs"
            TIMES[$v-autotools-suite]=$((SECONDS - t))
        fi
        # the checks' messages
        mkdir -p "$vdir/no-alsa" "$vdir/no-lame"
        { (cd "$vdir/no-alsa" && PKG_CONFIG=$(fake_pkg_config) nice "$tree/configure" --with-audiostream) > "$logs/$v-no-alsa.log" 2>&1 \
              && echo "configure succeeded without ALSA"
          grep -q 'error: ALSA not found (pkg-config alsa): install libasound2-dev' "$logs/$v-no-alsa.log" \
              || { echo "no message naming libasound2-dev:"; tail -3 "$logs/$v-no-alsa.log"; }
          (cd "$vdir/no-lame" && ac_cv_header_lame_lame_h=no nice "$tree/configure" --with-audiostream) > "$logs/$v-no-lame.log" 2>&1 \
              && echo "configure succeeded without lame/lame.h"
          grep -q 'error: lame/lame.h not found: install libmp3lame-dev' "$logs/$v-no-lame.log" \
              || { echo "no message naming libmp3lame-dev:"; tail -3 "$logs/$v-no-lame.log"; }; } > "$why" 2>&1
        verdict "$v autotools: configure --with-audiostream stops without ALSA or LAME, naming libasound2-dev, libmp3lame-dev" "$why"
    fi

    # ---- meson ----
    local m=$vdir/build-meson
    if [[ " $BUILDS " == *" meson "* ]]; then
        t=$SECONDS
        mesonbuild() { nice meson setup -Dwith_audiostream=true "$m" "$tree" && nice ninja -j2 -C "$m"; }
        if run "$v meson: meson setup -Dwith_audiostream=true, ninja build lighttpd and mod_audiostream.so" \
               "$logs/$v-meson.log" mesonbuild; then
            { [ -x "$m/src/lighttpd" ] && [ -f "$m/src/mod_audiostream.so" ] || echo "no src/lighttpd or src/mod_audiostream.so"
              "$m/src/lighttpd" -v 2>&1 | grep -q "lighttpd/$v" || echo "lighttpd -v: $("$m/src/lighttpd" -v 2>&1)"
              compile_line_check "$v" "$(python3 "$here/test/tools/json_get.py" "$m/compile_commands.json" \
                  '[e["command"] for e in d if e["file"].endswith("mod_audiostream/mod_audiostream.c")][0]')" \
                  "$logs/$v-meson.log"; } > "$why" 2>&1
            verdict "$v meson: mod_audiostream compiles with the series' handler setting and -Werror=incompatible-pointer-types, without a warning" "$why"
            TIMES[$v-meson-build]=$((SECONDS - t)); t=$SECONDS
            if [ "$v" = "${versions[-1]}" ]; then
                suite "$v" "$v meson" "$m/src/lighttpd" "$m/src"
                TIMES[$v-meson-suite]=$((SECONDS - t))
            else
                echo "# $v meson: built and checked; the core tests run in the meson build of ${versions[-1]}"
            fi
        fi
        { PKG_CONFIG=$(fake_pkg_config) nice meson setup -Dwith_audiostream=true "$vdir/meson-no-alsa" "$tree" \
              > "$logs/$v-meson-no-alsa.log" 2>&1 && echo "meson setup succeeded without ALSA"
          grep -q 'ALSA not found (pkg-config alsa): install libasound2-dev' "$logs/$v-meson-no-alsa.log" \
              || { echo "no message naming libasound2-dev:"; tail -3 "$logs/$v-meson-no-alsa.log"; }; } > "$why" 2>&1
        verdict "$v meson: -Dwith_audiostream=true stops without ALSA, naming libasound2-dev" "$why"
    fi
    TIMES[$v]=$((SECONDS - t0))
}

for v in "${versions[@]}"; do
    [ -f "$here/patches/$v/series" ] || { result "patches/$v/series exists" 1; continue; }
    one_version "$v"
done

echo "# time per version (build / integration tests):"
for v in "${versions[@]}"; do
    [ -n "${TIMES[$v]:-}" ] || continue
    echo "#   $v: $(secs "${TIMES[$v]}") in all; autotools $(secs "${TIMES[$v-autotools-build]:-0}") / $(secs "${TIMES[$v-autotools-suite]:-0}");" \
         "meson $(secs "${TIMES[$v-meson-build]:-0}") / $(secs "${TIMES[$v-meson-suite]:-0}")"
done
finish
