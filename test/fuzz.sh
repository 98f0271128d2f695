#!/usr/bin/env bash
# libFuzzer targets of the parts that read untrusted or hand-written input:
# the stream settings, the MP3 frame parser, the ICY metadata framer, the
# admin URL's query parser, a resume's Range header and the titles' state
# text. Each runs for FUZZ_SECONDS (default 40: the suite keeps to CI's 60
# minutes; longer by hand) from its seed corpus in
# test/fuzz/corpus/, built with clang's libFuzzer, ASan and UBSan. Crashes
# fail the run; their inputs belong in the corpus afterwards. FUZZ_JOBS
# (default: the cores) of them run at once.
#   test/fuzz.sh [TARGET...]
# Prints "ok - NAME" per target with its executions, then "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/mod_audiostream
SECONDS_EACH=${FUZZ_SECONDS:-40}
WORK=$(mktemp -d /tmp/audiostream-fuzz.XXXXXX)
# shellcheck source=test/lib/results.sh
. "$here/test/lib/results.sh"
JOBS=${FUZZ_JOBS:-$(nproc)}   # targets fuzzed at once: each is one process

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

build_target() { # TARGET
    local files=() u
    for u in ${units[$1]}; do files+=("$src/$u.c"); done
    clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -I "$src" -o "$WORK/$1" \
        "$here/test/fuzz/$1.c" "${files[@]}" 2> "$WORK/$1.build"
}
# fuzz_target TARGET: new inputs go to the scratch corpus, the seeds are
# only read; the exit status goes to WORK/TARGET.rc
fuzz_target() {
    mkdir -p "$WORK/corpus-$1"
    "$WORK/$1" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$WORK/$1-" -print_final_stats=1 \
        "$WORK/corpus-$1" "$here/test/fuzz/corpus/$1" > "$WORK/$1.log" 2>&1
    echo $? > "$WORK/$1.rc"
}
report_target() { # TARGET
    local t=$1 rc runs
    rc=$(cat "$WORK/$t.rc")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log")
    if [ "$rc" -eq 0 ]; then pass "$t: ${runs:-?} executions in ${SECONDS_EACH} s, no crash"
    else
        fail "$t: crashed (rc $rc) after ${runs:-?} executions" \
            "$(grep -E 'ERROR|SUMMARY|runtime error|Assertion|artifact' "$WORK/$t.log" | head -20)" \
            "$(ls "$WORK/$t-"* 2>/dev/null | sed 's/^/input kept: /')"
    fi
}

built=()
for t in "${targets[@]}"; do
    if build_target "$t"; then built+=("$t")
    else fail "$t: does not build" "$(cat "$WORK/$t.build")"; fi
done
for t in "${built[@]}"; do
    [ "$(jobs -pr | wc -l)" -lt "$JOBS" ] || wait -n
    fuzz_target "$t" &
done
wait
for t in "${built[@]}"; do report_target "$t"; done
[ "$FAILED" -eq 0 ] && rm -rf "$WORK"
finish
