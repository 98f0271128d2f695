# shellcheck shell=bash
# What the benchmark scripts share, sourced after test/lib.sh has set WORK:
#   bench_lib NAME: log() writes "[NAME HH:MM:SS] ..." to stderr; at the exit
#   every PID in PIDS_TO_STOP is stopped (SIGTERM), the script's children are
#   waited for, and WORK is removed (kept with KEEP_WORK=1).
bench_lib() {
    BENCH_NAME=$1
    PIDS_TO_STOP=()
    trap bench_cleanup EXIT
}
bench_cleanup() {
    local p
    for p in "${PIDS_TO_STOP[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "# work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
log() { echo "[$BENCH_NAME $(date -u +%H:%M:%S)] $*" >&2; }
