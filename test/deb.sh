#!/usr/bin/env bash
# The Debian package lighttpd-mod-audiostream end to end, as root on Debian
# 12: builds it (scripts/build-deb.sh), runs lintian, installs it with
# apt-get, enables it with lighty-enable-mod, runs Debian's lighttpd with the
# stock /etc/lighttpd/lighttpd.conf (-D) plus one stream on the test-tone
# device, and a listener must hear the tone; then removing it must disable
# it and purging it must leave nothing behind.
#   test/deb.sh BUILD_DIR     (scripts/build.sh's: the test device, the checkers)
# Prints "ok - NAME" / "not ok - NAME" and, last, "N passed, N failed".
#
# Loopback only: every lighttpd of this test runs in a network namespace of
# the test's own, where only lo exists. The stock configuration listens on
# port 80 of all addresses, and also on [::]:80 (use-ipv6.pl), which no later
# setting can take back; a conf-enabled snippet moves the first to
# 127.0.0.1:$PORT with ":=" and is removed afterwards. The package is purged
# at the end whatever happens; the machine keeps Debian's lighttpd.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD=$(cd "$1" && pwd)
WORK=$(mktemp -d /tmp/audiostream-deb.XXXXXX)
# shellcheck source=test/lib.sh
. "$here/lib.sh"

PKG=lighttpd-mod-audiostream
MOD=/usr/lib/lighttpd/mod_audiostream.so
CONF=/etc/lighttpd/conf-available/10-audiostream.conf
ENABLED=/etc/lighttpd/conf-enabled/10-audiostream.conf
SNIPPET=/etc/lighttpd/conf-enabled/99-audiostream-deb-test.conf
STOCK=/etc/lighttpd/lighttpd.conf
PORT=8000                       # free: the namespace is the test's own
URL=http://127.0.0.1:$PORT
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
export DEBIAN_FRONTEND=noninteractive
NS_PID=""                       # a process holding the network namespace
LPID=""                         # lighttpd
OURS=0                          # this test installed the package

# ---- helpers ----

pkg_status() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || echo "not-installed"; }
in_ns() { nsenter -t "$NS_PID" -n "$@"; }
# links in conf-enabled that resolve to the package's conffile, dangling or not
links_to_conf() {
    local l
    for l in /etc/lighttpd/conf-enabled/*; do
        [ -L "$l" ] && [ "$(readlink -f "$l")" = "$CONF" ] && echo "$l"
    done
}
# the stock configuration as lighttpd loads it at start-up (-tt loads the
# modules and binds the sockets: in the namespace)
config_check() { in_ns /usr/sbin/lighttpd -tt -f "$STOCK" > "$WORK/tt.log" 2>&1; }

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    if [ -n "$LPID" ]; then kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; fi
    if [ -n "$NS_PID" ]; then kill "$NS_PID" 2>/dev/null; wait "$NS_PID" 2>/dev/null; fi
    rm -f "$SNIPPET"
    if [ "$OURS" = 1 ]; then
        case $(pkg_status) in
            *not-installed*) ;;
            *) "${APT[@]}" purge "$PKG" > /dev/null 2>&1 ;;
        esac
        local l; for l in $(links_to_conf); do rm -f "$l"; done
    fi
    if [ "$FAILED" -eq 0 ] && [ -z "${KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "# test files kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- what the test needs ----

case $(pkg_status) in
    *not-installed*) ;;
    *) fail "$PKG is not on this machine before the test" \
            "it is ($(pkg_status)): the test installs and purges it; purge it first"
       finish ;;
esac
# links in conf-enabled that dangle already (none on a fresh machine)
DANGLING_BEFORE=$(find -L /etc/lighttpd/conf-enabled -type l)
need=()
for p in lintian iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -eq 0 ] || { apt-get update -qq && "${APT[@]}" install --no-install-recommends "${need[@]}" > "$WORK/apt.log" 2>&1; }
then pass "lintian and iproute2 installed"
else fail "lintian and iproute2 installed" "$(tail -5 "$WORK/apt.log")"; finish; fi

# ---- build ----

t0=$(date +%s)
deb=$(bash "$root/scripts/build-deb.sh" 2> "$WORK/build.err")
if [ -f "$deb" ]; then pass "scripts/build-deb.sh builds $(basename "$deb") ($(( $(date +%s) - t0 )) s)"
else fail "scripts/build-deb.sh builds the package" "$(tail -20 "$WORK/build.err")"; finish; fi
changes=${deb%.deb}.changes

lintian --fail-on error,warning "$changes" > "$WORK/lintian.log" 2>&1
rc=$?
sed 's/^/    lintian: /' "$WORK/lintian.log"
if [ "$rc" -eq 0 ] && ! grep -q '^[EW]: ' "$WORK/lintian.log"; then pass "lintian: no error, no warning"
else fail "lintian: no error, no warning" "exit $rc"; fi

# ---- what the package holds ----

why=$WORK/contents.why
lighttpd_version=$(dpkg-query -W -f='${Version}' lighttpd)
upstream=${lighttpd_version#*:}; upstream=${upstream%-*}
next=$(echo "$upstream" | awk -F. -v OFS=. '{ $NF = $NF + 1; print }')
{
    dpkg-deb -c "$deb" | awk '{ print $NF }' > "$WORK/files"
    for f in ./usr/lib/lighttpd/mod_audiostream.so ./etc/lighttpd/conf-available/10-audiostream.conf \
             ./usr/share/doc/$PKG/README.Debian ./usr/share/doc/$PKG/README.gz \
             ./usr/share/doc/$PKG/copyright ./usr/share/doc/$PKG/changelog.Debian.gz \
             ./usr/share/$PKG/player/index.html; do
        grep -qxF "$f" "$WORK/files" || echo "missing $f"
    done
    depends=$(dpkg-deb -f "$deb" Depends)
    case $depends in
        "lighttpd (>= $upstream), lighttpd (<< $next~), "*) ;;
        *) echo "Depends does not pin lighttpd $upstream (the installed $lighttpd_version): $depends" ;;
    esac
    for lib in libasound2 libmp3lame0; do
        echo "$depends" | grep -q "\b$lib\b" || echo "Depends lacks $lib: $depends"
    done
    dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null | grep -qxF "$CONF" \
        || echo "$CONF is not a conffile"
} > "$why"
verdict "the .deb: module, conffile, docs; Depends pins lighttpd $upstream and the ALSA and LAME libraries" "$why"

# every key of a stream (stream_config.c's table) and the three server-wide
# keys are documented in the conffile
dpkg-deb -x "$deb" "$WORK/root"
why=$WORK/keys.why
{
    keys=$(sed -n -e 's/^ *\(STR\|INT\)("\([a-z-]*\)".*/\2/p' \
                  -e 's/^#define LIST_KEY "\([a-z-]*\)".*/\1/p' "$root/mod_audiostream/stream_config.c")
    [ "$(echo "$keys" | wc -l)" -ge 20 ] || echo "found only $(echo "$keys" | wc -w) keys in stream_config.c"
    for k in $keys; do
        grep -q "^#  *\"$k\" => " "$WORK/root$CONF" || echo "stream key \"$k\" is not in the conffile"
    done
    for k in audiostream.status-url audiostream.admin-url audiostream.state-file; do
        grep -q "^#$k = " "$WORK/root$CONF" || echo "$k is not in the conffile"
    done
} > "$why"
verdict "the conffile documents every key" "$why"

# ---- install, enable, listen ----

t0=$(date +%s)
OURS=1
"${APT[@]}" install "$deb" > "$WORK/install.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ -f "$MOD" ] && [ -f "$CONF" ] && pkg_status | grep -q 'ok installed'; then
    pass "apt-get install ./$(basename "$deb") ($(( $(date +%s) - t0 )) s)"
else fail "apt-get install ./$(basename "$deb")" "exit $rc" "$(tail -5 "$WORK/install.log")"; finish; fi
dpkg -L "$PKG" > "$WORK/installed-files"
if [ -z "$(links_to_conf)" ]; then pass "installing does not enable it"
else fail "installing does not enable it" "$(links_to_conf)"; fi

# the namespace: lo only
unshare -n -- sleep 600 &
NS_PID=$!
for _ in $(seq 1 50); do
    [ "$(readlink "/proc/$NS_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
    sleep 0.1
done
if in_ns ip link set lo up && [ "$(in_ns ip -o link | awk -F': ' '{ printf "%s ", $2 }')" = "lo " ]; then
    pass "a network namespace with only lo"
else fail "a network namespace with only lo" "$(in_ns ip -o link 2>&1)"; finish; fi

# the example stream of the conffile, uncommented, is a configuration lighttpd takes
sed -n 's/^#\([^#]\)/\1/p' "$CONF" > "$WORK/example.conf"
cat > "$WORK/example-server.conf" <<EOF
server.document-root = "$WORK"
server.bind = "127.0.0.1"
server.port = $PORT
include "$CONF"
include "$WORK/example.conf"
EOF
if in_ns /usr/sbin/lighttpd -tt -f "$WORK/example-server.conf" > "$WORK/example.log" 2>&1 \
   && grep -q '^audiostream.streams = ($' "$WORK/example.conf"; then
    pass "the conffile's example, uncommented, passes lighttpd -tt"
else fail "the conffile's example, uncommented, passes lighttpd -tt" "$(cat "$WORK/example.log")"; fi

lighty-enable-mod audiostream > "$WORK/enable.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ "$(links_to_conf)" = "$ENABLED" ] && [ -e "$ENABLED" ]; then
    pass "lighty-enable-mod audiostream links $ENABLED"
else fail "lighty-enable-mod audiostream links $ENABLED" "exit $rc: $(cat "$WORK/enable.log")"; fi

# the test device, where www-data (lighttpd after dropping privileges) reads it
mkdir -p "$WORK/alsa"
cp "$PLUGIN" "$WORK/alsa/"
cat > "$WORK/alsa/asound.conf" <<EOF
pcm_type.testtone { lib "$WORK/alsa/$(basename "$PLUGIN")" }
pcm.tone997 { type testtone frequency 997 }
EOF
chmod -R a+rX "$WORK"
# lighttpd opens its error log after dropping privileges
mkdir -p "$WORK/log" && chown www-data: "$WORK/log"
cat > "$SNIPPET" <<EOF
# test/deb.sh: Debian's lighttpd.conf on loopback, with one stream
server.bind := "127.0.0.1"
server.port := $PORT
server.errorlog := "$WORK/log/error.log"
server.pid-file := "$WORK/lighttpd.pid"
audiostream.streams = ( "/live.mp3" => ( "device" => "tone997" ) )
audiostream.state-file = "/var/lib/$PKG/titles"
server.modules += ( "mod_alias" )
alias.url += ( "/player/" => "/usr/share/$PKG/player/" )
EOF

# nsenter and env exec: $! is lighttpd
nsenter -t "$NS_PID" -n env ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$WORK/alsa/asound.conf" \
    /usr/sbin/lighttpd -D -f "$STOCK" > "$WORK/stdout.log" 2> "$WORK/stderr.log" &
LPID=$!
live=0
for _ in $(seq 1 100); do
    kill -0 "$LPID" 2>/dev/null || break
    [ "$(in_ns curl -s -o /dev/null -w '%{http_code}' -I --max-time 1 "$URL/live.mp3")" = 200 ] && { live=1; break; }
    sleep 0.1
done
if [ "$live" = 1 ]; then pass "Debian's lighttpd with $STOCK serves /live.mp3"
else fail "Debian's lighttpd with $STOCK serves /live.mp3" "$(cat "$WORK/stderr.log" "$WORK/log/error.log" 2>/dev/null)"; finish; fi

why=$WORK/process.why
{
    [ "$(readlink "/proc/$LPID/exe")" = /usr/sbin/lighttpd ] || echo "pid $LPID is $(readlink "/proc/$LPID/exe")"
    grep -q " $MOD\$" "/proc/$LPID/maps" || echo "$MOD is not mapped"
    uid=$(id -u www-data)
    awk -v u="$uid" '/^Uid:/ { if ($2 != u || $3 != u || $4 != u || $5 != u) print "runs as " $0 }' "/proc/$LPID/status"
    in_ns ss -Hltn | awk '{ print $4 }' | sort > "$WORK/listening"
    grep -qxF "127.0.0.1:$PORT" "$WORK/listening" || echo "not on 127.0.0.1:$PORT: $(tr '\n' ' ' < "$WORK/listening")"
    grep -q "^0.0.0.0:" "$WORK/listening" && echo "listens on all IPv4 addresses: $(tr '\n' ' ' < "$WORK/listening")"
    # it started with audiostream.state-file there: www-data can write it
    [ "$(stat -c '%U:%G %a' "/var/lib/$PKG")" = "www-data:www-data 750" ] \
        || echo "/var/lib/$PKG is $(stat -c '%U:%G %a' "/var/lib/$PKG")"
} > "$why"
verdict "lighttpd runs as www-data with the packaged $MOD, on 127.0.0.1:$PORT; the state file's directory is www-data's" "$why"

out=$WORK/listener
in_ns curl -s -N -D "$out.hdr" --max-time 5 -o "$out.mp3" "$URL/live.mp3"
why=$WORK/listener.why
{
    [ "$(status_line "$out")" = "HTTP/1.1 200 OK" ] || echo "status: $(status_line "$out")"
    [ "$(header "$out" content-type)" = audio/mpeg ] || echo "Content-Type: $(header "$out" content-type)"
    decode_check "$out" 997 3000
} > "$why"
verdict "a listener hears the 997 Hz tone through the package's module" "$why"

why=$WORK/player.why
{
    code=$(in_ns curl -s -o "$WORK/player.html" -w '%{http_code}' --max-time 3 "$URL/player/")
    [ "$code" = 200 ] || echo "GET /player/: $code"
    grep -q 'id="play"' "$WORK/player.html" || echo "GET /player/ is not the player page"
} > "$why"
verdict "the packaged web player page is served from /usr/share/$PKG/player/" "$why"

kill "$LPID"; wait "$LPID" 2>/dev/null; LPID=""
rm -f "$SNIPPET"

# ---- remove, purge ----

"${APT[@]}" remove "$PKG" > "$WORK/remove.log" 2>&1
rc=$?
why=$WORK/remove.why
{
    [ "$rc" -eq 0 ] || { echo "apt-get remove: exit $rc"; tail -5 "$WORK/remove.log"; }
    [ ! -e "$MOD" ] || echo "$MOD is left"
    [ -f "$CONF" ] || echo "$CONF is gone (a conffile stays until purge)"
    [ -z "$(links_to_conf)" ] || echo "still enabled: $(links_to_conf)"
    config_check || { echo "lighttpd -tt -f $STOCK fails:"; cat "$WORK/tt.log"; }
} > "$why"
verdict "apt-get remove disables it, keeps the conffile, and lighttpd still starts" "$why"

# purged from "config-files" with the admin having enabled it again meanwhile
lighty-enable-mod audiostream > /dev/null 2>&1
[ -n "$(links_to_conf)" ] || fail "enabled again after removal (set-up of the purge test)"
# purge_check LABEL: nothing of the package is left
purge_check() {
    local why=$WORK/purge.why f
    {
        [ "$rc" -eq 0 ] || { echo "apt-get purge: exit $rc"; tail -5 "$WORK/purge.log"; }
        pkg_status | grep -q 'not-installed' || echo "dpkg still knows it: $(pkg_status)"
        # its files, and its directories that no other package holds
        while read -r f; do
            [ "$f" = /. ] && continue
            if [ -d "$f" ] && [ ! -L "$f" ]; then
                dpkg-query -S "$f" > /dev/null 2>&1 || echo "left: $f/"
            elif [ -e "$f" ] || [ -L "$f" ]; then echo "left: $f"; fi
        done < "$WORK/installed-files"
        [ -z "$(links_to_conf)" ] || echo "link left: $(links_to_conf)"
        find /etc/lighttpd -name '*audiostream*' | sed 's/^/left: /'
        find -L /etc/lighttpd/conf-enabled -type l | grep -vxF "$DANGLING_BEFORE" | sed 's/^/dangling: /'
        find /var/lib/dpkg/info -name "$PKG.*" | sed 's/^/left: /'
        config_check || { echo "lighttpd -tt -f $STOCK fails:"; cat "$WORK/tt.log"; }
    } > "$why"
    verdict "$1" "$why"
}
"${APT[@]}" purge "$PKG" > "$WORK/purge.log" 2>&1
rc=$?
purge_check "apt-get purge after removal leaves nothing (no file, no dangling conf-enabled link)"

# installed, enabled, purged at once
if ! { "${APT[@]}" install "$deb" > "$WORK/install.log" 2>&1 \
        && lighty-enable-mod audiostream > /dev/null 2>&1 && [ -n "$(links_to_conf)" ]; }; then
    fail "installed and enabled again (set-up of the purge test)"
fi
"${APT[@]}" purge "$PKG" > "$WORK/purge.log" 2>&1
rc=$?
purge_check "apt-get purge of the enabled package leaves nothing"

finish
