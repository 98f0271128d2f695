# shellcheck shell=bash
# The client matrix (issue 14): the players listeners use, each run
# headless as its users would run it to ride through a server's restarts,
# on one lighttpd that is restarted (SIGTERM and a new lighttpd on the same
# port) and then reloaded (SIGUSR1, in its process) under them. Each is
# judged on what it does: the 997 Hz tone decoded whole, its pace, how long
# no new tone reached its output across the restart and across the reload,
# whether it stopped or exited, and the title set through the admin URL
# before and after. Sourced by test/integration.sh after test/status_admin.sh,
# whose AUTH_MODULES, admin_auth_conf and admin_get it uses; client_tests
# lists its tests.
#
# How the gaps are measured: every player decodes into a FIFO (MPD through
# its pipe output, VLC as nobody into one in its own directory) read by one
# recorder process (client_recorder.py), which keeps the PCM and notes when
# each read arrived; streamripper's rip is an MP3 file, whose size the
# recorder samples. A gap is the longest time no audible tone reached the
# output around the event: for players whose own clock keeps writing
# (Liquidsoap's mksafe), the silence they wrote counts as no tone. The
# players' messages go through FIFOs too, each line stamped with the time it
# came, so that a title is known to have been shown before or after an
# event.
client_tests=()

CLIENT_NAME="Client Matrix FM"
CLIENT_CONF_TITLE="From the config"
CLIENT_TITLE1="Matrix Hour - First Song"
CLIENT_TITLE2="Matrix Hour - Second Song"

# client_recorder_py: writes the recorder. client_recorder.py STOP MAXSECS
# READY SPEC...: until the file STOP exists (or MAXSECS pass), reads FIFOs
# and polls directories; SPEC is KIND:PATH:OUT, KIND one of
#   pcm   a FIFO of PCM: OUT.raw gets it, OUT.tlog "MS TOTAL_BYTES" per read
#   text  a FIFO of messages: OUT.log "MS LINE" per line (split at CR and
#         LF; a line like the one before it within 1 s is left out: status
#         lines)
#   dir   a directory: OUT.tlog "MS TOTAL_BYTES" of its *.mp3 files, polled
#         every 100 ms, when it changed
# MS is the wall clock in ms (the tests' now_ms). Each FIFO is opened
# read-write, so that a player opening it for writing does not block and
# one that closes and opens it again (MPD's pipe output) is read on; READY
# is created once all are open.
client_recorder_py() {
    cat > "$WORK/client_recorder.py" <<'EOF'
import glob, os, re, select, sys, time
stop, maxs, ready = sys.argv[1], float(sys.argv[2]), sys.argv[3]
pcm, text, dirs = {}, {}, []
for spec in sys.argv[4:]:
    kind, path, out = spec.split(":", 2)
    if kind == "dir":
        dirs.append([path, open(out + ".tlog", "w"), -1])
        continue
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    if kind == "pcm":
        pcm[fd] = [open(out + ".raw", "wb"), open(out + ".tlog", "w"), 0]
    else:
        text[fd] = [open(out + ".log", "w"), b"", None, 0]
open(ready, "w").close()

def ms():
    return int(time.time() * 1000)

def drain(fd):
    try:
        b = os.read(fd, 1 << 16)
    except BlockingIOError:
        return
    now = ms()
    if fd in pcm:
        p = pcm[fd]
        p[0].write(b)
        p[2] += len(b)
        p[1].write("%d %d\n" % (now, p[2]))
        p[1].flush()
    else:
        t = text[fd]
        *lines, t[1] = re.split(rb"[\r\n]", t[1] + b)
        t[1] = t[1][-8192:]
        for line in lines:
            line = line.decode("utf-8", "replace").rstrip()
            if line.strip() and (line != t[2] or now - t[3] >= 1000):
                t[0].write("%d %s\n" % (now, line))
                t[2], t[3] = line, now
        t[0].flush()

t_end, next_poll = time.time() + maxs, 0
while time.time() < t_end and not os.path.exists(stop):
    r, _, _ = select.select(list(pcm) + list(text), [], [], 0.05)
    for fd in r:
        drain(fd)
    if time.time() >= next_poll:
        next_poll = time.time() + 0.1
        for d in dirs:
            size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(d[0], "*.mp3")))
            if size != d[2]:
                d[1].write("%d %d\n" % (ms(), size))
                d[1].flush()
                d[2] = size
for fd in list(pcm) + list(text):
    drain(fd)
EOF
}

# client_judge_py: writes the judge. client_judge.py lead FILE prints the ms
# of silence a raw 44.1 kHz s16le stereo FILE starts with (a player's own
# clock may write silence until its input plays). client_judge.py KEY=VALUE...
# judges one player; its keys:
#   name, events (a file of "EVENT MS" lines: play restart up reload title2
#   end, and replay when MPD was told to play again), tlog and bps (its
#   output's arrivals and bytes per second: 176400 for PCM, 16000 for the
#   ripped MP3), lead (ms of silence before its first tone), pcm (pcmcheck's
#   output), log (its messages), title_re (a regex whose group 1 is a title
#   it shows; empty: it shows none), titles ("follows": it shows a title as
#   it changes; "kept": as it changes until a reconnect, then keeps the one
#   it had, and heard_re, a regex on its messages, says what its network
#   layer got), expect ("ride": it
#   rides through both; "ends": it ends at the restart; "stops": it stops at
#   the restart, is told to play again, and rides through the reload),
#   restart_bound and reload_bound (the longest gap allowed, ms), exited
#   ("" when it ran until the test stopped it, else how and when it ended:
#   client_stop's "rc=N at +MS ms of the restart"), t1 and t2 (the titles
#   set through the admin URL before the restart and after the reload).
# Prints what is wrong, one problem a line, and writes the summary (the
# measured gaps, tone, pace and titles) into the file named by summary.
client_judge_py() {
    cat > "$WORK/client_judge.py" <<'EOF'
import bisect, re, sys

if sys.argv[1] == "lead":
    data = open(sys.argv[2], "rb").read()
    block = 441 * 4                                   # 10 ms of stereo s16le
    for k in range(0, len(data) // block):
        b = data[k * block:(k + 1) * block]
        if max(abs(int.from_bytes(b[i:i + 2], "little", signed=True)) for i in range(0, len(b), 4)) > 1000:
            print(k * 10)
            sys.exit(0)
    print(0)
    sys.exit(0)

a = dict(x.split("=", 1) for x in sys.argv[1:])
ev = {}
for line in open(a["events"]):
    k, v = line.split()
    ev[k] = int(v)
bps, lead = float(a["bps"]), float(a.get("lead") or 0)
rows = []
for line in open(a["tlog"]):
    t, n = line.split()
    if int(n) > 0 and (not rows or int(n) > rows[-1][1]):
        rows.append((int(t), int(n)))
pc = open(a["pcm"]).read() if a.get("pcm") else ""
problems, parts = [], []
name, expect = a["name"], a["expect"]

def audio_ms(n):
    return n * 1000.0 / bps

def wall(ms):
    """when the byte of audio ms ms reached the output"""
    i = bisect.bisect_left([n for _, n in rows], ms * bps / 1000.0)
    return rows[min(i, len(rows) - 1)][0] if rows else None

m = re.search(r"pcmcheck: (?:ok|measured) duration_ms=(\d+) freq_hz=([\d.]+)", pc)
drops = [(float(x), float(y)) for x, y in re.findall(r"dropout at_ms=(\d+) len_ms=(\d+)", pc)]
jumps = [float(x) for x in re.findall(r"jump at_ms=(\d+)", pc)]
silent = [(0.0, lead)] + [(s, s + n) for s, n in drops]

# the times audible tone arrived: reads not all silence
T, prev = [], 0
for t, n in rows:
    a0, a1 = audio_ms(prev), audio_ms(n)
    prev = n
    quiet = sum(max(0.0, min(a1, e) - max(a0, s)) for s, e in silent)
    if (a1 - a0) - quiet >= min(20.0, (a1 - a0) / 2):
        T.append(t)

def gap(te, we):
    """the longest time without tone from 0.5 s before te to we: a stall
    of the output, or silence it wrote; (ms, "tone again" or "silence",
    when it ended, the longest silence), or None when no tone came after
    te or it stopped for good more than 1.5 s before we"""
    after = [t for t in T if te < t <= we]
    if not after or after[-1] < we - 1500:
        return None
    seq = [t for t in T if t <= te - 500][-1:] + [t for t in T if te - 500 < t <= we]
    best = max(((y - x, "tone again", y) for x, y in zip(seq, seq[1:])), default=(0, "tone again", after[0]))
    quiet = 0
    for s, n in drops:
        w = wall(s)
        if w is not None and te - 500 <= w <= we:
            quiet = max(quiet, int(n))
            if n >= best[0]:
                best = (int(n), "silence", w + int(n))
    return best + (quiet,)

def stopped(te, we):
    """a description of how the tone ended after te, for a gap() of None"""
    after = [t for t in T if te < t <= we]
    return "the tone stopped %+d ms after it and did not come back" % (after[-1] - te) if after else "no tone after it"

def slope(t0, t1):
    """audio ms per wall ms of the output between t0 and t1 (least squares)"""
    p = [(t, audio_ms(n)) for t, n in rows if t0 <= t <= t1]
    if len(p) < 3 or p[-1][0] - p[0][0] < 2000:
        return None, 0
    mt = sum(t for t, _ in p) / len(p)
    ma = sum(x for _, x in p) / len(p)
    den = sum((t - mt) ** 2 for t, _ in p)
    return sum((t - mt) * (x - ma) for t, x in p) / den, p[-1][0] - p[0][0]

first = T[0] if T else None
if first is None:
    problems.append("%s: no audible tone reached its output" % name)

# ---- gaps ----
G = {"restart": gap(ev["restart"], ev["reload"] - 1) if T else None,
     "reload": gap(ev["reload"], ev["end"]) if T else None}
bound = {"restart": int(a["restart_bound"]), "reload": int(a["reload_bound"])}
replay = ev.get("replay")

def judge_gap(what):
    g = G[what]
    if g is None:
        why = stopped(ev[what], ev["reload"] - 1 if what == "restart" else ev["end"])
        parts.append("%s: %s" % (what, why))
        problems.append("%s: across the %s %s" % (name, what, why))
        return
    parts.append("%s gap %d ms (the longest, till %s %+d ms after the signal%s), want <= %d" % (
        what, g[0], g[1], g[2] - ev[what], ", silence %d ms" % g[3] if g[3] >= 50 and g[1] != "silence" else "", bound[what]))
    if g[0] > bound[what]:
        problems.append("%s: %d ms without tone across the %s, more than %d" % (name, g[0], what, bound[what]))

if expect == "ride":
    judge_gap("restart")
    judge_gap("reload")
else:
    # tone again by itself: after a stall of 0.5 s or more that began after
    # the restart, before the test told it to play again
    by_itself = [y for x, y in zip(T, T[1:]) if x >= ev["restart"] - 500 and y - x >= 500 and y < (replay or ev["reload"])]
    if not by_itself:
        parts.append("restart: %s, as expected" % ("ended: no tone after it" if expect == "ends" else "stopped"))
    else:
        parts.append("restart: reconnected by itself (not expected)")
        judge_gap("restart")
    if expect == "stops":
        if replay is None:
            problems.append("%s: was not told to play again after the restart" % name)
        parts.append("played again at +%d ms" % (replay - ev["restart"]) if replay else "not played again")
        judge_gap("reload")
    elif G["reload"] is not None:
        judge_gap("reload")
end_restart = G["restart"][2] if G["restart"] else None
end_reload = G["reload"][2] if G["reload"] else None

# ---- tone ----
if not m:
    problems.append("%s: pcmcheck measured nothing: %s" % (name, pc.strip()[-300:]))
    f, dur = 0.0, 0.0
else:
    dur, f = float(m.group(1)) / 1000.0, float(m.group(2))
    if abs(f - 997) > 3:
        problems.append("%s: the tone is at %.2f Hz, not 997" % (name, f))
    if "silent channel" in pc:
        problems.append("%s: %s" % (name, re.search(r"silent channel[^\n]*", pc).group(0)))
    want = 12.0 if expect != "ends" else 4.0
    if dur < want:
        problems.append("%s: %.1f s of tone, want %.0f s or more" % (name, dur, want))
    # splices, and a player's silence while it reconnects, belong to an
    # event: from 1.5 s before it to 6 s after (a player's buffer plays on)
    marks = [ev["restart"], ev["reload"]] + ([replay] if replay else [])
    last_ms = audio_ms(rows[-1][1]) if rows else 0
    for kind, at in [("dropout", s) for s, _ in drops] + [("jump", j) for j in jumps]:
        w = wall(at)
        if at > last_ms - 300 or w is None:
            continue
        if not any(te - 1500 <= w <= te + 6000 for te in marks):
            problems.append("%s: a %s in its output at %+d ms of the restart, away from the restart and the reload"
                            % (name, kind, w - ev["restart"]))
    if "... " in pc:
        problems.append("%s: more splices than pcmcheck reports: %s" % (name, re.search(r"\.\.\. [^\n]*", pc).group(0)))
parts.append("tone %.1f s at %.2f Hz" % (dur, f))

# ---- pace: between events, past each (re)connection's burst ----
if T:
    segs = [(first + 1500, ev["restart"] - 200)]
    if end_restart is not None and expect == "ride":
        segs.append((end_restart + 2000, ev["reload"] - 200))
    if end_reload is not None:
        segs.append((end_reload + 2000, ev["end"] - 200))
    got = [slope(x, y) for x, y in segs if y > x]
    got = [(s, w) for s, w in got if s is not None]
    if got:
        pace = sum(s * w for s, w in got) / sum(w for _, w in got)
        overall = (audio_ms(rows[-1][1]) - lead) / max(1, rows[-1][0] - first)
        parts.append("pace %.2fx (%.2fx overall)" % (pace, overall))
        if not 0.9 <= pace <= 1.1:
            problems.append("%s: plays at %.2fx between the events, not about 1x" % (name, pace))
    else:
        problems.append("%s: too little output to measure its pace" % name)

# ---- titles ----
def stamped(regex):
    """(ms, text) of the player's stamped lines whose group 1 regex finds"""
    found = []
    for line in open(a["log"], encoding="utf-8", errors="replace"):
        t, _, text = line.rstrip("\n").partition(" ")
        mm = re.search(regex, text)
        if mm and mm.group(1).strip():
            found.append((int(t), mm.group(1).strip()))
    return found
obs = stamped(a["title_re"]) if a.get("title_re") else []
T1, T2 = a["t1"], a["t2"]
def seen(t0, t1):
    return [x for t, x in obs if t0 <= t < t1]
def first_after(pairs, title, t0):
    """when title was first shown from t0 on, while the test ran"""
    return min((t for t, x in pairs if x == title and t0 <= t <= ev["end"] + 500), default=None)
if not a.get("title_re"):
    parts.append("titles: none shown")
else:
    before, r1, r2, late = seen(0, ev["restart"]), seen(ev["restart"], ev["reload"]), \
        seen(ev["reload"], ev["title2"]), seen(ev["title2"], ev["end"] + 1000)
    desc = ["before '%s'" % before[-1] if before else "before none"]
    if T1 not in before:
        problems.append("%s: did not show the admin title '%s' before the restart (it showed %r)" % (name, T1, sorted(set(before))))
    played_after = [t for t in T if t > ev["title2"] + 1000]
    heard = stamped(a["heard_re"]) if a.get("heard_re") else []
    if a["titles"] in ("follows", "kept") and expect != "ends":
        for label, t0, t1 in (("after the restart", ev["restart"], ev["reload"]), ("after the reload", ev["reload"], ev["title2"])):
            got = seen(t0, t1)
            other = sorted(set(got) - {T1})
            if other:
                problems.append("%s: showed %r %s, want the admin title '%s'" % (name, other, label, T1))
            desc.append("%s %s" % (label, "'%s' shown" % T1 if T1 in got else "none shown, nor another" if not other else repr(other)))
            if heard:
                got = [x for t, x in heard if t0 <= t < t1]
                if set(got) - {T1} or T1 not in got:
                    problems.append("%s: its network layer got %r %s, want the admin title '%s'" % (name, sorted(set(got)), label, T1))
                desc.append("its network layer got %r" % sorted(set(got)))
        if played_after:
            t2 = first_after(obs, T2, ev["title2"])
            if t2 is not None:
                desc.append("the next one %+d ms after it was set" % (t2 - ev["title2"]))
            else:
                desc.append("the next one not shown")
                if a["titles"] == "follows":
                    problems.append("%s: did not show the title '%s' set after the reload (it showed %r)" % (name, T2, sorted(set(late))))
            if heard:
                h2 = first_after(heard, T2, ev["title2"])
                desc.append("its network layer got it %s" % ("%+d ms after it was set" % (h2 - ev["title2"]) if h2 is not None else "never"))
                if h2 is None:
                    problems.append("%s: its network layer never got the title '%s' set after the reload" % (name, T2))
    parts.append("titles: " + ", ".join(desc))

# ---- the player itself ----
if a.get("exited"):
    parts.append("exited (%s)" % a["exited"])
    if expect != "ends":
        problems.append("%s: exited before the end (%s)" % (name, a["exited"]))
    elif not a["exited"].startswith("rc=0 "):
        problems.append("%s: ended with an error (%s)" % (name, a["exited"]))
elif expect == "ends" and not [t for t in T if t > ev["restart"]]:
    problems.append("%s: still running after it stopped playing" % name)

open(a["summary"], "w").write("; ".join(parts) + "\n")
for p in problems:
    print(p)
EOF
}

# client_spawn NAME OUT ERR SECS COMMAND...: COMMAND in the background under
# timeout SECS, its stdout to OUT, stderr to ERR ("=": the same as OUT); its
# pid in CLIENT_PID[NAME]. timeout leads a process group of its own, which
# client_stop signals as a whole.
client_spawn() {
    local name=$1 out=$2 err=$3 secs=$4; shift 4
    if [ "$err" = "=" ]; then
        timeout -k 3 "$secs" "$@" > "$out" 2>&1 < /dev/null &
    else
        timeout -k 3 "$secs" "$@" > "$out" 2> "$err" < /dev/null &
    fi
    CLIENT_PID[$name]=$!
}

# client_stop NAME: if it still runs, SIGTERM to its process group, 5 s for
# it to end and then SIGKILL; else CLIENT_EXITED[NAME] says how and when it
# ended: "rc=N at +MS" of the restart, as near as client_watch saw it
client_stop() {
    local pid=${CLIENT_PID[$1]} rc gone
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- -"$pid" 2>/dev/null || kill -TERM "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL -- -"$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    else
        wait "$pid" 2>/dev/null; rc=$?
        gone=${CLIENT_GONE[$1]:-$(now_ms)}
        CLIENT_EXITED[$1]="rc=$rc at $(printf '%+d' $(( gone - CLIENT_T_RESTART ))) ms of the restart"
    fi
}

# client_watch: notes in CLIENT_GONE when a player is first seen gone
client_watch() {
    local n
    for n in "${!CLIENT_PID[@]}"; do
        [ -z "${CLIENT_GONE[$n]:-}" ] && ! kill -0 "${CLIENT_PID[$n]}" 2>/dev/null && CLIENT_GONE[$n]=$(now_ms)
    done
    return 0
}

# client_sleep SECS: sleeps, watching the players every 0.2 s
client_sleep() {
    local t_end=$(( $(now_ms) + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }') ))
    while [ "$(now_ms)" -lt "$t_end" ]; do client_watch; sleep 0.2; done
}

# client_audio_ms NAME BPS: ms of output NAME has had so far
client_audio_ms() {
    local n
    n=$(tail -1 "$CLIENT_DIR/$1.tlog" 2>/dev/null | cut -d' ' -f2)
    echo $(( ${n:-0} * 1000 / $2 ))
}

# client_mpc ARGS...: mpc on the test's MPD, at most 3 s
client_mpc() { timeout 3 mpc -h 127.0.0.1 -p "$CLIENT_MPD_PORT" "$@"; }

# client_mpd_poll: what "mpc current" and "mpc status" say, every 0.5 s
# until the recorder's stop file exists (at most 90 s); for MPD's log
client_mpd_poll() {
    local state
    for _ in $(seq 1 180); do
        [ -e "$CLIENT_DIR/stop" ] && return
        state=$(client_mpc status 2>/dev/null | sed -n 's/^\[\([a-z]*\)\].*/\1/p')
        echo "mpc state=${state:-stopped} title=$(client_mpc -f '%title%' current 2>/dev/null)"
        sleep 0.5
    done
}

# The matrix. One lighttpd (the 997 Hz tone at /live.mp3, a station name and
# a title in the configuration, audiostream.state-file for the admin URL's
# titles) and nine players at once, as their users run them to ride through
# a server's restarts; the bounds are the issue's 1.5 s unless a player's own
# way of reconnecting needs more:
# - ffmpeg -reconnect 1 -reconnect_streamed 1 -reconnect_delay_max 2, to
#   raw PCM. Its first try at once is refused while lighttpd restarts, the
#   next comes 1 s later. -v verbose logs each title its HTTP layer reads.
# - mpv with the same reconnect options of its ffmpeg (--stream-lavf-o): by
#   itself mpv takes the cut for the end of the file and exits, and with
#   --loop-playlist=inf its one try at once to open the URL again is
#   refused during a restart and it exits. A script prints its icy-title
#   every 0.5 s. mpv 0.35 stops updating it after the restart's reconnect
#   (whose first try was refused), while its ffmpeg layer, whose messages it
#   prints, reads each new title: the titles are judged on that layer too.
# - VLC (cvlc as nobody) with --http-reconnect and --loop: VLC's own HTTP
#   access takes the cut for the end and has no reconnect; for a stream
#   with an icy-name it hands over to its older ICY access, which shows the
#   titles and with --http-reconnect tries once at once - refused while
#   lighttpd restarts, so there the input ends and --loop opens it again
#   (both accesses, one after the other). Bound at the restart: 2.5 s.
# - mpg123 -v --loop -1: mpg123 has no reconnect and ends the "track" at
#   the cut (exit 0); --loop -1 opens the URL again at once, in a loop
#   (hundreds of tries a second) while it is refused.
# - mplayer -nocache -loop 0: -loop 0 opens it again at once, in a loop too.
#   With its default cache mplayer waits for 20 % of 320 KiB (about 4 s of
#   this stream) after each reconnect, and this build spins a core and
#   floods its terminal while it fills the cache, so it plays without one.
# - GStreamer: gst-launch-1.0 souphttpsrc retries=-1 ! decodebin ! ... to
#   raw PCM; tags with -t. Its libsoup 2.4 reports the close of a
#   close-delimited ICY response, and the close of a chunked one after a
#   whole chunk, as the end of the body: souphttpsrc sends EOS (its retries
#   are for errors, and would resume with a Range, which gets 206) and
#   gst-launch ends. Judged on that: the tone and the title until the
#   restart, then a clean end (exit 0).
# - Liquidsoap: input.http into output.file of raw PCM through mksafe: its
#   clock writes silence while the input is down, which counts as the gap.
#   It prints its metadata only when they change.
# - MPD as a user process with its own configuration on a loopback port, a
#   pipe output into the FIFO, the URL added with mpc, repeat on: at the
#   cut the song ends and MPD opens it again at once, once; during a
#   restart that is refused and MPD stops. Judged on that; then it is told
#   to play again (mpc play, as its user would) and rides through the
#   reload. Titles from "mpc current", every 0.5 s; MPD's own log in
#   players/mpd/log.
# - streamripper, which reconnects by itself. Its rip grows in blocks of the
#   ICY interval (16000 bytes, 1 s), so its bounds are 1 s longer, and it
#   shows a new title when it starts the new track, after its search for a
#   silence to split at (about 6 s).
# Timeline: all play (or 15 s pass), 6 s, restart, 6 s, reload, 3.5 s, the
# admin URL sets a second title (a player showing it proves it still reads
# titles after the reload), 7.5 s. The restart's floor is lighttpd's own
# restart (its port is closed for 0.02-0.2 s) plus, as after every start,
# the module's wait for burst-ms (1 s) of audio before a listener's first
# byte; the reload's is that wait.
client_tests+=(test_client_matrix)
test_client_matrix() {
    local label="client matrix" c missing=""
    for c in ffmpeg mpv cvlc mpg123 mplayer gst-launch-1.0 liquidsoap mpd mpc streamripper; do
        command -v "$c" > /dev/null || missing+=" $c"
    done
    [ -z "$missing" ] || { fail "$label: players not installed:$missing (scripts/install-deps.sh)"; return; }
    printf 'admin:secret\n' > "$WORK/client-users"
    start_server clients "$AUTH_MODULES
server.modules += ( \"mod_accesslog\" )
accesslog.filename = \"|exec cat >> $WORK/clients/access.log\"
accesslog.format = \"%{%s}t.%{msec_frac}t %s %r range=%{Range}i icy=%{Icy-MetaData}i %b %{User-Agent}i\"
$(admin_auth_conf "$WORK/client-users")
audiostream.state-file = \"$WORK/clients/titles\"
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"name\" => \"$CLIENT_NAME\", \"title\" => \"$CLIENT_CONF_TITLE\" ) )" \
        || { fail "$label: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    wait_live /live.mp3 || { fail "$label: stream never went live"; stop_server; return; }
    admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=${CLIENT_TITLE1// /%20}"
    grep -q '<return>1</return>' "$DIR/a.body" || { fail "$label: the admin URL did not set the title" "$(cat "$DIR/a.body")"; stop_server; return; }
    local p=$DIR/players vdir n
    CLIENT_DIR=$p
    mkdir -p "$p/rip" "$p/mpd/music" "$p/mpd/playlists"
    vdir=$(mktemp -d /tmp/audiostream-vlc.XXXXXX) && chown nobody: "$vdir"
    local pcm_players=(ffmpeg mpv vlc mpg123 mplayer gst liquidsoap mpd) specs=()
    for n in "${pcm_players[@]}" streamripper; do
        mkfifo -m 600 "$p/$n.txt"; specs+=("text:$p/$n.txt:$p/$n")
    done
    mkfifo -m 600 "$p/mpc.txt"; specs+=("text:$p/mpc.txt:$p/mpc")
    for n in "${pcm_players[@]}"; do
        local fifo=$p/$n.pcm
        [ "$n" = vlc ] && fifo=$vdir/vlc.pcm
        mkfifo -m 666 "$fifo"; specs+=("pcm:$fifo:$p/$n")
    done
    specs+=("dir:$p/rip:$p/streamripper")
    client_recorder_py; client_judge_py
    timeout 120 python3 "$WORK/client_recorder.py" "$p/stop" 110 "$p/ready" "${specs[@]}" 2> "$p/recorder.err" &
    local recorder=$!
    for _ in $(seq 1 50); do [ -e "$p/ready" ] && break; sleep 0.1; done
    [ -e "$p/ready" ] || { fail "$label: the recorder did not start" "$(cat "$p/recorder.err")"; kill "$recorder"; stop_server; rm -rf "$vdir"; return; }

    for n in ffmpeg mpv vlc-bin mpg123 mplayer gstreamer1.0-tools gstreamer1.0-plugins-good liquidsoap mpd mpc streamripper; do
        echo "# $(player_version "$n")"
    done
    declare -gA CLIENT_PID=() CLIENT_EXITED=() CLIENT_GONE=()
    CLIENT_T_RESTART=$(now_ms)
    local secs=75 u="$URL/live.mp3"
    # Liquidsoap first: it takes 2-3 s to start
    cat > "$p/clients.liq" <<EOF
settings.init.allow_root.set(true)
settings.log.stdout.set(true)
settings.log.file.set(false)
s = input.http("$u")
s = source.on_metadata(s, fun (m) -> print("liquidsoap title=" ^ m["title"]))
output.file(%wav(stereo, samplerate=44100, header=false), "$p/liquidsoap.pcm", mksafe(s))
EOF
    client_spawn liquidsoap "$p/liquidsoap.txt" = "$secs" liquidsoap "$p/clients.liq"
    client_spawn ffmpeg "$p/ffmpeg.txt" = "$secs" ffmpeg -nostdin -nostats -hide_banner -y -v verbose \
        -reconnect 1 -reconnect_streamed 1 -reconnect_delay_max 2 -i "$u" -f s16le -ar 44100 -ac 2 "$p/ffmpeg.pcm"
    cat > "$p/title.lua" <<'EOF'
-- twice a second: the title mpv shows
mp.add_periodic_timer(0.5, function()
    print("title=" .. (mp.get_property("metadata/by-key/icy-title") or ""))
end)
EOF
    client_spawn mpv "$p/mpv.txt" = "$secs" mpv --no-config --no-video --quiet --msg-level=ffmpeg=debug --script="$p/title.lua" \
        --stream-lavf-o=reconnect=1,reconnect_streamed=1,reconnect_delay_max=2 \
        --ao=pcm --ao-pcm-file="$p/mpv.pcm" --ao-pcm-waveheader=no --audio-format=s16 \
        --audio-samplerate=44100 --audio-channels=stereo "$u"
    client_spawn vlc "$p/vlc.txt" = "$secs" runuser -u nobody -- env -u ALSA_CONFIG_PATH HOME="$vdir" \
        cvlc -vv --no-video --loop --http-reconnect \
        --sout "#transcode{acodec=s16l,channels=2,samplerate=44100}:std{access=file,mux=raw,dst=$vdir/vlc.pcm}" "$u"
    client_spawn mpg123 "$p/mpg123.pcm" "$p/mpg123.txt" "$secs" env LC_ALL=C.UTF-8 mpg123 -v --loop -1 -s "$u"
    client_spawn mplayer "$p/mplayer.txt" = "$secs" stdbuf -oL mplayer -quiet -nolirc -noconfig all -vo null -vc null \
        -nocache -loop 0 -ao pcm:nowaveheader:fast:file="$p/mplayer.pcm" "$u"
    client_spawn gst "$p/gst.txt" = "$secs" stdbuf -oL gst-launch-1.0 -t souphttpsrc location="$u" retries=-1 \
        ! decodebin ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=44100,channels=2 \
        ! filesink location="$p/gst.pcm" buffer-mode=unbuffered
    (cd "$p/rip" && exec timeout -k 3 "$secs" stdbuf -o0 streamripper "$u" -d "$p/rip" -s -a live.mp3 \
        > "$p/streamripper.txt" 2>&1 < /dev/null) &
    CLIENT_PID[streamripper]=$!
    # MPD on a port of its own
    local server_port=$PORT; free_port; CLIENT_MPD_PORT=$PORT; PORT=$server_port
    cat > "$p/mpd/mpd.conf" <<EOF
music_directory "$p/mpd/music"
playlist_directory "$p/mpd/playlists"
db_file "$p/mpd/db"
state_file "$p/mpd/state"
log_file "$p/mpd/log"
log_level "verbose"
bind_to_address "127.0.0.1"
port "$CLIENT_MPD_PORT"
auto_update "no"
zeroconf_enabled "no"
audio_output {
    type "pipe"
    name "client matrix"
    command "cat > $p/mpd.pcm"
    format "44100:16:2"
}
EOF
    client_spawn mpd "$p/mpd.txt" = "$secs" mpd --no-daemon "$p/mpd/mpd.conf"
    for _ in $(seq 1 50); do port_is_free "$CLIENT_MPD_PORT" || break; sleep 0.1; done
    { client_mpc -q repeat on && client_mpc -q add "$u" && client_mpc -q play; } > "$p/mpc-start.out" 2>&1
    client_mpd_poll > "$p/mpc.txt" 2>&1 &
    local poller=$!

    # all play (1 s of output each), or 15 s pass
    local t0
    t0=$(now_ms)
    while [ $(( $(now_ms) - t0 )) -lt 15000 ]; do
        missing=""
        for n in "${pcm_players[@]}"; do [ "$(client_audio_ms "$n" 176400)" -ge 1000 ] || missing+=" $n"; done
        [ "$(client_audio_ms streamripper 16000)" -ge 1000 ] || missing+=" streamripper"
        [ -z "$missing" ] && break
        client_watch; sleep 0.2
    done
    [ -n "$missing" ] && echo "# not playing after $(( $(now_ms) - t0 )) ms:$missing"
    local ev=$p/events restart_rc
    echo "play $(now_ms)" > "$ev"
    client_sleep 6
    CLIENT_T_RESTART=$(now_ms); echo "restart $CLIENT_T_RESTART" >> "$ev"
    restart_server; restart_rc=$?
    echo "up $(now_ms)" >> "$ev"
    client_sleep 2.5
    # MPD stops when its one try at once is refused: its user plays it again
    if ! client_mpc status 2>/dev/null | grep -q '^\[playing\]'; then
        client_mpc -q play >> "$p/mpc-start.out" 2>&1; echo "replay $(now_ms)" >> "$ev"
    fi
    client_sleep 3.5
    echo "reload $(now_ms)" >> "$ev"
    kill -USR1 "$PID"
    client_sleep 3.5
    echo "title2 $(now_ms)" >> "$ev"
    admin_get "-u admin:secret" "mount=/live.mp3&mode=updinfo&song=${CLIENT_TITLE2// /%20}"
    cp "$DIR/a.body" "$p/title2.body"
    client_sleep 7.5
    echo "end $(now_ms)" >> "$ev"
    for n in "${!CLIENT_PID[@]}"; do client_stop "$n"; done
    touch "$p/stop"
    wait "$poller" 2>/dev/null
    wait "$recorder" 2>/dev/null
    stop_server
    rm -rf "$vdir"
    local why=$DIR/why
    { [ "$restart_rc" = 0 ] || echo "lighttpd did not start again: $(tail -3 "$DIR/stderr.log")"
      grep -q '<return>1</return>' "$p/title2.body" || echo "the second title was not set: $(cat "$p/title2.body")"; } > "$why"
    verdict "$label: lighttpd restarted ($RESTART_MS ms) and reloaded under nine players; the admin URL set the titles" "$why"

    # streamripper's rip: its files in the order written, decoded
    local f
    : > "$p/streamripper.mp3"
    while IFS= read -r f; do cat "$p/rip/$f" >> "$p/streamripper.mp3"; done < <(cd "$p/rip" && ls -tr -- *.mp3 2>/dev/null)
    timeout 30 mpg123 -q -s -r 44100 -e s16 "$p/streamripper.mp3" > "$p/streamripper.raw" 2> "$p/streamripper.mpg123err"

    # name  bps  expect  restart_bound reload_bound  titles  title regex
    local rows="ffmpeg 176400 ride 1500 1500 follows Metadata update for StreamTitle: (.*)$
mpv 176400 ride 1500 1500 kept ^\[title\] title=(.*)$
vlc 176400 ride 2500 1500 follows New Icy-Title=(.*)$
mpg123 176400 ride 1500 1500 follows ICY-META: StreamTitle='(.*)';
mplayer 176400 ride 1500 1500 follows ICY Info: StreamTitle='(.*?)';
gst 176400 ends 1500 1500 follows ^\s+title: (.*)$
liquidsoap 176400 ride 1500 1500 follows ^liquidsoap title=(.*)$
mpd 176400 stops 1500 1500 follows ^mpc state=playing title=(.*)$
streamripper 16000 ride 2500 2500 follows ^\[[a-z. -]+[^]]*\] +(.*?)( \[ *[0-9.]+ *[kmb]+\])?$"
    local bps expect rbound lbound titles re lead log
    while read -r n bps expect rbound lbound titles re; do
        lead=$(timeout 30 python3 "$WORK/client_judge.py" lead "$p/$n.raw")
        timeout 60 "$TOOLS/pcmcheck" --rate 44100 --channels 2 --expect-hz 997 --tol-hz 3 --min-ms 1000 \
            --skip-ms $(( lead + 300 )) "$p/$n.raw" > "$p/$n.pcmcheck" 2>&1
        log=$p/$n.log; [ "$n" = mpd ] && log=$p/mpc.log
        timeout 60 python3 "$WORK/client_judge.py" name="$n" events="$ev" tlog="$p/$n.tlog" bps="$bps" \
            lead="$lead" pcm="$p/$n.pcmcheck" log="$log" title_re="$re" titles="$titles" expect="$expect" \
            restart_bound="$rbound" reload_bound="$lbound" exited="${CLIENT_EXITED[$n]:-}" \
            heard_re="$([ "$n" = mpv ] && echo 'Metadata update for StreamTitle: (.*)$')" \
            t1="$CLIENT_TITLE1" t2="$CLIENT_TITLE2" summary="$p/$n.summary" > "$why" 2>&1
        verdict "$label: $n: $(cat "$p/$n.summary" 2>/dev/null)" "$why"
    done <<< "$rows"
    sanitizer_reports "$label"
}
