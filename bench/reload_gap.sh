#!/usr/bin/env bash
# What a reload of lighttpd (SIGUSR1, `systemctl reload lighttpd`) costs
# listeners whose players reconnect by themselves: N real players at once
# (default 200: ffmpeg -reconnect, mpv with the same options, streamripper
# and Liquidsoap's input.http), reloaded under, in lighttpd's own process
# and with server.graceful-restart-bg. Prints per player and mode how many
# played, the longest time each heard nothing (median and worst), and how
# many got an error (a player that exited, or said an HTTP error). Headless
# Chromium and the web player page across a reload are measured by
# test_player_chromium_reload (test/players.sh).
#   bench/reload_gap.sh BUILD_DIR [LISTENERS (200)]
# With AUDIOSTREAM_MODULE=/path/mod_audiostream.so, that module is measured
# (an older build, for a before/after). Every process is started and
# stopped here, by PID; loopback only.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" && pwd)
N=${2:-200}
WORK=$(mktemp -d /tmp/audiostream-reload.XXXXXX)
. "$here/test/lib.sh"
setup_work
SERVER_ENV=
SERVER_WRAP=
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PLAY_SECS=60        # each player, from its start
SETTLE_SECS=8       # from the last player's start to the signal
AFTER_SECS=15       # from the signal: the gaps that end in this time count

. "$here/bench/bench_lib.sh"
bench_lib reload_gap

# the mix of N: a tenth mpv, a twentieth streamripper, two Liquidsoap, the
# rest ffmpeg
KINDS=(ffmpeg mpv streamripper liquidsoap)
declare -A COUNT=([mpv]=$(( N / 10 )) [streamripper]=$(( N / 20 )) [liquidsoap]=2)
COUNT[ffmpeg]=$(( N - COUNT[mpv] - COUNT[streamripper] - COUNT[liquidsoap] ))

# player KIND I DIR URL: one player, its output timed; DIR/KIND.I.rc gets
# its exit status (124: still playing when its time was up); PLAYERS gets
# the PIDs to wait for
player() {
    local kind=$1 i=$2 d=$3 u=$4 f=$3/$1.$2
    if [ "$kind" = streamripper ]; then
        mkdir -p "$f.rip"
        ( cd "$f.rip" && timeout -k 3 "$PLAY_SECS" streamripper "$u" -d "$f.rip" -s -a live.mp3 \
              > "$f.err" 2>&1 < /dev/null; echo $? > "$f.rc" ) 2> /dev/null &
        PLAYERS+=($!)
        return
    fi
    mkfifo "$f.pcm"
    "$TOOLS/bodytime" /dev/null 500 "$f.gaps" < "$f.pcm" > "$f.time" &
    PLAYERS+=($!)
    case $kind in
        ffmpeg) ( timeout -k 3 "$PLAY_SECS" ffmpeg -nostdin -nostats -hide_banner -v error -y \
                      -reconnect 1 -reconnect_streamed 1 -reconnect_delay_max 2 -i "$u" \
                      -f s16le -ar 44100 -ac 2 "$f.pcm" 2> "$f.err"; echo $? > "$f.rc" ) 2> /dev/null & PLAYERS+=($!) ;;
        mpv) ( timeout -k 3 "$PLAY_SECS" mpv --no-config --no-video --really-quiet \
                   --stream-lavf-o=reconnect=1,reconnect_streamed=1,reconnect_delay_max=2 \
                   --ao=pcm --ao-pcm-file="$f.pcm" --ao-pcm-waveheader=no "$u" \
                   > "$f.err" 2>&1 < /dev/null; echo $? > "$f.rc" ) 2> /dev/null & PLAYERS+=($!) ;;
        liquidsoap)
            # no mksafe: while input.http has nothing, nothing is written
            cat > "$f.liq" <<EOF
settings.init.allow_root.set(true)
settings.log.file.set(false)
output.file(%wav(stereo, samplerate=44100, header=false), fallible=true, "$f.pcm", input.http("$u"))
EOF
            ( timeout -k 3 "$PLAY_SECS" liquidsoap "$f.liq" > "$f.err" 2>&1 < /dev/null; echo $? > "$f.rc" ) 2> /dev/null & PLAYERS+=($!) ;;
    esac
}

# reload_gaps DIR SIG_MS: "KIND.I GAP_MS" for each player that got output
# again after the signal: the longest time it got nothing that ended within
# AFTER_SECS of it; for streamripper from the sizes of its rips sampled
# every 100 ms into DIR/rips.log ("ms size...")
reload_gaps() {
    local kind i to=$(( $2 + AFTER_SECS * 1000 ))
    for kind in ffmpeg mpv liquidsoap; do
        for i in $(seq 1 "${COUNT[$kind]}"); do
            [ "$(sed -n 's/.*last_wall_ms=\([0-9]*\).*/\1/p' "$1/$kind.$i.time" 2>/dev/null)" -gt "$to" ] 2>/dev/null \
                || continue
            awk -v s="$2" -v e="$to" -v k="$kind.$i" '$1 > s && $1 <= e && $2 > g { g = $2 }
                END { printf "%s %d\n", k, g }' "$1/$kind.$i.gaps"
        done
    done
    for i in $(seq 1 "${COUNT[streamripper]}"); do
        awk -v c="$i" -v s="$2" -v e="$to" '{ if ($(c + 1) > prev) { if (prev > 0 && $1 > s && $1 <= e && $1 - t > g) g = $1 - t; if (prev > 0 && $1 > e) on = 1; t = $1; prev = $(c + 1) } }
            END { if (on) printf "streamripper.%d %d\n", c, g }' "$1/rips.log"
    done
}

# scenario LABEL BG: N players, a reload, the gaps
scenario() {
    local label=$1 bg=$2 flags='' kind i
    [ "$bg" = bg ] && flags='server.feature-flags += ( "server.graceful-restart-bg" => "enable" )'
    start_server "$label" "server.modules += ( \"mod_audiostream\" )
$flags
server.max-fds = 20000
server.max-connections = 10000
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\" ) )" || { log "$label: lighttpd did not start"; return 1; }
    PIDS_TO_STOP+=("$PID")
    wait_live /live.mp3 || { log "$label: the stream never went live"; return 1; }
    local d=$DIR t0 sig_ms
    PLAYERS=()
    t0=$(now_ms)
    for kind in "${KINDS[@]}"; do
        for i in $(seq 1 "${COUNT[$kind]}"); do player "$kind" "$i" "$d" "$URL/live.mp3"; sleep 0.04; done
    done
    # the rips' sizes, every 100 ms, until the last player's time is up
    local t1; t1=$(now_ms)   # the last player started
    ( while [ $(( $(now_ms) - t1 )) -lt $(( (PLAY_SECS + 2) * 1000 )) ]; do
          echo "$(now_ms) $(for i in $(seq 1 "${COUNT[streamripper]}"); do
                                cat "$d/streamripper.$i.rip"/*.mp3 2>/dev/null | wc -c; done | tr '\n' ' ')"
          sleep 0.1
      done > "$d/rips.log" ) &
    local poller=$!
    sleep "$SETTLE_SECS"
    log "$label: $(established "$PORT") listeners connected $(( ($(now_ms) - t0) / 1000 )) s after the first started, sending SIGUSR1"
    sig_ms=$(now_ms); kill -USR1 "$PID"
    wait "$poller"
    wait "${PLAYERS[@]}" 2>/dev/null
    reload_gaps "$d" "$sig_ms" > "$d/gaps"
    for kind in "${KINDS[@]}"; do
        local played errors gaps
        played=$(grep -c "^$kind\.[0-9]* [0-9]" "$d/gaps")
        # an error: exited before its time was up (timeout's 124, or 137
        # when it had to be killed), or said an HTTP error
        errors=$(for i in $(seq 1 "${COUNT[$kind]}"); do
                     { ! grep -qxE '124|137' "$d/$kind.$i.rc" 2>/dev/null \
                       || grep -qiE 'HTTP error|Server returned|refused|failed' "$d/$kind.$i.err"; } && echo x
                 done | wc -l)
        gaps=$(awk -v k="$kind" 'index($1, k ".") == 1 && NF == 2 { print $2 }' "$d/gaps" | sort -n)
        printf '%-28s %-13s %6s %9s %10s %9s %6s\n' "$label" "$kind" "${COUNT[$kind]}" "$played" \
            "$(awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "-" }' <<< "$gaps")" \
            "$(tail -1 <<< "$gaps")" "$errors" | tee -a "$WORK/table"
    done
    log "$label: captures opened: $(grep -c capturing "$d/error.log"); $(grep -c 'goes on from before' "$d/error.log") went on"
    kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
}

log "module: $AUDIOSTREAM_MODULE; $N players: $(for k in "${KINDS[@]}"; do printf '%s %s ' "${COUNT[$k]}" "$k"; done)"
log "$(player_version ffmpeg); $(player_version mpv); $(player_version streamripper); $(player_version liquidsoap)"
printf '%-28s %-13s %6s %9s %10s %9s %6s\n' reload player ran "played on" "gap median" "gap max" errors
scenario "SIGUSR1 in process" no
scenario "SIGUSR1 graceful-restart-bg" bg
echo "played on: players whose decoded output (streamripper: its rip) grew again after the reload"
echo "and still did ${AFTER_SECS} s after it; gap: the longest time, in ms, such a player's output got"
echo "nothing across the reload; errors: players that exited before their time or printed an HTTP"
echo "error"
