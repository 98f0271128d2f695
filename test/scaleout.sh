# shellcheck shell=bash
# Integration tests of HTTPS and of scale-out (issue 7), sourced by
# test/integration.sh after test/features.sh (icy_check):
#   - lighttpd's own TLS (mod_openssl) in front of the stream, HTTP/1.1 and
#     HTTP/2 by ALPN, with a self-signed certificate the test makes;
#   - another lighttpd with mod_proxy (stream-response-body 2, 1 and 0) and
#     nginx (proxy_buffering off) in front of the module;
#   - Debian's Icecast 2 relaying a stream of the module (<relay>), through
#     a restart of the origin.
# Every server listens on 127.0.0.1 only; every client and helper server has
# a time bound, and each test stops what it started, by its PID.
# scaleout_tests lists them in order.
scaleout_tests=()

# ---- helpers ----

# so_cert DIR: a self-signed certificate for 127.0.0.1 (and localhost) with
# its key: DIR/cert.pem and DIR/key.pem; clients trust it with --cacert
so_cert() {
    mkdir -p "$1"
    timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$1/key.pem" -out "$1/cert.pem" > "$1/openssl.log" 2>&1
}

# so_plain_server NAME BODY: start_server for a lighttpd that does not load
# the module (a proxy in front of it), so a sanitized run does not preload
# ASan into it or report its leaks as the module's
so_plain_server() { SERVER_ENV="" SERVER_WRAP="" start_server "$@"; }

# so_stop PID...: TERM, and wait for each
so_stop() {
    local p
    for p in "$@"; do kill "$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
}

# so_icy_len TEXT: the length of a metadata block carrying TEXT (16-byte units)
so_icy_len() { local n; n=$(printf '%s' "$1" | wc -c); echo $(( (n + 15) / 16 * 16 )); }

# so_marks: the test device's time marks (bench/latency.c reads them) as
# ALSA device "marks"; so_latency_tool: bench/latency built into $WORK
so_marks() {
    grep -q '^pcm.marks ' "$WORK/asound.conf" || echo 'pcm.marks { type testtone marks 1 }' >> "$WORK/asound.conf"
}
so_latency_tool() {
    [ -x "$WORK/latency" ] && return 0
    # shellcheck disable=SC2154  # here: test/, set by test/integration.sh
    gcc -std=c11 -D_GNU_SOURCE -O2 -o "$WORK/latency" "$here/../bench/latency.c" -lmpg123 -lm \
        > "$WORK/latency.build.log" 2>&1
}
# so_latency OUT PORT: capture-to-arrival latency of /marks.mp3 on PORT for
# 8 s, the first 3 s (the burst of older audio) left out; OUT gets its line
so_latency() {
    timeout 20 "$WORK/latency" --port "$2" --path /marks.mp3 --seconds 8 --skip 3 --label "${1##*/}" > "$1" 2>&1
}
# so_latency_median OUT: the median latency in ms it measured, or nothing
so_latency_median() { sed -n 's/.* latency_ms median=\([0-9.]*\) .*/\1/p' "$1" | head -1; }
# so_added_latency LABEL DIRECT_OUT PROXIED_OUT MAX_MS: prints what is wrong
so_added_latency() {
    local d p
    d=$(so_latency_median "$2"); p=$(so_latency_median "$3")
    if [ -z "$d" ] || [ -z "$p" ]; then
        echo "$1: no latency measured: direct '$(head -2 "$2")', proxied '$(head -2 "$3")'"; return
    fi
    awk -v d="$d" -v p="$p" -v m="$4" -v l="$1" 'BEGIN {
        if (p - d > m) printf "%s: median latency %.1f ms, %.1f ms direct: %.1f ms added (> %d)\n", l, p, d, p - d, m }'
}

# so_slow_tls PORT PATH CAFILE OUT RATE SECONDS: an HTTPS listener (HTTP/1.0,
# Python's ssl) with a small receive buffer that reads RATE bytes a second for
# SECONDS; the body goes to OUT, "status=... bytes=N" to stdout
so_slow_tls() {
    timeout $(( $6 + 10 )) python3 "$TEST_DIR/tools/slow_tls_listener.py" "$@"
}

# ---- HTTPS ----

# lighttpd's mod_openssl on a second port of the same server: listeners over
# HTTPS with HTTP/1.1 and HTTP/2 (ALPN h2) hear the tone at the real-time
# rate, ICY metadata works, the admin URL is used over HTTPS, and the status
# URL and playlists name the scheme the client used.
scaleout_tests+=(test_https)
test_https() {
    local cert=$WORK/https-cert
    so_cert "$cert" || { fail "https: openssl could not make a certificate" "$(cat "$cert/openssl.log")"; return; }
    printf 'dj:tls-secret\n' > "$WORK/https-users"
    free_port; local tport=$PORT
    start_live https "server.modules += ( \"mod_openssl\", \"mod_auth\", \"mod_authn_file\", \"mod_audiostream\" )
\$SERVER[\"socket\"] == \"127.0.0.1:$tport\" {
    ssl.engine  = \"enable\"
    ssl.pemfile = \"$cert/cert.pem\"
    ssl.privkey = \"$cert/key.pem\"
}
auth.backend = \"plain\"
auth.backend.plain.userfile = \"$WORK/https-users\"
auth.require = ( \"/admin/\" => ( \"method\" => \"basic\", \"realm\" => \"radio\", \"require\" => \"valid-user\" ) )
audiostream.admin-url = \"/admin/metadata\"
audiostream.status-url = \"/status-json.xsl\"
audiostream.streams = (
  \"/live.mp3\" => ( \"device\" => \"tone997\", \"title\" => \"Configured\" ),
  \"/slow.mp3\" => ( \"device\" => \"tone440\", \"queue-ms\" => 1000 ),
)" /live.mp3 /slow.mp3 || return
    local T=https://127.0.0.1:$tport ca=(--cacert "$cert/cert.pem") why=$DIR/why
    local title="Played over TLS" ok='<return>1</return>'
    # the title through the admin URL over HTTPS (its password is not sent in clear)
    curl -s "${ca[@]}" -u dj:tls-secret --max-time 3 -D "$DIR/admin.hdr" -o "$DIR/admin.body" \
        "$T/admin/metadata?mount=/live.mp3&mode=updinfo&song=Played%20over%20TLS"
    sleep 1.2   # a whole second's burst: the first write crosses a metaint boundary
    local pids=()
    listen "$DIR/h1" "$T/live.mp3" 7 --http1.1 "${ca[@]}" & pids+=($!)
    listen "$DIR/h2" "$T/live.mp3" 7 --http2 "${ca[@]}" & pids+=($!)
    listen "$DIR/icy1" "$T/live.mp3" 7 --http1.1 "${ca[@]}" -H 'Icy-MetaData: 1' & pids+=($!)
    listen "$DIR/icy2" "$T/live.mp3" 7 --http2 "${ca[@]}" -H 'Icy-MetaData: 1' & pids+=($!)
    so_slow_tls "$tport" /slow.mp3 "$cert/cert.pem" "$DIR/slow.mp3" 4000 9 > "$DIR/slow.out" 2>&1 & pids+=($!)
    wait "${pids[@]}"

    { expect_status "$DIR/h1" "HTTP/1.1 200 OK"
      expect_header "$DIR/h1" content-type audio/mpeg
      expect_header "$DIR/h1" transfer-encoding chunked
      rate_check "$DIR/h1"; decode_check "$DIR/h1" 997 5500; } > "$why"
    verdict "HTTPS, HTTP/1.1: 200, chunked, the 997 Hz tone whole at the real-time rate, first byte within 1 s" "$why"

    { expect_status "$DIR/h2" "HTTP/2 200"
      expect_header "$DIR/h2" content-type audio/mpeg
      rate_check "$DIR/h2"; decode_check "$DIR/h2" 997 5500
      # what the server offers: ALPN h2, and http/1.1 to clients without h2
      echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" -alpn h2,http/1.1 -CAfile "$cert/cert.pem" \
          > "$DIR/alpn-h2.out" 2>&1
      grep -q '^ALPN protocol: h2$' "$DIR/alpn-h2.out" || echo "ALPN h2 not chosen: $(grep -i 'alpn' "$DIR/alpn-h2.out")"
      grep -q 'Verify return code: 0 (ok)' "$DIR/alpn-h2.out" || echo "certificate: $(grep 'Verify return code' "$DIR/alpn-h2.out")"
      echo | timeout 5 openssl s_client -connect "127.0.0.1:$tport" -alpn http/1.1 > "$DIR/alpn-h1.out" 2>&1
      grep -q '^ALPN protocol: http/1.1$' "$DIR/alpn-h1.out" || echo "ALPN http/1.1 not chosen: $(grep -i 'alpn' "$DIR/alpn-h1.out")"
      # the certificate is the one the test made: without it curl refuses
      local rc; curl -s -o /dev/null --max-time 3 "$T/live.mp3.m3u"; rc=$?
      [ "$rc" = 60 ] || echo "curl without the test's CA: exit $rc, want 60 (certificate not trusted)"; } > "$why"
    verdict "HTTPS, HTTP/2 by ALPN h2 (http/1.1 offered too): 200, the tone whole at the real-time rate; the test's certificate" "$why"

    local len; len=$(so_icy_len "StreamTitle='$title';")
    { expect_status "$DIR/admin" "HTTP/2 200"
      grep -qF "$ok" "$DIR/admin.body" || echo "admin over HTTPS: $(cat "$DIR/admin.body")"
      expect_status "$DIR/icy1" "HTTP/1.1 200 OK"; expect_header "$DIR/icy1" icy-metaint 16000
      icy_check "$DIR/icy1" 16000 "StreamTitle='$title';" "$len" 997 5500
      expect_status "$DIR/icy2" "HTTP/2 200"; expect_header "$DIR/icy2" icy-metaint 16000
      icy_check "$DIR/icy2" 16000 "StreamTitle='$title';" "$len" 997 5500; } > "$why"
    verdict "ICY metadata over HTTPS (HTTP/1.1 and 2): the title set through the admin URL over HTTPS, then empty blocks; the audio whole" "$why"

    { request "$DIR/m3u-s" "$T/live.mp3.m3u" "${ca[@]}" --http1.1
      expect_status "$DIR/m3u-s" "HTTP/1.1 200 OK"
      grep -qxF "$T/live.mp3" "$DIR/m3u-s.body" || echo "m3u over HTTPS: $(tr '\n' '|' < "$DIR/m3u-s.body")"
      request "$DIR/pls-s2" "$T/live.mp3.pls" "${ca[@]}" --http2
      expect_status "$DIR/pls-s2" "HTTP/2 200"
      grep -qxF "File1=$T/live.mp3" "$DIR/pls-s2.body" || echo "pls over HTTPS/2: $(tr '\n' '|' < "$DIR/pls-s2.body")"
      request "$DIR/xspf-s" "$T/live.mp3.xspf" "${ca[@]}" -H 'Host: radio.example:8443'
      grep -qF "<location>https://radio.example:8443/live.mp3</location>" "$DIR/xspf-s.body" \
          || echo "xspf over HTTPS with Host radio.example:8443: $(grep location "$DIR/xspf-s.body")"
      request "$DIR/m3u-p" "$URL/live.mp3.m3u"
      grep -qxF "$URL/live.mp3" "$DIR/m3u-p.body" || echo "m3u over plain HTTP: $(tr '\n' '|' < "$DIR/m3u-p.body")"
      curl -s "${ca[@]}" --http2 --max-time 3 -o "$DIR/status-s.json" "$T/status-json.xsl"
      local got
      got=$(json_get "$DIR/status-s.json" '[s["listenurl"] for s in d["icestats"]["source"]]')
      [ "$got" = "['$T/live.mp3', '$T/slow.mp3']" ] || echo "status over HTTPS: listenurls $got"
      got=$(json_get "$DIR/status-s.json" '[s["title"] for s in d["icestats"]["source"]][0]')
      [ "$got" = "$title" ] || echo "status over HTTPS: title $got"
      curl -s --max-time 3 -o "$DIR/status-p.json" "$URL/status-json.xsl"
      got=$(json_get "$DIR/status-p.json" '[s["listenurl"] for s in d["icestats"]["source"]][0]')
      [ "$got" = "$URL/live.mp3" ] || echo "status over plain HTTP: listenurl $got"; } > "$why"
    verdict "status URL and playlists name https:// over HTTPS (HTTP/1.1 and 2, any Host) and http:// over plain HTTP, on one server" "$why"

    { local skips bytes
      grep -q '^status=HTTP/1.0 200 OK bytes=' "$DIR/slow.out" || echo "slow HTTPS listener: $(cat "$DIR/slow.out")"
      bytes=$(bytes_of "$DIR/slow.mp3")
      "$TOOLS/mp3check" frames "$DIR/slow.mp3" > /dev/null || echo "slow HTTPS listener: $("$TOOLS/mp3check" frames "$DIR/slow.mp3")"
      [ "$bytes" -ge 20000 ] || echo "slow HTTPS listener got only $bytes bytes"
      skips=$(json_get "$DIR/status-s.json" '[s["audiostream"]["skips"] for s in d["icestats"]["source"]][1]')
      [ "${skips:-0}" -ge 1 ] 2>/dev/null || echo "the slow HTTPS listener (4000 B/s, queue-ms 1000) was never skipped: skips=$skips"; } > "$why"
    verdict "a slow HTTPS listener (4000 B/s) is skipped forward to live on frame boundaries; the others keep the rate" "$why"
    stop_server
    sanitizer_reports "https"
}

# ---- reverse proxies ----

# so_front_lighttpd NAME SRB ORIGIN_PORT: another lighttpd with mod_proxy in
# front of ORIGIN_PORT, server.stream-response-body SRB, its temp files in
# DIR/spill; sets DIR, PORT, PID, URL (start_server)
so_front_lighttpd() {
    so_plain_server "$1" "server.modules += ( \"mod_proxy\" )
server.stream-response-body = $2
server.upload-dirs = ( \"$WORK/$1/spill\" )
proxy.server = ( \"/\" => (( \"host\" => \"127.0.0.1\", \"port\" => $3 )) )" || return 1
    mkdir -p "$DIR/spill"
}

# so_origin NAME TITLE [CONFIG]: the module's lighttpd with /live.mp3 (997 Hz,
# TITLE), /marks.mp3 (time marks, for bench/latency), the status URL, and
# CONFIG before them
so_origin() {
    so_marks
    start_live "$1" "${3:-$MODULES}
audiostream.status-url = \"/status-json.xsl\"
audiostream.streams = (
  \"/live.mp3\"  => ( \"device\" => \"tone997\", \"title\" => \"$2\" ),
  \"/marks.mp3\" => ( \"device\" => \"marks\" ),
)" /live.mp3 /marks.mp3 || return 1
}

# lighttpd + mod_proxy in front: with server.stream-response-body = 2 (and
# 1) a listener through it hears the tone at the real-time rate over HTTP/1.1
# and HTTP/2 with ~no added latency, and playlists name the proxy; with the
# default 0 it buffers the endless response to a temp file and sends nothing.
scaleout_tests+=(test_proxy_lighttpd)
test_proxy_lighttpd() {
    so_latency_tool || { fail "proxy lighttpd: could not build bench/latency" "$(cat "$WORK/latency.build.log")"; return; }
    so_origin proxy-origin "Through mod_proxy" || return
    local opid=$PID oport=$PORT odir=$DIR
    local f2 f1 f0 p2 p1 p0 d2 d1 d0
    so_front_lighttpd proxy-srb2 2 "$oport" || { fail "proxy lighttpd: front (2) did not start" "$(cat "$DIR/stderr.log")"; so_stop "$opid"; return; }
    f2=$PID p2=$PORT d2=$DIR
    so_front_lighttpd proxy-srb1 1 "$oport" || { fail "proxy lighttpd: front (1) did not start" "$(cat "$DIR/stderr.log")"; so_stop "$opid" "$f2"; return; }
    f1=$PID p1=$PORT d1=$DIR
    so_front_lighttpd proxy-srb0 0 "$oport" || { fail "proxy lighttpd: front (0) did not start" "$(cat "$DIR/stderr.log")"; so_stop "$opid" "$f2" "$f1"; return; }
    f0=$PID p0=$PORT d0=$DIR
    sleep 1.2   # the origin's ring holds a whole burst
    local pids=() why=$odir/why spill0 spill0_late
    listen "$d2/h1" "http://127.0.0.1:$p2/live.mp3" 7 --http1.1 & pids+=($!)
    listen "$d2/h2" "http://127.0.0.1:$p2/live.mp3" 7 --http2-prior-knowledge & pids+=($!)
    listen "$d1/h1" "http://127.0.0.1:$p1/live.mp3" 7 --http1.1 & pids+=($!)
    listen "$d0/h1" "http://127.0.0.1:$p0/live.mp3" 6 --http1.1 & pids+=($!)
    so_latency "$odir/lat-direct" "$oport" & pids+=($!)
    so_latency "$d2/lat-proxy" "$p2" & pids+=($!)
    sleep 3; spill0=$(du -sb "$d0/spill" | cut -f1)
    sleep 2.5; spill0_late=$(du -sb "$d0/spill" | cut -f1)
    wait "${pids[@]}"
    { expect_status "$d2/h1" "HTTP/1.1 200 OK"
      expect_header "$d2/h1" transfer-encoding chunked
      rate_check "$d2/h1"; decode_check "$d2/h1" 997 5500
      expect_status "$d2/h2" "HTTP/2 200"
      rate_check "$d2/h2"; decode_check "$d2/h2" 997 5500
      so_added_latency "through mod_proxy" "$odir/lat-direct" "$d2/lat-proxy" 100
      request "$d2/m3u" "http://127.0.0.1:$p2/live.mp3.m3u"
      grep -qxF "http://127.0.0.1:$p2/live.mp3" "$d2/m3u.body" \
          || echo "a playlist through the proxy: $(tr '\n' '|' < "$d2/m3u.body"), want the proxy's address"; } > "$why"
    verdict "lighttpd mod_proxy, stream-response-body 2: HTTP/1.1 and 2 listeners hear the tone at the real-time rate, first byte within 1 s, latency +$(awk -v a="$(so_latency_median "$d2/lat-proxy")" -v b="$(so_latency_median "$odir/lat-direct")" 'BEGIN { printf "%.1f", a - b }') ms; playlists name the proxy" "$why"
    { expect_status "$d1/h1" "HTTP/1.1 200 OK"
      rate_check "$d1/h1"; decode_check "$d1/h1" 997 5500; } > "$why"
    verdict "lighttpd mod_proxy, stream-response-body 1: the listener hears the tone at the real-time rate too" "$why"
    { [ ! -s "$d0/h1.hdr" ] || echo "stream-response-body 0 sent headers: $(status_line "$d0/h1")"
      [ "$(bytes_of "$d0/h1.mp3")" = 0 ] || echo "stream-response-body 0 sent $(bytes_of "$d0/h1.mp3") body bytes"
      # what it buffers goes to a temp file once past 64 KiB, and grows
      [ "${spill0_late:-0}" -ge 65536 ] || echo "no temp file of the buffered response in server.upload-dirs: ${spill0_late:-0} bytes at 5.5 s"
      [ "${spill0_late:-0}" -gt "${spill0:-0}" ] || echo "the buffered response did not grow: $spill0 -> $spill0_late bytes"; } > "$why"
    verdict "lighttpd mod_proxy, stream-response-body 0 (default): no header, no byte in 6 s; it buffers the endless stream (temp file ${spill0_late:-0} bytes at 5.5 s)" "$why"
    so_stop "$f2" "$f1" "$f0"
    PID=$opid; stop_server
    sanitizer_reports "proxy lighttpd"
}

# so_nginx DIR ORIGIN_PORT CERT_DIR: nginx in the foreground, its
# configuration, pid, logs and temp directories in DIR, proxying HTTP on
# 127.0.0.1:PORT and HTTPS (HTTP/1.1 and 2, CERT_DIR's certificate) on
# 127.0.0.1:TPORT (free ports) to the origin; sets PORT, TPORT and NGINX_PID;
# waits until it accepts connections
so_nginx() {
    local d=$1
    mkdir -p "$d"; free_port; TPORT=$PORT; free_port
    cat > "$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/client_body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    upstream radio_origin { server 127.0.0.1:$2; }
    server {
        listen 127.0.0.1:$PORT;
        listen 127.0.0.1:$TPORT ssl http2;
        ssl_certificate     $3/cert.pem;
        ssl_certificate_key $3/key.pem;
        location / {
            proxy_pass http://radio_origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
}
EOF
    timeout 120 nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off;' \
        > "$d/stdout.log" 2>&1 &
    NGINX_PID=$!
    poll_alive "$NGINX_PID" 100 so_nginx_accepting
}
so_nginx_accepting() { accepting "$PORT" && accepting "$TPORT"; }

# nginx in front (proxy_buffering off, HTTP/1.1 to the origin), over HTTP
# and over HTTPS with HTTP/2: listeners hear the tone at the real-time rate
# with ~no added latency, the ICY title comes through, and playlists name
# nginx's address and the listener's scheme (the origin's mod_extforward
# takes X-Forwarded-Proto from nginx).
scaleout_tests+=(test_proxy_nginx)
test_proxy_nginx() {
    echo "# $(dpkg-query -W -f='${Package} ${Version}' nginx 2>/dev/null || echo 'nginx: not installed')"
    so_latency_tool || { fail "proxy nginx: could not build bench/latency" "$(cat "$WORK/latency.build.log")"; return; }
    local title="Through nginx" cert=$WORK/nginx-cert
    so_cert "$cert" || { fail "proxy nginx: openssl could not make a certificate" "$(cat "$cert/openssl.log")"; return; }
    so_origin nginx-origin "$title" "server.modules += ( \"mod_extforward\", \"mod_audiostream\" )
extforward.forwarder = ( \"127.0.0.1\" => \"trust\" )
extforward.headers = ( \"X-Forwarded-For\", \"X-Forwarded-Proto\" )" || return
    local oport=$PORT odir=$DIR nd=$DIR/nginx
    so_nginx "$nd" "$oport" "$cert" || { fail "proxy nginx: nginx did not start" "$(cat "$nd/stdout.log" "$nd/error.log" 2>/dev/null)"; so_stop "$NGINX_PID"; stop_server; return; }
    local np=$PORT npid=$NGINX_PID N=http://127.0.0.1:$PORT NS=https://127.0.0.1:$TPORT
    sleep 1.2   # the origin's ring holds a whole burst
    local pids=() why=$odir/why
    listen "$nd/h1" "$N/live.mp3" 7 & pids+=($!)
    listen "$nd/icy" "$N/live.mp3" 7 -H 'Icy-MetaData: 1' & pids+=($!)
    listen "$nd/s2" "$NS/live.mp3" 7 --http2 --cacert "$cert/cert.pem" & pids+=($!)
    so_latency "$odir/lat-direct" "$oport" & pids+=($!)
    so_latency "$nd/lat-proxy" "$np" & pids+=($!)
    sleep 3; curl -s --max-time 3 -o "$odir/status-during.json" "http://127.0.0.1:$oport/status-json.xsl"
    wait "${pids[@]}"
    { local n; n=$(json_get "$odir/status-during.json" '[s["listeners"] for s in d["icestats"]["source"]][0]')
      [ "$n" = 3 ] || echo "the origin counted $n listeners of /live.mp3 while 3 listened through nginx"; } > "$why"
    verdict "nginx opens one connection to the origin per listener (3 through nginx, $n at the origin)" "$why"
    { expect_status "$nd/h1" "HTTP/1.1 200 OK"
      expect_header "$nd/h1" content-type audio/mpeg
      case $(header "$nd/h1" server) in nginx/*) ;; *) echo "not through nginx: Server: $(header "$nd/h1" server)" ;; esac
      rate_check "$nd/h1"; decode_check "$nd/h1" 997 5500
      so_added_latency "through nginx" "$odir/lat-direct" "$nd/lat-proxy" 100
      request "$nd/m3u" "$N/live.mp3.m3u"
      grep -qxF "$N/live.mp3" "$nd/m3u.body" \
          || echo "a playlist through nginx: $(tr '\n' '|' < "$nd/m3u.body"), want nginx's address"
      [ -z "$(find "$nd/proxy" -type f 2>/dev/null)" ] || echo "nginx buffered to temp files: $(find "$nd/proxy" -type f)"; } > "$why"
    verdict "nginx, proxy_buffering off: the tone at the real-time rate, first byte within 1 s, latency +$(awk -v a="$(so_latency_median "$nd/lat-proxy")" -v b="$(so_latency_median "$odir/lat-direct")" 'BEGIN { printf "%.1f", a - b }') ms; playlists name nginx" "$why"
    { expect_status "$nd/s2" "HTTP/2 200"
      rate_check "$nd/s2"; decode_check "$nd/s2" 997 5500
      # from 127.0.0.2: mod_extforward believes X-Forwarded-* only for a
      # client other than the trusted proxy (as listeners are)
      request "$nd/m3u-s" "$NS/live.mp3.m3u" --cacert "$cert/cert.pem" --interface 127.0.0.2
      grep -qxF "$NS/live.mp3" "$nd/m3u-s.body" \
          || echo "a playlist through nginx's HTTPS: $(tr '\n' '|' < "$nd/m3u-s.body"), want $NS/live.mp3"
      curl -s --cacert "$cert/cert.pem" --interface 127.0.0.2 --max-time 3 -o "$nd/status-s.json" "$NS/status-json.xsl"
      local got; got=$(json_get "$nd/status-s.json" '[s["listenurl"] for s in d["icestats"]["source"]][0]')
      [ "$got" = "$NS/live.mp3" ] || echo "status through nginx's HTTPS: listenurl $got"; } > "$why"
    verdict "nginx terminating TLS (HTTP/2) in front of a plain-HTTP origin: the tone at the real-time rate; playlists and status name https:// (mod_extforward, X-Forwarded-Proto)" "$why"
    local len; len=$(so_icy_len "StreamTitle='$title';")
    { expect_header "$nd/icy" icy-metaint 16000
      icy_check "$nd/icy" 16000 "StreamTitle='$title';" "$len" 997 5500; } > "$why"
    verdict "nginx: Icy-MetaData passes through, the title once then empty blocks, the audio whole" "$why"
    so_stop "$npid"
    stop_server
    sanitizer_reports "proxy nginx"
}

# ---- Icecast 2 relay ----

# so_icecast DIR ORIGIN_PORT: Debian's icecast2 relaying ORIGIN_PORT's
# /live.mp3 as /relay.mp3 (on-demand 0, ICY metadata asked for), on a free
# port; logs to DIR/stderr.log (loglevel 3: relay connections). As root it
# drops to the package's user. When a relayed stream ends Icecast tries the
# origin again at once; when that fails, it waits <master-update-interval>
# seconds before the next try (Icecast 2.4 slave.c): 120 by default, so an
# origin down for more than a moment would leave the relay silent for two
# minutes; 1 here (tries come every ~2 s, the slave thread's cadence).
# Sets PORT and ICECAST_PID; waits until it accepts connections.
so_icecast() {
    local d=$1 owner=""
    mkdir -p "$d"; free_port
    [ "$(id -u)" = 0 ] && owner="<changeowner><user>icecast2</user><group>icecast</group></changeowner>"
    cat > "$d/icecast.xml" <<EOF
<icecast>
    <location>loopback</location>
    <admin>test@localhost</admin>
    <limits>
        <clients>20</clients>
        <sources>4</sources>
        <source-timeout>10</source-timeout>
        <burst-on-connect>1</burst-on-connect>
    </limits>
    <authentication>
        <source-password>src-$$-$RANDOM</source-password>
        <relay-password>relay-$$-$RANDOM</relay-password>
        <admin-user>admin</admin-user>
        <admin-password>admin-$$-$RANDOM</admin-password>
    </authentication>
    <hostname>127.0.0.1</hostname>
    <listen-socket>
        <port>$PORT</port>
        <bind-address>127.0.0.1</bind-address>
    </listen-socket>
    <master-update-interval>1</master-update-interval>
    <relay>
        <server>127.0.0.1</server>
        <port>$2</port>
        <mount>/live.mp3</mount>
        <local-mount>/relay.mp3</local-mount>
        <on-demand>0</on-demand>
        <relay-shoutcast-metadata>1</relay-shoutcast-metadata>
    </relay>
    <fileserve>1</fileserve>
    <paths>
        <basedir>/usr/share/icecast2</basedir>
        <logdir>$d</logdir>
        <webroot>/usr/share/icecast2/web</webroot>
        <adminroot>/usr/share/icecast2/admin</adminroot>
    </paths>
    <logging>
        <accesslog>-</accesslog>
        <errorlog>-</errorlog>
        <loglevel>3</loglevel>
    </logging>
    <security>
        <chroot>0</chroot>
        $owner
    </security>
</icecast>
EOF
    timeout 180 icecast2 -c "$d/icecast.xml" > "$d/stdout.log" 2> "$d/stderr.log" &
    ICECAST_PID=$!
    wait_listening "$PORT" "$ICECAST_PID" 100
}

# so_wait_code URL CODE TENTHS: until URL answers CODE; prints the tenths waited
so_wait_code() {
    local i
    for i in $(seq 1 "$3"); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" = "$2" ] && { echo "$i"; return 0; }
        sleep 0.1
    done
    echo "$3"; return 1
}

# so_admin_title URL USER:PASSWORD SONG: sets the title through the
# module's admin URL (SONG percent-encoded); prints the HTTP status
so_admin_title() {
    curl -s -u "$2" --max-time 3 -o /dev/null -w '%{http_code}' \
        "$1/admin/metadata?mount=/live.mp3&mode=updinfo&song=$3"
}

# so_wait_title STATUS_URL TITLE TENTHS: until Icecast's status shows TITLE
so_wait_title() {
    local i
    for i in $(seq 1 "$3"); do
        curl -s --max-time 1 -o "$WORK/title-poll.json" "$1"
        [ "$(json_get "$WORK/title-poll.json" 'd["icestats"]["source"]["title"]' 2>/dev/null)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# Icecast relays the module's stream: its listeners hear the tone and get
# the titles set through the module's admin URL; when the origin lighttpd
# stops, Icecast drops the mount and its listeners; the origin started again
# on the same port 5 s later (Icecast's first try failed meanwhile), the
# relay is back within seconds (master-update-interval 1) and new listeners
# hear the tone.
scaleout_tests+=(test_icecast_relay)
test_icecast_relay() {
    echo "# $(dpkg-query -W -f='${Package} ${Version}' icecast2 2>/dev/null || echo 'icecast2: not installed')"
    command -v icecast2 > /dev/null || { fail "icecast relay: icecast2 is not installed"; return; }
    printf 'dj:relay-secret\n' > "$WORK/relay-users"
    start_live relay-origin "$AUTH_MODULES
auth.backend = \"plain\"
auth.backend.plain.userfile = \"$WORK/relay-users\"
auth.require = ( \"/admin/\" => ( \"method\" => \"basic\", \"realm\" => \"radio\", \"require\" => \"valid-user\" ) )
audiostream.admin-url = \"/admin/metadata\"
audiostream.status-url = \"/status-json.xsl\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"name\" => \"Origin FM\",
    \"genre\" => \"Test tone\", \"title\" => \"Configured title\" ) )" || return
    local oport=$PORT odir=$DIR ourl=$URL id=$DIR/icecast
    so_icecast "$id" "$oport" || { fail "icecast relay: icecast2 did not start" "$(cat "$id/stdout.log" "$id/stderr.log")"; so_stop "$ICECAST_PID"; stop_server; return; }
    local ipid=$ICECAST_PID R=http://127.0.0.1:$PORT why=$odir/why
    local waited
    waited=$(so_wait_code "$R/relay.mp3" 200 150) \
        || { fail "icecast relay: /relay.mp3 not up within 15 s" "$(tail -20 "$id/stderr.log")"; so_stop "$ipid"; stop_server; return; }
    local a1 a2 t_stop t_end
    a1=$(so_admin_title "$ourl" dj:relay-secret "First%20title")
    # the relay reads it at the origin's next metaint (16000 bytes, 1 s)
    so_wait_title "$R/status-json.xsl" "First title" 50 > /dev/null
    # a listener of the relay, asking for ICY metadata, until Icecast ends it
    LISTEN_STEADY_MS=2000 listen "$id/l1" "$R/relay.mp3" 40 -H 'Icy-MetaData: 1' & local l1=$!
    sleep 3; a2=$(so_admin_title "$ourl" dj:relay-secret "Second%20title")
    # a second listener of the relay: Icecast counts two, the origin one
    curl -s --max-time 3 -o /dev/null "$R/relay.mp3" & local l2p=$!
    sleep 2
    curl -s --max-time 3 -o "$id/status2.json" "$R/status-json.xsl"
    curl -s --max-time 3 -o "$id/origin-status.json" "$ourl/status-json.xsl"
    wait "$l2p"
    sleep 2
    curl -s --max-time 3 -o "$id/status.json" "$R/status-json.xsl"
    # the origin stops (SIGTERM): Icecast ends the relayed source and its listeners
    t_stop=$(now_ms); stop_server
    sanitizer_reports "icecast relay origin"
    sleep 2
    local during; during=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$R/relay.mp3")
    wait "$l1"; t_end=$(cat "$id/l1.end" 2>/dev/null || echo 0)
    local metaint; metaint=$(header "$id/l1" icy-metaint)
    "$TOOLS/icycheck" "${metaint:-16000}" "$id/l1.mp3" "$id/l1.audio.mp3" > "$id/l1.icy" 2>&1
    { expect_status "$id/l1" "HTTP/1.0 200 OK"
      expect_header "$id/l1" content-type audio/mpeg
      expect_header "$id/l1" icy-name "Origin FM"
      expect_header "$id/l1" icy-genre "Test tone"
      rate_check "$id/l1"
      mp3_tone_check "$id/l1.audio.mp3" 997 6000; } > "$why"
    verdict "Icecast relay of the module's stream (waited $((waited / 10)).$((waited % 10)) s): its listener hears the tone at the real-time rate; icy-name and icy-genre relayed" "$why"
    { [ "$a1" = 200 ] && [ "$a2" = 200 ] || echo "admin URL answers: $a1 $a2"
      [ -n "$metaint" ] || echo "the relay sent no icy-metaint"
      local titles
      titles=$(sed -n "s/^block at=[0-9]* len=[0-9]* text=StreamTitle='\([^']*\)';.*/\1/p" "$id/l1.icy" | tr '\n' '|')
      # Icecast keeps each title with the audio it came with: a burst that
      # starts before the first update opens with the configured title
      case $titles in
          "First title|Second title|" | "Configured title|First title|Second title|") ;;
          *) echo "the relay's listener got the titles '$titles', want [Configured title|]First title|Second title|: $(head -5 "$id/l1.icy")" ;;
      esac
      local got; got=$(json_get "$id/status.json" 'd["icestats"]["source"]["title"]')
      [ "$got" = "Second title" ] || echo "Icecast's status title: $got"; } > "$why"
    { local ni no
      ni=$(json_get "$id/status2.json" 'd["icestats"]["source"]["listeners"]')
      no=$(json_get "$id/origin-status.json" 'd["icestats"]["source"]["listeners"]')
      [ "$ni" = 2 ] && [ "$no" = 1 ] || echo "listeners: $ni at the relay (want 2), $no at the origin (want 1)"; } >> "$why"
    verdict "Icecast relay: titles set through the module's admin URL reach the relay's ICY listeners, in order ($titles), and Icecast's status; 2 relay listeners are 1 at the origin" "$why"
    { [ "$during" = 404 ] || echo "/relay.mp3 answered $during while the origin was down, want Icecast's 404 (mount gone)"
      [ "$t_end" -gt 0 ] && [ $((t_end - t_stop)) -le 3000 ] \
          || echo "the relay's listener was not ended within 3 s of the origin's stop ($((t_end - t_stop)) ms)"
      grep -q 'source_clear_source 1 active listeners on /relay.mp3 released' "$id/stderr.log" \
          || echo "Icecast did not log releasing the listener: $(grep -i 'relay.mp3' "$id/stderr.log" | tail -3)"; } > "$why"
    verdict "origin stopped: Icecast drops the relayed mount (404) and ends its listener ($((t_end - t_stop)) ms)" "$why"

    # down 5 s: Icecast's try at once fails, the next ones follow
    # master-update-interval
    local rest=$(( 5000 - ($(now_ms) - t_stop) ))
    [ "$rest" -le 0 ] || sleep "$(awk -v r="$rest" 'BEGIN { printf "%.3f", r / 1000 }')"
    DIR=$odir PORT=$oport URL=$ourl
    # shellcheck disable=SC2086
    env $SERVER_ENV $SERVER_WRAP "$LIGHTTPD" -D -f "$odir/lighttpd.conf" -m "$WORK/modules" \
        > "$odir/stdout2.log" 2> "$odir/stderr2.log" &
    PID=$!
    local t_start back rc
    t_start=$(now_ms)
    so_wait_code "$R/relay.mp3" 200 150 > /dev/null; rc=$?
    back=$(( $(now_ms) - t_start ))
    local pids=()
    [ "$rc" = 0 ] && { LISTEN_STEADY_MS=2000 listen "$id/l2" "$R/relay.mp3" 6 -H 'Icy-MetaData: 1' & pids+=($!); }
    [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
    "$TOOLS/icycheck" "${metaint:-16000}" "$id/l2.mp3" "$id/l2.audio.mp3" > "$id/l2.icy" 2>&1
    { [ "$rc" = 0 ] || echo "the relay was not back within 15 s of the origin's restart: $(grep 'slave/' "$id/stderr.log" | tail -4)"
      [ "$back" -le 5000 ] || echo "the relay took $back ms after the origin's restart (> 5000)"
      grep -q "Failed to connect to 127.0.0.1:$oport" "$id/stderr.log" \
          || echo "Icecast never tried while the origin was down: $(grep -i connect "$id/stderr.log" | tail -3)"
      rate_check "$id/l2"
      mp3_tone_check "$id/l2.audio.mp3" 997 3500
      # the module keeps titles in memory: the restarted origin has its configured one
      grep -q "text=StreamTitle='Configured title';" "$id/l2.icy" \
          || echo "after the restart the relay's listener got: $(grep '^block' "$id/l2.icy" | head -3)"; } > "$why"
    verdict "origin started again on the same port after 5 s: the relay is back in $back ms (master-update-interval 1), a new listener hears the tone and the configured title" "$why"
    so_stop "$ipid"
    stop_server
    sanitizer_reports "icecast relay"
}
