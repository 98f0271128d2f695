#!/usr/bin/env bash
# The test suite, on a fresh Debian 12 or 13 machine as root.
#   test/run-all.sh            the whole suite (the README's test command, CI's)
#   test/run-all.sh --quick    the fast tier, for development: install, build,
#                              unit tests, cppcheck and the core integration
#                              tests (integration.sh --core)
# The whole suite installs what it needs, builds, runs the unit tests,
# cppcheck and clang-tidy, the integration tests in Debian's lighttpd, the
# Debian package's test, the integration tests again with the module built
# with AddressSanitizer and UndefinedBehaviorSanitizer, the core tests
# against lighttpd 1.4.79 and 1.4.85 built from Debian's sources and against
# lighttpd 1.4.69, 1.4.79 and 1.4.85 built from their own source with the
# module inside them (patches/), the fuzzers, and TSan. Ends with the line
# "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
case ${1:-} in
    "") ;;
    --quick) QUICK=1 ;;
    *) echo "run-all.sh: unknown argument $1 (known: --quick)" >&2; echo "0 passed, 1 failed"; exit 2 ;;
esac
# shellcheck source=test/lib/results.sh
. "$here/test/lib/results.sh"
# a part's heading, with the seconds the suite has run: CI allows 60 minutes
section() { echo "# $1 (at $SECONDS s)"; }

section "installing packages"
bash "$here/scripts/install-deps.sh"; result "install the packages the suite needs" $?
[ "$FAILED" -eq 0 ] || finish

unit_tests() { # BUILD_DIR LABEL
    local t
    for t in test_ring test_mp3_frame test_stream_config test_fanout test_icy test_playlist \
             test_status_json test_admin_query test_live_range test_title_state test_state_file test_utf8; do
        "$1/test/unit/$t" > /dev/null; result "$2unit: $t" $?
    done
    stream_test "$1" "$2"
}

# a stream without lighttpd: capture thread on the test-tone device, encoder, ring
stream_test() { # BUILD_DIR LABEL
    local conf; conf=$(mktemp)
    sed "s|@PLUGIN@|$1/test/alsa/.libs/libasound_module_pcm_testtone.so|" \
        "$here/test/alsa/testtone.conf.in" > "$conf"
    ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$conf "$1/test/unit/test_stream" testtone 3 | tail -2
    result "$2stream: capture thread, encoder and ring in real time, stopped promptly" "${PIPESTATUS[0]}"
    rm -f "$conf"
}

section "build (-Wall -Wextra -Werror)"
build=$(bash "$here/scripts/build.sh" "$here/build"); result "build against the installed lighttpd's source" $?
[ "$FAILED" -eq 0 ] || finish
unit_tests "$build" ""

section "cppcheck"
cppcheck -q --enable=warning,style,performance,portability --error-exitcode=1 \
    --inline-suppr --std=c11 -I "$here/mod_audiostream" \
    $(ls "$here/mod_audiostream"/*.c | grep -v '/mod_audiostream[.]c$') \
    "$here/test/tools" "$here/test/unit" "$here/test/alsa" "$here/test/fuzz" "$here/bench" 2>&1
result "cppcheck: the pure units, test tools, test device and benchmarks are clean" $?
lsrc=$(bash "$here/scripts/lighttpd-source.sh")
cppcheck -q --enable=warning,style,performance,portability --error-exitcode=1 --std=c11 \
    -DHAVE_CONFIG_H -I "$lsrc" -I "$lsrc/src" "$here/mod_audiostream/mod_audiostream.c" 2>&1
result "cppcheck: the lighttpd glue is clean" $?

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ "$QUICK" = 1 ]; then
    section "core integration tests"
    bash "$here/test/integration.sh" "$build" --core | tee "$log"
    add_counts "$log" "core integration tests"
    finish
fi

section "clang-tidy (bugprone-*, cert-*, clang-analyzer-*)"
tlog=$(mktemp)
bash "$here/test/tidy.sh" "$build" | tee "$tlog"
add_counts "$tlog" "clang-tidy"
rm -f "$tlog"

section "integration tests"
bash "$here/test/integration.sh" "$build" | tee "$log"
add_counts "$log" "integration tests"

section "the Debian package: build, lintian, apt-get install, Debian's lighttpd.conf, remove, purge"
bash "$here/test/deb.sh" "$build" | tee "$log"
add_counts "$log" "Debian package tests"

section "integration tests, module built with ASan + UBSan"
san="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
asan=$(bash "$here/scripts/build.sh" "$here/build-asan" CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined")
result "build with ASan + UBSan" $?
if [ -n "$asan" ]; then
    ASAN_OPTIONS=detect_leaks=1 unit_tests "$asan" "asan "
    bash "$here/test/integration.sh" "$asan" --sanitized | tee "$log"
    add_counts "$log" "sanitized integration tests"
fi

section "lighttpd of Debian 13 (trixie) and unstable (sid), built from their source packages"
bash "$here/test/matrix.sh" | tee "$log"
add_counts "$log" "lighttpd version matrix"

section "lighttpd built from its own source with patches/ (1.4.69, 1.4.79, 1.4.85; autotools and meson)"
bash "$here/test/patches.sh" --build "$build" | tee "$log"
add_counts "$log" "lighttpd trees with patches/"

section "fuzzing the parsers of config, MP3 frames, ICY metadata, admin queries"
bash "$here/test/fuzz.sh" | tee "$log"
add_counts "$log" "fuzzing"

section "the capture thread / event loop boundary under ThreadSanitizer"
tsan=$(bash "$here/scripts/build.sh" "$here/build-tsan" CFLAGS="-g -O1 -fsanitize=thread" LDFLAGS="-fsanitize=thread")
result "build with TSan" $?
[ -z "$tsan" ] || TSAN_OPTIONS=halt_on_error=1:exitcode=66 stream_test "$tsan" "tsan "
finish
