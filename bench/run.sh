#!/usr/bin/env bash
# The benchmark behind `make bench`: lighttpd + mod_audiostream against
# Icecast 2 fed by ffmpeg, lighttpd + a FastCGI streamer, and a bare epoll
# floor server, all measured by the same load generator on this machine, plus
# capture-to-listener latency and the cost of encoding. Loopback only; every
# server is started and stopped here, by PID.
#   bench/run.sh BUILD_DIR [--quick]
# Prints a table and writes BUILD_DIR/bench-results/bench-DATE.csv.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" && pwd)
QUICK=0; [ "${2:-}" = --quick ] && QUICK=1
B=$BUILD/bench
OUT=$BUILD/bench-results
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%d-%H%M)
CSV=$OUT/bench-$STAMP.csv
TABLE=$OUT/bench-$STAMP.txt
WORK=$(mktemp -d /tmp/audiostream-bench.XXXXXX)
chmod 755 "$WORK"     # Icecast runs as its own user and writes its logs below
. "$here/test/lib.sh"
setup_work
echo 'pcm.marks { type testtone marks 1 }' >> "$WORK/asound.conf"
SERVER_ENV=
SERVER_WRAP=
JOIN_RATE=500
BUDGET=40000          # the module's default writes-per-second
FRAME_US=26122        # 1152 samples at 44.1 kHz
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PIDS_TO_STOP=()
cleanup() {
    local p
    for p in "${PIDS_TO_STOP[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

# ---- the same audio for every server that plays a file ----
MP3=$WORK/tone997.mp3
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=997:sample_rate=44100:duration=120" \
    -ac 2 -c:a libmp3lame -b:a 128k -write_xing 0 -id3v2_version 0 "$MP3"

# CPU of all threads of a process in nanoseconds (the scheduler's own count,
# not 10 ms ticks)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'; }
cpu_ticks() { local p s=0; for p in "$@"; do s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $s; }
HZ=$(getconf CLK_TCK)

# ---- the four systems: start_X sets SYS_PIDS (whose CPU counts) and PORT ----

start_ours() {
    start_server "ours-$1" "server.modules += ( \"mod_audiostream\" )
server.max-fds = 20000
server.max-connections = 10000
server.listen-backlog = 4096
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"${2:-tone997}\" ) )" || return 1
    wait_live /live.mp3 || return 1
    SYS_PIDS=("$PID"); PIDS_TO_STOP+=("$PID")
}

start_icecast() { # NAME [alsa]: fed by ffmpeg from the MP3 file, or from the marks device
    local dir=$WORK/ice-$1
    mkdir -p "$dir/log"; chown -R icecast2:icecast "$dir/log"
    free_port
    sed -e "s|@PORT@|$PORT|" -e "s|@LOGDIR@|$dir/log|" "$here/bench/icecast.xml.in" > "$dir/icecast.xml"
    icecast2 -c "$dir/icecast.xml" > "$dir/stdout.log" 2>&1 &
    local ipid=$!; PIDS_TO_STOP+=("$ipid")
    local i; for i in $(seq 1 50); do port_is_free "$PORT" || break; sleep 0.1; done
    if [ "${2:-}" = alsa ]; then
        ffmpeg -nostdin -loglevel error -f alsa -sample_rate 44100 -channels 2 -i marks \
            -c:a libmp3lame -b:a 128k -content_type audio/mpeg -f mp3 \
            "icecast://source:benchsrc@127.0.0.1:$PORT/live.mp3" > "$dir/ffmpeg.log" 2>&1 &
    else
        ffmpeg -nostdin -loglevel error -re -stream_loop -1 -i "$MP3" -c copy \
            -content_type audio/mpeg -f mp3 \
            "icecast://source:benchsrc@127.0.0.1:$PORT/live.mp3" > "$dir/ffmpeg.log" 2>&1 &
    fi
    local fpid=$!; PIDS_TO_STOP+=("$fpid")
    URL=http://127.0.0.1:$PORT
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$URL/live.mp3")" = 200 ] && break
        sleep 0.2
    done
    SYS_PIDS=("$ipid"); SRC_PID=$fpid
}

start_fastcgi() {
    local sock=$WORK/fcgi-$1.sock
    "$B/fcgi_stream" --socket "$sock" --file "$MP3" --interval-ms 100 2> "$WORK/fcgi-$1.log" &
    local fpid=$!; PIDS_TO_STOP+=("$fpid")
    local i; for i in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
    start_server "fcgi-$1" "server.modules += ( \"mod_fastcgi\" )
server.max-fds = 20000
server.max-connections = 10000
server.listen-backlog = 4096
server.stream-response-body = 2
fastcgi.server = ( \"/live.mp3\" => (( \"socket\" => \"$sock\", \"check-local\" => \"disable\" )) )" || return 1
    SYS_PIDS=("$PID" "$fpid"); PIDS_TO_STOP+=("$PID")
}

start_floor() { # NAME INTERVAL_MS
    free_port
    "$B/floor" --port "$PORT" --file "$MP3" --interval-ms "$2" 2> "$WORK/floor-$1.log" &
    local fpid=$!; PIDS_TO_STOP+=("$fpid")
    local i; for i in $(seq 1 50); do port_is_free "$PORT" || break; sleep 0.1; done
    URL=http://127.0.0.1:$PORT
    SYS_PIDS=("$fpid")
}

stop_system() {
    local p
    for p in "${SYS_PIDS[@]}" ${SRC_PID:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    SRC_PID=
}

# the module's interval between two writes to a listener, in ms, at N listeners
ours_interval_ms() {
    awk -v n="$1" -v b="$BUDGET" -v f="$FRAME_US" 'BEGIN {
        k = n * 1e6 / (b * f); k = (k == int(k)) ? k : int(k) + 1; if (k < 1) k = 1;
        if (k > 15) k = 15; printf "%d", k * f / 1000 }'
}

# ---- one load run: N listeners (+ M stalled) at 500/s ----

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<< "$2"; }

load_run() { # SYSTEM N STALLED
    local sys=$1 n=$2 stalled=$3 joins secs out steady0 steady1 t0
    joins=$(( (n + stalled + JOIN_RATE - 1) / JOIN_RATE ))
    secs=$(( joins + (QUICK ? 8 : 15) ))
    "$B/loadgen" --port "$PORT" --listeners "$n" --stalled "$stalled" --join-rate "$JOIN_RATE" \
        --seconds "$secs" --label "$sys" --csv "$CSV" $(printf -- '--server-pid %s ' "${SYS_PIDS[@]}") \
        > "$WORK/load.out" 2> "$WORK/load.err" &
    local lpid=$!
    # the steady window: everyone has joined, nobody has left yet
    sleep "$((joins + 2))"; steady0=$(cpu_ticks "${SYS_PIDS[@]}"); t0=$(date +%s%N)
    sleep "$((secs - joins - 4))"; steady1=$(cpu_ticks "${SYS_PIDS[@]}")
    local dt; dt=$(( ($(date +%s%N) - t0) / 1000000 ))
    wait "$lpid"
    out=$(cat "$WORK/load.out")
    [ -n "$out" ] || { log "$sys: the load generator failed: $(head -3 "$WORK/load.err")"; return 1; }
    local rss; rss=$(field server_rss_peak_kib "$out")
    local core; core=$(awk -v a="$steady0" -v b="$steady1" -v hz="$HZ" -v ms="$dt" \
        'BEGIN { printf "%.3f", (b - a) / hz / (ms / 1000) }')
    local per1k; per1k=$(awk -v c="$core" -v n="$n" 'BEGIN { printf "%.3f", c * 1000 / n }')
    local ok pct ttfb gmed gp99 gmax fails
    ok=$(field ok "$out")
    pct=$(sed -n 's/.*ok=[0-9]* (\([0-9.]*\) %).*/\1/p' <<< "$out")
    ttfb=$(sed -n 's/.*ttfb_ms median=\([^ ]*\) p99=\([^ ]*\).*/\1\/\2/p' <<< "$out")
    gmed=$(sed -n 's/.*gap_ms median=\([^ ]*\) .*/\1/p' <<< "$out")
    gp99=$(sed -n 's/.*gap_ms median=[^ ]* p99=\([^ ]*\) .*/\1/p' <<< "$out")
    gmax=$(sed -n 's/.*gap_ms median=[^ ]* p99=[^ ]* max=\([^ ]*\) .*/\1/p' <<< "$out")
    fails=$(sed -n 's/.*failures connect=\([0-9]*\) reset=\([0-9]*\) status=\([0-9]*\) early_close=\([0-9]*\) timeout=\([0-9]*\).*/\1+\2+\3+\4+\5/p' <<< "$out")
    fails=$(( ${fails:-0} ))
    printf '%-20s %6s %5s %6s %6s %10s %6s %7s %7s %5s %6s %7s %8s\n' "$sys" "$n" "$stalled" \
        "$ok" "$pct" "$ttfb" "$gmed" "$gp99" "$gmax" "$fails" "$core" "$per1k" "$rss" | tee -a "$TABLE"
    echo "$sys,$n,$stalled,steady_core=$core,per_1000=$per1k" >> "$OUT/steady-$STAMP.csv"
    LAST_CORE=$core
}

header() {
    printf '%-20s %6s %5s %6s %6s %10s %6s %7s %7s %5s %6s %7s %8s\n' system listen stall \
        ok "ok %" "ttfb md/99" "gap md" "gap p99" "gap max" fails core "c/1000" "rss KiB" | tee -a "$TABLE"
}

# ---- scenarios ----

SIZES=(1000 5000 10000)
[ "$QUICK" = 1 ] && SIZES=(1000)
# BENCH_SIZES="1000 10000" picks audiences
[ -n "${BENCH_SIZES:-}" ] && read -r -a SIZES <<< "$BENCH_SIZES"
# BENCH_ONLY="ours floor icecast fastcgi stalled latency encoding" picks parts
ONLY=${BENCH_ONLY:-ours floor icecast fastcgi stalled latency encoding}
want() { [[ " $ONLY " == *" $1 "* ]]; }
{ echo "mod_audiostream benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
       "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), lighttpd $(lighttpd -v | sed -n 's/^lighttpd\/\([^ ]*\).*/\1/p'), $(icecast2 -v 2>/dev/null | head -1)"
  echo "listeners join at $JOIN_RATE/s; ok = got >= 99 % of 128 kbit/s from 2 s after their first byte;"
  echo "core = server CPU (all its processes) while every listener is connected; floor writes at the module's interval"; } | tee "$TABLE"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
header
# The CPU of the same run varies by up to a third from one run to the next on
# a virtual machine (the scheduler places the load generator differently),
# so the module and the floor run PAIRS times each, alternately, and their
# CPU is compared by the medians and by the median of the pairs' ratios.
PAIRS=$((QUICK ? 1 : 3))
cpu_pairs=()
for n in "${SIZES[@]}"; do
    ours_cores=() floor_cores=() pair_ratios=()
    for pair in $(seq 1 "$PAIRS"); do
        if want ours; then
            log "mod_audiostream, $n listeners (run $pair of $PAIRS)"
            LAST_CORE=
            start_ours "n$n-$pair" && load_run mod_audiostream "$n" 0; stop_system
            ours_cores+=("${LAST_CORE:-0}")
        fi
        if want floor; then
            log "floor at the module's interval ($(ours_interval_ms "$n") ms), $n listeners (run $pair of $PAIRS)"
            LAST_CORE=
            start_floor "n$n-$pair" "$(ours_interval_ms "$n")" && load_run "floor-$(ours_interval_ms "$n")ms" "$n" 0; stop_system
            floor_cores+=("${LAST_CORE:-0}")
        fi
        want ours && want floor && pair_ratios+=("$(ratio "${ours_cores[-1]}" "${floor_cores[-1]}")")
    done
    if want ours && want floor; then
        mo=$(median "${ours_cores[@]}"); mf=$(median "${floor_cores[@]}"); mr=$(median "${pair_ratios[@]}")
        cpu_pairs+=("$(printf '%s listeners: module %s core, floor %s core (medians of %s runs): %s x; ratio of each pair %s, median %s x' \
            "$n" "$mo" "$mf" "$PAIRS" "$(ratio "$mo" "$mf")" \
            "${pair_ratios[*]}" "$mr")")
        echo "$n,cpu_vs_floor,module_median=$mo,floor_median=$mf,pair_ratio_median=$mr" >> "$OUT/steady-$STAMP.csv"
    fi
    if want icecast; then
        log "Icecast + ffmpeg, $n listeners"
        start_icecast "n$n" && load_run icecast "$n" 0; stop_system
    fi
    if want fastcgi; then
        log "lighttpd + FastCGI, $n listeners"
        start_fastcgi "n$n" && load_run lighttpd-fastcgi "$n" 0; stop_system
    fi
done
if [ ${#cpu_pairs[@]} -gt 0 ]; then
    echo | tee -a "$TABLE"
    echo "CPU against the floor at the same write interval:" | tee -a "$TABLE"
    printf '  %s\n' "${cpu_pairs[@]}" | tee -a "$TABLE"
fi
if [ "$QUICK" = 0 ] && want stalled; then
    log "500 listeners next to 500 stalled ones"
    start_ours stalled && load_run mod_audiostream 500 500; stop_system
    start_icecast stalled && load_run icecast 500 500; stop_system
    start_fastcgi stalled && load_run lighttpd-fastcgi 500 500; stop_system
fi

# ---- latency: capture instant to arrival of the frame carrying it ----
latency_run() { # LABEL EXTRA_LISTENERS
    local extra=()
    if [ "$2" -gt 0 ]; then
        "$B/loadgen" --port "$PORT" --listeners "$2" --join-rate "$JOIN_RATE" --seconds 40 \
            --label bg > /dev/null 2>&1 & extra=($!)
        sleep $(( $2 / JOIN_RATE + 1 ))
    fi
    "$B/latency" --port "$PORT" --seconds "$((QUICK ? 12 : 25))" --skip 5 --label "$1" \
        | tee -a "$TABLE"
    [ ${#extra[@]} -eq 0 ] || { kill "${extra[@]}" 2>/dev/null; wait "${extra[@]}" 2>/dev/null; }
}
if want latency; then
    echo | tee -a "$TABLE"
    echo "latency, capture instant to arrival of the MP3 frame that carries it (ms):" | tee -a "$TABLE"
    log "latency: mod_audiostream"
    start_ours lat marks && { latency_run "mod_audiostream-1-listener" 0; latency_run "mod_audiostream-1000-listeners" 1000; }; stop_system
    log "latency: Icecast fed by ffmpeg from ALSA"
    start_icecast lat alsa && latency_run "icecast-ffmpeg-alsa" 0; stop_system
fi
want encoding || exit 0

# ---- the cost of encoding: one stream, no listener, against the lame command ----
log "encoding cost"
echo | tee -a "$TABLE"
secs=$((QUICK ? 10 : 40))
rounds=$((QUICK ? 1 : 3))
# The same PCM for both: one second of the tone, looped by the test device
# (a memcpy per period, as cheap as a sound card's DMA) and given to lame
# whole. A generated sine would add the device's sin() calls to our side.
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=1000:sample_rate=44100:duration=1" \
    -ac 2 -f s16le "$WORK/second.raw"
for i in $(seq 1 "$secs"); do cat "$WORK/second.raw"; done > "$WORK/pcm.raw"
echo "pcm.loop { type testtone file \"$WORK/second.raw\" }" >> "$WORK/asound.conf"
# The capture thread's CPU (named "audiostream") in nanoseconds
capture_ns() {
    local t s=0
    for t in /proc/"$1"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = audiostream ] && s=$((s + $(awk '{ print $1 }' "$t/schedstat")))
    done
    echo "$s"
}
lame_once() { # bash's `times` prints the children's user and system time on its second line
    (lame --quiet -r -s 44.1 --signed --little-endian -b 128 --cbr -q 5 --nores \
            "$WORK/pcm.raw" "$WORK/pcm.mp3" 2>/dev/null; times) | tail -1 \
        | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}
# lame takes a fifth of a second here, and one run of it varies by a third:
# the median of three
lame_cpu() { median "$(lame_once)" "$(lame_once)" "$(lame_once)"; }
ratios=() idle_thread=() busy=()
for round in $(seq 1 "$rounds"); do
    # rounds alternate the systems so that a change in the machine's speed hits all
    start_ours "enc$round" loop && {
        sleep 2; c0=$(cpu_ns "$PID"); t0=$(capture_ns "$PID")
        sleep "$secs"; c1=$(cpu_ns "$PID"); t1=$(capture_ns "$PID"); }
    stop_system
    ours_cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    stream_cpu=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    lame1=$(lame_cpu)
    ratios+=("$(ratio "$ours_cpu" "$lame1")")
    idle_thread+=("$(ratio "$stream_cpu" "$lame1")")
    # the whole process includes lighttpd's own once-a-second housekeeping
    printf 'encoding %d s of 44.1 kHz stereo at 128 kbit/s, q5, no reservoir, no listener: lighttpd+module %s s CPU (the stream'"'"'s capture thread %s s), lame command %s s CPU, ratio %s (capture thread %s)\n' \
        "$secs" "$ours_cpu" "$stream_cpu" "$lame1" "${ratios[-1]}" "${idle_thread[-1]}" | tee -a "$TABLE"
    # with a listener the capture wakes once a frame, for latency: its thread alone
    start_ours "encl$round" loop && {
        curl -s -N --max-time $((secs + 4)) -o /dev/null "$URL/live.mp3" & cpid=$!
        sleep 2; c0=$(capture_ns "$PID"); sleep "$secs"; c1=$(capture_ns "$PID"); wait "$cpid"; }
    stop_system
    thread_cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    lame2=$(lame_cpu)
    busy+=("$(ratio "$thread_cpu" "$lame2")")
    printf 'encoding %d s, the same, one listener: capture thread %s s CPU, lame command %s s CPU, ratio %s\n' \
        "$secs" "$thread_cpu" "$lame2" "${busy[-1]}" | tee -a "$TABLE"
done
echo "encoding cost, median ratio of $rounds rounds: $(median "${ratios[@]}") with no listener ($(median "${idle_thread[@]}") for the capture thread alone), $(median "${busy[@]}") with one (capture thread)" | tee -a "$TABLE"
echo "results: $TABLE and $CSV" >&2
