#!/usr/bin/env bash
# Soak: lighttpd + mod_audiostream under listener churn for a long run, its
# RSS and open descriptors sampled over time; they must stay flat. Not a CI
# test: it takes MINUTES (30 by default). Loopback only; the server and the
# load generator are started and stopped here, by PID.
#   bench/soak.sh BUILD_DIR [MINUTES]
# Load: one 128 kbit/s stream from the test device; SOAK_LISTENERS (500)
# reading listeners, each living a random SOAK_CHURN (5:60) seconds, its
# place joining again at once, next to SOAK_STALLED (10) listeners that never
# read (they churn too) and SOAK_RESETTERS (5) that abort with a RST 0-2 s
# after they connect and join again: about 21 joins/s, 5 of them resetters.
# Every SOAK_SAMPLE_S (30) s a table line; the samples go to
# BUILD_DIR/bench-results/soak-DATE.csv, the output to soak-DATE.txt and the
# server's error log to soak-DATE-error.log. The verdict compares the samples
# after the warm-up (SOAK_WARMUP_S: 20 % of the run, at least 60 s). Exits 0
# when FLAT and lighttpd stopped cleanly, 1 otherwise.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ ! -d "$1" ]; then echo "usage: bench/soak.sh BUILD_DIR [MINUTES]" >&2; exit 2; fi
BUILD=$(cd "$1" && pwd)
MINUTES=${2:-30}
[[ "$MINUTES" =~ ^[1-9][0-9]*$ ]] || { echo "soak: MINUTES must be a whole number >= 1" >&2; exit 2; }
LISTENERS=${SOAK_LISTENERS:-500}
STALLED=${SOAK_STALLED:-10}
RESETTERS=${SOAK_RESETTERS:-5}
CHURN=${SOAK_CHURN:-5:60}
SAMPLE_S=${SOAK_SAMPLE_S:-30}
JOIN_RATE=100                         # the first joins, then churn sets the pace
RUN_S=$((MINUTES * 60))
WARMUP_S=${SOAK_WARMUP_S:-$(( RUN_S / 5 > 60 ? RUN_S / 5 : 60 ))}
B=$BUILD/bench
for f in "$BUILD/.libs/mod_audiostream.so" "$BUILD/test/alsa/.libs/libasound_module_pcm_testtone.so"; do
    [ -e "$f" ] || { echo "soak: $f is missing: build with scripts/build.sh BUILD_DIR" >&2; exit 2; }
done
make -s -C "$BUILD" bench/loadgen >/dev/null || { echo "soak: cannot build bench/loadgen" >&2; exit 2; }
OUT=$BUILD/bench-results
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%d-%H%M)
CSV=$OUT/soak-$STAMP.csv
TXT=$OUT/soak-$STAMP.txt
ERRLOG=$OUT/soak-$STAMP-error.log
WORK=$(mktemp -d /tmp/audiostream-soak.XXXXXX)
SERVER_ENV=
SERVER_WRAP=
# shellcheck source=test/lib.sh
. "$here/test/lib.sh"
setup_work
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
HZ=$(getconf CLK_TCK)

PID='' LPID=''
# stop PID: TERM, then KILL after 5 s; bounded either way
# (sets STOP_STATUS: its exit status, and STOP_HOW: how it ended)
stop_pid() {
    local p=$1 i
    STOP_STATUS='' STOP_HOW=''
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
    kill "$p" 2>/dev/null; STOP_HOW=TERM
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null && STOP_HOW=KILL
    wait "$p" 2>/dev/null
    STOP_STATUS=$?
}
# shellcheck disable=SC2317  # run by the traps
cleanup() {
    stop_pid "$LPID"
    stop_pid "$PID"
    [ -n "${DIR:-}" ] && [ -f "$DIR/error.log" ] && cp "$DIR/error.log" "$ERRLOG"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*" | tee -a "$TXT"; }

start_server soak "server.modules += ( \"mod_audiostream\" )
server.max-fds = 20000
server.max-connections = 10000
server.listen-backlog = 4096
audiostream.status-url = \"/status-json.xsl\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\" ) )" \
    || { echo "soak: lighttpd did not start:" >&2; cat "$DIR/stderr.log" "$DIR/error.log" >&2 2>/dev/null; exit 1; }
wait_live /live.mp3 || { echo "soak: the stream did not go live" >&2; cat "$DIR/error.log" >&2; exit 1; }

# ---- one sample of the server ----
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" 2>/dev/null; }
fd_count() { find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
thread_count() { find "/proc/$PID/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# utime + stime of all threads, in seconds (after the ")" of the name)
cpu_s() { awk -v hz="$HZ" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$PID/stat"; }
# the stream's listeners in the status JSON
status_listeners() {
    curl -s --max-time 3 "$URL/status-json.xsl" | grep -o '"listeners":[0-9]*' | head -1 | cut -d: -f2
}
# a key=value of the load generator's latest progress line
progress_field() {
    grep '^loadgen: progress' "$WORK/load.err" 2>/dev/null | tail -1 | sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"
}

COLS="elapsed_s,rss_kib,fds,threads,listeners,joins,cpu_s,core,load1,fds_not_listeners,gen_open,resets,failures"
echo "$COLS" > "$CSV"
T=() RSS=() FDS=() THR=() LIS=() XFD=() CORE=()
PREV_T=0 PREV_CPU=0
sample() { # ELAPSED
    local rss fds thr cpu lis joins xfd gopen resets fails core load1
    rss=$(rss_kib); fds=$(fd_count); thr=$(thread_count); cpu=$(cpu_s)
    load1=$(cut -d' ' -f1 /proc/loadavg)
    # the server's cores since the previous sample
    core=$(awk -v c="$cpu" -v pc="$PREV_CPU" -v t="$1" -v pt="$PREV_T" \
        'BEGIN { printf "%.3f", (t > pt) ? (c - pc) / (t - pt) : 0 }')
    PREV_T=$1 PREV_CPU=$cpu
    lis=$(status_listeners); lis=${lis:-NA}
    joins=$(progress_field joins); joins=${joins:-0}
    gopen=$(progress_field open); gopen=${gopen:-0}
    resets=$(progress_field resets); resets=${resets:-0}
    fails=$(progress_field failures); fails=${fails:-0}
    if [ "$lis" = NA ]; then xfd=NA; else xfd=$((fds - lis)); fi
    printf '%6s %9s %6s %4s %6s %7s %8s %6s %5s %6s %6s %6s %5s\n' "$1" "$rss" "$fds" "$thr" "$lis" \
        "$joins" "$cpu" "$core" "$load1" "$xfd" "$gopen" "$resets" "$fails" | tee -a "$TXT"
    echo "$1,$rss,$fds,$thr,$lis,$joins,$cpu,$core,$load1,$xfd,$gopen,$resets,$fails" >> "$CSV"
    T+=("$1"); RSS+=("$rss"); FDS+=("$fds"); THR+=("$thr"); LIS+=("$lis"); XFD+=("$xfd")
    CORE+=("$core")
}

say "mod_audiostream soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $MINUTES min, $(nproc) cores," \
    "lighttpd $($LIGHTTPD -v | sed -n 's/^lighttpd\/\([^ ]*\).*/\1/p'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "load: $LISTENERS listeners living $CHURN s each, their places joining again at once;" \
    "$STALLED stalled (never read, same lifetimes); $RESETTERS resetters (RST 0-2 s after connect);" \
    "first joins at $JOIN_RATE/s; a sample every $SAMPLE_S s, warm-up $WARMUP_S s"
say "columns: elapsed s, lighttpd VmRSS KiB, open fds, threads, listeners (status JSON), joins so far,"
say "  server CPU s, server cores since the previous sample, the machine's 1-min load average,"
say "  fds - listeners, the load generator's open connections, its resets so far, its failures so far"
printf '%6s %9s %6s %4s %6s %7s %8s %6s %5s %6s %6s %6s %5s\n' t_s rss_KiB fds thr listen joins cpu_s \
    core load1 fd-lis open resets fails | tee -a "$TXT"

# ---- the load: runs past the last sample, then reports ----
sample 0
FDS_BEFORE=${FDS[0]} RSS_BEFORE=${RSS[0]}
t0=$(date +%s%N)
"$B/loadgen" --port "$PORT" --listeners "$LISTENERS" --stalled "$STALLED" --resetters "$RESETTERS" \
    --churn "$CHURN" --join-rate "$JOIN_RATE" --seconds $((RUN_S + 5)) --progress 1 \
    --server-pid "$PID" --label soak > "$WORK/load.out" 2> "$WORK/load.err" &
LPID=$!
for ((k = 1; k * SAMPLE_S <= RUN_S; k++)); do
    # sleep until the k-th sample instant, measured from the start
    left=$(( (t0 + k * SAMPLE_S * 1000000000 - $(date +%s%N)) / 1000000 ))
    [ "$left" -gt 0 ] && sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill -0 "$PID" 2>/dev/null || { say "soak: lighttpd (pid $PID) is gone"; exit 1; }
    kill -0 "$LPID" 2>/dev/null || { say "soak: the load generator stopped early: $(tail -3 "$WORK/load.err")"; exit 1; }
    sample $((k * SAMPLE_S))
done
# the load generator ends 5 s after the last sample; give it 30 s more at most
for i in $(seq 1 350); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.1; done
stop_pid "$LPID"; LPID=
say "load generator: $(cat "$WORK/load.out")"
grep -v '^loadgen: progress' "$WORK/load.err" | sed 's/^/  /' | tee -a "$TXT"
# everyone has gone: what the server holds with no listener, against before
sleep 3
FDS_AFTER=$(fd_count) RSS_AFTER=$(rss_kib) LIS_AFTER=$(status_listeners)
say "after the load (3 s, no listener; status listeners ${LIS_AFTER:-NA}): fds $FDS_AFTER (before the load $FDS_BEFORE)," \
    "RSS $RSS_AFTER KiB (before $RSS_BEFORE KiB), threads $(thread_count), CPU $(cpu_s) s"
t_stop=$(date +%s%N)
stop_pid "$PID"; PID=''
SERVER_STATUS=$STOP_STATUS
say "lighttpd stopped by SIG$STOP_HOW in $(( ($(date +%s%N) - t_stop) / 1000000 )) ms, exit status $SERVER_STATUS"

# ---- verdict over the samples after the warm-up ----
post=()
for i in "${!T[@]}"; do [ "${T[$i]}" -ge "$WARMUP_S" ] && post+=("$i"); done
if [ ${#post[@]} -lt 2 ]; then
    say "verdict: too few samples after the warm-up (${#post[@]}); run longer"
    exit 1
fi
TOL_FD=$((RESETTERS + 10 + LISTENERS / 50))
verdict=$(for i in "${post[@]}"; do echo "${T[$i]} ${RSS[$i]} ${FDS[$i]} ${THR[$i]} ${XFD[$i]} ${CORE[$i]}"; done | awk \
    -v tol_fd="$TOL_FD" -v fd_before="$FDS_BEFORE" -v fd_after="$FDS_AFTER" -v warm="$WARMUP_S" '
    { t[NR] = $1; r[NR] = $2; f[NR] = $3; th[NR] = $4; x[NR] = $5; c[NR] = $6 }
    END {
        n = NR
        rmin = rmax = r[1]; fmin = fmax = f[1]; tmin = tmax = th[1]; xmin = xmax = x[1]
        for (i = 1; i <= n; i++) {
            if (r[i] < rmin) rmin = r[i]; if (r[i] > rmax) rmax = r[i]
            if (f[i] < fmin) fmin = f[i]; if (f[i] > fmax) fmax = f[i]
            if (th[i] < tmin) tmin = th[i]; if (th[i] > tmax) tmax = th[i]
            if (x[i] != "NA") { if (x[i] < xmin || xmin == "NA") xmin = x[i]; if (x[i] > xmax || xmax == "NA") xmax = x[i] }
            st += t[i]; sr += r[i]
        }
        # least squares of RSS over time
        mt = st / n; mr = sr / n
        for (i = 1; i <= n; i++) { sxy += (t[i] - mt) * (r[i] - mr); sxx += (t[i] - mt) ^ 2 }
        slope = sxx > 0 ? sxy / sxx : 0               # KiB per s
        span = t[n] - t[1]
        k = n < 3 ? n : 3
        for (i = n - k + 1; i <= n; i++) last += r[i]
        last /= k
        growth = last - r[1]
        fitted = slope * span
        rss_flat = growth < 1024 && fitted < 1024
        fd_flat = (fmax - fmin) <= 2 * tol_fd && (xmax - xmin) <= tol_fd && fd_after <= fd_before
        printf "RSS: %d KiB at %d s (first sample after the %d s warm-up), mean of the last %d samples %.0f KiB (%+.0f KiB), min %d, max %d KiB\n", \
            r[1], t[1], warm, k, last, growth, rmin, rmax
        printf "RSS slope (least squares over %d samples, %d-%d s): %+.1f KiB per 10 min, %+.0f KiB over those %.0f min\n", \
            n, t[1], t[n], slope * 600, fitted, span / 60
        printf "fds: min %d, max %d (spread %d); fds - listeners: min %s, max %s; with no listener: %d after the load, %d before\n", \
            fmin, fmax, fmax - fmin, xmin, xmax, fd_after, fd_before
        printf "threads: min %d, max %d\n", tmin, tmax
        q = int(n / 4); if (q < 1) q = 1
        for (i = 1; i <= q; i++) { c0 += c[i]; c1 += c[n - q + i] }
        printf "server CPU (not judged): %.3f cores over the first %d post-warm-up samples, %.3f over the last %d\n", \
            c0 / q, q, c1 / q, q
        printf "rule: RSS FLAT if it grew by less than 1024 KiB from the first post-warm-up sample to the mean of the last %d, and the fitted slope over the same window is under 1024 KiB; ", k
        printf "fds FLAT if their spread is at most %d, fds - listeners varies by at most %d (resetters + 10 + listeners/50: connections in flight), and no more fds are open after the load than before\n", 2 * tol_fd, tol_fd
        printf "verdict: RSS %s, fds %s, threads %s => %s\n", rss_flat ? "FLAT" : "GROWING", fd_flat ? "FLAT" : "GROWING", \
            tmin == tmax ? "constant" : "CHANGING", rss_flat && fd_flat && tmin == tmax ? "FLAT" : "GROWING"
    }')
say "$verdict"

# ---- the server's error log ----
if [ -s "$DIR/error.log" ]; then
    say "lighttpd error log: $(wc -l < "$DIR/error.log") lines; the most frequent messages (timestamps dropped):"
    sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}: //' "$DIR/error.log" | sort | uniq -c | sort -rn | head -10 | sed 's/^/  /' | tee -a "$TXT"
else
    say "lighttpd error log: empty"
fi
if [ -s "$DIR/stderr.log" ]; then
    say "lighttpd stderr: $(wc -l < "$DIR/stderr.log") lines, the first:"
    head -5 "$DIR/stderr.log" | sed 's/^/  /' | tee -a "$TXT"
fi
say "results: $TXT, $CSV, $ERRLOG"
[[ "$verdict" == *"=> FLAT"* ]] && [ "$SERVER_STATUS" = 0 ]
