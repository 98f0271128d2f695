# shellcheck shell=bash
# The client matrix (issue 14): the players listeners use, each run
# headless as its users would run it to ride through a server's restarts,
# on one lighttpd that is restarted (SIGTERM and a new lighttpd on the same
# port) and then reloaded (SIGUSR1, in its process) under them. Each is
# judged on what it does: the 997 Hz tone decoded whole, its pace, how long
# no new tone reached its output across the restart and across the reload,
# whether it stopped or exited, and the title set through the admin URL
# before and after. Sourced by test/integration.sh after test/status_admin.sh,
# whose AUTH_MODULES, admin_auth_conf and admin_get it uses; client_tests
# lists its tests.
#
# How the gaps are measured: every player decodes into a FIFO (MPD through
# its pipe output, VLC as nobody into one in its own directory) read by one
# recorder process (client_recorder.py), which keeps the PCM and notes when
# each read arrived; streamripper's rip is an MP3 file, whose size the
# recorder samples. A gap is the longest time no audible tone reached the
# output around the event: for players whose own clock keeps writing
# (Liquidsoap's mksafe), the silence they wrote counts as no tone. The
# players' messages go through FIFOs too, each line stamped with the time it
# came, so that a title is known to have been shown before or after an
# event.
client_tests=()

CLIENT_NAME="Client Matrix FM"
CLIENT_CONF_TITLE="From the config"
CLIENT_TITLE1="Matrix Hour - First Song"
CLIENT_TITLE2="Matrix Hour - Second Song"

# client_spawn NAME OUT ERR SECS COMMAND...: COMMAND in the background under
# timeout SECS, its stdout to OUT, stderr to ERR ("=": the same as OUT); its
# pid in CLIENT_PID[NAME]. timeout leads a process group of its own, which
# client_stop signals as a whole.
client_spawn() {
    local name=$1 out=$2 err=$3 secs=$4; shift 4
    if [ "$err" = "=" ]; then
        timeout -k 3 "$secs" "$@" > "$out" 2>&1 < /dev/null &
    else
        timeout -k 3 "$secs" "$@" > "$out" 2> "$err" < /dev/null &
    fi
    CLIENT_PID[$name]=$!
}

# client_stop NAME: if it still runs, SIGTERM to its process group, 5 s for
# it to end and then SIGKILL; else CLIENT_EXITED[NAME] says how and when it
# ended: "rc=N at +MS" of the restart, as near as client_watch saw it
client_stop() {
    local pid=${CLIENT_PID[$1]} rc gone
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- -"$pid" 2>/dev/null || kill -TERM "$pid"
        poll 50 exited "$pid"
        kill -0 "$pid" 2>/dev/null && kill -KILL -- -"$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    else
        wait "$pid" 2>/dev/null; rc=$?
        gone=${CLIENT_GONE[$1]:-$(now_ms)}
        CLIENT_EXITED[$1]="rc=$rc at $(printf '%+d' $(( gone - CLIENT_T_RESTART ))) ms of the restart"
    fi
}

# client_watch: notes in CLIENT_GONE when a player is first seen gone
client_watch() {
    local n
    for n in "${!CLIENT_PID[@]}"; do
        [ -z "${CLIENT_GONE[$n]:-}" ] && ! kill -0 "${CLIENT_PID[$n]}" 2>/dev/null && CLIENT_GONE[$n]=$(now_ms)
    done
    return 0
}

# client_sleep SECS: sleeps, watching the players every 0.2 s
client_sleep() {
    local t_end=$(( $(now_ms) + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }') ))
    while [ "$(now_ms)" -lt "$t_end" ]; do client_watch; sleep 0.2; done
}

# client_audio_ms NAME BPS: ms of output NAME has had so far
client_audio_ms() {
    local n
    n=$(tail -1 "$CLIENT_DIR/$1.tlog" 2>/dev/null | cut -d' ' -f2)
    echo $(( ${n:-0} * 1000 / $2 ))
}

# client_mpc ARGS...: mpc on the test's MPD, at most 3 s
client_mpc() { timeout 3 mpc -h 127.0.0.1 -p "$CLIENT_MPD_PORT" "$@"; }

# client_mpd_poll: what "mpc current" and "mpc status" say, every 0.5 s
# until the recorder's stop file exists (at most 90 s); for MPD's log
client_mpd_poll() {
    local state
    for _ in $(seq 1 180); do
        [ -e "$CLIENT_DIR/stop" ] && return
        state=$(client_mpc status 2>/dev/null | sed -n 's/^\[\([a-z]*\)\].*/\1/p')
        echo "mpc state=${state:-stopped} title=$(client_mpc -f '%title%' current 2>/dev/null)"
        sleep 0.5
    done
}

# The matrix. One lighttpd (the 997 Hz tone at /live.mp3, a station name and
# a title in the configuration, audiostream.state-file for the admin URL's
# titles) and nine players at once, as their users run them to ride through
# a server's restarts; the bounds are the issue's 1.5 s unless a player's own
# way of reconnecting needs more:
# - ffmpeg -reconnect 1 -reconnect_streamed 1 -reconnect_delay_max 2, to
#   raw PCM. Its first try at once is refused while lighttpd restarts, the
#   next comes 1 s later. -v verbose logs each title its HTTP layer reads.
# - mpv with the same reconnect options of its ffmpeg (--stream-lavf-o): by
#   itself mpv takes the cut for the end of the file and exits, and with
#   --loop-playlist=inf its one try at once to open the URL again is
#   refused during a restart and it exits. A script prints its icy-title
#   every 0.5 s. mpv 0.35 stops updating it after the restart's reconnect
#   (whose first try was refused), while its ffmpeg layer, whose messages it
#   prints, reads each new title: the titles are judged on that layer too.
# - VLC (cvlc as nobody) with --http-reconnect and --loop: VLC's own HTTP
#   access takes the cut for the end and has no reconnect; for a stream
#   with an icy-name it hands over to its older ICY access, which shows the
#   titles and with --http-reconnect tries once at once - refused while
#   lighttpd restarts, so there the input ends and --loop opens it again
#   (both accesses, one after the other). Bound at the restart: 2.5 s.
# - mpg123 -v --loop -1: mpg123 has no reconnect and ends the "track" at
#   the cut (exit 0); --loop -1 opens the URL again at once, in a loop
#   (hundreds of tries a second) while it is refused.
# - mplayer -nocache -loop 0: -loop 0 opens it again at once, in a loop too.
#   With its default cache mplayer waits for 20 % of 320 KiB (about 4 s of
#   this stream) after each reconnect, and this build spins a core and
#   floods its terminal while it fills the cache, so it plays without one.
# - GStreamer: gst-launch-1.0 souphttpsrc retries=-1 ! decodebin ! ... to
#   raw PCM; tags with -t. Its libsoup 2.4 reports the close of a
#   close-delimited ICY response, and the close of a chunked one after a
#   whole chunk, as the end of the body: souphttpsrc sends EOS (its retries
#   are for errors, and would resume with a Range, which gets 206) and
#   gst-launch ends. Judged on that: the tone and the title until the
#   restart, then a clean end (exit 0).
# - Liquidsoap: input.http into output.file of raw PCM through mksafe: its
#   clock writes silence while the input is down, which counts as the gap.
#   It prints its metadata only when they change.
# - MPD as a user process with its own configuration on a loopback port, a
#   pipe output into the FIFO, the URL added with mpc, repeat on: at the
#   cut the song ends and MPD opens it again at once, once; during a
#   restart that is refused and MPD stops, unless the restarted server
#   already listens (a restart takes ~30 ms: it happens). Judged on that;
#   a stopped MPD is told to play again (mpc play, as its user would); then
#   it rides through the reload. Titles from "mpc current", every 0.5 s; MPD's own log in
#   players/mpd/log.
# - streamripper, which reconnects by itself. Its rip grows in blocks of the
#   ICY interval (16000 bytes, 1 s), so its bounds are 1 s longer, and it
#   shows a new title when it starts the new track, after its search for a
#   silence to split at (about 6 s).
# Timeline: all play (or 15 s pass), 6 s, restart, 6 s, reload, 3.5 s, the
# admin URL sets a second title (a player showing it proves it still reads
# titles after the reload), 7.5 s. The restart's floor is lighttpd's own
# restart (its port is closed for 0.02-0.2 s) plus, as after every start,
# the module's wait for burst-ms (1 s) of audio before a listener's first
# byte; the reload's is that wait.
client_tests+=(test_client_matrix)
test_client_matrix() {
    local label="client matrix" c missing=""
    for c in ffmpeg mpv cvlc mpg123 mplayer gst-launch-1.0 liquidsoap mpd mpc streamripper; do
        command -v "$c" > /dev/null || missing+=" $c"
    done
    [ -z "$missing" ] || { fail "$label: players not installed:$missing (scripts/install-deps.sh)"; return; }
    printf 'admin:secret\n' > "$WORK/client-users"
    start_live clients "$AUTH_MODULES
server.modules += ( \"mod_accesslog\" )
accesslog.filename = \"|exec cat >> $WORK/clients/access.log\"
accesslog.format = \"%{%s}t.%{msec_frac}t %s %r range=%{Range}i icy=%{Icy-MetaData}i %b %{User-Agent}i\"
$(admin_auth_conf "$WORK/client-users")
audiostream.state-file = \"$WORK/clients/titles\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"name\" => \"$CLIENT_NAME\", \"title\" => \"$CLIENT_CONF_TITLE\" ) )" || return
    admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=${CLIENT_TITLE1// /%20}"
    grep -q '<return>1</return>' "$DIR/a.body" || { fail "$label: the admin URL did not set the title" "$(cat "$DIR/a.body")"; stop_server; return; }
    local p=$DIR/players vdir n
    CLIENT_DIR=$p
    mkdir -p "$p/rip" "$p/mpd/music" "$p/mpd/playlists"
    vdir=$(mktemp -d /tmp/audiostream-vlc.XXXXXX) && chown nobody: "$vdir"
    local pcm_players=(ffmpeg mpv vlc mpg123 mplayer gst liquidsoap mpd) specs=()
    for n in "${pcm_players[@]}" streamripper; do
        mkfifo -m 600 "$p/$n.txt"; specs+=("text:$p/$n.txt:$p/$n")
    done
    mkfifo -m 600 "$p/mpc.txt"; specs+=("text:$p/mpc.txt:$p/mpc")
    for n in "${pcm_players[@]}"; do
        local fifo=$p/$n.pcm
        [ "$n" = vlc ] && fifo=$vdir/vlc.pcm
        mkfifo -m 666 "$fifo"; specs+=("pcm:$fifo:$p/$n")
    done
    specs+=("dir:$p/rip:$p/streamripper")
    timeout 120 python3 "$TEST_DIR/tools/client_recorder.py" "$p/stop" 110 "$p/ready" "${specs[@]}" 2> "$p/recorder.err" &
    local recorder=$!
    poll 50 test -e "$p/ready" || { fail "$label: the recorder did not start" "$(cat "$p/recorder.err")"; kill "$recorder"; stop_server; rm -rf "$vdir"; return; }

    for n in ffmpeg mpv vlc-bin mpg123 mplayer gstreamer1.0-tools gstreamer1.0-plugins-good liquidsoap mpd mpc streamripper; do
        echo "# $(player_version "$n")"
    done
    declare -gA CLIENT_PID=() CLIENT_EXITED=() CLIENT_GONE=()
    CLIENT_T_RESTART=$(now_ms)
    local secs=75 u="$URL/live.mp3"
    # Liquidsoap first: it takes 2-3 s to start
    cat > "$p/clients.liq" <<EOF
settings.init.allow_root.set(true)
settings.log.stdout.set(true)
settings.log.file.set(false)
s = input.http("$u")
s = source.on_metadata(s, fun (m) -> print("liquidsoap title=" ^ m["title"]))
output.file(%wav(stereo, samplerate=44100, header=false), "$p/liquidsoap.pcm", mksafe(s))
EOF
    client_spawn liquidsoap "$p/liquidsoap.txt" = "$secs" liquidsoap "$p/clients.liq"
    client_spawn ffmpeg "$p/ffmpeg.txt" = "$secs" ffmpeg -nostdin -nostats -hide_banner -y -v verbose \
        -reconnect 1 -reconnect_streamed 1 -reconnect_delay_max 2 -i "$u" -f s16le -ar 44100 -ac 2 "$p/ffmpeg.pcm"
    cat > "$p/title.lua" <<'EOF'
-- twice a second: the title mpv shows
mp.add_periodic_timer(0.5, function()
    print("title=" .. (mp.get_property("metadata/by-key/icy-title") or ""))
end)
EOF
    client_spawn mpv "$p/mpv.txt" = "$secs" mpv --no-config --no-video --quiet --msg-level=ffmpeg=debug --script="$p/title.lua" \
        --stream-lavf-o=reconnect=1,reconnect_streamed=1,reconnect_delay_max=2 \
        --ao=pcm --ao-pcm-file="$p/mpv.pcm" --ao-pcm-waveheader=no --audio-format=s16 \
        --audio-samplerate=44100 --audio-channels=stereo "$u"
    client_spawn vlc "$p/vlc.txt" = "$secs" runuser -u nobody -- env -u ALSA_CONFIG_PATH HOME="$vdir" \
        cvlc -vv --no-video --loop --http-reconnect \
        --sout "#transcode{acodec=s16l,channels=2,samplerate=44100}:std{access=file,mux=raw,dst=$vdir/vlc.pcm}" "$u"
    client_spawn mpg123 "$p/mpg123.pcm" "$p/mpg123.txt" "$secs" env LC_ALL=C.UTF-8 mpg123 -v --loop -1 -s "$u"
    client_spawn mplayer "$p/mplayer.txt" = "$secs" stdbuf -oL mplayer -quiet -nolirc -noconfig all -vo null -vc null \
        -nocache -loop 0 -ao pcm:nowaveheader:fast:file="$p/mplayer.pcm" "$u"
    client_spawn gst "$p/gst.txt" = "$secs" stdbuf -oL gst-launch-1.0 -t souphttpsrc location="$u" retries=-1 \
        ! decodebin ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=44100,channels=2 \
        ! filesink location="$p/gst.pcm" buffer-mode=unbuffered
    (cd "$p/rip" && exec timeout -k 3 "$secs" stdbuf -o0 streamripper "$u" -d "$p/rip" -s -a live.mp3 \
        > "$p/streamripper.txt" 2>&1 < /dev/null) &
    CLIENT_PID[streamripper]=$!
    # MPD on a port of its own
    local server_port=$PORT; free_port; CLIENT_MPD_PORT=$PORT; PORT=$server_port
    cat > "$p/mpd/mpd.conf" <<EOF
music_directory "$p/mpd/music"
playlist_directory "$p/mpd/playlists"
db_file "$p/mpd/db"
state_file "$p/mpd/state"
log_file "$p/mpd/log"
log_level "verbose"
bind_to_address "127.0.0.1"
port "$CLIENT_MPD_PORT"
auto_update "no"
zeroconf_enabled "no"
audio_output {
    type "pipe"
    name "client matrix"
    command "cat > $p/mpd.pcm"
    format "44100:16:2"
}
EOF
    client_spawn mpd "$p/mpd.txt" = "$secs" mpd --no-daemon "$p/mpd/mpd.conf"
    poll 50 accepting "$CLIENT_MPD_PORT"
    { client_mpc -q repeat on && client_mpc -q add "$u" && client_mpc -q play; } > "$p/mpc-start.out" 2>&1
    client_mpd_poll > "$p/mpc.txt" 2>&1 &
    local poller=$!

    # all play (1 s of output each), or 15 s pass
    local t0
    t0=$(now_ms)
    while [ $(( $(now_ms) - t0 )) -lt 15000 ]; do
        missing=""
        for n in "${pcm_players[@]}"; do [ "$(client_audio_ms "$n" 176400)" -ge 1000 ] || missing+=" $n"; done
        [ "$(client_audio_ms streamripper 16000)" -ge 1000 ] || missing+=" streamripper"
        [ -z "$missing" ] && break
        client_watch; sleep 0.2
    done
    [ -n "$missing" ] && echo "# not playing after $(( $(now_ms) - t0 )) ms:$missing"
    local ev=$p/events restart_rc
    echo "play $(now_ms)" > "$ev"
    client_sleep 6
    CLIENT_T_RESTART=$(now_ms); echo "restart $CLIENT_T_RESTART" >> "$ev"
    restart_server; restart_rc=$?
    echo "up $(now_ms)" >> "$ev"
    client_sleep 2.5
    # MPD stops when its one try at once is refused: its user plays it again
    if ! client_mpc status 2>/dev/null | grep -q '^\[playing\]'; then
        client_mpc -q play >> "$p/mpc-start.out" 2>&1; echo "replay $(now_ms)" >> "$ev"
    fi
    client_sleep 3.5
    echo "reload $(now_ms)" >> "$ev"
    kill -USR1 "$PID"
    client_sleep 3.5
    echo "title2 $(now_ms)" >> "$ev"
    admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=${CLIENT_TITLE2// /%20}"
    cp "$DIR/a.body" "$p/title2.body"
    client_sleep 7.5
    echo "end $(now_ms)" >> "$ev"
    for n in "${!CLIENT_PID[@]}"; do client_stop "$n"; done
    touch "$p/stop"
    wait "$poller" 2>/dev/null
    wait "$recorder" 2>/dev/null
    stop_server
    rm -rf "$vdir"
    local why=$DIR/why
    { [ "$restart_rc" = 0 ] || echo "lighttpd did not start again: $(tail -3 "$DIR/stderr.log")"
      grep -q '<return>1</return>' "$p/title2.body" || echo "the second title was not set: $(cat "$p/title2.body")"; } > "$why"
    verdict "$label: lighttpd restarted ($RESTART_MS ms) and reloaded under nine players; the admin URL set the titles" "$why"

    # streamripper's rip: its files in the order written, decoded
    local f
    : > "$p/streamripper.mp3"
    while IFS= read -r f; do cat "$p/rip/$f" >> "$p/streamripper.mp3"; done < <(cd "$p/rip" && ls -tr -- *.mp3 2>/dev/null)
    timeout 30 mpg123 -q -s -r 44100 -e s16 "$p/streamripper.mp3" > "$p/streamripper.raw" 2> "$p/streamripper.mpg123err"

    # name  bps  expect  restart_bound reload_bound  titles  title regex
    local rows="ffmpeg 176400 ride 1500 1500 follows Metadata update for StreamTitle: (.*)$
mpv 176400 ride 1500 1500 kept ^\[title\] title=(.*)$
vlc 176400 ride 2500 1500 follows New Icy-Title=(.*)$
mpg123 176400 ride 1500 1500 follows ICY-META: StreamTitle='(.*)';
mplayer 176400 ride 1500 1500 follows ICY Info: StreamTitle='(.*?)';
gst 176400 ends 1500 1500 follows ^\s+title: (.*)$
liquidsoap 176400 ride 1500 1500 follows ^liquidsoap title=(.*)$
mpd 176400 stops 1500 1500 follows ^mpc state=playing title=(.*)$
streamripper 16000 ride 2500 2500 follows ^\[[a-z. -]+[^]]*\] +(.*?)( \[ *[0-9.]+ *[kmb]+\])?$"
    local bps expect rbound lbound titles re lead log
    while read -r n bps expect rbound lbound titles re; do
        lead=$(timeout 30 python3 "$TEST_DIR/tools/client_judge.py" lead "$p/$n.raw")
        timeout 60 "$TOOLS/pcmcheck" --rate 44100 --channels 2 --expect-hz 997 --tol-hz 3 --min-ms 1000 \
            --skip-ms $(( lead + 300 )) "$p/$n.raw" > "$p/$n.pcmcheck" 2>&1
        log=$p/$n.log; [ "$n" = mpd ] && log=$p/mpc.log
        timeout 60 python3 "$TEST_DIR/tools/client_judge.py" name="$n" events="$ev" tlog="$p/$n.tlog" bps="$bps" \
            lead="$lead" pcm="$p/$n.pcmcheck" log="$log" title_re="$re" titles="$titles" expect="$expect" \
            restart_bound="$rbound" reload_bound="$lbound" exited="${CLIENT_EXITED[$n]:-}" \
            heard_re="$([ "$n" = mpv ] && echo 'Metadata update for StreamTitle: (.*)$')" \
            t1="$CLIENT_TITLE1" t2="$CLIENT_TITLE2" summary="$p/$n.summary" > "$why" 2>&1
        verdict "$label: $n: $(cat "$p/$n.summary" 2>/dev/null)" "$why"
    done <<< "$rows"
    sanitizer_reports "$label"
}
