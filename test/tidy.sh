#!/usr/bin/env bash
# clang-tidy with the checks of .clang-tidy (bugprone-*, cert-*,
# clang-analyzer-*; findings are errors) on every C file: the pure units, the
# lighttpd glue, the test tools, unit tests, test capture device and fuzz
# targets, and the benchmarks (the scope of the cppcheck step of
# test/run-all.sh). Each file gets the flags the build gives it, read from
# BUILD_DIR's Makefile, so the glue sees the lighttpd tree it was configured
# with; bench/latency.c needs mpg123.h (libmpg123-dev).
#   test/tidy.sh BUILD_DIR        (TIDY_JOBS=N: files at once, default nproc)
# Prints "ok - clang-tidy: GROUP" or "not ok - ..." and its findings per
# group of files, then "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=test/lib/results.sh
. "$here/test/lib/results.sh"

build=${1:-}
if [ -z "$build" ] || [ ! -f "$build/Makefile" ]; then
    echo "usage: test/tidy.sh BUILD_DIR (configured by scripts/build.sh)" >&2
    result "clang-tidy: a configured build directory is given" 1; finish
fi
build=$(cd "$build" && pwd)
if ! command -v clang-tidy > /dev/null; then
    result "clang-tidy is installed (scripts/install-deps.sh)" 1; finish
fi

# configure's substitutions, as make would expand them
mkvar() { sed -n "s/^$1 = //p" "$build/Makefile" | head -1; }
read -ra lighttpd_cppflags <<< "$(mkvar LIGHTTPD_CPPFLAGS)"
read -ra compat_cppflags <<< "$(mkvar COMPAT_CPPFLAGS)"
read -ra alsa_cflags <<< "$(mkvar ALSA_CFLAGS)"
# WARN_CFLAGS without -Werror: the compiler's warnings are findings
# (clang-diagnostic-*), made errors by .clang-tidy's WarningsAsErrors
read -ra warn_cflags <<< "$(mkvar WARN_CFLAGS | sed 's/ *-Werror\b//')"
# DEFS and DEFAULT_INCLUDES of every target, then the target's own flags
common=(-DHAVE_CONFIG_H -I "$build" -I "$here" "${warn_cflags[@]}" -pthread)
if [ ${#lighttpd_cppflags[@]} -eq 0 ]; then
    result "clang-tidy: $build/Makefile names the lighttpd source (LIGHTTPD_CPPFLAGS)" 1; finish
fi

work=$(mktemp -d /tmp/audiostream-tidy.XXXXXX)
trap 'rm -rf "$work"' EXIT

tidy_one() { # FILE: its findings in $work/NAME.log, clang-tidy's status in NAME.rc
    local f=$1 flags=("${common[@]}")
    case $f in
        "$here/mod_audiostream/mod_audiostream.c")
            flags+=(${lighttpd_cppflags[@]+"${lighttpd_cppflags[@]}"} \
                    ${compat_cppflags[@]+"${compat_cppflags[@]}"}) ;;
        "$here/mod_audiostream/"*) flags+=(${alsa_cflags[@]+"${alsa_cflags[@]}"}) ;;
        "$here/test/alsa/"*) flags+=(-DPIC ${alsa_cflags[@]+"${alsa_cflags[@]}"}) ;;
        *) flags+=(-I "$here/mod_audiostream") ;;
    esac
    local name; name=$(echo "${f#"$here"/}" | tr / _)
    # bounded: the analyzer's path search could otherwise run away on a file
    timeout 600 clang-tidy --quiet --config-file="$here/.clang-tidy" "$f" -- "${flags[@]}" \
        > "$work/$name.log" 2>&1
    echo $? > "$work/$name.rc"
}

# the groups: a label, then its files, one a line
labels=() members=()
group() { # LABEL FILE...
    labels+=("$1"); shift
    members+=("$(printf '%s\n' "$@")")
}
# the glue first: it takes longest
group "the lighttpd glue (mod_audiostream/mod_audiostream.c)" \
    "$here/mod_audiostream/mod_audiostream.c"
pure=()
for f in "$here"/mod_audiostream/*.c; do
    [ "$f" = "$here/mod_audiostream/mod_audiostream.c" ] || pure+=("$f")
done
group "the pure units (mod_audiostream/*.c but the glue)" "${pure[@]}"
group "the test tools (test/tools)" "$here"/test/tools/*.c
group "the unit tests (test/unit)" "$here"/test/unit/*.c
group "the test capture device (test/alsa)" "$here"/test/alsa/*.c
group "the fuzz targets (test/fuzz)" "$here"/test/fuzz/*.c
group "the benchmarks (bench)" "$here"/bench/*.c

jobs=${TIDY_JOBS:-$(nproc)} running=0
for m in "${members[@]}"; do
    while IFS= read -r f; do
        if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
        tidy_one "$f" & running=$((running + 1))
    done <<< "$m"
done
wait

for i in "${!labels[@]}"; do
    status=0 findings=
    while IFS= read -r f; do
        name=$(echo "${f#"$here"/}" | tr / _)
        rc=$(cat "$work/$name.rc" 2>/dev/null || echo 1)
        [ "$rc" -eq 0 ] && continue
        status=1
        # the findings, not the analyzer's path notes nor the code excerpts
        # (clang-tidy FILE -- FLAGS shows those)
        lines=$(grep -E '^[^ ].*: (warning|error|fatal error): ' "$work/$name.log" | sed "s|^$here/||")
        [ "$rc" -ne 124 ] || lines="${f#"$here"/}: clang-tidy timed out after 600 s"
        [ -n "$lines" ] || lines=$(tail -5 "$work/$name.log")   # it did not run
        findings+="$lines"$'\n'
    done <<< "${members[$i]}"
    result "clang-tidy: ${labels[$i]}" "$status"
    # a header's findings come once per file including it
    [ -z "$findings" ] || printf '%s' "$findings" | awk '!seen[$0]++' | sed 's/^/    /'
done
finish
