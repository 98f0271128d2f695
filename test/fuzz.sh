#!/usr/bin/env bash
# libFuzzer targets of the parts that read untrusted or hand-written input:
# the stream settings, the MP3 frame parser, the ICY metadata framer, the
# admin URL's query parser, a resume's Range header and the titles' state
# text. Each runs for FUZZ_SECONDS (default 40: the suite keeps to CI's 60
# minutes; longer by hand) from its seed corpus in
# test/fuzz/corpus/, built with clang's libFuzzer, ASan and UBSan. Crashes
# fail the run; their inputs belong in the corpus afterwards.
#   test/fuzz.sh [TARGET...]
# Prints "ok - NAME" per target with its executions, then "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/mod_audiostream
SECONDS_EACH=${FUZZ_SECONDS:-40}
WORK=$(mktemp -d /tmp/audiostream-fuzz.XXXXXX)
passed=0 failed=0

# target -> the pure units it links
declare -A units=(
    [fuzz_stream_config]="stream_config utf8"
    [fuzz_mp3_frame]="mp3_frame"
    [fuzz_icy]="icy utf8"
    [fuzz_admin_query]="admin_query utf8"
    [fuzz_live_range]="live_range"
    [fuzz_title_state]="title_state"
)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_stream_config fuzz_mp3_frame fuzz_icy fuzz_admin_query fuzz_live_range fuzz_title_state)

for t in "${targets[@]}"; do
    files=()
    for u in ${units[$t]}; do files+=("$src/$u.c"); done
    if ! clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=undefined -I "$src" -o "$WORK/$t" \
            "$here/test/fuzz/$t.c" "${files[@]}" 2> "$WORK/$t.build"; then
        failed=$((failed + 1)); echo "not ok - $t: does not build"; sed 's/^/    /' "$WORK/$t.build"
        continue
    fi
    mkdir -p "$WORK/corpus-$t"
    # new inputs go to the scratch corpus; the seeds are only read
    "$WORK/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$WORK/$t-" -print_final_stats=1 \
        "$WORK/corpus-$t" "$here/test/fuzz/corpus/$t" > "$WORK/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log")
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)); echo "ok - $t: ${runs:-?} executions in ${SECONDS_EACH} s, no crash"
    else
        failed=$((failed + 1)); echo "not ok - $t: crashed (rc $rc) after ${runs:-?} executions"
        grep -E 'ERROR|SUMMARY|runtime error|Assertion|artifact' "$WORK/$t.log" | head -20 | sed 's/^/    /'
        ls "$WORK/$t-"* 2>/dev/null | sed 's/^/    input kept: /'
    fi
done
[ "$failed" -eq 0 ] && rm -rf "$WORK"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
