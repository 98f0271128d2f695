# Integration tests of the status URL (Icecast's status-json.xsl) and the
# admin URL (Icecast's metadata update), sourced by test/integration.sh.

AUTH_MODULES='server.modules += ( "mod_auth", "mod_authn_file", "mod_audiostream" )'

test_status() {
    start_live status "$MODULES
audiostream.status-url = \"/status-json.xsl\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"name\" => \"Test \\\"FM\\\"\",
    \"genre\" => \"Jazz\", \"title\" => \"It's live\" ) )" || return
    local why=$DIR/why pids=()
    curl -s --max-time 4 -o /dev/null "$URL/live.mp3" & pids+=($!)
    curl -s --max-time 4 -o /dev/null "$URL/live.mp3" & pids+=($!)
    sleep 1
    curl -s -D "$DIR/s.hdr" -o "$DIR/s.json" "$URL/status-json.xsl"
    wait "${pids[@]}"
    sleep 0.5   # lighttpd learns of a gone client at its next write or two
    curl -s -o "$DIR/s2.json" "$URL/status-json.xsl"
    { [ "$(status_line "$DIR/s")" = "HTTP/1.1 200 OK" ] || echo "status: $(status_line "$DIR/s")"
      [ "$(header "$DIR/s" content-type)" = "application/json; charset=UTF-8" ] \
          || echo "Content-Type: $(header "$DIR/s" content-type)"
      local got
      got=$(json_get "$DIR/s.json" 'type(d["icestats"]["source"]).__name__')
      [ "$got" = dict ] || echo "one stream: source is $got, Icecast gives an object"
      got=$(json_get "$DIR/s.json" '[d["icestats"]["source"][k] for k in ("listeners", "listener_peak", "bitrate", "server_name", "genre", "title", "server_type")]')
      [ "$got" = "[2, 2, 128, 'Test \"FM\"', 'Jazz', \"It's live\", 'audio/mpeg']" ] || echo "source: $got"
      got=$(json_get "$DIR/s.json" 'd["icestats"]["source"]["listenurl"]')
      [ "$got" = "$URL/live.mp3" ] || echo "listenurl: $got"
      # key by key, in order: Icecast 2.4's keys for an MP3 mount whose source
      # told it bitrate, channels and samplerate, plus our "audiostream"
      got=$(json_get "$DIR/s.json" '",".join(d["icestats"])')
      [ "$got" = "admin,host,location,server_id,server_start,server_start_iso8601,source" ] \
          || echo "icestats keys: $got"
      got=$(json_get "$DIR/s.json" '",".join(d["icestats"]["source"])')
      [ "$got" = "audio_info,audiostream,bitrate,channels,genre,listener_peak,listeners,listenurl,samplerate,server_description,server_name,server_type,stream_start,stream_start_iso8601,title,dummy" ] \
          || echo "source keys: $got"
      got=$(json_get "$DIR/s.json" '[type(d["icestats"]["source"][k]).__name__ for k in ("audio_info", "bitrate", "channels", "listeners", "samplerate", "stream_start", "dummy")]')
      [ "$got" = "['str', 'int', 'int', 'int', 'int', 'str', 'NoneType']" ] || echo "value types: $got"
      got=$(json_get "$DIR/s.json" 'd["icestats"]["source"]["audio_info"]')
      [ "$got" = "bitrate=128;channels=2;samplerate=44100" ] || echo "audio_info: $got"
      got=$(json_get "$DIR/s.json" 'd["icestats"]["source"]["audiostream"]["device_state"]')
      [ "$got" = live ] || echo "device_state: $got"
      got=$(json_get "$DIR/s2.json" '[d["icestats"]["source"][k] for k in ("listeners", "listener_peak")] + [d["icestats"]["source"]["audiostream"]["bytes_sent"] > 100000]')
      [ "$got" = "[0, 2, True]" ] || echo "after they left (listeners, peak, bytes_sent > 100000): $got"
    } > "$why"
    verdict "status URL: Icecast's status-json shape, listeners now and peak, our counters" "$why"
    stop_server
    sanitizer_reports "status"

    start_server status2 "$MODULES
audiostream.status-url = \"/status-json.xsl\"
audiostream.streams = ( \"/a.mp3\" => ( \"device\" => \"tone997\" ), \"/b.mp3\" => ( \"device\" => \"tone440\" ) )" \
        || { fail "status: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    wait_live /a.mp3
    curl -s -o "$DIR/s.json" "$URL/status-json.xsl"
    local got
    got=$(json_get "$DIR/s.json" '[s["listenurl"].rsplit("/", 1)[1] for s in d["icestats"]["source"]]')
    if [ "$got" = "['a.mp3', 'b.mp3']" ]; then pass "status URL: two streams make source an array, as Icecast's"
    else fail "status URL: two streams make source an array, as Icecast's" "got: $got"; fi
    stop_server
    sanitizer_reports "status2"
}

# admin_get USER_OPT QUERY: the admin URL's answer into $DIR/a.hdr and a.body
admin_get() {
    curl -s $1 -D "$DIR/a.hdr" -o "$DIR/a.body" --max-time 3 "$URL/admin/metadata?$2"
}

# admin_auth_conf USERFILE: mod_auth's Basic auth over /admin/ with the
# users of USERFILE (user:password lines), and the status and admin URLs
admin_auth_conf() {
    echo "auth.backend = \"plain\"
auth.backend.plain.userfile = \"$1\"
auth.require = ( \"/admin/\" => ( \"method\" => \"basic\", \"realm\" => \"radio\", \"require\" => \"valid-user\" ) )
audiostream.status-url = \"/status-json.xsl\"
audiostream.admin-url = \"/admin/metadata\""
}

# admin_refuses_controls 'QUERY U+XXXX'...: each update with QUERY (as
# admin:secret) gets the module's 400 naming the code point; prints what
# is wrong
admin_refuses_controls() {
    local q cp
    for q in "$@"; do
        cp=${q##* }; q=${q% *}
        admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&$q"
        [ "$(status_line "$DIR/a")" = "HTTP/1.1 400 Bad Request" ] || echo "$q: $(status_line "$DIR/a")"
        grep -q '<return>0</return>' "$DIR/a.body" || echo "$q: not the module's answer: $(cat "$DIR/a.body")"
        grep -q "has a control character ($cp)" "$DIR/a.body" || echo "$q: does not name $cp: $(cat "$DIR/a.body")"
    done
}

status_title() {
    curl -s -o "$DIR/t.json" "$URL/status-json.xsl"
    json_get "$DIR/t.json" 'd["icestats"]["source"]["title"]'
}

test_admin() {
    printf 'admin:secret\n' > "$WORK/users"
    start_live admin "$AUTH_MODULES
$(admin_auth_conf "$WORK/users")
$STREAM_997" || return
    local why=$DIR/why ok='<iceresponse><message>Metadata update successful</message><return>1</return></iceresponse>'
    { admin_get "" "mount=/live.mp3&mode=updinfo&song=Nobody"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 401 Unauthorized" ] || echo "no credentials: $(status_line "$DIR/a")"
      admin_get "-u admin:wrong" "mount=/live.mp3&mode=updinfo&song=Nobody"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 401 Unauthorized" ] || echo "bad password: $(status_line "$DIR/a")"
      [ -z "$(status_title)" ] || echo "title changed without credentials: $(status_title)"
      admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=Artist%20-%20Title"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 200 OK" ] || echo "update: $(status_line "$DIR/a")"
      grep -qF "$ok" "$DIR/a.body" || echo "update answer: $(cat "$DIR/a.body")"
      [ "$(status_title)" = "Artist - Title" ] || echo "title after update: $(status_title)"
      admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=Caf%E9&charset=ISO-8859-1"
      [ "$(status_title)" = "Café" ] || echo "ISO-8859-1 title: $(status_title)"
      admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=Caf%E9"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 400 Bad Request" ] || echo "Latin-1 bytes as UTF-8: $(status_line "$DIR/a")"
      admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=$(printf 'x%.0s' $(seq 1 1025))"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 400 Bad Request" ] || echo "1025-byte title: $(status_line "$DIR/a")"
      grep -q '<return>0</return>' "$DIR/a.body" || echo "1025-byte title answer: $(cat "$DIR/a.body")"
      admin_get "-u admin:secret" "mount=/other.mp3&mode=updinfo&song=x"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 400 Bad Request" ] || echo "unknown mount: $(status_line "$DIR/a")"
      [ "$(status_title)" = "Café" ] || echo "a refused update changed the title: $(status_title)"
      grep -q 'title set by admin' "$DIR/error.log" || echo "the update is not logged with its user"
    } > "$why"
    verdict "admin URL: Icecast's updinfo, only for a user lighttpd authenticated; bad titles refused, not cut" "$why"
    # control characters (C0, DEL and C1, utf8.h's one definition) are refused
    # with 400, in UTF-8 and in Latin-1 (0x9B is U+009B, CSI); U+00A0 is text
    { local q
      admin_refuses_controls 'song=a%C2%9Bb U+009B' 'song=a%9Bb&charset=ISO-8859-1 U+009B' \
          'song=a%C2%85b U+0085' 'song=a%C2%80 U+0080' 'song=a%C2%9F U+009F' \
          'artist=a&title=b%C2%9D U+009D'
      [ "$(status_title)" = "Café" ] || echo "a refused title changed the title: $(status_title)"
      # lighttpd itself refuses %00-%1F and %7F while url-ctrls-reject is on
      # (its default); the module's own check is tested with it off, below
      for q in song=a%01b song=a%7F; do
          admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&$q"
          [ "$(status_line "$DIR/a")" = "HTTP/1.1 400 Bad Request" ] || echo "$q: $(status_line "$DIR/a")"
          [ "$(status_title)" = "Café" ] || echo "$q changed the title: $(status_title)"
      done
      admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=a%C2%A0b"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 200 OK" ] || echo "U+00A0: $(status_line "$DIR/a")"
      [ "$(status_title)" = $'a\xc2\xa0b' ] || echo "U+00A0 title: $(status_title)"; } > "$why"
    verdict "admin URL: titles with C0, DEL or C1 (U+009B in UTF-8 and Latin-1) get 400, title unchanged; U+00A0 is text" "$why"

    # a title set through the admin URL reaches a listening client within
    # one metaint of audio, and a real player prints it
    local size
    curl -s -N -H 'Icy-MetaData: 1' --max-time 5 -o "$DIR/icy.body" "$URL/live.mp3" & local cpid=$!
    timeout 12 mpv --no-config --no-video --ao=null --length=6 "$URL/live.mp3" > "$DIR/mpv.out" 2>&1 & local mpid=$!
    sleep 2.5
    size=$(stat -c %s "$DIR/icy.body")
    admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=Now%20Playing%20%27Live%27"
    wait "$cpid" "$mpid"
    "$TOOLS/icycheck" 16000 "$DIR/icy.body" "$DIR/icy.mp3" > "$DIR/icy.blocks"
    { local at
      at=$(sed -n "s/^block at=\([0-9]*\) .*text=StreamTitle='Now Playing 'Live'';\$/\1/p" "$DIR/icy.blocks" | head -1)
      [ -n "$at" ] || echo "the listener never got the new title: $(cat "$DIR/icy.blocks")"
      # the client had $size bytes (audio and metadata) when the update was
      # answered: the new title comes at the next boundary, within one metaint
      [ -z "$at" ] || [ "$at" -le $((size + 16000)) ] \
          || echo "new title at audio byte $at, the client had $size bytes at the update (metaint 16000)"
      grep -q "icy-title: Now Playing 'Live'" "$DIR/mpv.out" \
          || echo "mpv did not print the new title: $(grep -i icy "$DIR/mpv.out")"; } > "$why"
    verdict "admin URL: the new title reaches an ICY listener within one metaint, and mpv prints it" "$why"
    stop_server
    sanitizer_reports "admin"

    # lighttpd's url-ctrls-reject off: %01 reaches the module, which refuses it
    start_server admin-ctrls "$AUTH_MODULES
server.http-parseopts = ( \"url-ctrls-reject\" => \"disable\" )
$(admin_auth_conf "$WORK/users")
$STREAM_997" || { fail "admin: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    wait_live /live.mp3
    { admin_refuses_controls 'song=a%01b U+0001' 'song=a%1B%5B2Jb U+001B' \
          'song=a%0D%0AX-Evil:%201 U+000D' 'song=a%7Fb U+007F' 'song=a%C2%9Bb U+009B' \
          'song=a%9Bb&charset=ISO-8859-1 U+009B' 'artist=a%01&title=b U+0001'
      [ -z "$(status_title)" ] || echo "title changed: $(status_title)"
      admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=still%20fine"
      [ "$(status_title)" = "still fine" ] || echo "a plain title after them: $(status_title)"; } > "$why"
    verdict "admin URL with url-ctrls-reject off: C0, DEL and C1 still get the module's 400, title unchanged" "$why"
    stop_server
    sanitizer_reports "admin-ctrls"

    # no auth.require for it: the admin URL refuses rather than opening up
    start_server admin-open "$MODULES
audiostream.status-url = \"/status-json.xsl\"
audiostream.admin-url = \"/admin/metadata\"
$STREAM_997" || { fail "admin: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    wait_live /live.mp3
    { admin_get "" "mount=/live.mp3&mode=updinfo&song=Hijack"
      [ "$(status_line "$DIR/a")" = "HTTP/1.1 403 Forbidden" ] || echo "no auth configured: $(status_line "$DIR/a")"
      grep -q 'mod_auth' "$DIR/a.body" || echo "the refusal does not say why: $(cat "$DIR/a.body")"
      [ -z "$(status_title)" ] || echo "title changed: $(status_title)"; } > "$why"
    verdict "admin URL without auth.require: 403, nothing changes" "$why"
    stop_server
    sanitizer_reports "admin-open"
}
