#!/usr/bin/env bash
# Server life-cycle signals with a large audience: lighttpd + mod_audiostream
# with 1,000 listeners (bench/loadgen, loopback) gets SIGUSR1 with
# server.graceful-restart-bg, SIGUSR1 restarting in its own process, SIGTERM
# and SIGINT. Prints, per signal, when the listeners' responses ended and the
# server exited, or when the restarted server answered and whether it
# captures again (a new listener decodes the 997 Hz tone). The same
# scenarios with 200 listeners are tests in test/robustness.sh.
#   bench/lifecycle.sh BUILD_DIR [LISTENERS (1000)]
# Every server is started and stopped here, by PID; loopback only.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" && pwd)
N=${2:-1000}
LOADGEN=$BUILD/bench/loadgen
[ -x "$LOADGEN" ] || make -C "$BUILD" -s bench/loadgen > /dev/null || { echo "cannot build bench/loadgen" >&2; exit 2; }
WORK=$(mktemp -d /tmp/audiostream-lifecycle.XXXXXX)
. "$here/test/lib.sh"
setup_work
SERVER_ENV=
SERVER_WRAP=
JOIN_RATE=1000
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. "$here/bench/bench_lib.sh"
bench_lib lifecycle
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<< "$2"; }

# the processes running one server's configuration (the server and a
# graceful-restart-bg child)
server_procs() {
    local p want; want=$(readlink -f "$LIGHTTPD")
    for p in /proc/[0-9]*; do
        [ "$(readlink -f "$p/exe" 2>/dev/null)" = "$want" ] || continue
        tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "-f $1/lighttpd.conf " && echo "${p#/proc/}"
    done
}

printf '%-26s %6s %7s %9s %9s %9s %9s %9s %8s %s\n' signal listen playing "ended ms" "exit ms" \
    "200 ms" "child ms" "threads" captures "loadgen" | tee "$WORK/table"

# scenario LABEL SIGNAL BG: N listeners, then the signal
scenario() {
    local label=$1 sig=$2 bg=$3 flags=
    [ "$bg" = bg ] && flags='server.feature-flags += ( "server.graceful-restart-bg" => "enable" )'
    start_server "$label" "server.modules += ( \"mod_audiostream\" )
$flags
server.max-fds = 20000
server.max-connections = 10000
server.listen-backlog = 4096
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\" ) )" || { log "$label: lighttpd did not start"; return 1; }
    PIDS_TO_STOP+=("$PID")
    wait_live /live.mp3 || { log "$label: the stream never went live"; return 1; }
    local dir=$DIR threads0 lg playing sig_ms ended_ms='' exit_ms='' ok200_ms='' child_ms='' child='' \
        threads1=- captures=- rc
    threads0=$(find "/proc/$PID/task" -mindepth 1 -maxdepth 1 | wc -l)
    "$LOADGEN" --port "$PORT" --listeners "$N" --join-rate "$JOIN_RATE" --seconds 60 \
        --label "$(tr -c 'A-Za-z0-9\n' - <<< "$label")" > "$dir/loadgen.out" 2> "$dir/loadgen.err" &
    lg=$!
    for _ in $(seq 1 300); do
        [ "$(established "$PORT")" -ge "$N" ] && break
        kill -0 "$lg" 2>/dev/null || { log "$label: loadgen failed: $(head -2 "$dir/loadgen.err")"; return 1; }
        sleep 0.1
    done
    sleep 2
    playing=$(established "$PORT")
    log "$label: $playing listeners playing, sending SIG$sig"
    sig_ms=$(now_ms); kill -"$sig" "$PID"
    # every 20 ms: the server's connections, whether it lives, whether a new
    # one is answered (restart), whether the child is gone (bg)
    for _ in $(seq 1 750); do
        local t=$(( $(now_ms) - sig_ms ))
        [ -z "$ended_ms" ] && [ "$(established "$PORT")" -eq 0 ] && ended_ms=$t
        if [ "$sig" = USR1 ]; then
            [ "$bg" = bg ] && [ -z "$child" ] && child=$(cat /proc/"$PID"/task/*/children 2>/dev/null | awk '{ print $1 }')
            # probes from when the old server no longer accepts (bg: its child exists)
            [ -z "$ok200_ms" ] && { [ "$bg" != bg ] || [ -n "$child" ]; } && [ "$t" -ge 50 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' -I --max-time 1 "$URL/live.mp3")" = 200 ] \
                && ok200_ms=$(( $(now_ms) - sig_ms ))
            [ "$bg" = bg ] && [ -n "$child" ] && [ -z "$child_ms" ] && ! kill -0 "$child" 2>/dev/null \
                && child_ms=$(( $(now_ms) - sig_ms ))
            [ -n "$ended_ms" ] && [ -n "$ok200_ms" ] && { [ "$bg" != bg ] || [ -n "$child_ms" ]; } && break
        else
            [ -z "$exit_ms" ] && ! kill -0 "$PID" 2>/dev/null && exit_ms=$t
            [ -n "$ended_ms" ] && [ -n "$exit_ms" ] && break
        fi
        sleep 0.02
    done
    if [ "$sig" = USR1 ]; then
        # a new listener hears the tone: the device was opened again
        listen "$dir/new" "$URL/live.mp3" 3
        if [ -z "$(decode_check "$dir/new" 997 2000)" ]; then captures=yes; else captures=no; fi
        threads1=$(find "/proc/$PID/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        kill -TERM "$PID" 2>/dev/null
    fi
    wait "$PID" 2>/dev/null; rc=$?
    wait "$lg"
    local out; out=$(cat "$dir/loadgen.out")
    sleep 0.3
    local left; left=$(server_procs "$dir" | tr '\n' ' ')
    printf '%-26s %6s %7s %9s %9s %9s %9s %9s %8s %s\n' "$label" "$N" "$playing" "${ended_ms:->15000}" \
        "${exit_ms:--}" "${ok200_ms:--}" "${child_ms:--}" "$threads0->$threads1" "$captures" \
        "ok=$(field ok "$out") $(sed -n 's/.*failures \(connect=[0-9]* reset=[0-9]* status=[0-9]* early_close=[0-9]* timeout=[0-9]*\).*/\1/p' <<< "$out")" \
        | tee -a "$WORK/table"
    [ -z "$left" ] || log "$label: processes left after the server ended: $left"
    [ "$sig" = USR1 ] || log "$label: exit status $rc"
    grep -c capturing "$dir/error.log" | sed "s/^/[lifecycle] $label: captures opened: /" >&2
}

scenario "SIGUSR1 graceful-restart-bg" USR1 bg
scenario "SIGUSR1 in process" USR1 no
scenario "SIGTERM" TERM no
scenario "SIGINT" INT no
echo "ms after the signal: ended = the server had closed every listener's connection; exit = lighttpd"
echo "exited; 200 = the restarted server answered 200 (probed from 50 ms, with bg once the child"
echo "exists); child = the graceful-restart-bg child exited. threads: the server's before -> after the"
echo "restart; captures: a new listener after the restart decoded the tone; loadgen: its listeners'"
echo "verdicts (early_close = the server ended the response, as it should here)"
