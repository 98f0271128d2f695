#!/usr/bin/env bash
# Installs what is needed, builds the module and starts Debian's lighttpd
# with it in the foreground on http://127.0.0.1:8080/live.mp3, with the web
# player page (player/) on http://127.0.0.1:8080/player/ (Ctrl-C stops).
#   AUDIOSTREAM_DEVICE=hw:1,0 bash scripts/demo.sh   capture from that ALSA device
#   bash scripts/demo.sh                             a 997 Hz test tone, no sound card needed
# AUDIOSTREAM_PORT changes the port.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/install-deps.sh"
build=$(bash "$here/scripts/build.sh" "$here/build")

demo=$here/.work/demo
rm -rf "$demo" && mkdir -p "$demo/modules" "$demo/htdocs"
# lighttpd takes one module directory (-m): ours, plus links to Debian's
ln -s /usr/lib/lighttpd/*.so "$demo/modules/"
cp "$build/.libs/mod_audiostream.so" "$demo/modules/"

device=${AUDIOSTREAM_DEVICE:-}
if [ -z "$device" ]; then
    device=testtone
    sed "s|@PLUGIN@|$build/test/alsa/.libs/libasound_module_pcm_testtone.so|" \
        "$here/test/alsa/testtone.conf.in" > "$demo/asound.conf"
    export ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$demo/asound.conf
fi
port=${AUDIOSTREAM_PORT:-8080}

cat > "$demo/htdocs/index.html" <<HTML
<!DOCTYPE html><title>mod_audiostream</title>
<p>Live from ALSA device <code>$device</code>: <audio controls src="/live.mp3"></audio>
<p>The web player: <a href="/player/">/player/</a> (title, listeners, errors)
<p>Playlists: <a href="/live.mp3.m3u">.m3u</a> <a href="/live.mp3.pls">.pls</a>
<a href="/live.mp3.xspf">.xspf</a>; status: <a href="/status-json.xsl">status-json.xsl</a>
HTML
cat > "$demo/lighttpd.conf" <<CONF
server.document-root = "$demo/htdocs"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "/dev/stderr"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html; charset=utf-8" )
server.modules += ( "mod_alias", "mod_audiostream" )
# the web player page, from the checkout (its defaults: /live.mp3, /status-json.xsl)
alias.url = ( "/player/" => "$here/player/" )
audiostream.status-url = "/status-json.xsl"
audiostream.streams = (
  "/live.mp3" => ( "device" => "$device", "rate" => 44100, "channels" => 2,
                   "bitrate" => 128, "quality" => 5,
                   "name" => "mod_audiostream demo", "title" => "Live from $device" ),
)
CONF
echo "mod_audiostream demo: http://127.0.0.1:$port/live.mp3 (device $device); Ctrl-C stops"
echo "web player: http://127.0.0.1:$port/player/ (status: http://127.0.0.1:$port/status-json.xsl)"
exec /usr/sbin/lighttpd -D -f "$demo/lighttpd.conf" -m "$demo/modules"
