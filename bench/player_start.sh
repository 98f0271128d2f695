#!/usr/bin/env bash
# How long real players take to start playing the live stream, and how far
# behind live they then play, for each burst-ms (issue 14, point 7). Prints
# figures, no pass/fail.
#
#   bash bench/player_start.sh [BUILD_DIR]        (default: ./build)
#
# Environment: PLAYERS (default "mpg123 ffmpeg mpv vlc mplayer gst-playbin
# gst-decodebin chromium"; also "mpv-aopcm", see below), BURSTS (default
# "0 500 1000 2000 4000"), REPS (default 3), PLAY_SECS (default 5: how long
# each player plays after it started), CARD_BYTES (default 8192: the
# emulated sound card's buffer), BACKGROUND_LISTENER (default 1),
# KEEP_WORK=1 keeps the work directory.
# About 20 minutes with the defaults (each run lasts its start time plus
# PLAY_SECS; Chromium's own start-up comes on top and is not counted).
#
# Needs: a built tree (bash scripts/build.sh: the module and the test ALSA
# plugin build/test/alsa/.libs/libasound_module_pcm_testtone.so), lighttpd,
# gcc and libmpg123-dev (for bench/player_start_probe.c, built into the work
# directory), curl, and the players, as Debian 12 packages them: mpg123,
# ffmpeg, mpv, vlc-bin + vlc-plugin-base (cvlc, run as nobody since VLC
# refuses root), mplayer, gstreamer1.0-tools + gstreamer1.0-plugins-base
# /-good (souphttpsrc, mpg123audiodec) /-ugly, chromium. A player that is
# not installed is skipped, with a line saying so.
#
# What it does: one lighttpd with the built module serves /bN.mp3 for each
# N in BURSTS ("burst-ms" => N, 128 kbit/s, 44.1 kHz stereo), all captured
# from one test device in time-mark mode (test/alsa/pcm_testtone.c, marks 1:
# a coded mark on every whole second of CLOCK_MONOTONIC). A curl listener
# stays connected to /b0.mp3 all along (BACKGROUND_LISTENER=1), as on a
# station that has listeners: with none, the capture thread naps 250 ms at a
# time and a first listener's burst is up to 250 ms older.
#
# Each run puts the probe (bench/player_start_probe.c) between the player
# and lighttpd: the player connects to the probe, which forwards the
# connection at once, so the probe knows the instant the player connected
# (the accept of its stream connection) and how much audio it had received
# at any instant. Every player but Chromium writes decoded PCM (S16_LE,
# 44.1 kHz, stereo) into a FIFO that the probe drains like a sound card: a
# CARD_BYTES buffer (46 ms) played at 176,400 B/s, taking from the FIFO
# only what fits, so a player that decodes faster than real time blocks as
# on a card. Per run:
#   start  = the probe reads the player's first PCM byte (its first sound)
#            minus the player's connect;
#   delay  = the instant the card plays a time mark minus the instant it
#            was captured (median over the marks played from 1 s after the
#            start on): how far behind live the listener hears. It includes
#            the capture-to-arrival latency (~55 ms), the MP3 decoder's
#            delay (529 + 576 samples, 25 ms) and up to the 46 ms card
#            buffer; a real card's own buffer adds to it whatever burst-ms.
# Chromium (headless, <audio> playing to its fake audio output, which is
# paced like a card) plays a page the probe serves, which reports
# currentTime every 20 ms: start = the first report with currentTime > 0
# minus the stream request; delay = the report's instant minus the capture
# instant of the stream sample at currentTime (the marks decoded from the
# stream in the probe; +-25 ms for the decoder delay and the 20 ms poll).
# mpv the same way: its null audio output is timed like a card (a 0.2 s
# buffer drained in real time), and a Lua script writes time-pos every 20 ms
# into a FIFO the probe reads. (With --ao=pcm, "mpv-aopcm", mpv starts
# ~0.9 s later than with a timed output: it fills that untimed output first;
# not how it plays on a card, so not in the default list.)
#
# Player settings (as a listener would run them, output to the FIFO):
#   mpg123       mpg123 -s URL > FIFO
#   ffmpeg       ffmpeg -i URL -f s16le FIFO
#   mpv          mpv --ao=null, time-pos reported by a Lua script
#   mpv-aopcm    mpv --ao=pcm --ao-pcm-file=FIFO (untimed output: paced by
#                the FIFO)
#   vlc          cvlc --aout=afile --audiofile-file=FIFO (network-caching
#                default)
#   mplayer      mplayer -ao pcm:nowaveheader:file=FIFO (paced in real time
#                by ao_pcm itself)
#   gst-playbin  gst-launch-1.0 playbin, audio-sink ... ! filesink sync=true
#                (what GStreamer players use: network buffering)
#   gst-decodebin gst-launch-1.0 souphttpsrc ! decodebin ! ...
#                ! filesink sync=true
#   chromium     headless, <audio src=URL>.play()
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$here/build}" && pwd) || exit 2
PLAYERS=${PLAYERS:-mpg123 ffmpeg mpv vlc mplayer gst-playbin gst-decodebin chromium}
BURSTS=${BURSTS:-0 500 1000 2000 4000}
REPS=${REPS:-3}
PLAY_SECS=${PLAY_SECS:-5}
CARD_BYTES=${CARD_BYTES:-8192}
BACKGROUND_LISTENER=${BACKGROUND_LISTENER:-1}
T_BEGIN=$(date +%s)

WORK=$(mktemp -d /tmp/audiostream-player-start.XXXXXX)
chmod 755 "$WORK"     # VLC runs as nobody and writes into a FIFO here
# shellcheck source=../test/lib.sh
. "$here/test/lib.sh"
setup_work
echo 'pcm.marks { type testtone marks 1 }' >> "$WORK/asound.conf"
export SERVER_ENV='' SERVER_WRAP=''     # read by start_server (test/lib.sh)
OUT=$BUILD/bench-results
mkdir -p "$OUT"
RAW=$OUT/player-start-$(date -u +%Y%m%d-%H%M).txt

. "$here/bench/bench_lib.sh"
bench_lib player-start

# mpv's position, every 20 ms, into the probe's FIFO
cat > "$WORK/report.lua" <<'EOF'
local path = mp.get_opt("probe-reports")
local f = path and io.open(path, "w")
if f then
    f:setvbuf("no")
    mp.add_periodic_timer(0.02, function()
        local p = mp.get_property_number("time-pos")
        if p then f:write(string.format("ct=%.4f\n", p)) end
    end)
end
EOF
PROBE=$WORK/player_start_probe
gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$PROBE" "$here/bench/player_start_probe.c" -lmpg123 -lm \
    || { echo "cannot build bench/player_start_probe.c (needs gcc and libmpg123-dev)" >&2; exit 1; }

# ---- the server: one stream per burst-ms, one shared marks device ----
streams=""
max_burst=0
for b in $BURSTS; do
    q=5000; [ "$b" -gt "$q" ] && q=$b          # burst-ms may not exceed queue-ms
    streams+="  \"/b$b.mp3\" => ( \"device\" => \"marks\", \"burst-ms\" => $b, \"queue-ms\" => $q ),
"
    [ "$b" -gt "$max_burst" ] && max_burst=$b
done
start_server server "server.modules += ( \"mod_audiostream\" )
audiostream.streams = (
$streams)" || { echo "lighttpd did not start: $(cat "$DIR/stderr.log")" >&2; exit 1; }
PIDS_TO_STOP+=("$PID")
SERVER_PORT=$PORT
for b in $BURSTS; do wait_live "/b$b.mp3" || { echo "/b$b.mp3 never went live" >&2; exit 1; }; done
if [ "$BACKGROUND_LISTENER" = 1 ]; then
    curl -s -o /dev/null --max-time 7200 "http://127.0.0.1:$SERVER_PORT/b${BURSTS%% *}.mp3" &
    PIDS_TO_STOP+=($!)
fi
# the ring holds the largest burst before the first listener comes
sleep $(( max_burst / 1000 + 2 ))

# ---- players ----

have_gst() { command -v gst-launch-1.0 > /dev/null && gst-inspect-1.0 souphttpsrc > /dev/null 2>&1 \
    && gst-inspect-1.0 mpg123audiodec > /dev/null 2>&1; }

# installed NAME: 0 if the player can run here, else prints why not
installed() {
    case $1 in
        mpg123|ffmpeg|mpv|mplayer|chromium) command -v "$1" > /dev/null || { echo "$1 not installed"; return 1; } ;;
        mpv-aopcm) command -v mpv > /dev/null || { echo "$1: mpv not installed"; return 1; } ;;
        vlc) command -v cvlc > /dev/null && ls /usr/lib/*/vlc/plugins/audio_output/libafile_plugin.so > /dev/null 2>&1 \
                 || { echo "vlc not installed (cvlc with the afile audio output: vlc-bin, vlc-plugin-base)"; return 1; } ;;
        gst-playbin|gst-decodebin) have_gst || { echo "$1: GStreamer not installed (gst-launch-1.0, souphttpsrc, mpg123audiodec: gstreamer1.0-tools, -plugins-good)"; return 1; } ;;
        *) echo "$1: unknown player"; return 1 ;;
    esac
}

version() {
    case $1 in
        vlc) echo "$(player_version vlc-bin), $(player_version vlc-plugin-base)" ;;
        gst-*) echo "$(player_version gstreamer1.0-tools), $(player_version gstreamer1.0-plugins-good)" ;;
        mpv-*) player_version mpv ;;
        *) player_version "$1" ;;
    esac
}

CAPS='audio/x-raw,format=S16LE,rate=44100,channels=2'
# player_start NAME URL FIFO: starts it in the background under timeout,
# PLAYER_PID. timeout leads a process group of its own (it calls setpgid),
# which holds whatever the player forks (mplayer's cache process outlives
# mplayer), so stop_player ends that group, by its id.
player_start() {
    local name=$1 url=$2 fifo=$3 d=$RUN_DIR cmd
    case $name in
        mpg123) cmd=(sh -c 'exec mpg123 -q -s -r 44100 -e s16 "$0" > "$1"' "$url" "$fifo") ;;
        ffmpeg) cmd=(ffmpeg -nostdin -v error -i "$url" -f s16le -ar 44100 -ac 2 -y "$fifo") ;;
        mpv) cmd=(mpv --no-config --no-video --really-quiet --ao=null
                 --script="$WORK/report.lua" --script-opts=probe-reports="$fifo" "$url") ;;
        mpv-aopcm) cmd=(mpv --no-config --no-video --really-quiet --ao=pcm --ao-pcm-file="$fifo"
                 --ao-pcm-waveheader=no --audio-format=s16 --audio-samplerate=44100 --audio-channels=stereo "$url") ;;
        vlc) mkdir -p "$d/vlc-home"; chown nobody: "$d/vlc-home"
             cmd=(runuser -u nobody -- env -u ALSA_CONFIG_PATH HOME="$d/vlc-home" cvlc -q --no-video
                 --aout=afile --audiofile-file="$fifo" --audiofile-format=s16 --audiofile-channels=2
                 --no-audiofile-wav "$url") ;;
        mplayer) cmd=(env HOME="$d" mplayer -really-quiet -noconsolecontrols -nolirc
                 -vo null -vc null -ao pcm:nowaveheader:file="$fifo" -af format=s16le -srate 44100 -channels 2 "$url") ;;
        gst-playbin) cmd=(gst-launch-1.0 -q playbin uri="$url" video-sink=fakesink
                 audio-sink="audioconvert ! audioresample ! $CAPS ! filesink location=$fifo sync=true") ;;
        gst-decodebin) cmd=(gst-launch-1.0 -q souphttpsrc location="$url" ! decodebin
                 ! audioconvert ! audioresample ! "$CAPS" ! filesink location="$fifo" sync=true) ;;
        chromium) mkdir -p "$d/home"
             # shellcheck disable=SC2054  # 800,600 is one argument
             cmd=(env HOME="$d/home" XDG_CONFIG_HOME="$d/home" XDG_CACHE_HOME="$d/home"
                 chromium --headless --no-sandbox --user-data-dir="$d/profile"
                 --no-first-run --disable-gpu --disable-extensions --disable-sync --disable-default-apps
                 --disable-background-networking --disable-component-update
                 --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
                 --autoplay-policy=no-user-gesture-required --window-size=800,600 "$url") ;;
    esac
    # only lighttpd reads the test ALSA configuration
    env -u ALSA_CONFIG_PATH timeout 60 "${cmd[@]}" < /dev/null > "$d/player.out" 2> "$d/player.err" &
    PLAYER_PID=$!
}

# stop_player: it has usually gone by itself (the probe's end closed its
# socket and its FIFO); else TERM (timeout passes it to its group), then
# KILL to the group timeout leads, by its id
stop_player() {
    for _ in $(seq 1 20); do kill -0 "$PLAYER_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$PLAYER_PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$PLAYER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$PLAYER_PID" 2>/dev/null
    wait "$PLAYER_PID" 2>/dev/null
}

# run_one NAME BURST REP: one run; appends the probe's line to $RAW
RUN_N=0
run_one() {
    local name=$1 b=$2 rep=$3 mode url probe_pid line
    RUN_N=$((RUN_N + 1))
    RUN_DIR=$WORK/run-$RUN_N; mkdir -p "$RUN_DIR"
    free_port
    local fifo=$RUN_DIR/pcm.fifo
    if [ "$name" = chromium ]; then
        mode=(--page --max 45)
        url="http://127.0.0.1:$PORT/bench.html?src=/b$b.mp3"
    elif [ "$name" = mpv ]; then
        mkfifo -m 666 "$fifo"
        mode=(--reports "$fifo" --max 20)
        url="http://127.0.0.1:$PORT/b$b.mp3"
    else
        mkfifo -m 666 "$fifo"
        mode=(--fifo "$fifo" --max 20 --card-bytes "$CARD_BYTES")
        url="http://127.0.0.1:$PORT/b$b.mp3"
    fi
    "$PROBE" --listen "$PORT" --upstream "$SERVER_PORT" "${mode[@]}" --play "$PLAY_SECS" \
        --label "player=$name burst=$b rep=$rep" > "$RUN_DIR/probe.out" 2> "$RUN_DIR/probe.err" &
    probe_pid=$!
    for _ in $(seq 1 200); do grep -q '^ready' "$RUN_DIR/probe.out" 2>/dev/null && break; sleep 0.01; done
    player_start "$name" "$url" "$fifo"
    wait "$probe_pid"
    stop_player
    line=$(grep '^label=' "$RUN_DIR/probe.out")
    [ -n "$line" ] || line="label=player=$name burst=$b rep=$rep start_ms=none probe_failed=1"
    echo "$line" >> "$RAW"
    log "$line"
    grep -q 'start_ms=none' <<< "$line" && log "  $name said: $(tr '\r' '\n' < "$RUN_DIR/player.err" | grep -v '^$' | tail -3 | tr '\n' ' ')"
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$RUN_DIR"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); lighttpd $("$LIGHTTPD" -v 2>&1 | head -1 | sed 's/ - .*//'), module $AUDIOSTREAM_MODULE"
echo "# bursts: $BURSTS ms; $REPS runs each; each plays $PLAY_SECS s after it starts; card buffer $CARD_BYTES B; background listener: $BACKGROUND_LISTENER"
: > "$RAW"
ran=()
for p in $PLAYERS; do
    why=$(installed "$p") || { echo "# skipped: $why"; continue; }
    echo "# $p: $(version "$p")"
    log "$p"
    ran+=("$p")
    for rep in $(seq 1 "$REPS"); do
        for b in $BURSTS; do run_one "$p" "$b" "$rep"; done
    done
done

# ---- the table ----
echo
printf '%-14s %8s  %-24s %-24s %10s %9s %s\n' player burst-ms "start ms: median (range)" \
    "delay ms: median (range)" "KiB@start" underruns "runs started"
awk -v order="${ran[*]}" -v bursts="$BURSTS" '
function field(line, k,   m) { return match(line, " " k "=[^ ]*") ? substr(line, RSTART + length(k) + 2, RLENGTH - length(k) - 2) : "" }
function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
{ line = $0; sub(/^label=/, "", line); line = " " line
  p = field(line, "player"); b = field(line, "burst"); key = p SUBSEP b
  runs[key]++
  s = field(line, "start_ms"); if (s != "" && s != "none") { ns[key]++; S[key, ns[key]] = s + 0
      k = field(line, "kb_at_start"); K[key, ns[key]] = k + 0 }
  d = field(line, "delay_ms"); if (d != "" && d != "none") { nd[key]++; D[key, nd[key]] = d + 0 }
  u[key] += field(line, "underruns") + 0
  r = field(line, "stream_requests"); if (r + 0 > 1) multi[key] = 1 }
END { np = split(order, P, " "); nb = split(bursts, B, " ")
  for (i = 1; i <= np; i++) for (j = 1; j <= nb; j++) { key = P[i] SUBSEP B[j]; if (!runs[key]) continue
      n = ns[key]; delete a; delete kk; lo = hi = ""
      for (x = 1; x <= n; x++) { a[x] = S[key, x]; kk[x] = K[key, x]; if (lo == "" || a[x] < lo) lo = a[x]; if (hi == "" || a[x] > hi) hi = a[x] }
      st = n ? sprintf("%6.0f (%.0f-%.0f)", med(a, n), lo, hi) : "never"
      kb = n ? sprintf("%.1f", med(kk, n)) : "-"
      m = nd[key]; delete a; lo = hi = ""
      for (x = 1; x <= m; x++) { a[x] = D[key, x]; if (lo == "" || a[x] < lo) lo = a[x]; if (hi == "" || a[x] > hi) hi = a[x] }
      de = m ? sprintf("%6.0f (%.0f-%.0f)", med(a, m), lo, hi) : "none"
      printf "%-14s %8s  %-24s %-24s %10s %9d %d/%d%s\n", P[i], B[j], st, de, kb, u[key], n, runs[key], multi[key] ? " (reconnected)" : "" }
}' "$RAW"
echo
echo "# start: the player's connect to its first output (Chromium, mpv: currentTime / time-pos first > 0); delay: capture to the instant it is heard"
echo "# KiB@start: audio received when it started; underruns: the emulated card ran dry (sum over the runs, after the start)"
echo "# raw lines: $RAW; took $(( $(date +%s) - T_BEGIN )) s"
