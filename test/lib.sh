# Helpers for the integration tests: a real /usr/sbin/lighttpd loading the
# built module, capturing from the paced test-tone ALSA device, and real
# clients (curl) and decoders (mpg123) checking what a listener gets.
# Sourced by test/integration.sh; needs BUILD and WORK set.

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=$BUILD/test/tools         # the C tools; test/tools/*.py run from TEST_DIR
H2ABUSE=(/usr/bin/python3 "$TEST_DIR/tools/h2abuse.py")   # Debian's python3-h2
PLUGIN=$BUILD/test/alsa/.libs/libasound_module_pcm_testtone.so
# the server, the directory of its own modules, and the module under test
# (another lighttpd: test/matrix.sh sets all three)
LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}
LIGHTTPD_MODULES=${LIGHTTPD_MODULES:-/usr/lib/lighttpd}
AUDIOSTREAM_MODULE=${AUDIOSTREAM_MODULE:-$BUILD/.libs/mod_audiostream.so}
BITRATE_BPS=16000            # 128 kbit/s
BURST_S=2                    # the default burst-ms (stream_config.c), in seconds
# pass, fail, verdict and the counts
# shellcheck source=test/lib/results.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/results.sh"

# ---- set-up ----

setup_work() {
    mkdir -p "$WORK/modules"
    # lighttpd takes one module directory: ours, plus links to the server's own
    ln -sf "$LIGHTTPD_MODULES"/*.so "$WORK/modules/"
    rm -f "$WORK/modules/mod_audiostream.so"
    cp "$AUDIOSTREAM_MODULE" "$WORK/modules/mod_audiostream.so"
    cat > "$WORK/asound.conf" <<EOF
pcm_type.testtone { lib "$PLUGIN" }
pcm.tone997 { type testtone frequency 997 }
pcm.tone440 { type testtone frequency 440 }
pcm.tone1500 { type testtone frequency 1500 }
pcm.tone660 { type testtone frequency 660 }
pcm.unplugged { type testtone frequency 997 present_file "$WORK/plugged" }
pcm.flaky997 { type testtone frequency 997 open_failures 3 }
pcm.eio997 { type testtone frequency 997 present_file "$WORK/present-eio" fail_errno "EIO" }
pcm.gone997 { type testtone frequency 997 present_file "$WORK/present-gone" }
pcm.zero997 { type testtone frequency 997 present_file "$WORK/present-zero" }
pcm.stall997 { type testtone frequency 997 stall_file "$WORK/stall-flag" }
pcm.overrun997 { type testtone frequency 997 stall_after_ms 4000 stall_ms 800 }
pcm.slowstart997 { type testtone frequency 997 start_delay_ms 700 }
pcm.slowstart440 { type testtone frequency 440 start_delay_ms 700 }
EOF
    export ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$WORK/asound.conf
    NEXT_PORT=$((20000 + ($$ % 500) * 20))
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    while ! port_is_free "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
    PORT=$NEXT_PORT; NEXT_PORT=$((NEXT_PORT + 1))
}

# write_conf DIR PORT BODY: a lighttpd.conf for one test
write_conf() {
    mkdir -p "$1/htdocs"
    cat > "$1/lighttpd.conf" <<EOF
server.document-root = "$1/htdocs"
server.bind = "127.0.0.1"
server.port = $2
server.errorlog = "$1/error.log"
mimetype.assign = ( ".txt" => "text/plain" )
$3
EOF
}

accepting() { ! port_is_free "$1"; }
exited() { ! kill -0 "$1" 2>/dev/null; }

# poll TENTHS COMMAND...: runs COMMAND every 0.1 s until it succeeds, at
# most TENTHS times; fails when it never did. The one wait of the tests:
# they wait for what they need, never a fixed time that a slow machine
# would overrun
poll() {
    local n=$1; shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        n=$((n - 1)); sleep 0.1
    done
    return 1
}
# poll_alive PID TENTHS COMMAND...: poll, giving up at once when PID has
# exited (what was to do it is gone)
poll_alive() {
    local pid=$1 n=$2; shift 2
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        n=$((n - 1)); sleep 0.1
    done
    return 1
}

# wait_listening PORT PID TENTHS: until something accepts on PORT; fails
# when PID exits first or TENTHS tenths of a second pass
wait_listening() { poll_alive "$2" "$3" accepting "$1"; }

# start_server NAME BODY: starts lighttpd in the foreground of a background
# job; sets DIR, PORT, PID, URL. Waits until it accepts connections.
start_server() {
    DIR=$WORK/$1; free_port
    write_conf "$DIR" "$PORT" "$2"
    URL=http://127.0.0.1:$PORT
    : > "$DIR/stdout.log"; : > "$DIR/stderr.log"
    launch_server
}

# launch_server: lighttpd from DIR's lighttpd.conf, its output added to
# DIR's logs; sets PID and waits until it accepts connections on PORT
launch_server() {
    # shellcheck disable=SC2086
    env $SERVER_ENV $SERVER_WRAP "$LIGHTTPD" -D -f "$DIR/lighttpd.conf" -m "$WORK/modules" \
        >> "$DIR/stdout.log" 2>> "$DIR/stderr.log" &
    PID=$!
    wait_listening "$PORT" "$PID" "${START_WAIT_TENTHS:-100}"
}

# stop_server [SIGNAL]: stops it and waits; sets STOP_MS to the time it took
stop_server() {
    local t0; t0=$(date +%s%N)
    kill -"${1:-TERM}" "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    STOP_RC=$?
    STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# restart_server: stops the server of DIR, PORT and PID (stop_server) and
# starts it again from the same lighttpd.conf on the same port, appending
# to its logs, as an administrator's restart would; sets PID, and
# RESTART_MS to the time from the signal until it accepts connections
restart_server() {
    local t0 rc; t0=$(date +%s%N)
    stop_server
    launch_server; rc=$?
    RESTART_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
    return $rc
}

# wait_live PATH: until the stream answers 200 (its device is capturing)
wait_live() { poll "${LIVE_WAIT_TENTHS:-100}" is_live "$1"; }
is_live() { [ "$(curl -s -o /dev/null -w '%{http_code}' -I --max-time 1 "$URL$1")" = 200 ]; }

# start_live NAME BODY [PATH...]: start_server NAME BODY, then wait_live for
# each PATH (default /live.mp3); when either fails, the failure is recorded
# under NAME (with lighttpd's own words) and the server stopped: the caller
# only returns
start_live() {
    local name=$1 body=$2 path; shift 2
    start_server "$name" "$body" \
        || { fail "$name: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return 1; }
    for path in "${@:-/live.mp3}"; do
        wait_live "$path" \
            || { fail "$name: $path never went live" "$(tail -5 "$DIR/error.log")"; stop_server; return 1; }
    done
}

# live_since_ms PATH SINCE_MS: the ms from SINCE_MS (now_ms) until the
# stream answers 200 (wait_live, to 0.1 s), nothing if it never does
live_since_ms() { wait_live "$1" && echo $(( $(now_ms) - $2 )); }

# ---- JSON: the status URL's document ----

# json_get FILE EXPR: EXPR (Python, over d, s and stream(PATH): see
# tools/json_get.py) of the JSON document in FILE ("-": stdin); "INVALID
# <why>" when it does not parse
json_get() { python3 "$TEST_DIR/tools/json_get.py" "$1" "$2"; }
# status_get EXPR: json_get of the status document the server gives now
# (at STATUS_PATH, default /status-json.xsl)
status_get() { curl -s --max-time 5 "$URL${STATUS_PATH:-/status-json.xsl}" | json_get - "$1"; }

# ---- listening ----

# listen OUT URL SECONDS [curl options...]: the body goes through bodytime
# into OUT.mp3 with its timings in OUT.time (the steady rate counted from
# LISTEN_STEADY_MS after the first byte, default 500: past a relay's burst
# of older audio, set it longer), the headers into OUT.hdr, curl's exit
# status into OUT.rc and the time the response ended (now_ms) into OUT.end
listen() {
    local out=$1 url=$2 secs=$3; shift 3
    curl -s -N "$@" -D "$out.hdr" --max-time "$secs" -o - "$url" 2> "$out.curlerr" \
        | "$TOOLS/bodytime" "$out.mp3" "${LISTEN_STEADY_MS:-500}" > "$out.time"
    echo "${PIPESTATUS[0]}" > "$out.rc"
    now_ms > "$out.end"
}

# figure NAME TEXT: the value of NAME=... in a line of key=value figures
figure() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<< "$2"; }

# time_field OUT NAME: a figure bodytime printed
time_field() { sed -n "s/.*\b$2=\([0-9.]*\).*/\1/p" "$1.time"; }

# tone_check FILE HZ MIN_MS [pcmcheck options...]: FILE (raw s16le or a
# 16-bit WAV, 44.1 kHz stereo) holds at least MIN_MS of the HZ tone with no
# dropout or phase jump (pcmcheck's report in FILE.pcm); prints what is
# wrong, nothing when all is right
tone_check() {
    local file=$1 hz=$2 min_ms=$3; shift 3
    "$TOOLS/pcmcheck" --rate 44100 --channels 2 --expect-hz "$hz" --tol-hz 3 --min-ms "$min_ms" "$@" \
        "$file" > "$file.pcm" 2>&1 && return 0
    echo "${file##*/}: pcmcheck failed:"; sed 's/^/  /' "$file.pcm"
}
# pcm_ms FILE: the duration tone_check measured (after its first 300 ms)
pcm_ms() { sed -n 's/.*duration_ms=\([0-9]*\).*/\1/p' "$1.pcm"; }
# mp3_tone_check MP3 HZ MIN_MS: MP3 decodes (mpg123, which finds the first
# frame itself: a relay's burst need not start on one) into MP3.raw, and
# that holds the tone (tone_check)
mp3_tone_check() {
    mpg123 -q -s -r 44100 -e s16 "$1" > "$1.raw" 2> "$1.mpg123err"
    tone_check "$1.raw" "$2" "$3"
}
# decode_check OUT HZ MIN_MS: OUT.mp3 is whole frames from its first byte
# (mp3check) and holds the tone (mp3_tone_check); prints what is wrong
decode_check() {
    "$TOOLS/mp3check" frames "$1.mp3" > "$1.frames" || cat "$1.frames"
    mp3_tone_check "$1.mp3" "$2" "$3"
}

header() { tr -d '\r' < "$1.hdr" | sed -n "s/^$2: *//Ip" | tail -1; }
status_line() { tr -d '\r' < "$1.hdr" | grep '^HTTP/' | tail -1 | sed 's/ *$//'; }

# rate_check OUT: prints what is wrong with the steady body rate and the
# time to the first audio byte
rate_check() {
    local first rate
    first=$(time_field "$1" first_ms); rate=$(time_field "$1" steady_bps)
    [ -n "$first" ] && [ "${first%.*}" -ge 0 ] 2>/dev/null || { echo "no audio byte arrived"; return; }
    [ "${first%.*}" -le 1000 ] || echo "first audio byte after ${first} ms (> 1000)"
    awk -v r="$rate" -v b="$BITRATE_BPS" 'BEGIN { d = (r - b) / b; if (d < 0) d = -d;
        if (d > 0.03) printf "body rate %d B/s is %.1f %% off %d B/s\n", r, d * 100, b }'
}

# ---- single requests (features.sh) ----

# request OUT URL [curl options...]: one request, headers to OUT.hdr and the
# body to OUT.body; a stream is cut after REQUEST_SECS (default 2) seconds
request() {
    local out=$1 url=$2; shift 2
    curl -s --max-time "${REQUEST_SECS:-2}" "$@" -D "$out.hdr" -o "$out.body" "$url" 2> "$out.curlerr"
}

# expect_status OUT LINE / expect_header OUT NAME VALUE / expect_no_header
# OUT NAME: print what is wrong, nothing when it is right
expect_status() {
    [ "$(status_line "$1")" = "$2" ] || echo "${1##*/}: status '$(status_line "$1")', want '$2'"
}
expect_header() {
    local n v
    n=$(tr -d '\r' < "$1.hdr" | grep -ci "^$2:")
    v=$(header "$1" "$2")
    [ "$n" = 1 ] && [ "$v" = "$3" ] || echo "${1##*/}: $2 (sent $n times): '$v', want '$3'"
}
expect_no_header() {
    local lines
    lines=$(tr -d '\r' < "$1.hdr" | grep -i "^$2:")
    [ -z "$lines" ] || echo "${1##*/}: has $lines"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# player_version PACKAGE: name and Debian version of a client, for the log
player_version() { dpkg-query -W -f='${Package} ${Version}' "$1" 2>/dev/null || echo "$1: not installed"; }

# raw_request OUT TEXT: sends TEXT (a printf format: write \r\n) on a new
# connection to the server and reads until it closes, at most 3 s; all of
# it to OUT.raw, the header block to OUT.hdr, what follows it to OUT.body
raw_request() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "$1" >&3; cat <&3' "$PORT" "$2" > "$1.raw"
    local off
    off=$(LC_ALL=C grep -obUaP '\r\n\r\n' "$1.raw" | head -1 | cut -d: -f1)
    if [ -n "$off" ]; then
        head -c $((off + 4)) "$1.raw" > "$1.hdr"; tail -c +$((off + 5)) "$1.raw" > "$1.body"
    else
        cp "$1.raw" "$1.hdr"; : > "$1.body"
    fi
}

# established PORT: connections the server on PORT holds in ESTABLISHED
# state (its own ends, from /proc/net/tcp: loopback IPv4)
established() {
    awk -v p=":$(printf '%04X' "$1")" 'substr($2, length($2) - 4) == p && $4 == "01"' /proc/net/tcp | wc -l
}
