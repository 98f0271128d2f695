# shellcheck shell=bash
# Integration tests of device faults (issue 6), sourced by
# test/integration.sh: the test capture device fails to open, fails with
# -EIO or -ENODEV mid-stream (its present_file removed: a pulled card),
# stalls (stall_file) or overruns (stall_ms), and lighttpd, its listeners and
# the other streams must live through it. fault_tests lists them in order.
# The devices are defined in setup_work (test/lib.sh).
fault_tests=()

# stream_status PATH FIELD: a field of the stream's "audiostream" object in
# the status document (these tests' servers have it at /status)
stream_status() { STATUS_PATH=/status status_get "stream('$1')['audiostream']['$2']"; }

# wait_state PATH STATE TENTHS: until the status shows the stream's device
# in STATE (live, down), at most TENTHS tenths of a second
wait_state() { poll "$3" device_state_is "$1" "$2"; }
device_state_is() { [ "$(stream_status "$1" device_state)" = "$2" ]; }

# segments_check OUT HZ PATTERN...: decodes OUT.mp3 and cuts it into 100 ms
# blocks, each the tone (T: the HZ sine, above -20 dBFS), silence (S: below
# -50 dBFS) or neither (X); runs of X of at most 0.3 s between runs, or at
# the start and the end (the decoder's delay, a change of signal inside a
# block, a cut last frame), are left out. The rest must be the runs PATTERN
# names, in order: LABEL:MIN-MAX in seconds (MAX may be empty), e.g.
# "T:2- S:1.5-6 T:2-". Prints what is wrong, nothing when all is right;
# OUT.segments gets the runs.
segments_check() {
    local out=$1 hz=$2; shift 2
    mpg123 -q -s -r 44100 -e s16 "$out.mp3" > "$out.raw" 2> "$out.mpg123err"
    python3 "$TEST_DIR/tools/pcm_segments.py" "$out.raw" "$hz" "$out.segments" "$@"
}

# frames_s OUT: the seconds of audio in OUT.mp3's whole frames (1152 samples
# at 44.1 kHz each), 0 when it is no chain of frames
frames_s() {
    "$TOOLS/mp3check" frames "$1.mp3" > "$1.frames" 2>&1
    awk '/^frames=/ { split($1, a, "="); printf "%.2f\n", a[2] * 1152 / 44100; found = 1 }
         END { if (!found) print 0 }' "$1.frames"
}

# device_lines DEVICE: the error log's lines about the device
device_lines() { grep -F "device \"$1\"" "$DIR/error.log"; }

# mp3_valid OUT: OUT.mp3 is a chain of whole frames from its first byte
# (the last may be cut); prints what is wrong
mp3_valid() {
    "$TOOLS/mp3check" frames "$1.mp3" > "$1.frames" 2>&1 || echo "${1##*/}: $(cat "$1.frames")"
}

# (a) A device whose first 3 opens fail (busy): lighttpd runs, new
# listeners get 503 meanwhile, the failure is logged once, not at every
# retry (250 + 500 + 1000 ms of back-off), then the tone plays.
fault_tests+=(test_fault_open_retries)
test_fault_open_retries() {
    start_server fault-open "$MODULES
audiostream.status-url = \"/status\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"flaky997\" ) )" \
        || { fail "fault: open fails 3 times: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    local why=$DIR/why
    { request "$DIR/early" "$URL/live.mp3"
      expect_status "$DIR/early" "HTTP/1.1 503 Service Unavailable"
      [ -n "$(header "$DIR/early" retry-after)" ] || echo "the 503 has no Retry-After"
      [ "$(stream_status /live.mp3 device_state)" = down ] \
          || echo "status device_state while it fails to open: $(stream_status /live.mp3 device_state)"
      kill -0 "$PID" 2>/dev/null || echo "lighttpd exited"; } > "$why"
    verdict "fault: open fails 3 times: lighttpd up, 503 + Retry-After, status down meanwhile" "$why"
    { LIVE_WAIT_TENTHS=100 wait_live /live.mp3 || echo "no 200 within 10 s of the start"
      sleep 1.2   # a whole burst
      listen "$DIR/a" "$URL/live.mp3" 3
      decode_check "$DIR/a" 997 2500
      local busy capturing
      busy=$(device_lines flaky997 | grep -c 'busy')
      capturing=$(device_lines flaky997 | grep -c 'capturing')
      [ "$busy" = 1 ] || echo "the busy device was logged $busy times, want once: $(device_lines flaky997)"
      [ "$capturing" = 1 ] || echo "capturing logged $capturing times: $(device_lines flaky997)"
      device_lines flaky997 | grep -q 'busy.*retrying\|retrying.*busy' \
          || echo "the failure's line does not say it retries: $(device_lines flaky997 | head -1)"
      grep -qF 'audiostream.streams["/live.mp3"]: device "flaky997": ' "$DIR/error.log" \
          || echo "no line names the stream and the device: $(device_lines flaky997)"
      [ "$(stream_status /live.mp3 device_state)" = live ] \
          || echo "status device_state once it plays: $(stream_status /live.mp3 device_state)"; } > "$why"
    verdict "fault: open fails 3 times: logged once, then the tone plays" "$why"
    stop_server
    sanitizer_reports "fault: open retries"
}

# (b) -EIO mid-stream (the card's present_file removed, fail_errno EIO),
# back 3 s later, with a listener connected throughout: it stays connected
# and gets valid MP3 in real time all along, the tone, silence, the tone
# again; meanwhile new listeners get 503 + Retry-After, the status says
# "down", and a stream on another device keeps its full rate.
fault_tests+=(test_fault_eio_recovers)
test_fault_eio_recovers() {
    touch "$WORK/present-eio"
    start_live fault-eio "$MODULES
audiostream.status-url = \"/status\"
audiostream.streams = (
  \"/live.mp3\"  => ( \"device\" => \"eio997\" ),
  \"/other.mp3\" => ( \"device\" => \"tone440\" ),
)" /live.mp3 /other.mp3 || return
    sleep 1.2   # a whole burst
    local pids=() why=$DIR/why state_down other_down state_live
    listen "$DIR/l" "$URL/live.mp3" 14 & pids+=($!)
    listen "$DIR/o" "$URL/other.mp3" 10 & pids+=($!)
    sleep 3
    rm -f "$WORK/present-eio"
    sleep 1.5
    { request "$DIR/new" "$URL/live.mp3"
      expect_status "$DIR/new" "HTTP/1.1 503 Service Unavailable"
      [ -n "$(header "$DIR/new" retry-after)" ] || echo "the 503 during the outage has no Retry-After"
      kill -0 "$PID" 2>/dev/null || echo "lighttpd exited"; } > "$DIR/during.why"
    state_down=$(stream_status /live.mp3 device_state)
    other_down=$(stream_status /other.mp3 device_state)
    sleep 1.5
    touch "$WORK/present-eio"
    # back-off 250, 500, 1000, 2000 ms from the loss: a try 3.75 s after it
    wait_state /live.mp3 live 80; state_live=$(stream_status /live.mp3 device_state)
    wait "${pids[@]}"
    cp "$DIR/during.why" "$why"
    { [ "$state_down" = down ] || echo "status device_state 1.5 s into the outage: $state_down, want down"
      [ "$other_down" = live ] || echo "status of the other stream during the outage: $other_down, want live"
      [ "$state_live" = live ] || echo "status device_state after the device came back: $state_live"; } >> "$why"
    verdict "fault: EIO: during the outage new listeners get 503 + Retry-After, status down, then live" "$why"
    local wall audio rc
    wall=$(awk -v f="$(time_field "$DIR/l" first_ms)" -v l="$(time_field "$DIR/l" last_ms)" 'BEGIN { printf "%.2f", (l - f) / 1000 }')
    audio=$(frames_s "$DIR/l"); rc=$(cat "$DIR/l.rc")
    { [ "$rc" = 28 ] || echo "the listener's curl ended with $rc before its 14 s (28: still connected at the end)"
      mp3_valid "$DIR/l"
      # burst + real time: silence must fill the outage as it happens
      awk -v a="$audio" -v w="$wall" -v b="$BURST_S" 'BEGIN { if (a < w + b - 0.8 || a > w + b + 0.6)
          printf "%.2f s of audio in %.2f s of listening, want the burst (%d s) + real time\n", a, w, b }'
      rate_check "$DIR/l"
      segments_check "$DIR/l" 997 T:3- S:1.5-6.5 T:3-; } > "$why"
    verdict "fault: EIO: the listener stays, gets valid MP3 in real time: tone, silence, tone again ($audio s in $wall s)" "$why"
    { rate_check "$DIR/o"; decode_check "$DIR/o" 440 8000; } > "$why"
    verdict "fault: EIO: a stream on another device keeps its full rate and tone through the outage" "$why"
    { local lost n
      lost=$(device_lines eio997 | grep -c 'Input/output error')
      [ "$lost" = 1 ] || echo "the loss (Input/output error) logged $lost times: $(device_lines eio997)"
      n=$(device_lines eio997 | wc -l)
      # capturing, lost, absent while retrying, capturing
      [ "$n" -le 4 ] || echo "$n lines about the device, want one per change:" "$(device_lines eio997)"
      [ "$(device_lines eio997 | grep -c capturing)" = 2 ] || echo "not reopened once: $(device_lines eio997)"
      grep -qF 'audiostream.streams["/live.mp3"]: device "eio997": ' "$DIR/error.log" \
          || echo "no line names the stream and the device"
      device_lines eio997 | grep -q closing && echo "listeners closed within outage-ms: $(device_lines eio997 | grep closing)"; } > "$why"
    verdict "fault: EIO: the loss is logged once, the retries not, the return once" "$why"
    stop_server
    sanitizer_reports "fault: EIO"
}

# (c) -ENODEV (the card pulled) for good, "outage-ms" => 3000: the
# listeners' responses (HTTP/1.1 chunked and HTTP/2) end about 3 s after the
# loss, properly (curl exits 0), their bodies valid MP3; lighttpd runs on.
fault_tests+=(test_fault_enodev_gone)
test_fault_enodev_gone() {
    touch "$WORK/present-gone"
    start_live fault-gone "$MODULES
audiostream.status-url = \"/status\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"gone997\", \"outage-ms\" => 3000 ) )" || return
    sleep 1.2
    local pids=() why=$DIR/why t_loss o
    listen "$DIR/h1" "$URL/live.mp3" 15 & pids+=($!)
    listen "$DIR/h2" "$URL/live.mp3" 15 --http2-prior-knowledge & pids+=($!)
    sleep 2
    t_loss=$(now_ms); rm -f "$WORK/present-gone"
    wait "${pids[@]}"
    for o in h1 h2; do
        local ended=$(( $(cat "$DIR/$o.end") - t_loss ))
        { [ "$(cat "$DIR/$o.rc")" = 0 ] || echo "curl exited $(cat "$DIR/$o.rc"), want 0 (a response properly ended): $(cat "$DIR/$o.curlerr")"
          [ "$ended" -ge 1500 ] && [ "$ended" -le 4500 ] || echo "the response ended $ended ms after the loss, want 3000 +- 1500"
          mp3_valid "$DIR/$o"
          segments_check "$DIR/$o" 997 T:2- S:1.5-4.5; } > "$why"
        verdict "fault: ENODEV for good, outage-ms 3000: the $o response ends $ended ms after the loss, valid MP3, tone then silence" "$why"
    done
    { kill -0 "$PID" 2>/dev/null || echo "lighttpd exited"
      request "$DIR/after" "$URL/live.mp3"
      expect_status "$DIR/after" "HTTP/1.1 503 Service Unavailable"
      [ "$(stream_status /live.mp3 device_state)" = down ] || echo "status: $(stream_status /live.mp3 device_state)"
      device_lines gone997 | grep -q 'closing' || echo "no line says the listeners were closed: $(device_lines gone997)"
      [ "$(device_lines gone997 | grep -c 'No such device')" -le 2 ] \
          || echo "the loss logged more than once (once lost, once absent): $(device_lines gone997)"; } > "$why"
    verdict "fault: ENODEV for good: lighttpd runs on, 503, status down, the closing logged" "$why"
    stop_server
    sanitizer_reports "fault: ENODEV for good"
}

# (d) The device stalls (stall_file) for 3 s: the listener stays, valid MP3
# goes on (silence once the stall is seen, after 1 s), the tone after it.
fault_tests+=(test_fault_stall)
test_fault_stall() {
    rm -f "$WORK/stall-flag"
    start_live fault-stall "$MODULES
audiostream.status-url = \"/status\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"stall997\" ) )" || return
    sleep 1.2
    local pids=() why=$DIR/why state
    listen "$DIR/l" "$URL/live.mp3" 13 & pids+=($!)
    sleep 3
    touch "$WORK/stall-flag"
    sleep 2
    state=$(stream_status /live.mp3 device_state)
    sleep 1
    rm -f "$WORK/stall-flag"
    wait "${pids[@]}"
    local wall audio
    wall=$(awk -v f="$(time_field "$DIR/l" first_ms)" -v l="$(time_field "$DIR/l" last_ms)" 'BEGIN { printf "%.2f", (l - f) / 1000 }')
    audio=$(frames_s "$DIR/l")
    { [ "$(cat "$DIR/l.rc")" = 28 ] || echo "the listener's curl ended with $(cat "$DIR/l.rc") before its 13 s"
      mp3_valid "$DIR/l"
      # the second before the stall is seen may be missing, no more
      awk -v a="$audio" -v w="$wall" -v b="$BURST_S" 'BEGIN { if (a < w - 0.5 || a > w + b + 0.6)
          printf "%.2f s of audio in %.2f s of listening, want the burst (%d s) + real time, less at most the 1 s before the stall is seen\n", a, w, b }'
      segments_check "$DIR/l" 997 T:3- S:0.8-4.5 T:2-
      [ "$state" = down ] || echo "status device_state 2 s into the stall: $state, want down"
      [ "$(stream_status /live.mp3 device_state)" = live ] || echo "status after the stall: $(stream_status /live.mp3 device_state)"
      local n; n=$(device_lines stall997 | grep -vc capturing)
      [ "$n" -ge 1 ] && [ "$n" -le 2 ] || echo "$n lines about the stall, want one (and one for the retries at most):" "$(device_lines stall997)"
      n=$(device_lines stall997 | grep -c capturing)
      [ "$n" = 2 ] || echo "capturing logged $n times, want 2 (the start, the end of the stall)"
      device_lines stall997 | grep -q closing && echo "listeners closed: $(device_lines stall997 | grep closing)"; } > "$why"
    verdict "fault: a 3 s stall: the listener stays, valid MP3 in real time, tone, silence, tone ($audio s in $wall s)" "$why"
    stop_server
    sanitizer_reports "fault: stall"
}

# (e) An overrun: the device's clock stops 800 ms (more than the ~630 ms
# buffer, less than the 1 s of a stall) and jumps ahead: recovered in place,
# counted in the status, no reopen, no silence; the tone plays on.
fault_tests+=(test_fault_overrun)
test_fault_overrun() {
    start_live fault-overrun "$MODULES
audiostream.status-url = \"/status\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"overrun997\" ) )" || return
    local why=$DIR/why before after
    before=$(stream_status /live.mp3 overruns)
    sleep 1   # the stall comes 4 s after the device started
    listen "$DIR/l" "$URL/live.mp3" 8
    after=$(stream_status /live.mp3 overruns)
    local bytes; bytes=$(time_field "$DIR/l" bytes)
    { [ "$before" = 0 ] || echo "overruns before the stall: $before"
      [ "$after" -ge 1 ] 2>/dev/null || echo "overruns after an 800 ms stall: $after, want >= 1"
      mp3_valid "$DIR/l"
      # 8 s + the burst, less the 0.8 s the device lost
      [ "${bytes:-0}" -ge $((BITRATE_BPS * 75 / 10)) ] || echo "only ${bytes:-0} bytes in 8 s"
      # no silence filled in; a phase jump where the lost audio was is right
      "$TOOLS/mp3check" frames "$DIR/l.mp3" > /dev/null
      mpg123 -q -s -r 44100 -e s16 "$DIR/l.mp3" > "$DIR/l.raw" 2> "$DIR/l.mpg123err"
      "$TOOLS/pcmcheck" --rate 44100 --channels 2 --expect-hz 997 --tol-hz 3 --min-ms 6000 \
          --max-jump-rad 3.2 "$DIR/l.raw" > "$DIR/l.pcm" 2>&1 || grep -v '^pcmcheck: ok' "$DIR/l.pcm"
      segments_check "$DIR/l" 997 T:6-
      [ "$(device_lines overrun997 | wc -l)" = 1 ] || echo "more than the capturing line logged: $(device_lines overrun997)"
      [ "$(stream_status /live.mp3 device_state)" = live ] || echo "status: $(stream_status /live.mp3 device_state)"; } > "$why"
    verdict "fault: an 800 ms overrun is recovered in place: counted ($before -> $after), no reopen, no silence, the tone plays on" "$why"
    stop_server
    sanitizer_reports "fault: overrun"
}

# (f) "outage-ms" => 0: the listeners' responses (HTTP/1.0, 1.1, 2) end at
# once when the device is lost.
fault_tests+=(test_fault_outage_zero)
test_fault_outage_zero() {
    touch "$WORK/present-zero"
    start_live fault-zero "$MODULES
audiostream.status-url = \"/status\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"zero997\", \"outage-ms\" => 0 ) )" || return
    local pids=() why=$DIR/why t_loss o
    listen "$DIR/h1.0" "$URL/live.mp3" 10 --http1.0 & pids+=($!)
    listen "$DIR/h1.1" "$URL/live.mp3" 10 & pids+=($!)
    listen "$DIR/h2" "$URL/live.mp3" 10 --http2-prior-knowledge & pids+=($!)
    sleep 2
    t_loss=$(now_ms); rm -f "$WORK/present-zero"
    wait "${pids[@]}"
    for o in h1.0 h1.1 h2; do
        local ended=$(( $(cat "$DIR/$o.end") - t_loss ))
        { [ "$(cat "$DIR/$o.rc")" = 0 ] || echo "curl exited $(cat "$DIR/$o.rc"), want 0: $(cat "$DIR/$o.curlerr")"
          [ "$ended" -le 1500 ] || echo "the response ended $ended ms after the loss, want at once (<= 1500)"
          mp3_valid "$DIR/$o"
          segments_check "$DIR/$o" 997 T:1-; } > "$why"
        verdict "fault: outage-ms 0: the $o response ends at the loss ($ended ms after), valid MP3, no silence" "$why"
    done
    { kill -0 "$PID" 2>/dev/null || echo "lighttpd exited"
      device_lines zero997 | grep -q closing || echo "no line says the listeners were closed: $(device_lines zero997)"; } > "$why"
    verdict "fault: outage-ms 0: lighttpd runs on, the closing logged" "$why"
    stop_server
    sanitizer_reports "fault: outage-ms 0"
}
