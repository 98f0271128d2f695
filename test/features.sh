# Integration tests of the listener features (issue 4), sourced by
# test/integration.sh: each function is one or more tests against Debian's
# real lighttpd with the module; feature_tests lists them in order.
feature_tests=()

# bytes_of FILE: its bytes, 0 when it is missing
bytes_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

# A new listener first gets the newest burst-ms of audio, from a frame
# boundary, at once; with burst-ms 0 only the newest frame, then real time.
feature_tests+=(test_burst)
test_burst() {
    start_live burst "$MODULES
audiostream.streams = (
  \"/live.mp3\"  => ( \"device\" => \"tone997\" ),
  \"/none.mp3\"  => ( \"device\" => \"tone440\", \"burst-ms\" => 0 ),
  \"/long.mp3\"  => ( \"device\" => \"tone1500\", \"burst-ms\" => 2500 ),
)" /live.mp3 /none.mp3 /long.mp3 || return
    sleep 2.7   # the rings hold more than the longest burst
    local why=$DIR/why s pids=()
    # what arrives in the first 0.3 s: the burst and 0.3 s of real time
    # (4800 bytes at 128 kbit/s; the burst goes back to the newest frame
    # that starts at least burst-ms back, so up to a frame more). A stream
    # with no listener captures in naps of up to 250 ms (stream.c,
    # IDLE_WAIT_MS): its first listener ends the nap and gets what the nap
    # left in the device at once too, up to 4000 bytes more.
    for s in live none long; do
        curl -s --max-time 0.3 -o "$DIR/$s.first.mp3" "$URL/$s.mp3" & pids+=($!)
    done
    listen "$DIR/live" "$URL/live.mp3" 3 & pids+=($!)
    wait "${pids[@]}"
    local live none long
    live=$(bytes_of "$DIR/live.first.mp3"); none=$(bytes_of "$DIR/none.first.mp3"); long=$(bytes_of "$DIR/long.first.mp3")
    { "$TOOLS/mp3check" frames "$DIR/live.first.mp3" > /dev/null || "$TOOLS/mp3check" frames "$DIR/live.first.mp3"
      [ "$live" -ge 32000 ] || echo "burst-ms 2000: only $live bytes in 0.3 s, want >= 32000"
      [ "$live" -le 41500 ] || echo "burst-ms 2000: $live bytes in 0.3 s, more than 32000 + a frame + a nap + 0.3 s"
      rate_check "$DIR/live"
      decode_check "$DIR/live" 997 2500; } > "$why"
    verdict "burst-ms 2000 (default): $live bytes in the first 0.3 s from a frame header, then real time and the tone" "$why"
    { "$TOOLS/mp3check" frames "$DIR/none.first.mp3" > /dev/null || "$TOOLS/mp3check" frames "$DIR/none.first.mp3"
      [ "$none" -ge 418 ] || echo "burst-ms 0: $none bytes in 0.3 s, not even the newest frame"
      [ "$none" -le 9500 ] || echo "burst-ms 0: $none bytes in 0.3 s, want a frame + a nap + 0.3 s of real time (<= 9500)"; } > "$why"
    verdict "burst-ms 0: only the newest frame and real time ($none bytes in 0.3 s)" "$why"
    { "$TOOLS/mp3check" frames "$DIR/long.first.mp3" > /dev/null || "$TOOLS/mp3check" frames "$DIR/long.first.mp3"
      [ "$long" -ge 40000 ] || echo "burst-ms 2500: only $long bytes in 0.3 s, want >= 40000"
      [ "$long" -le 49500 ] || echo "burst-ms 2500: $long bytes in 0.3 s, more than 40000 + a frame + a nap + 0.3 s"; } > "$why"
    verdict "burst-ms 2500 (above lighttpd's 32 KiB queue): $long bytes in the first 0.3 s" "$why"
    stop_server
    sanitizer_reports "burst"
}

# lighttpd's own count of what it sent a listener (mod_accesslog's %b and
# %O) stays right, though the module writes plain HTTP/1.x listeners itself
# with lighttpd's writer: each count matches what the listener received, to
# within what was on its way when it hung up.
feature_tests+=(test_access_log_bytes)
# access_log_ends N: the access log has N or more streams' lines (200 with bytes)
access_log_ends() { [ "$(grep -c ' 200 [1-9]' "$DIR/access.log")" -ge "$1" ]; }
test_access_log_bytes() {
    start_live accesslog "server.modules += ( \"mod_accesslog\", \"mod_audiostream\" )
accesslog.filename = \"|exec cat > $WORK/accesslog/access.log\"
accesslog.format = \"%H %s %b %O\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\" ) )" || return
    listen "$DIR/h10" "$URL/live.mp3" 4 --http1.0 &
    local p10=$!
    listen "$DIR/h11" "$URL/live.mp3" 4 --http1.1
    wait "$p10"
    # a pipe: a line per request as it ends (to a file, lighttpd flushes
    # every 4 s); a listener's request ends at the first write after it left
    poll 60 access_log_ends 2
    local why=$DIR/why v body head line b o
    : > "$why"
    for v in 1.0 1.1; do
        body=$(stat -c %s "$DIR/h${v/./}.mp3"); head=$(stat -c %s "$DIR/h${v/./}.hdr")
        line=$(grep "^HTTP/$v 200 " "$DIR/access.log" | sort -n -k3 | tail -1)  # not a probe's HEAD
        [ -n "$line" ] || { echo "HTTP/$v: no access log line: $(cat "$DIR/access.log")"; continue; }
        read -r _ _ b o <<< "$line"
        [ "$body" -ge $((BITRATE_BPS * 4)) ] || echo "HTTP/$v: only $body bytes in 4 s"
        # 1.1 is chunked: %b also counts the chunk framing, a few bytes a frame
        [ "$b" -ge "$body" ] && [ "$b" -le $((body + body / 50 + 4096)) ] \
            || echo "HTTP/$v: %b $b for a body of $body"
        [ "$o" = $((b + head)) ] || echo "HTTP/$v: %O $o is not %b $b + the $head bytes of headers"
    done >> "$why"
    verdict "access log: %b and %O count what HTTP/1.0 and 1.1 listeners received" "$why"
    stop_server
    sanitizer_reports "access log bytes"
}

# slow-listener "drop": a listener further behind than queue-ms is
# disconnected; with "skip" and the same queue-ms it stays and skips to live.
feature_tests+=(test_slow_drop)
test_slow_drop() {
    # no burst: one of 1 s would start the listeners queue-ms behind already
    start_live slowdrop "$MODULES
audiostream.streams = (
  \"/live.mp3\" => ( \"device\" => \"tone997\", \"queue-ms\" => 1000, \"slow-listener\" => \"drop\", \"burst-ms\" => 0 ),
  \"/skip.mp3\" => ( \"device\" => \"tone440\", \"queue-ms\" => 1000, \"slow-listener\" => \"skip\", \"burst-ms\" => 0 ),
)" /live.mp3 /skip.mp3 || return
    local pids=() s
    listen "$DIR/normal" "$URL/live.mp3" 7 & pids+=($!)
    # stalled 4 s: its socket buffers and lighttpd's queue for it fill up,
    # and it falls 1 s behind live well within the stall
    for s in live skip; do
        ( t0=$(now_ms)
          "$TOOLS/slowclient" "$PORT" "/$s.mp3" "$DIR/stall-$s.mp3" --stall-ms 4000 --seconds 8 > "$DIR/stall-$s.out"
          echo "rc=$? ms=$(( $(now_ms) - t0 ))" >> "$DIR/stall-$s.out" ) & pids+=($!)
    done
    # the server's ends: all three connected at 1 s; at 3.5 s, with both
    # stalled clients still not reading, the dropped one is closed
    local before after
    sleep 1; before=$(established "$PORT")
    sleep 2.5; after=$(established "$PORT")
    wait "${pids[@]}"
    local why=$DIR/why drop_ms skip_ms drop_bytes skip_bytes
    drop_ms=$(sed -n 's/.*ms=\([0-9]*\).*/\1/p' "$DIR/stall-live.out")
    skip_ms=$(sed -n 's/.*ms=\([0-9]*\).*/\1/p' "$DIR/stall-skip.out")
    drop_bytes=$(bytes_of "$DIR/stall-live.mp3"); skip_bytes=$(bytes_of "$DIR/stall-skip.mp3")
    { rate_check "$DIR/normal"; decode_check "$DIR/normal" 997 5500; } > "$why"
    verdict "slow-listener drop: a listener next to a dropped one hears the tone whole, in real time" "$why"
    { [ "$before" = 3 ] || echo "at 1 s the server held $before connections, want 3"
      [ "$after" = 2 ] || echo "at 3.5 s the server held $after connections, want 2: the stalled listener was not dropped"
      grep -q '^rc=0 ' "$DIR/stall-live.out" || echo "slowclient: $(tr '\n' ' ' < "$DIR/stall-live.out")"
      # it reads again at 4 s: what the kernel held, then the end
      [ "${drop_ms:-99999}" -le 5500 ] || echo "the stalled listener's connection lasted ${drop_ms} ms of its 8000: not dropped"
      [ "$drop_bytes" -le 80000 ] || echo "the dropped listener got $drop_bytes bytes (8 s are 128000)"
      "$TOOLS/mp3check" frames "$DIR/stall-live.mp3" > /dev/null || "$TOOLS/mp3check" frames "$DIR/stall-live.mp3"; } > "$why"
    verdict "slow-listener drop, queue-ms 1000: a listener stalled 4 s is disconnected (ended at ${drop_ms} ms, $drop_bytes bytes)" "$why"
    { grep -q '^rc=0 ' "$DIR/stall-skip.out" || echo "slowclient: $(tr '\n' ' ' < "$DIR/stall-skip.out")"
      [ "${skip_ms:-0}" -ge 7800 ] || echo "the skipping listener's connection ended at ${skip_ms} ms of its 8000"
      [ "$skip_bytes" -ge 64000 ] || echo "the skipping listener got only $skip_bytes bytes"
      [ "$skip_bytes" -lt 128000 ] || echo "the skipping listener got $skip_bytes bytes: nothing was skipped"
      "$TOOLS/mp3check" frames "$DIR/stall-skip.mp3" > /dev/null || "$TOOLS/mp3check" frames "$DIR/stall-skip.mp3"; } > "$why"
    verdict "slow-listener skip, queue-ms 1000: the same stall stays connected and skips to live ($skip_bytes bytes in 8 s)" "$why"
    stop_server
    sanitizer_reports "slow-listener drop"
}

# max-listeners 2: two play, a third gets 503 + Retry-After, and once one
# has left a new one gets the stream.
feature_tests+=(test_max_listeners)
test_max_listeners() {
    start_live maxlisteners "$MODULES
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"max-listeners\" => 2 ) )" || return
    local why=$DIR/why a b c
    curl -s --max-time 2.5 -o "$DIR/a.mp3" "$URL/live.mp3" & a=$!
    curl -s --http2-prior-knowledge --max-time 6 -o "$DIR/b.mp3" "$URL/live.mp3" & b=$!
    sleep 0.5
    { request "$DIR/third" "$URL/live.mp3"
      expect_status "$DIR/third" "HTTP/1.1 503 Service Unavailable"
      expect_header "$DIR/third" retry-after 2
      expect_header "$DIR/third" access-control-allow-origin "*"   # a web player can read it
      grep -q 'all the listeners it takes' "$DIR/third.body" || echo "third: body '$(cat "$DIR/third.body")'"
      request "$DIR/third-h2" "$URL/live.mp3" --http2-prior-knowledge
      expect_status "$DIR/third-h2" "HTTP/2 503"
      expect_header "$DIR/third-h2" retry-after 2
      # a HEAD is no listener, but it is answered as a GET would be
      request "$DIR/head" "$URL/live.mp3" -I
      expect_status "$DIR/head" "HTTP/1.1 503 Service Unavailable"; } > "$why"
    verdict "max-listeners 2: a third listener (HTTP/1.1 or 2) gets 503 with Retry-After: 2" "$why"
    wait "$a"
    sleep 0.3    # the server notices the close at its next write
    REQUEST_SECS=2 request "$DIR/fourth" "$URL/live.mp3" & c=$!
    sleep 0.5
    { request "$DIR/fifth" "$URL/live.mp3" --max-time 0.5
      expect_status "$DIR/fifth" "HTTP/1.1 503 Service Unavailable"
      wait "$c"
      expect_status "$DIR/fourth" "HTTP/1.1 200 OK"
      "$TOOLS/mp3check" frames "$DIR/fourth.body" > /dev/null || "$TOOLS/mp3check" frames "$DIR/fourth.body"
      [ "$(bytes_of "$DIR/fourth.body")" -ge 40000 ] || echo "fourth: only $(bytes_of "$DIR/fourth.body") bytes in 2 s"
      kill -0 "$b" 2>/dev/null || echo "the second listener's response ended"; } > "$why"
    verdict "max-listeners 2: after one leaves, a new listener gets 200 and the stream, and a fifth 503" "$why"
    wait "$b"
    { [ "$(bytes_of "$DIR/a.mp3")" -ge 30000 ] || echo "first listener: only $(bytes_of "$DIR/a.mp3") bytes in 2.5 s"
      [ "$(bytes_of "$DIR/b.mp3")" -ge 85000 ] || echo "second listener: only $(bytes_of "$DIR/b.mp3") bytes in 6 s"
      "$TOOLS/mp3check" frames "$DIR/b.mp3" > /dev/null || "$TOOLS/mp3check" frames "$DIR/b.mp3"; } > "$why"
    verdict "max-listeners 2: the first two listeners played throughout" "$why"
    stop_server
    sanitizer_reports "max-listeners"
}

# The station's identity as Icecast's icy-* response headers; empty ones
# are not sent; values that could break a header are refused at start.
feature_tests+=(test_identity)
test_identity() {
    start_live identity "$MODULES
audiostream.streams = (
  \"/live.mp3\" => ( \"device\" => \"tone997\", \"bitrate\" => 96,
      \"name\" => \"Radio Zürich \\\"Eins\\\"\", \"description\" => \"Live from the test tone; 997 Hz\",
      \"genre\" => \"Sine Wave\", \"url\" => \"https://radio.example/\", \"public\" => 1 ),
  \"/bare.mp3\" => ( \"device\" => \"tone440\" ),
)" /live.mp3 /bare.mp3 || return
    local why=$DIR/why o
    { for o in live live-h2 head; do
          case $o in
              live) REQUEST_SECS=1 request "$DIR/$o" "$URL/live.mp3" ;;
              live-h2) REQUEST_SECS=1 request "$DIR/$o" "$URL/live.mp3" --http2-prior-knowledge ;;
              head) request "$DIR/$o" "$URL/live.mp3" -I ;;
          esac
          expect_header "$DIR/$o" icy-name 'Radio Zürich "Eins"'
          expect_header "$DIR/$o" icy-description 'Live from the test tone; 997 Hz'
          expect_header "$DIR/$o" icy-genre 'Sine Wave'
          expect_header "$DIR/$o" icy-url 'https://radio.example/'
          expect_header "$DIR/$o" icy-pub 1
          expect_header "$DIR/$o" icy-br 96
          expect_no_header "$DIR/$o" icy-metaint
      done
      "$TOOLS/mp3check" frames "$DIR/live.body" | grep -q 'bitrate=96 ' || echo "not 96 kbit/s: $("$TOOLS/mp3check" frames "$DIR/live.body")"; } > "$why"
    verdict "icy-name, -description, -genre, -url, -pub 1 and -br 96 on GET (HTTP/1.1, 2) and HEAD" "$why"
    { REQUEST_SECS=1 request "$DIR/bare" "$URL/bare.mp3"
      expect_status "$DIR/bare" "HTTP/1.1 200 OK"
      expect_header "$DIR/bare" icy-br 128
      expect_header "$DIR/bare" icy-pub 0
      for o in icy-name icy-description icy-genre icy-url icy-metaint; do expect_no_header "$DIR/bare" $o; done; } > "$why"
    verdict "a stream without identity sends icy-br 128 and icy-pub 0 only" "$why"
    stop_server
    sanitizer_reports "identity"
    local tab=$'\t' esc=$'\x1b' long
    long=$(printf 'x%.0s' $(seq 1 1025))
    bad_config 'name with a tab' "\"name\" => \"On\\tAir\" is not valid" \
        "audiostream.streams = ( \"/a\" => ( \"name\" => \"On${tab}Air\" ) )"
    bad_config 'description with ESC' "\"description\" => \"a\\x1b[31mred\" is not valid" \
        "audiostream.streams = ( \"/a\" => ( \"description\" => \"a${esc}[31mred\" ) )"
    bad_config 'genre with invalid UTF-8 (Latin-1)' '"genre" => "Fran\xe7ais" is not valid' \
        "audiostream.streams = ( \"/a\" => ( \"genre\" => \"Fran"$'\xe7'"ais\" ) )"
    bad_config 'url with an overlong UTF-8 slash' '"url" => "http:\xc0\xaf" is not valid' \
        'audiostream.streams = ( "/a" => ( "url" => "http:'$'\xc0\xaf''" ) )'
    bad_config 'name of 1025 bytes' "\"name\" => \"${long:0:400}" \
        "audiostream.streams = ( \"/a\" => ( \"name\" => \"$long\" ) )"
    bad_config 'title with a newline' '"title" => "two\nlines" is not valid' \
        "audiostream.streams = ( \"/a\" => ( \"title\" => \"two
lines\" ) )"
    # C1 controls (U+0080-009F, utf8.h) too: U+009B is CSI, U+0085 NEL
    bad_config 'title with U+009B (CSI)' '"title" => "a\xc2\x9b[2Jb" is not valid' \
        "audiostream.streams = ( \"/a\" => ( \"title\" => \"a"$'\xc2\x9b'"[2Jb\" ) )"
    bad_config 'name with U+0085 (NEL)' '"name" => "On\xc2\x85" is not valid' \
        "audiostream.streams = ( \"/a\" => ( \"name\" => \"On"$'\xc2\x85'"\" ) )"
    bad_config 'public 2' '"public" => 2 is not valid' \
        'audiostream.streams = ( "/a" => ( "public" => 2 ) )'
    bad_config 'burst-ms above queue-ms' '"burst-ms" => 6000 is more than "queue-ms" => 5000' \
        'audiostream.streams = ( "/a" => ( "burst-ms" => 6000 ) )'
    bad_config 'queue-ms below 500' '"queue-ms" => 400 is not valid' \
        'audiostream.streams = ( "/a" => ( "queue-ms" => 400, "burst-ms" => 0 ) )'
    bad_config 'slow-listener "kick"' '"slow-listener" => "kick" is not valid' \
        'audiostream.streams = ( "/a" => ( "slow-listener" => "kick" ) )'
    bad_config 'metaint 0' '"metaint" => 0 is not valid' \
        'audiostream.streams = ( "/a" => ( "metaint" => 0 ) )'
    bad_config 'metaint 65537' '"metaint" => 65537 is not valid' \
        'audiostream.streams = ( "/a" => ( "metaint" => 65537 ) )'
    bad_config 'max-listeners 1000001' '"max-listeners" => 1000001 is not valid' \
        'audiostream.streams = ( "/a" => ( "max-listeners" => 1000001 ) )'
    bad_config 'cors-origin without a scheme' '"cors-origin" => "radio.example" is not valid' \
        'audiostream.streams = ( "/a" => ( "cors-origin" => "radio.example" ) )'
    bad_config 'cors-origin with a path' '"cors-origin" => "https://radio.example/player" is not valid' \
        'audiostream.streams = ( "/a" => ( "cors-origin" => "https://radio.example/player" ) )'
}

# icy_check OUT METAINT TITLE_TEXT BLOCK_LEN HZ MIN_MS: OUT.mp3 is a body
# with ICY metadata every METAINT audio bytes; its first block carries
# TITLE_TEXT (the payload) in BLOCK_LEN bytes, every later one is empty, and
# the audio alone decodes to HZ. Prints what is wrong.
icy_check() {
    local out=$1 metaint=$2 text=$3 len=$4 hz=$5 min_ms=$6
    "$TOOLS/icycheck" "$metaint" "$out.mp3" "$out.audio.mp3" > "$out.icy" \
        || { echo "${out##*/}: icycheck: $(grep -v '^block' "$out.icy")"; return; }
    local audio blocks empty first nonempty
    audio=$(sed -n 's/^blocks=.* audio=\([0-9]*\)$/\1/p' "$out.icy")
    blocks=$(sed -n 's/^blocks=\([0-9]*\) .*/\1/p' "$out.icy")
    empty=$(sed -n 's/^blocks=.* empty=\([0-9]*\) .*/\1/p' "$out.icy")
    first=$(grep -m1 '^block ' "$out.icy")
    nonempty=$(grep -c '^block ' "$out.icy")
    [ "$first" = "block at=$metaint len=$len text=$text" ] \
        || echo "${out##*/}: first block '$first', want 'block at=$metaint len=$len text=$text'"
    [ "$nonempty" = 1 ] || echo "${out##*/}: $nonempty blocks with a title, want 1: $(grep '^block ' "$out.icy" | head -3)"
    # a block after every metaint audio bytes (none yet when the body ends
    # right at a boundary)
    [ "$blocks" -ge $((audio / metaint - 1)) ] && [ "$blocks" -le $((audio / metaint)) ] \
        || echo "${out##*/}: $blocks blocks in $audio audio bytes at metaint $metaint"
    [ "$empty" = $((blocks - 1)) ] || echo "${out##*/}: $empty empty blocks of $blocks, want all but the first"
    decode_check "$out.audio" "$hz" "$min_ms"
}

# Icy-MetaData: 1 gets icy-metaint and a metadata block after every metaint
# audio bytes (HTTP/1.1 and 2); without it, plain audio.
feature_tests+=(test_icy_metadata)
test_icy_metadata() {
    start_live icy "$MODULES
audiostream.streams = (
  \"/live.mp3\"  => ( \"device\" => \"tone997\", \"title\" => \"It's live\" ),
  \"/small.mp3\" => ( \"device\" => \"tone440\", \"metaint\" => 1000, \"title\" => \"Zoë';x\" ),
  \"/plain.mp3\" => ( \"device\" => \"tone1500\", \"metaint\" => 8192 ),
)" /live.mp3 /small.mp3 /plain.mp3 || return
    sleep 1.2   # a whole second's burst: the first write crosses a metaint boundary
    local pids=() why=$DIR/why o
    listen "$DIR/icy" "$URL/live.mp3" 3 -H 'Icy-MetaData: 1' & pids+=($!)
    listen "$DIR/icy-h2" "$URL/live.mp3" 3 --http2-prior-knowledge -H 'icy-metadata: 1' & pids+=($!)
    listen "$DIR/noicy" "$URL/live.mp3" 3 & pids+=($!)
    listen "$DIR/small" "$URL/small.mp3" 3 -H 'Icy-MetaData: 1' & pids+=($!)
    listen "$DIR/small-h2" "$URL/small.mp3" 3 --http2-prior-knowledge -H 'Icy-MetaData: 1' & pids+=($!)
    listen "$DIR/plain" "$URL/plain.mp3" 3 -H 'Icy-MetaData: 1' & pids+=($!)
    wait "${pids[@]}"
    # "StreamTitle='It's live';" is 24 bytes: 2 units of 16 with the NULs
    { expect_status "$DIR/icy" "HTTP/1.1 200 OK"; expect_header "$DIR/icy" icy-metaint 16000
      icy_check "$DIR/icy" 16000 "StreamTitle='It's live';" 32 997 2500; } > "$why"
    verdict "Icy-MetaData: 1, metaint 16000: the title once, then empty blocks; the audio decodes whole" "$why"
    { expect_status "$DIR/icy-h2" "HTTP/2 200"; expect_header "$DIR/icy-h2" icy-metaint 16000
      icy_check "$DIR/icy-h2" 16000 "StreamTitle='It's live';" 32 997 2500; } > "$why"
    verdict "Icy-MetaData: 1 over HTTP/2: the same framing" "$why"
    # "Zoë';x": the ' before ; becomes U+2019, so players that end the title
    # at "';" read all of it: "StreamTitle='Zoë’;x';" is 24 bytes
    { for o in small small-h2; do
          expect_header "$DIR/$o" icy-metaint 1000
          icy_check "$DIR/$o" 1000 "StreamTitle='Zoë’;x';" 32 440 2500
          [ "$(sed -n 's/^blocks=\([0-9]*\) .*/\1/p' "$DIR/$o.icy")" -ge 55 ] || echo "$o: $(tail -1 "$DIR/$o.icy")"
      done; } > "$why"
    verdict "metaint 1000 (HTTP/1.1 and 2): over 55 blocks in 3 s, the title made safe once, then empty" "$why"
    # no title configured: the empty title is still sent once
    { expect_header "$DIR/plain" icy-metaint 8192
      icy_check "$DIR/plain" 8192 "StreamTitle='';" 16 1500 2500; } > "$why"
    verdict "metaint 8192 without a title: StreamTitle=''; once, then empty blocks" "$why"
    { expect_status "$DIR/noicy" "HTTP/1.1 200 OK"
      expect_no_header "$DIR/noicy" icy-metaint
      ! grep -qa StreamTitle "$DIR/noicy.mp3" || echo "noicy: the body holds StreamTitle"
      decode_check "$DIR/noicy" 997 2500
      # the stream's own bytes: the ICY listener's audio is a part of them
      "$TOOLS/mp3check" same "$DIR/noicy.mp3" "$DIR/icy.audio.mp3" > "$DIR/same.out" || cat "$DIR/same.out"
      for o in 0 no; do
          request "$DIR/head-$o" "$URL/live.mp3" -I -H "Icy-MetaData: $o"
          expect_no_header "$DIR/head-$o" icy-metaint
      done
      request "$DIR/head-1" "$URL/live.mp3" -I -H "Icy-MetaData: 1"
      expect_header "$DIR/head-1" icy-metaint 16000; } > "$why"
    verdict "no Icy-MetaData (or 0): no icy-metaint, the plain stream, the same audio bytes" "$why"
    stop_server
    sanitizer_reports "ICY metadata"
}

# cors-origin "*" (the default), one origin, and "" (off): on GET, on the
# preflight OPTIONS, and on playlists.
feature_tests+=(test_cors)
test_cors() {
    start_live cors "$MODULES
audiostream.streams = (
  \"/live.mp3\"   => ( \"device\" => \"tone997\" ),
  \"/origin.mp3\" => ( \"device\" => \"tone440\", \"cors-origin\" => \"https://player.example:8443\" ),
  \"/off.mp3\"    => ( \"device\" => \"tone1500\", \"cors-origin\" => \"\" ),
)" /live.mp3 /origin.mp3 /off.mp3 || return
    local why=$DIR/why s want
    local expose="icy-metaint, icy-name, icy-description, icy-genre, icy-url, icy-br, icy-pub, Retry-After"
    local preflight=(-X OPTIONS -H 'Origin: https://player.example:8443'
                     -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: icy-metadata')
    for s in live origin; do
        want='*'; [ "$s" = origin ] && want=https://player.example:8443
        { REQUEST_SECS=1 request "$DIR/$s-get" "$URL/$s.mp3" -H 'Origin: https://player.example:8443'
          expect_status "$DIR/$s-get" "HTTP/1.1 200 OK"
          expect_header "$DIR/$s-get" access-control-allow-origin "$want"
          expect_header "$DIR/$s-get" access-control-expose-headers "$expose"
          request "$DIR/$s-opt" "$URL/$s.mp3" "${preflight[@]}"
          expect_status "$DIR/$s-opt" "HTTP/1.1 204 No Content"
          expect_header "$DIR/$s-opt" access-control-allow-origin "$want"
          expect_header "$DIR/$s-opt" access-control-allow-methods "GET, HEAD, OPTIONS"
          expect_header "$DIR/$s-opt" access-control-allow-headers "Icy-MetaData, Range"
          expect_header "$DIR/$s-opt" access-control-max-age 86400
          expect_header "$DIR/$s-opt" allow "GET, HEAD, OPTIONS"
          raw_request "$DIR/$s-raw" "OPTIONS /$s.mp3 HTTP/1.1\\r\\nHost: x\\r\\nOrigin: https://player.example:8443\\r\\nConnection: close\\r\\n\\r\\n"
          expect_status "$DIR/$s-raw" "HTTP/1.1 204 No Content"
          [ "$(bytes_of "$DIR/$s-raw.body")" = 0 ] || echo "$s: OPTIONS answered with a body of $(bytes_of "$DIR/$s-raw.body") bytes"
          request "$DIR/$s-opt2" "$URL/$s.mp3" --http2-prior-knowledge "${preflight[@]}"
          expect_status "$DIR/$s-opt2" "HTTP/2 204"
          expect_header "$DIR/$s-opt2" access-control-allow-origin "$want"
          request "$DIR/$s-m3u" "$URL/$s.mp3.m3u" -H 'Origin: https://player.example:8443'
          expect_header "$DIR/$s-m3u" access-control-allow-origin "$want"; } > "$why"
        verdict "cors-origin \"$want\": GET, the preflight (204, methods, Icy-MetaData, max-age) and playlists allow it" "$why"
    done
    { REQUEST_SECS=1 request "$DIR/off-get" "$URL/off.mp3" -H 'Origin: https://player.example:8443'
      expect_status "$DIR/off-get" "HTTP/1.1 200 OK"
      expect_no_header "$DIR/off-get" 'access-control-[a-z-]*'
      request "$DIR/off-opt" "$URL/off.mp3" "${preflight[@]}"
      expect_status "$DIR/off-opt" "HTTP/1.1 204 No Content"
      expect_header "$DIR/off-opt" allow "GET, HEAD, OPTIONS"
      expect_no_header "$DIR/off-opt" 'access-control-[a-z-]*'
      request "$DIR/off-m3u" "$URL/off.mp3.m3u"
      expect_no_header "$DIR/off-m3u" 'access-control-[a-z-]*'; } > "$why"
    verdict "cors-origin \"\": no Access-Control-* header anywhere; OPTIONS still 204 with Allow" "$why"
    stop_server
    sanitizer_reports "CORS"
}

# xspf_body LOCATION TITLE: an XSPF playlist of one track, as the module writes it
xspf_body() {
    printf '%s\n' '<?xml version="1.0" encoding="UTF-8"?>' \
        '<playlist version="1" xmlns="http://xspf.org/ns/0/">' '  <trackList>' '    <track>' \
        "      <location>$1</location>" "      <title>$2</title>" '    </track>' '  </trackList>' '</playlist>'
}
# body_is OUT EXPECTED: OUT.body is EXPECTED byte for byte; prints what is wrong
body_is() {
    cmp -s "$1.body" <(printf '%s' "$2") \
        || echo "${1##*/}: body differs: $(od -c "$1.body" | head -12 | tr -s ' ')"
}

# /live.mp3.m3u, .pls and .xspf name the stream's URL as the client reached
# it; anything else under the prefix is the stream.
feature_tests+=(test_playlists)
test_playlists() {
    start_live playlists "$MODULES
audiostream.streams = (
  \"/live.mp3\"     => ( \"device\" => \"tone997\", \"name\" => \"Rock & Roll <FM> 'n' more\" ),
  \"/my radio.mp3\" => ( \"device\" => \"tone440\" ),
)" || return
    local why=$DIR/why u=http://radio.example:8080/live.mp3 t="Rock & Roll <FM> 'n' more"
    local xt="Rock &amp; Roll &lt;FM&gt; &apos;n&apos; more"
    { request "$DIR/m3u" "$URL/live.mp3.m3u" -H 'Host: radio.example:8080'
      expect_status "$DIR/m3u" "HTTP/1.1 200 OK"
      expect_header "$DIR/m3u" content-type "audio/x-mpegurl; charset=utf-8"
      body_is "$DIR/m3u" "#EXTM3U"$'\n'"#EXTINF:-1,$t"$'\n'"$u"$'\n'
      request "$DIR/pls" "$URL/live.mp3.pls?x=1" -H 'Host: radio.example:8080'
      expect_status "$DIR/pls" "HTTP/1.1 200 OK"
      expect_header "$DIR/pls" content-type "audio/x-scpls; charset=utf-8"
      body_is "$DIR/pls" "[playlist]"$'\n'"File1=$u"$'\n'"Title1=$t"$'\n'"Length1=-1"$'\n'"NumberOfEntries=1"$'\n'"Version=2"$'\n'
      request "$DIR/xspf" "$URL/live.mp3.xspf" -H 'Host: radio.example:8080'
      expect_status "$DIR/xspf" "HTTP/1.1 200 OK"
      expect_header "$DIR/xspf" content-type "application/xspf+xml; charset=utf-8"
      body_is "$DIR/xspf" "$(xspf_body "$u" "$xt")"$'\n'
      # a real XML parser reads the name back as configured
      local parsed; parsed=$(python3 "$TEST_DIR/tools/xspf_title.py" "$DIR/xspf.body" 2>&1 | tail -1)
      [ "$parsed" = "$t" ] || echo "xspf: the parsed title is '$parsed'"; } > "$why"
    verdict "m3u, pls (query ignored), xspf with Host radio.example:8080: types and exact bodies" "$why"
    { request "$DIR/h10" "$URL/my%20radio.mp3.m3u" --http1.0 -H 'Host:'
      expect_status "$DIR/h10" "HTTP/1.0 200 OK"
      body_is "$DIR/h10" "#EXTM3U"$'\n'"#EXTINF:-1,my%20radio.mp3"$'\n'"http://127.0.0.1:$PORT/my%20radio.mp3"$'\n'
      request "$DIR/h2" "$URL/live.mp3.pls" --http2-prior-knowledge
      expect_status "$DIR/h2" "HTTP/2 200"
      grep -qxF "File1=http://127.0.0.1:$PORT/live.mp3" "$DIR/h2.body" || echo "h2: $(head -2 "$DIR/h2.body")"
      request "$DIR/v6" "$URL/live.mp3.m3u" -H 'Host: [::1]:8080'
      grep -qxF "http://[::1]:8080/live.mp3" "$DIR/v6.body" || echo "v6: $(cat "$DIR/v6.body")"
      raw_request "$DIR/head" 'HEAD /live.mp3.xspf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
      expect_status "$DIR/head" "HTTP/1.1 200 OK"
      expect_header "$DIR/head" content-type "application/xspf+xml; charset=utf-8"
      [ "$(bytes_of "$DIR/head.body")" = 0 ] || echo "HEAD of a playlist has a body of $(bytes_of "$DIR/head.body") bytes"; } > "$why"
    verdict "HTTP/1.0 without Host names 127.0.0.1:PORT (path %-encoded, title its last segment); HTTP/2; [::1]; HEAD" "$why"
    # not a playlist: the rest must be exactly .m3u, .pls or .xspf
    { local p
      for p in live.mp3.m3u8 live.mp3.M3U live.mp3.m3u/; do
          REQUEST_SECS=1 request "$DIR/np" "$URL/$p"
          expect_status "$DIR/np" "HTTP/1.1 200 OK"
          expect_header "$DIR/np" content-type audio/mpeg
          "$TOOLS/mp3check" frames "$DIR/np.body" > /dev/null || echo "/$p: not the stream: $(head -c 80 "$DIR/np.body" | od -c | head -2)"
      done; } > "$why"
    verdict "/live.mp3.m3u8, .M3U and .m3u/ are not playlists: they get the stream itself" "$why"
    stop_server
    sanitizer_reports "playlists"
}

# HEAD over HTTP/2 (test_methods has HTTP/1.1): the headers of the stream
# at once, END_STREAM with them, no audio. A player that probes with HEAD
# (GStreamer's souphttpsrc, some browsers' media probes) over h2 would
# otherwise hang on an endless body or get one it did not ask for.
feature_tests+=(test_head_http2)
test_head_http2() {
    start_live head-h2 "$MODULES
$STREAM_997" || return
    local why=$DIR/why out
    # curl shows the headers; h2abuse the frames (curl would not say
    # whether DATA came after them)
    request "$DIR/head" "$URL/live.mp3" --http2-prior-knowledge -I
    out=$(timeout 10 "${H2ABUSE[@]}" "$PORT" /live.mp3 head 3 2>&1)
    { expect_status "$DIR/head" "HTTP/2 200"
      expect_header "$DIR/head" content-type audio/mpeg
      expect_no_header "$DIR/head" content-length
      case $out in
          "status=200 ended=1 with_headers=1 data=0 headers_ms="*) ;;
          *) echo "HEAD's frames: $out, want status=200, END_STREAM on the HEADERS, no DATA" ;;
      esac
      [ "$(figure headers_ms "$out")" -le 1000 ] 2>/dev/null || echo "HEAD's headers after $(figure headers_ms "$out") ms"; } > "$why"
    verdict "HEAD over HTTP/2: the stream's headers at once ($(figure headers_ms "$out") ms), END_STREAM with them, no DATA" "$why"
    stop_server
    sanitizer_reports "HEAD over HTTP/2"
}
