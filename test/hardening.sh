# shellcheck shell=bash
# Integration tests of what an anonymous client must not be able to do
# (issue 13): fill the disk with a request body, hold listener slots after
# it left, throttle an HTTP/2 connection by listening on it, or change a
# title from another site's page; and that no configuration in a
# conditional is dropped. Sourced by test/integration.sh after
# test/robustness.sh (rss_kib, listener_checks),
# test/status_admin.sh (AUTH_MODULES, admin_auth_conf) and test/players.sh
# (chromium_start, wait_report), whose helpers it uses. hardening_tests
# lists them in order.
hardening_tests=()

# admin_code CREDENTIALS MOUNT SONG [curl options]: the admin URL's status
# code for a title update; its answer in $DIR/a.body
admin_code() {
    local cred=$1 mount=$2 song=$3; shift 3
    curl -s -o "$DIR/a.body" -w '%{http_code}' --max-time 3 -u "$cred" "$@" \
        "$URL/admin/metadata?mount=$mount&mode=updinfo&song=$song"
}

# title_of MOUNT: its title in the status (of a server with several streams)
title_of() { status_get "stream('$1').get('title', '')"; }

# upload_bytes DIR: bytes in the files lighttpd spooled there
upload_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# A request body on a stream, playlist, status or admin request: over
# HTTP/2 a GET whose HEADERS have no END_STREAM (lighttpd would take its
# DATA into server.upload-dirs for as long as the stream plays), over
# HTTP/1.1 with Content-Length or chunked (lighttpd refuses a GET with a
# body itself, 400, unless server.http-parseopts "method-get-body" lets it
# through, as here; an OPTIONS it always lets through). Each gets 413 at
# once and none of it is stored; a listener beside them plays on.
hardening_tests+=(test_request_body)
test_request_body() {
    mkdir -p "$WORK/body/up"
    start_live body "$MODULES
server.upload-dirs = ( \"$WORK/body/up\" )
server.http-parseopts = ( \"method-get-body\" => \"enable\" )
$STATUS_997
audiostream.admin-url = \"/admin/metadata\"
$STREAM_997" || return
    local why=$DIR/why out rss0 rss1 up=0 peak=0 apid
    listen "$DIR/normal" "$URL/live.mp3" 9 & local lpid=$!
    rss0=$(rss_kib)
    "${H2ABUSE[@]}" "$PORT" /live.mp3 body 50 6 > "$DIR/h2.out" & apid=$!
    while kill -0 "$apid" 2>/dev/null; do
        up=$(upload_bytes "$DIR/up"); [ "$up" -gt "$peak" ] && peak=$up
        sleep 0.2
    done
    wait "$apid"
    rss1=$(rss_kib)
    out=$(cat "$DIR/h2.out")
    { [ "$(figure status "$out")" = 413 ] || echo "HTTP/2 GET with a body: $out, want status=413"
      [ "$(figure reset "$out")" = 1 ] || echo "HTTP/2: the stream was not reset after the 413: $out"
      [ "$(figure sent "$out")" -le $((1024 * 1024)) ] || echo "HTTP/2: the server took $(figure sent "$out") bytes of the body"
      [ "$peak" -eq 0 ] || echo "upload dir held up to $peak bytes"
      [ $((rss1 - rss0)) -le 1024 ] || echo "RSS grew from $rss0 to $rss1 KiB"; } > "$why"
    verdict "HTTP/2 GET of a stream with a 50 MB body: 413, reset, ${peak} bytes stored, RSS $rss0 -> $rss1 KiB ($out)" "$why"
    head -c $((50 * 1024 * 1024)) /dev/zero > "$DIR/50M"
    { local path code t0 ms
      for path in /live.mp3 /live.mp3.m3u /status-json.xsl /admin/metadata; do
          t0=$(now_ms)
          code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X GET --data-binary @"$DIR/50M" "$URL$path")
          ms=$(( $(now_ms) - t0 ))
          [ "$code" = 413 ] || echo "HTTP/1.1 GET $path with Content-Length: $code, want 413"
          [ "$ms" -le 2000 ] || echo "HTTP/1.1 GET $path with a 50 MB body took $ms ms: it was read"
          code=$(head -c 100000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X GET \
                   -H 'Transfer-Encoding: chunked' --data-binary @- "$URL$path")
          [ "$code" = 413 ] || echo "HTTP/1.1 GET $path chunked: $code, want 413"
      done
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X OPTIONS --data-binary x "$URL/live.mp3")
      [ "$code" = 413 ] || echo "OPTIONS with a body: $code, want 413"
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --data-binary x "$URL/live.mp3")
      [ "$code" = 405 ] || echo "POST with a body: $code, want 405"
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --http2-prior-knowledge "$URL/live.mp3.pls")
      [ "$code" = 200 ] || echo "HTTP/2 playlist without a body: $code"
      [ "$(upload_bytes "$DIR/up")" -eq 0 ] || echo "upload dir: $(ls -la "$DIR/up")"; } > "$why"
    verdict "HTTP/1.1 GET and OPTIONS with a body (Content-Length, chunked) of stream, playlist, status, admin: 413 at once" "$why"
    wait "$lpid"
    { listener_checks "$DIR/normal" 7000; } > "$why"
    verdict "a listener beside the request bodies hears the tone whole, at the rate" "$why"
    stop_server
    sanitizer_reports "request body"
}

# One HTTP/2 connection holds at most 4 audio streams: lighttpd serves 8
# streams of a connection at once and stops reading it while all 8 are busy
# and more wait, and audio streams never end. 12 in one first flight: 4
# play, 8 get 429 at once, so lighttpd goes on to answer every one.
hardening_tests+=(test_h2_audio_streams_per_connection)
test_h2_audio_streams_per_connection() {
    start_live h2cap "$MODULES
$STREAM_997" || return
    local why=$DIR/why out
    out=$("${H2ABUSE[@]}" "$PORT" /live.mp3 flood 12 2)
    { [ "$(figure answered "$out")" = 12 ] || echo "not every stream was answered: $out"
      [ "$(figure ok "$out")" = 4 ] || echo "want 4 audio streams on the connection: $out"
      [ "$(figure status "$out" | tr ',' '\n' | grep -c '^429$')" = 8 ] || echo "want 8 x 429: $out"; } > "$why"
    verdict "HTTP/2: 12 audio streams on one connection: 4 play, 8 get 429 at once ($out)" "$why"
    stop_server
    sanitizer_reports "HTTP/2 cap"
}

# A client keeps 4 downloads busy (it never acknowledges their DATA) and
# opens 8 audio streams in its connection's first flight: lighttpd serves 8
# streams at once, so 4 of the audio streams play and 4 wait; then it exits
# (a FIN, no GOAWAY). Two at once. lighttpd stops reading such a
# connection; the module must see the close itself: both clients' 8
# listeners are gone within 2 s, and 20 real listeners get in under
# max-listeners 20.
hardening_tests+=(test_h2_gone_frees_slots)
test_h2_gone_frees_slots() {
    start_live h2gone "$MODULES
$STATUS_997
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"max-listeners\" => 20 ) )" || return
    head -c 30000000 /dev/zero > "$DIR/htdocs/big.bin"
    local why=$DIR/why a b n t0 ms peak
    "${H2ABUSE[@]}" "$PORT" /live.mp3 flood 8 1 /big.bin 4 > "$DIR/a.out" & local apid=$!
    "${H2ABUSE[@]}" "$PORT" /live.mp3 flood 8 1 /big.bin 4 > "$DIR/b.out"
    wait "$apid"
    a=$(cat "$DIR/a.out"); b=$(cat "$DIR/b.out")
    t0=$(now_ms)
    for _ in $(seq 1 50); do
        n=$(status_get 's["listeners"]'); [ "$n" = 0 ] && break
        sleep 0.1
    done
    ms=$(( $(now_ms) - t0 ))
    peak=$(status_get 's["listener_peak"]')
    { [ "$(figure ok "$a")" = 8 ] && [ "$(figure ok "$b")" = 8 ] \
          || echo "clients were not served 4 downloads and 4 streams each: $a / $b"
      [ "$peak" -ge 8 ] 2>/dev/null || echo "listener peak $peak, want >= 8: the streams never were listeners"
      [ "$n" = 0 ] || echo "$n listeners still counted $ms ms after their clients exited"
      [ "$ms" -le 2000 ] || echo "their slots were freed after $ms ms, want <= 2000"
      [ "$(ss -Htn state close-wait "( sport = :$PORT )" | wc -l)" = 0 ] \
          || echo "connections left in CLOSE-WAIT: $(ss -Htn state close-wait "( sport = :$PORT )")"
      local codes i pids=()
      for i in $(seq 1 20); do
          curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "$URL/live.mp3" > "$DIR/code.$i" & pids+=($!)
      done
      wait "${pids[@]}"
      codes=$(cat "$DIR"/code.* | sort | uniq -c | tr -s ' \n' ' ')
      [ "$(cat "$DIR"/code.* | grep -c '^200$')" = 20 ] \
          || echo "20 listeners after them, under max-listeners 20: $codes"; } > "$why"
    verdict "two HTTP/2 clients whose connections lighttpd stopped reading exited: their 8 slots freed in $ms ms, 20 listeners get in" "$why"
    stop_server
    sanitizer_reports "HTTP/2 gone"
}

# A 30 MB download on the HTTP/2 connection that carries a stream: a send
# buffer sized for one listener would throttle it to a buffer per round
# trip (on loopback ~2 MB/s: 15 s); the connection's throughput must stay
# its own while the stream plays on.
hardening_tests+=(test_h2_download_beside_stream)
test_h2_download_beside_stream() {
    start_live h2beside "$MODULES
$STREAM_997" || return
    head -c 30000000 /dev/urandom > "$DIR/htdocs/big.bin"
    local why=$DIR/why alone beside
    alone=$("${H2ABUSE[@]}" "$PORT" /nothing beside /big.bin 5)
    beside=$("${H2ABUSE[@]}" "$PORT" /live.mp3 beside /big.bin 5)
    { [ "$(figure download "$alone")" = 30000000 ] || echo "without a stream: $alone"
      [ "$(figure download "$beside")" = 30000000 ] || echo "beside a stream the download did not finish in 5 s: $beside"
      [ "$(figure audio "$beside")" -ge $((BITRATE_BPS * 4)) ] || echo "the stream beside it: $beside"; } > "$why"
    verdict "HTTP/2: a 30 MB download beside a stream on one connection ($(figure download_s "$beside") s; alone $(figure download_s "$alone") s)" "$why"
    stop_server
    sanitizer_reports "HTTP/2 download"
}

# audiostream.* keys in conditionals work as lighttpd's own keys do: a
# stream on one virtual host or one socket only, the status URL for one
# network only; streams of one device in several contexts share its capture.
hardening_tests+=(test_conditional_config)
test_conditional_config() {
    free_port; local port2=$PORT
    start_live conditional "$MODULES
\$SERVER[\"socket\"] == \"127.0.0.1:$port2\" {
    audiostream.streams = ( \"/second.mp3\" => ( \"device\" => \"tone997\", \"bitrate\" => 64 ) )
}
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\" ) )
\$HTTP[\"host\"] == \"radio.example\" {
    audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone440\" ),
                            \"/only.mp3\" => ( \"device\" => \"tone1500\" ) )
}
\$HTTP[\"remoteip\"] == \"127.0.0.2\" {
    audiostream.status-url = \"/status-json.xsl\"
}" || return
    local why=$DIR/why url2=http://127.0.0.1:$port2 pids=() code
    { grep -i 'deprecat\|warn' "$DIR/error.log" "$DIR/stderr.log" && echo "lighttpd warned about the conditionals"
      listen "$DIR/plain" "$URL/live.mp3" 3.5 & pids+=($!)
      listen "$DIR/vhost" "$URL/live.mp3" 3.5 -H 'Host: radio.example' & pids+=($!)
      listen "$DIR/only" "$URL/only.mp3" 3.5 -H 'Host: radio.example' & pids+=($!)
      listen "$DIR/second" "$url2/second.mp3" 3.5 & pids+=($!)
      wait "${pids[@]}"
      decode_check "$DIR/plain" 997 2500
      decode_check "$DIR/vhost" 440 2500
      decode_check "$DIR/only" 1500 2500
      grep -q 'bitrate=64' "$DIR/second.frames" 2>/dev/null || "$TOOLS/mp3check" frames "$DIR/second.mp3" | grep -q 'bitrate=64' \
          || echo "/second.mp3 on the second socket is not the 64 kbit/s stream: $("$TOOLS/mp3check" frames "$DIR/second.mp3")"
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/only.mp3")
      [ "$code" = 404 ] || echo "/only.mp3 without Host radio.example: $code, want 404"
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/second.mp3")
      [ "$code" = 404 ] || echo "/second.mp3 on the first socket: $code, want 404"
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url2/live.mp3")
      [ "$code" = 404 ] || echo "/live.mp3 on the second socket: $code, want 404"
      [ "$(grep -c 'device "tone997".*capturing' "$DIR/error.log")" = 1 ] \
          || echo "tone997 not captured once for its two streams: $(grep capturing "$DIR/error.log")"; } > "$why"
    verdict "conditionals: a stream per virtual host, per socket; the same device captured once" "$why"
    { code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/status-json.xsl")
      [ "$code" = 404 ] || echo "status URL from 127.0.0.1: $code, want 404"
      code=$(curl -s -o "$DIR/status.json" -w '%{http_code}' --max-time 2 --interface 127.0.0.2 "$URL/status-json.xsl")
      [ "$code" = 200 ] || echo "status URL from 127.0.0.2: $code, want 200"
      [ "$(json_get "$DIR/status.json" 's["listenurl"].endswith("/live.mp3")')" = True ] \
          || echo "status URL from 127.0.0.2: not just /live.mp3: $(json_get "$DIR/status.json" s)"; } > "$why"
    verdict "conditionals: the status URL only for 127.0.0.2, with the streams of its context" "$why"
    stop_server
    sanitizer_reports "conditional config"
}

# The admin URL changes state on GET, as Icecast's does, so a page on
# another site could make a DJ's browser (which adds the saved Basic
# credentials) change the title: requests a browser marks as coming from
# another site are refused; tools, which send neither Sec-Fetch-Site nor
# Origin, and this site's own pages go on working. A stream's admin-users
# names who may change it.
hardening_tests+=(test_admin_refusals)
test_admin_refusals() {
    printf 'dj1:pw1\ndj2:pw2\n' > "$WORK/djs"
    start_live adminguard "$AUTH_MODULES
$(admin_auth_conf "$WORK/djs")
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"admin-users\" => ( \"dj1\" ) ),
                        \"/open.mp3\" => ( \"device\" => \"tone440\" ) )" || return
    local why=$DIR/why n=0 h
    { for h in 'Sec-Fetch-Site: cross-site' 'Sec-Fetch-Site: same-site' 'Origin: http://evil.example' \
               'Origin: null' "Origin: http://127.0.0.1:$PORT.evil.example" "Origin: https://127.0.0.1:$PORT"; do
          n=$((n + 1))
          [ "$(admin_code dj1:pw1 /live.mp3 "Forged$n" -H "$h")" = 403 ] || echo "$h: not 403: $(cat "$DIR/a.body")"
          grep -q '<return>0</return>' "$DIR/a.body" || echo "$h: answer $(cat "$DIR/a.body")"
      done
      [ -z "$(title_of /live.mp3)" ] || echo "a refused request changed the title: $(title_of /live.mp3)"
      [ "$(admin_code dj1:pw1 /live.mp3 Tool)" = 200 ] || echo "a tool (no Origin): $(cat "$DIR/a.body")"
      [ "$(title_of /live.mp3)" = Tool ] || echo "title after a tool's update: $(title_of /live.mp3)"
      [ "$(admin_code dj1:pw1 /live.mp3 Page -H 'Sec-Fetch-Site: same-origin' -H "Origin: http://127.0.0.1:$PORT")" = 200 ] \
          || echo "this site's own page: $(cat "$DIR/a.body")"
      [ "$(admin_code dj1:pw1 /live.mp3 Typed -H 'Sec-Fetch-Site: none')" = 200 ] \
          || echo "a URL typed in the browser (Sec-Fetch-Site: none): $(cat "$DIR/a.body")"
      [ "$(title_of /live.mp3)" = Typed ] || echo "title: $(title_of /live.mp3)"; } > "$why"
    verdict "admin URL: browser requests from another site (Sec-Fetch-Site, Origin) get 403; tools and this site's pages work" "$why"
    { [ "$(admin_code dj2:pw2 /live.mp3 Intruder)" = 403 ] || echo "dj2 on /live.mp3 (admin-users dj1): $(cat "$DIR/a.body")"
      [ "$(title_of /live.mp3)" = Typed ] || echo "dj2 changed /live.mp3: $(title_of /live.mp3)"
      grep -q 'title change by dj2 refused' "$DIR/error.log" || echo "the refusal is not logged"
      [ "$(admin_code dj2:pw2 /open.mp3 Open)" = 200 ] || echo "dj2 on /open.mp3 (no admin-users): $(cat "$DIR/a.body")"
      [ "$(title_of /open.mp3)" = Open ] || echo "/open.mp3 title: $(title_of /open.mp3)"; } > "$why"
    verdict "admin-users: only the users a stream names change it; a stream naming none takes any authenticated user" "$why"
    stop_server
    sanitizer_reports "admin refusals"
    bad_config 'admin-users as a string' '"admin-users" must be a list of user names' \
        'audiostream.streams = ( "/a" => ( "device" => "tone997", "admin-users" => "dj1" ) )'
    bad_config 'admin-users with a number' '"admin-users" entry 2 must be a string' \
        'audiostream.streams = ( "/a" => ( "device" => "tone997", "admin-users" => ( "dj1", 5 ) ) )'
    bad_config 'admin-users with an empty name' '"admin-users" entry 1 "" is not valid' \
        'audiostream.streams = ( "/a" => ( "device" => "tone997", "admin-users" => ( "" ) ) )'
}

# The forgery itself, in a real browser: headless Chromium logs in to the
# admin URL's realm (the credentials in the first URL, as a DJ typing them),
# its own page on this site changes the title (same-origin: allowed), then
# it visits a page on another site (127.0.0.2) that navigates to the admin
# URL with a title of its own. Chromium sends the saved credentials with
# Sec-Fetch-Site: cross-site; the module must refuse (403, logged with the
# user, so the credentials did come), and the title stays the page's own.
hardening_tests+=(test_admin_csrf_chromium)
test_admin_csrf_chromium() {
    printf 'dj1:pw1\n' > "$WORK/csrf-users"
    free_port; local evil=$PORT
    start_live csrf "server.modules += ( \"mod_accesslog\", \"mod_auth\", \"mod_authn_file\", \"mod_audiostream\" )
accesslog.filename = \"|exec cat > $WORK/csrf/access.log\"
accesslog.format = \"%s %u %r %{Sec-Fetch-Site}i\"
mimetype.assign += ( \".html\" => \"text/html; charset=utf-8\" )
\$SERVER[\"socket\"] == \"127.0.0.2:$evil\" { }
$(admin_auth_conf "$WORK/csrf-users")
$STREAM_997" || return
    mkdir -p "$DIR/htdocs/admin"
    cat > "$DIR/htdocs/admin/dj.html" <<HTML
<!doctype html><title>DJ</title>
<!-- an absolute URL: a relative one would carry the credentials of this page's URL, which Chromium blocks -->
<script>fetch("http://127.0.0.1:$PORT/admin/metadata?mount=/live.mp3&mode=updinfo&song=Own").then(function () {
    location.href = "http://127.0.0.2:$evil/forge.html"; });</script>
HTML
    cat > "$DIR/htdocs/forge.html" <<HTML
<!doctype html><title>another site</title>
<script>location.href = "http://127.0.0.1:$PORT/admin/metadata?mount=/live.mp3&mode=updinfo&song=Forged";</script>
HTML
    # no output option: the browser stays until the forged request came
    # (cross-site navigations start a renderer of their own, later than a
    # --dump-dom or a virtual time budget may end the browser)
    chromium_start --remote-debugging-port=0 "http://dj1:pw1@127.0.0.1:$PORT/admin/dj.html"
    wait_report 'song=Forged' 300
    kill "$CHROMIUM_PID" 2>/dev/null; wait "$CHROMIUM_PID" 2>/dev/null
    local why=$DIR/why
    { grep -q '^200 dj1 GET /admin/metadata?mount=/live.mp3&mode=updinfo&song=Own HTTP/1.1 same-origin$' "$DIR/access.log" \
          || echo "the DJ's own page did not change the title: $(grep metadata "$DIR/access.log")"
      grep -q '^403 dj1 GET /admin/metadata?mount=/live.mp3&mode=updinfo&song=Forged HTTP/1.1 cross-site$' "$DIR/access.log" \
          || echo "the forged navigation was not refused with the DJ's credentials: $(grep -v HEAD "$DIR/access.log")"
      [ "$(status_get 's.get("title")')" = Own ] || echo "title: $(status_get 's.get("title")'), want Own"; } > "$why"
    verdict "admin CSRF in Chromium: its saved credentials on another site's navigation get 403, its own page's update works" "$why"
    stop_server
    sanitizer_reports "admin CSRF"
}
