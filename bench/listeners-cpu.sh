#!/usr/bin/env bash
# Prints the CPU time lighttpd (capture thread, encoder and fan-out
# included) spends on one 128 kbit/s stream from the test-tone device with N
# listeners over D seconds, and with none for comparison. Loopback only.
#   bench/listeners-cpu.sh [BUILD_DIR] [LISTENERS=100] [SECONDS=60]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$here/build}" && pwd)
n=${2:-100}
secs=${3:-60}
WORK=$(mktemp -d /tmp/audiostream-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
. "$here/test/lib.sh"
setup_work
SERVER_ENV= SERVER_WRAP=

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

measure() { # LISTENERS -> prints "cpu_s rss_kb bytes_per_listener"
    local listeners=$1 i pids=() t0 t1
    start_server "bench$listeners" 'server.modules += ( "mod_audiostream" )
server.max-fds = 4096
audiostream.streams = ( "/live.mp3" => ( "device" => "tone997" ) )'
    wait_live /live.mp3
    for i in $(seq 1 "$listeners"); do
        curl -s --max-time "$((secs + 5))" -o "$WORK/l$i" "$URL/live.mp3" & pids+=($!)
    done
    sleep 2
    t0=$(cpu_ticks "$PID")
    sleep "$secs"
    t1=$(cpu_ticks "$PID")
    local rss; rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
    stop_server
    [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}" 2>/dev/null || true
    local bytes=0
    [ "$listeners" -eq 0 ] || bytes=$(( $(cat "$WORK"/l* | wc -c) / listeners ))
    rm -f "$WORK"/l*
    awk -v t="$((t1 - t0))" -v hz="$hz" -v rss="$rss" -v b="$bytes" \
        'BEGIN { printf "%.2f %d %d\n", t / hz, rss, b }'
}

read -r idle_cpu idle_rss _ <<< "$(measure 0)"
read -r busy_cpu busy_rss per <<< "$(measure "$n")"
printf '%-34s %10s %12s %10s\n' "lighttpd + mod_audiostream" "CPU s" "CPU %core" "RSS KiB"
printf '%-34s %10s %12s %10s\n' "1 stream, 0 listeners, ${secs} s" "$idle_cpu" \
    "$(awk -v c="$idle_cpu" -v s="$secs" 'BEGIN { printf "%.2f", 100 * c / s }')" "$idle_rss"
printf '%-34s %10s %12s %10s\n' "1 stream, $n listeners, ${secs} s" "$busy_cpu" \
    "$(awk -v c="$busy_cpu" -v s="$secs" 'BEGIN { printf "%.2f", 100 * c / s }')" "$busy_rss"
echo "bytes per listener: $per (real time: $((secs * 16000 + 2 * 16000)) at 128 kbit/s)"
