# shellcheck shell=bash
# Integration tests of players riding through starts, restarts and resumes
# (issue 14), sourced by test/integration.sh: a browser's resume (Range:
# bytes=N-) gets 206 from live; HTTP/1.1 ICY streams are delimited by the
# close, not chunked, so that streamripper rips them; a listener that comes while
# the device opens waits for its audio instead of getting a 503; one that
# comes while it is down is held until the capture's next try, and its 503
# says when the one after is. resume_tests lists them. The devices are
# defined in setup_work (test/lib.sh); the Chromium resume is in players.sh.
resume_tests=()

# A resume: Range: bytes=N- (N > 0) gets 206, Content-Range from N with an
# unknown length, and audio from live, over HTTP/1.1 and HTTP/2, and HEAD
# says the same without a body; a range from the start (ffmpeg, Liquidsoap,
# Firefox), a closed one, or one under an If-Range gets 200 and the stream.
resume_tests+=(test_resume_range)
test_resume_range() {
    start_live resume-range "$MODULES
$STREAM_997" || return
    local why=$DIR/why range='bytes 160000-1000000159999/*'
    listen "$DIR/h11" "$URL/live.mp3" 3 --http1.1 -H 'Range: bytes=160000-'
    listen "$DIR/h2" "$URL/live.mp3" 3 --http2-prior-knowledge -H 'Range: bytes=160000-'
    raw_request "$DIR/head" 'HEAD /live.mp3 HTTP/1.1\r\nHost: x\r\nRange: bytes=160000-\r\nConnection: close\r\n\r\n'
    { expect_status "$DIR/h11" "HTTP/1.1 206 Partial Content"
      expect_header "$DIR/h11" content-range "$range"
      expect_status "$DIR/h2" "HTTP/2 206"
      expect_header "$DIR/h2" content-range "$range"
      local o
      for o in h11 h2; do
          expect_header "$DIR/$o" content-type audio/mpeg
          expect_no_header "$DIR/$o" content-length
          decode_check "$DIR/$o" 997 1500
      done
      expect_status "$DIR/head" "HTTP/1.1 206 Partial Content"
      expect_header "$DIR/head" content-range "$range"
      [ ! -s "$DIR/head.body" ] || echo "HEAD has a body of $(stat -c %s "$DIR/head.body") bytes"; } > "$why"
    verdict "resume: Range: bytes=160000- gets 206, Content-Range '$range' and the live tone (HTTP/1.1, 2; HEAD alike)" "$why"

    local name
    listen "$DIR/from0" "$URL/live.mp3" 2 -H 'Range: bytes=0-'
    listen "$DIR/closed" "$URL/live.mp3" 2 -H 'Range: bytes=160000-160099'
    listen "$DIR/ifrange" "$URL/live.mp3" 2 -H 'Range: bytes=160000-' -H 'If-Range: "x"'
    { for name in from0 closed ifrange; do
          expect_status "$DIR/$name" "HTTP/1.1 200 OK"
          expect_no_header "$DIR/$name" content-range
          decode_check "$DIR/$name" 997 1000 | sed "s/^/$name: /"
      done; } > "$why"
    verdict "resume: bytes=0-, a closed range and an If-Range get 200 and the stream, no Content-Range" "$why"
    stop_server
    sanitizer_reports "resume: Range"
}

# HTTP/1.1 with Icy-MetaData: 1, as streamripper asks: no chunking (the
# body is the ICY framing itself, delimited by the close: Connection:
# close), while a request without it is chunked (a cut then reads as a cut:
# browsers resume); then streamripper itself rips 8 s of it with the title.
resume_tests+=(test_close_delimited_icy)
test_close_delimited_icy() {
    local title="Ripped - Live at 7"
    start_live close-delimited "$MODULES
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"title\" => \"$title\" ) )" || return
    local why=$DIR/why metaint
    # raw bytes: what a client that does not un-chunk sees
    listen "$DIR/icy" "$URL/live.mp3" 3 --http1.1 --raw -H 'Icy-MetaData: 1'
    request "$DIR/plain" "$URL/live.mp3" --http1.1
    metaint=$(header "$DIR/icy" icy-metaint)
    { expect_status "$DIR/icy" "HTTP/1.1 200 OK"
      expect_no_header "$DIR/icy" transfer-encoding
      expect_no_header "$DIR/icy" content-length
      expect_header "$DIR/icy" connection close
      expect_status "$DIR/plain" "HTTP/1.1 200 OK"
      expect_header "$DIR/plain" transfer-encoding chunked
      "$TOOLS/icycheck" "$metaint" "$DIR/icy.mp3" "$DIR/icy-audio.mp3" > "$DIR/icy.blocks" 2>&1 \
          || echo "icycheck: $(tail -3 "$DIR/icy.blocks")"
      grep -qF "text=StreamTitle='$title';" "$DIR/icy.blocks" || echo "no block with the title: $(head -3 "$DIR/icy.blocks")"
      cp "$DIR/icy-audio.mp3" "$DIR/icy-a.mp3"; decode_check "$DIR/icy-a" 997 2000; } > "$why"
    verdict "close-delimited: an HTTP/1.1 ICY stream is not chunked (Connection: close), its blocks every icy-metaint ($metaint) bytes of the raw body; without ICY, chunked" "$why"

    echo "# $(player_version streamripper)"
    mkdir -p "$DIR/rip"
    (cd "$DIR/rip" && timeout 30 streamripper "$URL/live.mp3" -d "$DIR/rip" -s -a live.mp3 -l 8 \
        > "$DIR/streamripper.out" 2>&1); local rc=$?
    tr '\r' '\n' < "$DIR/streamripper.out" > "$DIR/streamripper.log"
    { [ "$rc" = 0 ] || echo "streamripper exit $rc: $(tail -3 "$DIR/streamripper.log")"
      grep -i 'error' "$DIR/streamripper.log" | head -3
      grep -qF "$title" "$DIR/streamripper.log" || echo "streamripper did not show the title: $(tail -3 "$DIR/streamripper.log")"
      cp "$DIR/rip/live.mp3" "$DIR/ripped.mp3" 2>/dev/null || echo "no file live.mp3 ripped: $(ls "$DIR/rip")"
      decode_check "$DIR/ripped" 997 6000; } > "$why"
    verdict "close-delimited: streamripper $(dpkg-query -W -f='${Version}' streamripper 2>/dev/null) rips 8 s: no error, the title, the tone whole" "$why"
    stop_server
    sanitizer_reports "close-delimited"
}

# A device whose clock takes 700 ms to deliver (slowstart997): listeners
# that come at once after lighttpd starts (HTTP/1.1, HTTP/2, HEAD) wait for
# its first audio and play; a stream with "device-wait-ms" => 0 answers 503
# at once, as before the wait existed.
resume_tests+=(test_wait_while_opening)
test_wait_while_opening() {
    START_WAIT_TENTHS=50 start_server wait-opening "$MODULES
audiostream.streams = (
  \"/live.mp3\" => ( \"device\" => \"slowstart997\" ),
  \"/nowait.mp3\" => ( \"device\" => \"slowstart440\", \"device-wait-ms\" => 0 ),
)" || { fail "wait while opening: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    local why=$DIR/why pids=() t0
    t0=$(now_ms)
    listen "$DIR/h11" "$URL/live.mp3" 4 --http1.1 & pids+=($!)
    listen "$DIR/h2" "$URL/live.mp3" 4 --http2-prior-knowledge & pids+=($!)
    request "$DIR/head" "$URL/live.mp3" -I & pids+=($!)
    request "$DIR/nowait" "$URL/nowait.mp3" & pids+=($!)
    wait "${pids[@]}"
    { expect_status "$DIR/h11" "HTTP/1.1 200 OK"
      expect_status "$DIR/h2" "HTTP/2 200"
      expect_status "$DIR/head" "HTTP/1.1 200 OK"
      decode_check "$DIR/h11" 997 2000 | sed 's/^/HTTP\/1.1: /'
      decode_check "$DIR/h2" 997 2000 | sed 's/^/HTTP\/2: /'
      expect_status "$DIR/nowait" "HTTP/1.1 503 Service Unavailable"
      [ "$(header "$DIR/nowait" retry-after)" = 1 ] \
          || echo "nowait: Retry-After '$(header "$DIR/nowait" retry-after)', want 1 (the device is being opened)"; } > "$why"
    verdict "wait while opening: listeners that come at once after the start (HTTP/1.1, 2, HEAD) wait for the device and play; device-wait-ms 0 gives 503 at once" "$why"
    stop_server
    sanitizer_reports "wait while opening"
}

# timed_request OUT URL [curl options...]: request, and the ms it took into
# OUT.ms
timed_request() {
    local out=$1 t0; shift
    t0=$(now_ms)
    REQUEST_SECS=15 request "$out" "$@"
    echo $(( $(now_ms) - t0 )) > "$out.ms"
}

# An absent device (unplugged): tries at it 0.25, 0.5, 1, 2, 4 then every
# 5 s apart. A request is held until the next try has failed, then gets
# 503 with a Retry-After of the seconds to the one after, which the next
# request's hold confirms ("device-wait-ms" => 10000: no cap on the hold).
# With the default wait, a client that retries at once (curl in a loop,
# mplayer -loop 0) makes a few requests in 6 s, not thousands; a stop
# answers the held requests at once.
resume_tests+=(test_wait_device_down)
test_wait_device_down() {
    rm -f "$WORK/plugged"
    start_server wait-down "server.modules += ( \"mod_accesslog\" )
accesslog.filename = \"|exec cat > $WORK/wait-down/access.log\"
accesslog.format = \"%s %r\"
$MODULES
audiostream.streams = (
  \"/long.mp3\" => ( \"device\" => \"unplugged\", \"device-wait-ms\" => 10000 ),
  \"/live.mp3\" => ( \"device\" => \"unplugged\" ),
)" || { fail "device down: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    local why=$DIR/why ra held
    sleep 4   # past the tries at 0, 0.25, 0.75 and 1.75 s: 2 s apart and more
    timed_request "$DIR/a" "$URL/long.mp3"
    timed_request "$DIR/b" "$URL/long.mp3"
    ra=$(header "$DIR/a" retry-after); held=$(cat "$DIR/b.ms")
    { expect_status "$DIR/a" "HTTP/1.1 503 Service Unavailable"
      expect_status "$DIR/b" "HTTP/1.1 503 Service Unavailable"
      grep -q 'no audio from its device' "$DIR/a.body" || echo "a: body '$(cat "$DIR/a.body")'"
      [ "$(cat "$DIR/a.ms")" -le 5200 ] || echo "a: held $(cat "$DIR/a.ms") ms, more than a try's interval (5 s)"
      case $ra in [2-5]) ;; *) echo "a: Retry-After '$ra', want the 2-5 s to the next try" ;; esac
      # the next try comes at most a second before Retry-After says (it is
      # rounded up), and not after it
      [ -n "$ra" ] && [ "$held" -le $((ra * 1000 + 300)) ] && [ "$held" -ge $((ra * 1000 - 1200)) ] \
          || echo "b: held $held ms, but a's Retry-After said $ra s"; } > "$why"
    verdict "device down: a request is held until the next try fails (a: $(cat "$DIR/a.ms") ms), its 503's Retry-After ($ra s) is when the one after comes (b held $held ms)" "$why"

    # a client that retries at once, for 6 s: curl in a loop, and mplayer
    local t_end n_curl n_mplayer
    t_end=$(( $(now_ms) + 6000 ))
    while [ "$(now_ms)" -lt "$t_end" ]; do curl -s -o /dev/null --max-time 6 "$URL/live.mp3?curl"; done
    n_curl=$(grep -c 'GET /live.mp3?curl ' "$DIR/access.log")
    echo "# $(player_version mplayer)"
    timeout 6 mplayer -really-quiet -nolirc -noconfig all -vo null -ao null -loop 0 "$URL/live.mp3?mplayer" \
        > "$DIR/mplayer.out" 2>&1 < /dev/null
    n_mplayer=$(grep -c 'GET /live.mp3?mplayer ' "$DIR/access.log")
    { [ "$n_curl" -ge 2 ] && [ "$n_curl" -le 12 ] || echo "curl in a loop made $n_curl requests in 6 s, want 2-12"
      [ "$n_mplayer" -ge 1 ] && [ "$n_mplayer" -le 12 ] || echo "mplayer -loop 0 made $n_mplayer requests in 6 s, want 1-12"
      grep -vE '^503 ' "$DIR/access.log" | head -3 | sed 's/^/not a 503: /'; } > "$why"
    verdict "device down: a client retrying at once costs a request per try: curl in a loop $n_curl, mplayer -loop 0 $n_mplayer requests in 6 s" "$why"

    # held requests (HTTP/1.1 and HTTP/2) when lighttpd is told to stop
    local pids=()
    timed_request "$DIR/s1" "$URL/long.mp3" & pids+=($!)
    timed_request "$DIR/s2" "$URL/long.mp3" --http2-prior-knowledge & pids+=($!)
    sleep 0.5
    stop_server
    wait "${pids[@]}"
    { [ "$STOP_MS" -le 2000 ] || echo "lighttpd took $STOP_MS ms to stop with two held requests"
      [ "$(cat "$DIR/s1.ms")" -le 2500 ] || echo "the held HTTP/1.1 request ended after $(cat "$DIR/s1.ms") ms"
      [ "$(cat "$DIR/s2.ms")" -le 2500 ] || echo "the held HTTP/2 request ended after $(cat "$DIR/s2.ms") ms"; } > "$why"
    verdict "device down: held requests end with the server's stop ($STOP_MS ms)" "$why"
    sanitizer_reports "device down"
}

# title_seen NAME: the title a new ICY listener gets in its first metadata
# block, from DIR's server
title_seen() {
    listen "$DIR/$1" "$URL/live.mp3" 2.5 --http1.0 --raw -H 'Icy-MetaData: 1'
    "$TOOLS/icycheck" 16000 "$DIR/$1.mp3" /dev/null 2>&1 \
        | sed -n "s/^block at=[0-9]* len=[0-9]* text=StreamTitle='\(.*\)';.*/\1/p" | head -1
}

# A title set through the admin URL survives a reload (SIGUSR1, in the
# process and with graceful-restart-bg) without a state file, and a
# restart with audiostream.state-file; after the configuration's title is
# edited, a reload gives the new one; without a state file a restart gives
# the configuration's; a state file that cannot be written stops lighttpd
# at its start, naming the key.
resume_tests+=(test_titles_survive)
test_titles_survive() {
    local why dj="Set by the DJ" conf_title="From the config" streams
    printf 'admin:secret\n' > "$WORK/users"
    mkdir -p "$WORK/titles"; rm -f "$WORK/titles/state"
    streams="audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"title\" => \"$conf_title\" ) )"
    start_live titles "$AUTH_MODULES
$(admin_auth_conf "$WORK/users")
audiostream.state-file = \"$WORK/titles/state\"
$streams" || return
    why=$DIR/why
    local seen_reload seen_restart seen_edited
    admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=Set%20by%20the%20DJ"
    kill -USR1 "$PID"; sleep 0.5; wait_live /live.mp3
    seen_reload=$(title_seen reload)
    restart_server && wait_live /live.mp3
    seen_restart=$(title_seen restart)
    { [ "$seen_reload" = "$dj" ] || echo "after a reload a new listener got '$seen_reload', want '$dj'"
      grep -q "title(s) set through the admin URL restored from the server before the reload" "$DIR/error.log" \
          || echo "the reload's restore is not logged"
      [ "$seen_restart" = "$dj" ] || echo "after a restart a new listener got '$seen_restart', want '$dj'"
      grep -qF "restored from $WORK/titles/state" "$DIR/error.log" || echo "the restart's restore is not logged"
      [ "$(sed -n 2p "$WORK/titles/state")" = "/live.mp3	1	$conf_title	$dj" ] \
          || echo "the state file: $(cat "$WORK/titles/state")"
      [ ! -e "$WORK/titles/state.tmp" ] || echo "the state file's temporary was left"; } > "$why"
    verdict "titles: the admin URL's title outlives a reload ('$seen_reload') and, with audiostream.state-file, a restart ('$seen_restart')" "$why"
    # the operator edits the configuration's title and reloads: it wins
    write_conf "$DIR" "$PORT" "$AUTH_MODULES
$(admin_auth_conf "$WORK/users")
audiostream.state-file = \"$WORK/titles/state\"
${streams/$conf_title/Edited}"
    kill -USR1 "$PID"; sleep 0.5; wait_live /live.mp3
    seen_edited=$(title_seen edited)
    stop_server
    { [ "$seen_edited" = Edited ] || echo "after the configuration's title was edited and reloaded: '$seen_edited', want 'Edited'"; } > "$why"
    verdict "titles: a configuration whose title was edited since gives its own after a reload ('$seen_edited')" "$why"
    sanitizer_reports "titles: state file"

    # no state file, graceful-restart-bg: a reload re-executes lighttpd
    start_live titles-bg "$AUTH_MODULES
server.feature-flags += ( \"server.graceful-restart-bg\" => \"enable\" )
$(admin_auth_conf "$WORK/users")
$streams" || return
    why=$DIR/why
    admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=Set%20by%20the%20DJ"
    kill -USR1 "$PID"; sleep 0.5; wait_live /live.mp3
    seen_reload=$(title_seen bg-reload)
    restart_server && wait_live /live.mp3
    seen_restart=$(title_seen bg-restart)
    stop_server
    lsan_thread_warnings
    { [ "$seen_reload" = "$dj" ] || echo "after a reload with graceful-restart-bg a new listener got '$seen_reload', want '$dj'"
      [ "$seen_restart" = "$conf_title" ] || echo "after a restart without a state file: '$seen_restart', want the configuration's '$conf_title'"; } > "$why"
    verdict "titles: with graceful-restart-bg the title outlives a reload ('$seen_reload'); without a state file a restart gives the configuration's ('$seen_restart')" "$why"
    sanitizer_reports "titles: graceful-restart-bg"

    # a state file in a directory that does not exist
    start_server titles-bad "$AUTH_MODULES
$(admin_auth_conf "$WORK/users")
audiostream.state-file = \"$WORK/titles/no-such-dir/state\"
$streams"
    local up=$?
    why=$DIR/why
    sleep 0.3
    { [ "$up" != 0 ] && ! kill -0 "$PID" 2>/dev/null || echo "lighttpd runs with a state file it cannot write"
      grep -qF "audiostream.state-file = \"$WORK/titles/no-such-dir/state\": cannot create" "$DIR/error.log" "$DIR/stderr.log" \
          || echo "no message naming the key and the reason: $(cat "$DIR/error.log" "$DIR/stderr.log" | tail -3)"; } > "$why"
    verdict "titles: a state file that cannot be written stops lighttpd at its start, naming audiostream.state-file" "$why"
    kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null
}

# server.graceful-restart-bg: a reload forks a child to finish the
# connections in progress while lighttpd re-executes itself, and the child
# goes on accepting until the new server is ready and tells it to stop; it
# has no capture. A listener that lands there is held until then and sent
# to the new server by a 307 to its own URL, which players follow. The new
# server is slowed by an include_shell of 1.5 s, so that for that long only
# the child accepts: joiners then get the redirect, and following it, the
# tone; none gets a 200 without audio or an error.
resume_tests+=(test_reload_bg_child_redirects)
test_reload_bg_child_redirects() {
    local name="graceful-restart-bg reload"
    START_WAIT_TENTHS=100 start_live reload-bg "$MODULES
server.feature-flags += ( \"server.graceful-restart-bg\" => \"enable\" )
include_shell \"sleep 1.5; echo\"
$STREAM_997" || return
    local why=$DIR/why i pids=() sig_ms
    sig_ms=$(now_ms); kill -USR1 "$PID"
    sleep 0.2
    # one that does not follow redirects, then joiners that do, 100 ms apart
    request "$DIR/plain" "$URL/live.mp3?x=1" & pids+=($!)
    for i in $(seq 1 8); do
        curl -s -L -o "$DIR/j$i.mp3" -w "%{http_code} %{num_redirects} %{size_download}\n" \
            --max-time 5 "$URL/live.mp3" > "$DIR/j$i.out" 2>&1 & pids+=($!)
        sleep 0.1
    done
    wait "${pids[@]}"
    local redirected=0 o
    { expect_status "$DIR/plain" "HTTP/1.1 307 Temporary Redirect"
      [ "$(header "$DIR/plain" location)" = "$URL/live.mp3?x=1" ] \
          || echo "plain: Location '$(header "$DIR/plain" location)', want '$URL/live.mp3?x=1'"
      for i in $(seq 1 8); do
          read -r code redirects bytes < "$DIR/j$i.out"
          [ "${redirects:-0}" = 1 ] && redirected=$((redirected + 1))
          [ "$code" = 200 ] && [ "${bytes:-0}" -ge 20000 ] \
              || echo "joiner $i: $(cat "$DIR/j$i.out") (want 200 and audio, following the redirect)"
          [ "$code" = 200 ] && { cp "$DIR/j$i.mp3" "$DIR/joined.mp3"; o=joined; }
      done
      [ "$redirected" -ge 1 ] || echo "no joiner landed in the child (none was redirected)"
      [ -n "${o:-}" ] && decode_check "$DIR/$o" 997 1500; } > "$why"
    verdict "$name: listeners landing in the background child (no capture) are sent to the new server (307 to their URL) and play ($redirected of 8 redirected)" "$why"
    stop_server
    lsan_thread_warnings
    sanitizer_reports "$name"
}
