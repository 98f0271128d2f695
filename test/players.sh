# shellcheck shell=bash
# Integration tests with real players (issue 7), sourced by test/integration.sh:
# mpg123, ffmpeg/ffprobe, mpv, VLC and headless Chromium each fetch the live
# stream from lighttpd themselves and decode or play it, and the web player
# page (player/index.html) is played in Chromium. player_tests lists them.
#
# Chromium: it runs headless (as root: --no-sandbox), with every host name
# but 127.0.0.1 unresolvable. With no sound card it plays to a fake audio
# output, which is paced by the clock like a real one: the tests check that
# the <audio> element's currentTime advances about 1 s per s. A test page
# reports what it sees by fetching /report?... from lighttpd, whose access
# log (piped, so written at once) the test reads. "Headless" Chromium runs
# until the page's load event and then takes its screenshot or dumps its DOM
# and exits: the page loads an async <script> from /hold.mp3, a stream that
# never ends until the test makes its device vanish (outage-ms 0), so the
# test decides when the page is done.
player_tests=()

# shellcheck disable=SC2154  # here: test/, set by test/integration.sh
PLAYER_DIR=$(cd "$here/.." && pwd)/player
PLAYER_TITLE="Morning Show - It's live"

# tone_check FILE MIN_MS: FILE (raw s16le or a 16-bit WAV, 44.1 kHz stereo)
# holds at least MIN_MS of the 997 Hz tone with no dropout or phase jump;
# prints what is wrong, nothing when all is right
tone_check() {
    if "$TOOLS/pcmcheck" --rate 44100 --channels 2 --expect-hz 997 --tol-hz 3 --min-ms "$2" "$1" > "$1.pcm" 2>&1; then
        return 0
    fi
    echo "${1##*/}: pcmcheck failed:"; sed 's/^/  /' "$1.pcm"
}
# pcm_ms FILE: the duration pcmcheck measured (after its first 300 ms)
pcm_ms() { sed -n 's/.*duration_ms=\([0-9]*\).*/\1/p' "$1.pcm"; }

# player_server NAME: lighttpd with /live.mp3 (997 Hz, titled), live
player_server() {
    start_server "$1" "$MODULES
audiostream.streams = ( \"/live.mp3\" => ( \"device\" => \"tone997\", \"title\" => \"$PLAYER_TITLE\" ) )" \
        || { fail "$1: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return 1; }
    wait_live /live.mp3 || { fail "$1: stream never went live"; stop_server; return 1; }
}

# mpg123 as the HTTP client (the other tests use it on files curl saved):
# it asks for ICY metadata, strips it and decodes 6 s of the live stream.
player_tests+=(test_player_mpg123)
test_player_mpg123() {
    player_server player-mpg123 || return
    echo "# $(player_version mpg123)"
    local why=$DIR/why t0 ms rc
    t0=$(now_ms)
    # 230 frames of 1152 samples: 6.0 s; -v prints the format and ICY titles,
    # the titles only in a UTF-8 locale (in C it prints none)
    LC_ALL=C.UTF-8 timeout 20 mpg123 -v -n 230 -s "$URL/live.mp3" > "$DIR/mpg123.raw" 2> "$DIR/mpg123.err"; rc=$?
    ms=$(( $(now_ms) - t0 ))
    { [ "$rc" = 0 ] || echo "mpg123 exit $rc: $(tr '\r' '\n' < "$DIR/mpg123.err" | tail -3)"
      grep -aq 'MPEG 1.0 L III cbr128 44100 j-s' "$DIR/mpg123.err" \
          || echo "mpg123 did not find MPEG 1.0 layer III, 128 kbit/s CBR, 44.1 kHz, joint stereo: $(grep -a 'MPEG' "$DIR/mpg123.err")"
      grep -aqF "ICY-META: StreamTitle='$PLAYER_TITLE';" "$DIR/mpg123.err" \
          || echo "mpg123 did not print the title: $(tr '\r' '\n' < "$DIR/mpg123.err" | grep -a ICY)"
      tone_check "$DIR/mpg123.raw" 5500
      # the burst arrives at once (burst-ms), the rest live
      [ "$ms" -ge $(( (5 - BURST_S) * 1000 )) ] || echo "6 s of audio in $ms ms: not a live stream"; } > "$why"
    verdict "mpg123 plays the URL: MPEG-1 layer III 128 kbit/s 44.1 kHz joint stereo, ICY title, the 997 Hz tone whole ($(pcm_ms "$DIR/mpg123.raw") ms), live ($ms ms for 6 s)" "$why"
    stop_server
    sanitizer_reports "player mpg123"
}

# ffprobe reads the stream's format and title; ffmpeg decodes 6 s of it.
player_tests+=(test_player_ffmpeg)
test_player_ffmpeg() {
    player_server player-ffmpeg || return
    echo "# $(player_version ffmpeg)"
    local why=$DIR/why t0 ms rc
    timeout 20 ffprobe -v error -show_format -show_streams -of json "$URL/live.mp3" \
        > "$DIR/ffprobe.json" 2> "$DIR/ffprobe.err"; rc=$?
    { [ "$rc" = 0 ] || echo "ffprobe exit $rc: $(tail -3 "$DIR/ffprobe.err")"
      python3 -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
    s, f = d["streams"], d["format"]
except Exception as e:
    print("ffprobe output does not parse:", e); sys.exit(0)
got = [(x.get("codec_type"), x.get("codec_name"), x.get("sample_rate"), x.get("channels"), x.get("bit_rate")) for x in s]
want = [("audio", "mp3", "44100", 2, "128000")]
if got != want:
    print("streams (type, codec, rate, channels, bitrate): %r, want %r" % (got, want))
if f.get("format_name") != "mp3":
    print("format: %r" % f.get("format_name"))
if f.get("tags", {}).get("StreamTitle") != sys.argv[2]:
    print("StreamTitle: %r, want %r" % (f.get("tags", {}).get("StreamTitle"), sys.argv[2]))' "$DIR/ffprobe.json" "$PLAYER_TITLE"; } > "$why"
    verdict "ffprobe: codec mp3, 44100 Hz, 2 channels, 128 kbit/s, StreamTitle from ICY metadata" "$why"
    t0=$(now_ms)
    timeout 20 ffmpeg -nostdin -v error -t 6 -i "$URL/live.mp3" -f s16le -ar 44100 -ac 2 "$DIR/ffmpeg.raw" 2> "$DIR/ffmpeg.err"; rc=$?
    ms=$(( $(now_ms) - t0 ))
    { [ "$rc" = 0 ] || echo "ffmpeg exit $rc: $(tail -3 "$DIR/ffmpeg.err")"
      tone_check "$DIR/ffmpeg.raw" 5500
      [ "$ms" -ge 4000 ] || echo "6 s of audio in $ms ms: not a live stream"; } > "$why"
    verdict "ffmpeg decodes the URL: the 997 Hz tone whole ($(pcm_ms "$DIR/ffmpeg.raw") ms), live ($ms ms for 6 s)" "$why"
    stop_server
    sanitizer_reports "player ffmpeg"
}

# mpv plays the stream to its null output, which is timed like a sound card:
# its position must follow its clock. A second mpv decodes it to a file.
player_tests+=(test_player_mpv)
test_player_mpv() {
    player_server player-mpv || return
    echo "# $(player_version mpv)"
    cat > "$DIR/clock.lua" <<'EOF'
-- twice a second: mpv's clock and the playback position
mp.add_periodic_timer(0.5, function()
    local pos = mp.get_property_number("time-pos")
    print(string.format("clock=%.3f pos=%s", mp.get_time(), pos and string.format("%.3f", pos) or "none"))
end)
EOF
    local why=$DIR/why t0 ms pids=()
    t0=$(now_ms)
    timeout 25 mpv --no-config --no-video --ao=null --length=7 --script="$DIR/clock.lua" "$URL/live.mp3" \
        > "$DIR/mpv-play.out" 2>&1 & pids+=($!)
    timeout 25 mpv --no-config --no-video --ao=pcm --ao-pcm-file="$DIR/mpv.wav" --audio-format=s16 --length=6 \
        "$URL/live.mp3" > "$DIR/mpv-pcm.out" 2>&1 & pids+=($!)
    local rc_play=0 rc_pcm=0
    wait "${pids[0]}" || rc_play=$?
    ms=$(( $(now_ms) - t0 ))
    wait "${pids[1]}" || rc_pcm=$?
    { [ "$rc_play" = 0 ] || echo "mpv (null output) exit $rc_play: $(tail -3 "$DIR/mpv-play.out")"
      [ "$rc_pcm" = 0 ] || echo "mpv (pcm output) exit $rc_pcm: $(tail -3 "$DIR/mpv-pcm.out")"
      grep -q 'Audio --aid=1 (mp3 2ch 44100Hz)' "$DIR/mpv-play.out" || echo "mpv: $(grep -i audio "$DIR/mpv-play.out")"
      grep -qF "icy-title: $PLAYER_TITLE" "$DIR/mpv-play.out" || echo "mpv did not print the title: $(grep -i icy "$DIR/mpv-play.out")"
      # 7 s played at 1x take 7 s, burst or not
      [ "$ms" -ge 6300 ] || echo "mpv played 7 s in $ms ms: faster than real time"
      awk '/clock=[0-9.]+ pos=[0-9.]+/ { split($0, a, /clock=| pos=/); c = a[2] + 0; p = a[3] + 0
               if (n == 0) { c0 = c; p0 = p } c1 = c; p1 = p; n++ }
           END { span = c1 - c0
                 if (n < 2 || span < 5) { printf "mpv reported a position for %.1f s only (%d readings)\n", span, n; exit }
                 r = (p1 - p0) / span
                 if (r < 0.8 || r > 1.2) printf "position advanced %.2f s in %.2f s of mpv clock (ratio %.2f)\n", p1 - p0, span, r }' \
          "$DIR/mpv-play.out"
      tone_check "$DIR/mpv.wav" 5500; } > "$why"
    verdict "mpv plays the URL in real time (position follows its clock, 7 s in $ms ms), ICY title, decodes the 997 Hz tone whole ($(pcm_ms "$DIR/mpv.wav") ms)" "$why"
    stop_server
    sanitizer_reports "player mpv"
}

# VLC refuses to run as root: it runs as nobody, with a home and output
# directory of its own, and transcodes 6 s of the stream to a WAV file.
player_tests+=(test_player_vlc)
test_player_vlc() {
    player_server player-vlc || return
    echo "# $(player_version vlc-bin), $(player_version vlc-plugin-base)"
    local why=$DIR/why t0 ms rc vdir owner=""
    vdir=$(mktemp -d /tmp/audiostream-vlc.XXXXXX) && chown nobody: "$vdir"
    t0=$(now_ms)
    timeout 25 runuser -u nobody -- env -u ALSA_CONFIG_PATH HOME="$vdir" \
        cvlc -q --no-video --run-time=6 --play-and-exit \
        --sout "#transcode{acodec=s16l,channels=2,samplerate=44100}:std{access=file,mux=wav,dst=$vdir/vlc.wav}" \
        "$URL/live.mp3" vlc://quit > "$DIR/vlc.out" 2>&1; rc=$?
    ms=$(( $(now_ms) - t0 ))
    [ -f "$vdir/vlc.wav" ] && owner=$(stat -c %U "$vdir/vlc.wav") && cp "$vdir/vlc.wav" "$DIR/vlc.wav"
    rm -rf "$vdir"
    { [ "$rc" = 0 ] || echo "cvlc exit $rc: $(tail -3 "$DIR/vlc.out")"
      [ "$owner" = nobody ] || echo "VLC's output is owned by '$owner', want nobody"
      tone_check "$DIR/vlc.wav" 5000
      [ "$ms" -ge 4000 ] || echo "6 s of audio in $ms ms: not a live stream"; } > "$why"
    verdict "VLC (cvlc as nobody) decodes the URL to WAV: the 997 Hz tone whole ($(pcm_ms "$DIR/vlc.wav") ms), live ($ms ms for 6 s)" "$why"
    stop_server
    sanitizer_reports "player VLC"
}

# ---- Chromium ----

# the analysis of a page's reports: the access log's "/report?..." lines
# read back, and checks on them (see player_reports below)
player_reports_py() {
    cat > "$WORK/player_reports.py" <<'EOF'
import re, sys, urllib.parse

def read(path):
    """the /report?... requests as dicts (ms: lighttpd's clock when it was
    answered), and every other request as (ms, status, method, path)"""
    reports, others = [], []
    for line in open(path, encoding="utf-8", errors="replace"):
        f = line.split(" ")
        if len(f) < 4 or not f[0].isdigit():
            continue
        ms, status, method, uri = int(f[0]), f[1], f[2], f[3]
        if uri.startswith("/report?"):
            d = {k: v[0] for k, v in urllib.parse.parse_qs(uri[8:], keep_blank_values=True).items()}
            d["ms"] = ms
            reports.append(d)
        else:
            others.append((ms, status, method, uri))
    return reports, others

def pace(rs, what, min_span):
    """readings rs (dicts with ct, pt, ms) of one element: currentTime
    advanced about 1 s per s of lighttpd's clock and of the page's, without
    stalling; returns (problems, summary)"""
    p = [r for r in rs if "ct" in r and float(r["ct"]) > 0]
    if len(p) < 2:
        return ["%s: currentTime never advanced (%d readings; last: %r)" % (what, len(rs), rs[-1] if rs else None)], "none"
    a, b = p[0], p[-1]
    wall = (b["ms"] - a["ms"]) / 1000.0
    page = (int(b["pt"]) - int(a["pt"])) / 1000.0
    media = float(b["ct"]) - float(a["ct"])
    out = []
    if wall < min_span:
        out.append("%s: played for %.1f s only, want %.1f s" % (what, wall, min_span))
    for clock, span in (("lighttpd's clock", wall), ("the page's clock", page)):
        if span <= 0 or not 0.8 <= media / span <= 1.2:
            out.append("%s: currentTime advanced %.2f s in %.2f s of %s" % (what, media, span, clock))
    for x, y in zip(p, p[1:]):
        if float(y["ct"]) < float(x["ct"]):
            out.append("%s: currentTime went back from %s to %s" % (what, x["ct"], y["ct"]))
    # no stall: over every 2 s, at least 1 s more was played
    for i, x in enumerate(p):
        later = [y for y in p[i:] if y["ms"] >= x["ms"] + 2000]
        if later and float(later[0]["ct"]) - float(x["ct"]) < 1.0:
            out.append("%s: stalled: currentTime %s at %d ms, %s at %d ms" % (what, x["ct"], x["ms"], later[0]["ct"], later[0]["ms"]))
            break
    return out, "%.1f s in %.1f s" % (media, wall)

def main():
    mode, log, summary = sys.argv[1], sys.argv[2], sys.argv[3]
    reports, others = read(log)
    problems, info = [], []
    if mode == "audio":
        ev = [r for r in reports if "event" in r]
        if not any(r["event"] == "playing" for r in ev):
            problems.append("play() did not resolve: %r" % ev)
        for r in ev:
            if r["event"] != "playing":
                problems.append("event %r" % r)
        if not any(o[1] == "200" and o[3] == "/live.mp3" for o in others):
            problems.append("no 200 GET /live.mp3 in the access log: %r" % [o for o in others if "live" in o[3]])
        out, s = pace([r for r in reports if "ct" in r], "<audio>", 6.0)
        problems += out
        info.append(s)
    elif mode in ("page", "titles", "listeners", "down"):
        t = dict(a.split("=", 1) for a in sys.argv[4:])
        main_r = [r for r in reports if r.get("frame") == "main" and "ct" in r]
        down_r = [r for r in reports if r.get("frame") == "down" and "ct" in r]
        ev = {(r.get("frame"), r.get("event")): r["ms"] for r in reports if "event" in r}
        if mode == "page":
            clicked = ev.get(("main", "click-play"))
            if clicked is None:
                problems.append("the play button was never clicked (the page did not load?)")
                clicked = 0
            out, s = pace([r for r in main_r if r["ms"] >= clicked], "player page", 8.0)
            problems += out
            info.append(s)
            if main_r:
                last = main_r[-1]
                if (last["state"], last["button"], last["error"]) != ("playing", "Stop", ""):
                    problems.append("at the end: state %r, button %r, error %r; want playing, Stop, no error"
                                    % (last["state"], last["button"], last["error"]))
            errs = sorted({r["error"] for r in main_r if r["error"]})
            if errs:
                problems.append("the page showed errors: %r" % errs)
        elif mode == "titles":
            cfg, adm, upd = t["config"], t["admin"], int(t["update"])
            before = [r for r in main_r if r["ms"] < upd]
            if not any(r["title"] == cfg for r in before):
                problems.append("before the update the page never showed %r: %r" % (cfg, sorted({r["title"] for r in before})))
            shown = [r for r in main_r if r["title"] == adm]
            if not shown:
                problems.append("the page never showed the admin title %r: %r" % (adm, sorted({r["title"] for r in main_r})))
            else:
                first = shown[0]["ms"]
                if first < upd:
                    problems.append("the admin title was shown %d ms before it was set" % (upd - first))
                if first > upd + 4000:
                    problems.append("the admin title was shown %d ms after it was set (status read every 1 s)" % (first - upd))
                info.append("%d ms" % (first - upd))
                stale = [r for r in main_r if r["ms"] > first and r["title"] != adm]
                if stale:
                    problems.append("after the admin title, the page showed %r" % stale[0]["title"])
            names = sorted({r["name"] for r in main_r if r["ms"] > upd})
            if names != [t["name"]]:
                problems.append("station name shown: %r, want %r" % (names, t["name"]))
            fmts = sorted({r["format"] for r in main_r if r["ms"] > upd})
            if fmts != [t["format"]]:
                problems.append("format shown: %r, want %r" % (fmts, t["format"]))
        elif mode == "listeners":
            c0, c1 = int(t["curls"]), int(t["curls_end"])
            seen = lambda rs: sorted({r["listeners"] for r in rs})
            before = [r for r in main_r if r["ms"] < c0]
            during = [r for r in main_r if c0 + 1500 < r["ms"] < c1]
            after = [r for r in main_r if r["ms"] > c1 + 2500]
            if not any(r["listeners"] == "1" for r in before):
                problems.append("alone, the page never showed 1 listener: %r" % seen(before))
            if not any(r["listeners"] == "3" for r in during):
                problems.append("with two more listeners, the page never showed 3: %r" % seen(during))
            if not after or after[-1]["listeners"] != "1":
                problems.append("after they left, the page shows %r, want 1" % (after[-1]["listeners"] if after else None))
            info.append("%s, %s, %s" % ("/".join(seen(before)), "/".join(seen(during)), "/".join(seen(after))))
        elif mode == "down":
            plug, hold = int(t["plug"]), int(t["hold"])
            before = [r for r in down_r if r["ms"] < plug]
            shown = [r for r in before if "HTTP 503" in r["error"] and "no audio from its device" in r["error"]
                     and r["state"] == "off the air"]
            if not shown:
                problems.append("before the device came back the page never showed the 503: %r"
                                % sorted({(r["state"], r["error"]) for r in before}))
            if not any(r["note"].startswith("The capture device is down") for r in before):
                problems.append("the page never said the device is down: %r" % sorted({r["note"] for r in before}))
            stop = ev.get(("down", "click-stop"))
            played = [r for r in down_r if r["ms"] > plug]   # pace() takes those with currentTime > 0
            out, s = pace(played, "after the device came back", 2.0)
            problems += out
            info.append(s)
            if any(r["error"] for r in played if r["state"] == "playing"):
                problems.append("the error stayed on screen while playing")
            if stop is None:
                problems.append("the page never played 3 s after the device came back (no click on stop)")
            else:
                after = [r for r in down_r if r["ms"] > stop + 600]
                if not after or (after[-1]["state"], after[-1]["button"]) != ("stopped", "Play"):
                    problems.append("after stop: %r" % ((after[-1]["state"], after[-1]["button"]) if after else None))
                # the connection ended when stop was pressed, not when the page went away
                ends = [o[0] for o in others if o[1] == "200" and o[3] == "/down.mp3" and stop - 1000 <= o[0] < hold]
                if not ends:
                    problems.append("no 200 GET /down.mp3 ended between the click on stop (%d) and the end of the page (%d): %r"
                                    % (stop, hold, [o for o in others if o[3] == "/down.mp3"]))
    elif mode == "resume":
        # the page's readings of the <audio> element (ms: the page server's
        # clock) around the times the test stopped the audio server and had
        # it accepting again
        t = dict(a.split("=", 1) for a in sys.argv[4:])
        stop, up, max_gap = int(t["stop"]), int(t["up"]), int(t["max_gap"])
        ev = [r for r in reports if "event" in r]
        if not any(r["event"] == "playing" for r in ev):
            problems.append("play() did not resolve: %r" % ev)
        for r in ev:
            if r["event"] == "ended":
                problems.append("event ended at %s s, %d ms after the stop: Chromium took the closed connection for the end of the stream"
                                % (r.get("at"), r["ms"] - stop))
            elif r["event"] in ("error", "rejected"):
                problems.append("event %r (the stop at %d ms)" % (r, stop))
        rs = sorted((r for r in reports if "ct" in r), key=lambda r: int(r["n"]))
        # the readings at which currentTime had moved on since the one before
        adv = [y for x, y in zip(rs, rs[1:]) if float(y["ct"]) > float(x["ct"])]
        before = [r for r in adv if r["ms"] <= stop]
        after = [r for r in adv if r["ms"] > stop]
        if not before:
            problems.append("currentTime never advanced before the restart (%d readings)" % len(rs))
        else:
            # the longest it stood still, from its last advance before the
            # stop on (Chromium plays what it has buffered, then waits for
            # the reconnect's bytes), up to the last reading if it never
            # moved again
            seq = [before[-1]] + after
            gap, x, y = max(((b["ms"] - a["ms"], a, b) for a, b in zip(seq, seq[1:])),
                            key=lambda g: g[0], default=(0, seq[0], seq[0]))
            end = rs[-1]["ms"] - seq[-1]["ms"]
            ended = [r for r in ev if r["event"] == "ended"]
            if ended:
                info.append("until it ended at %s s" % ended[0].get("at"))
                y = None
            elif end > gap and end > max_gap:
                info.append("%d ms or more (never again)" % end)
                problems.append("currentTime stood still at %s s from %d ms to the last reading, %d ms later (lighttpd stopped at %d ms, up at %d ms)"
                                % (seq[-1]["ct"], seq[-1]["ms"], end, stop, up))
                y = None
            else:
                info.append("%d ms" % gap)
            if y is not None and gap > max_gap:
                problems.append("currentTime stood still for %d ms (at %s s from %d ms to %d ms; lighttpd stopped at %d ms, up at %d ms), want <= %d ms"
                                % (gap, x["ct"], x["ms"], y["ms"], stop, up, max_gap))
        if before and y is not None:
            # after the stall, or from the stop when there was none (a reload
            # that keeps the capture leaves Chromium enough in hand, and the
            # longest gap is then just the readings' jitter, anywhere)
            since = y["ms"] if gap >= 1000 else stop
            out, s = pace([r for r in rs if r["ms"] >= since], "after the restart", 4.0)
            problems += out
            info.append("then %s" % s)
    elif mode == "reconnect":
        # the audio server's view, from its error log (debug.log-request-header
        # and -response-header): the first GET /live.mp3 answered 200, and
        # the first one the restarted server got a Range request for the
        # bytes from where it was, answered 206 from there
        t = dict(a.split("=", 1) for a in sys.argv[4:])
        gets, on_fd, run = [], {}, 0
        for line in open(t["audio_log"], encoding="utf-8", errors="replace"):
            if "server started" in line:
                run += 1
                continue
            m = re.search(r"\) fd:(\d+) (rqst|resp): (.*)$", line.rstrip("\n"))
            if not m:
                continue
            fd, kind, text = m.groups()
            if kind == "rqst" and re.match(r"[A-Z]+ ", text):
                on_fd[fd] = {"run": run, "range": None, "status": None, "content_range": None} \
                    if text.startswith("GET /live.mp3 ") else None
                if on_fd[fd]:
                    gets.append(on_fd[fd])
            elif on_fd.get(fd) is None:
                continue
            elif kind == "rqst" and text.lower().startswith("range:"):
                on_fd[fd]["range"] = text.split(":", 1)[1].strip()
            elif kind == "resp" and text.startswith("HTTP/"):
                on_fd[fd]["status"] = text.split(" ")[1]
            elif kind == "resp" and text.lower().startswith("content-range:"):
                on_fd[fd]["content_range"] = text.split(":", 1)[1].strip()
        first = [g for g in gets if g["run"] == 1]
        again = [g for g in gets if g["run"] == 2]
        if not first or first[0]["status"] != "200":
            problems.append("the first GET /live.mp3 was not answered 200: %r" % first[:1])
        if not again:
            problems.append("no GET /live.mp3 reached the restarted server (%d before the restart)" % len(first))
        else:
            a = again[0]
            m = re.fullmatch(r"bytes=(\d+)-", a["range"] or "")
            want = "bytes %s-%d/*" % (m.group(1), int(m.group(1)) + 10**12 - 1) if m else None
            if not m or int(m.group(1)) == 0:
                problems.append("the reconnect did not ask for the bytes from where it was: Range %r" % a["range"])
            elif (a["status"], a["content_range"]) != ("206", want):
                problems.append("the reconnect (Range %r) got %s, Content-Range %r; want 206, %r"
                                % (a["range"], a["status"], a["content_range"], want))
            if len(again) > 1:
                problems.append("%d more GETs after it: %r" % (len(again) - 1, again[1:]))
        info.append("first: Range %s -> %s; after the restart: %s" % (
            first[0]["range"] if first else "?", first[0]["status"] if first else "?",
            "Range %s -> %s" % (again[0]["range"], again[0]["status"]) if again else "none"))
    for line in problems:
        print(line)
    open(summary, "w").write(", ".join(info))

main()
EOF
}

# player_reports MODE ARGS...: runs a check on $DIR/access.log; prints what
# is wrong, sets SUMMARY to what it measured
player_reports() {
    [ -f "$WORK/player_reports.py" ] || player_reports_py
    local mode=$1; shift
    python3 "$WORK/player_reports.py" "$mode" "$DIR/access.log" "$DIR/summary" "$@" 2>&1
    SUMMARY=$(cat "$DIR/summary" 2>/dev/null)
}

# chromium_start OUTPUT_OPTION URL [OPTION...]: headless Chromium on URL in
# the background (CHROMIUM_PID), its output in $DIR/chromium.log. With
# --dump-dom or --screenshot and --timeout=MS it ends when the page's load
# event comes (the test ends /hold.mp3), at the latest after MS; with
# neither it stays until it is killed. 127.0.0.1 and 127.0.0.2 (another
# site) resolve, no other host.
CHROMIUM_PID=""
chromium_start() {
    mkdir -p "$DIR/chromium-home"
    env -u ALSA_CONFIG_PATH HOME="$DIR/chromium-home" XDG_CONFIG_HOME="$DIR/chromium-home" \
        XDG_CACHE_HOME="$DIR/chromium-home" \
        timeout 75 chromium --headless --no-sandbox --user-data-dir="$DIR/chromium-profile" \
        --no-first-run --disable-gpu --disable-extensions --disable-sync --disable-default-apps \
        --disable-background-networking --disable-component-update \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2" \
        --autoplay-policy=no-user-gesture-required --window-size=800,600 \
        "${@:3}" "$1" "$2" > "$DIR/chromium.out" 2> "$DIR/chromium.log" &
    CHROMIUM_PID=$!
}

# wait_report REGEX TENTHS: until a line of the access log matches (grep -E)
wait_report() {
    for _ in $(seq 1 "$2"); do
        grep -qE -- "$1" "$DIR/access.log" 2>/dev/null && return 0
        kill -0 "$CHROMIUM_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# chromium_finish: ends /hold.mp3 (its device vanishes), so the page's load
# event comes and Chromium writes its output and exits; waits for it
chromium_finish() {
    rm -f "$WORK/player-hold.present"
    for _ in $(seq 1 150); do kill -0 "$CHROMIUM_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$CHROMIUM_PID" 2>/dev/null
    wait "$CHROMIUM_PID" 2>/dev/null
    CHROMIUM_RC=$?
}

# the devices of the Chromium tests: /hold.mp3's, present until the test
# ends the page; and one absent until the test plugs it
player_devices() {
    grep -q '^pcm.player_hold ' "$WORK/asound.conf" || cat >> "$WORK/asound.conf" <<EOF
pcm.player_hold { type testtone frequency 440 present_file "$WORK/player-hold.present" }
pcm.player_down { type testtone frequency 660 present_file "$WORK/player-down.present" }
EOF
    touch "$WORK/player-hold.present"
    rm -f "$WORK/player-down.present"
}

# what the Chromium tests' lighttpd has besides the streams
player_conf() {
    echo "server.modules += ( \"mod_alias\", \"mod_accesslog\", \"mod_auth\", \"mod_authn_file\", \"mod_audiostream\" )
accesslog.filename = \"|exec cat > $WORK/$1/access.log\"
accesslog.format = \"%{msec}t %s %r\"
mimetype.assign += ( \".html\" => \"text/html; charset=utf-8\" )
index-file.names = ( \"index.html\" )
alias.url = ( \"/player/\" => \"$PLAYER_DIR/\" )"
}

# A bare <audio> element in Chromium plays the stream in real time.
player_tests+=(test_player_chromium)
test_player_chromium() {
    player_devices
    start_server chromium "$(player_conf chromium)
audiostream.streams = (
  \"/live.mp3\" => ( \"device\" => \"tone997\" ),
  \"/hold.mp3\" => ( \"device\" => \"player_hold\", \"outage-ms\" => 0 ),
)" || { fail "chromium: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    wait_live /live.mp3 && wait_live /hold.mp3 || { fail "chromium: streams never went live"; stop_server; return; }
    echo "# $(player_version chromium)"
    cat > "$DIR/htdocs/audio.html" <<'EOF'
<!DOCTYPE html><meta charset="utf-8"><title>audio element</title>
<p>&lt;audio&gt; playing /live.mp3: <span id="s">loading</span>
<audio id="a" src="/live.mp3" controls></audio>
<script async src="/hold.mp3"></script>
<script>
var a = document.getElementById('a'), t0 = performance.now(), n = 0;
function report(q) { fetch('/report?n=' + n++ + '&' + q, { cache: 'no-store' }).catch(function () {}); }
a.addEventListener('error', function () { report('event=error&code=' + (a.error && a.error.code)); });
a.play().then(function () { report('event=playing'); },
              function (e) { report('event=rejected&err=' + encodeURIComponent(e.name + ': ' + e.message)); });
setInterval(function () {
  document.getElementById('s').textContent = a.currentTime.toFixed(1) + ' s';
  report('ct=' + a.currentTime.toFixed(3) + '&pt=' + (performance.now() - t0).toFixed(0) +
         '&rs=' + a.readyState + '&paused=' + a.paused);
}, 500);
</script>
EOF
    local why=$DIR/why
    chromium_start --dump-dom "$URL/audio.html" --timeout=60000
    # played 9 s (by its own account), or gave up
    wait_report 'GET /report\?n=[0-9]+&ct=(9|[1-9][0-9])\.' 400
    chromium_finish
    stop_server
    { player_reports audio
      [ "$CHROMIUM_RC" = 0 ] || echo "chromium exit $CHROMIUM_RC: $(grep -v 'dbus\|ALSA lib' "$DIR/chromium.log" | tail -5)"
      grep -q '<span id="s">[0-9.]* s</span>' "$DIR/chromium.out" || echo "the DOM Chromium dumped: $(head -c 300 "$DIR/chromium.out")"; } > "$why"
    verdict "Chromium $(dpkg-query -W -f='${Version}' chromium 2>/dev/null): an <audio> element plays the stream, currentTime advances ~1 s per s ($SUMMARY)" "$why"
    # no sound card: what Chromium said when it looked for one
    grep -q 'PcmOpen' "$DIR/chromium.log" \
        && echo "# chromium opened no ALSA device ($(grep -m1 -o 'PcmOpen: .*' "$DIR/chromium.log")): it played to its fake audio output"
    sanitizer_reports "player chromium"
}

# Chromium's <audio> resumes at once when lighttpd restarts or reloads
# under it: its media stack reconnects with "Range: bytes=N-", N the bytes
# it had, and the module answers 206 with the stream from live. Answered
# 200, Chromium took the first N bytes of the new response for the ones it
# had and was silent as long as it had played. The page and /hold.mp3 are
# on one lighttpd, the audio on a second one (its error log shows the Range
# and the answer), which the test restarts on its port (SIGTERM, then a new
# lighttpd) or reloads (SIGUSR1: lighttpd restarts in its process, and the
# module cuts the streams) after 8 s of playing. A response that ends
# properly (the last chunk) or by a close it cannot tell from its end is
# taken for the end of the stream: Chromium fires "ended" and never
# reconnects, and the test says so.
player_tests+=(test_player_chromium_resume test_player_chromium_reload)
test_player_chromium_resume() { chromium_resume_case restart; }
test_player_chromium_reload() { chromium_resume_case reload; }

# chromium_resume_case restart|reload: the test above, through a restart
# (SIGTERM and a new lighttpd) or a reload (SIGUSR1)
chromium_resume_case() {
    local how=$1 max_gap=3000
    player_devices
    start_server resume-audio "$MODULES
debug.log-request-header = \"enable\"
debug.log-response-header = \"enable\"
$STREAM_997" || { fail "chromium resume: the audio lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    wait_live /live.mp3 || { fail "chromium resume: stream never went live"; stop_server; return; }
    local audio_dir=$DIR audio_pid=$PID audio_url=$URL
    start_server resume-page "$(player_conf resume-page)
audiostream.streams = ( \"/hold.mp3\" => ( \"device\" => \"player_hold\", \"outage-ms\" => 0 ) )" \
        || { fail "chromium resume: the page's lighttpd did not start" "$(cat "$DIR/stderr.log")"; PID=$audio_pid stop_server; return; }
    wait_live /hold.mp3 || { fail "chromium resume: /hold.mp3 never went live"; stop_server; PID=$audio_pid stop_server; return; }
    local page_pid=$PID
    echo "# $(player_version chromium)"
    # the audio's URL comes in the query string; readings every 250 ms
    cat > "$DIR/htdocs/resume.html" <<'HTML'
<!DOCTYPE html><meta charset="utf-8"><title>audio element across a restart</title>
<p>&lt;audio&gt;: <span id="s">loading</span>
<audio id="a" controls></audio>
<script async src="/hold.mp3"></script>
<script>
var a = document.getElementById('a'), t0 = performance.now(), n = 0;
function report(q) { fetch('/report?n=' + n++ + '&' + q, { cache: 'no-store' }).catch(function () {}); }
a.addEventListener('error', function () {
  report('event=error&code=' + (a.error && a.error.code) + '&msg=' + encodeURIComponent(a.error ? a.error.message : ''));
});
['ended', 'waiting', 'stalled'].forEach(function (e) {
  a.addEventListener(e, function () { report('event=' + e + '&at=' + a.currentTime.toFixed(3)); });
});
a.src = new URLSearchParams(location.search).get('src');
a.play().then(function () { report('event=playing'); },
              function (e) { report('event=rejected&err=' + encodeURIComponent(e.name + ': ' + e.message)); });
setInterval(function () {
  document.getElementById('s').textContent = a.currentTime.toFixed(1) + ' s';
  report('ct=' + a.currentTime.toFixed(3) + '&pt=' + (performance.now() - t0).toFixed(0) +
         '&rs=' + a.readyState + '&ns=' + a.networkState + '&paused=' + a.paused);
}, 250);
</script>
HTML
    local why=$DIR/why t_stop t_up restart_rc
    chromium_start --dump-dom "$URL/resume.html?src=$audio_url/live.mp3" --timeout=60000
    # 8 s played by its own account (or it gave up): restart the audio's lighttpd
    wait_report 'GET /report\?n=[0-9]+&ct=([89]|[1-9][0-9])\.' 200
    t_stop=$(now_ms)
    local page_dir=$DIR; DIR=$audio_dir PID=$audio_pid
    if [ "$how" = restart ]; then
        restart_server; restart_rc=$?
        how="restart (down ${RESTART_MS:-?} ms)"
    else
        kill -USR1 "$PID"; restart_rc=0
    fi
    audio_pid=$PID; DIR=$page_dir PID=$page_pid
    t_up=$(now_ms)
    # 12 s more. Chromium reconnects when it has played what it had, so it
    # resumes with only the burst in hand, and may stop once more for ~2 s
    # to rebuffer a few seconds later (it reports "waiting" every ~2 s even
    # without a restart, and here one of them finds too little); after the
    # longest stall (3 s at most), 4 s or more at 1x. Long enough to see the
    # end of a gap as long as the 8 s played
    wait_report 'GET /report\?n=[0-9]+&(ct=(2[0-9]|[3-9][0-9])\.|event=(ended|error))' 220
    chromium_finish
    stop_server
    PID=$audio_pid stop_server
    { [ "$restart_rc" = 0 ] || echo "the audio's lighttpd did not start again: $(tail -3 "$audio_dir/stderr.log")"
      player_reports resume stop="$t_stop" up="$t_up" max_gap="$max_gap"
      [ "$CHROMIUM_RC" = 0 ] || echo "chromium exit $CHROMIUM_RC: $(grep -v 'dbus\|ALSA lib' "$DIR/chromium.log" | tail -5)"; } > "$why"
    verdict "Chromium: an <audio> element plays on at once after lighttpd's $how under it: currentTime stood still $SUMMARY (at most ${max_gap} ms wanted), no error event" "$why"
    player_reports reconnect audio_log="$audio_dir/error.log" > "$why"
    verdict "Chromium: its reconnect after the ${how%% *} asks for the bytes it had with a Range and gets 206 ($SUMMARY)" "$why"
    sanitizer_reports "player chromium ${how%% *}"
}

# The web player page, in an iframe of a test page that clicks its buttons
# and reports what it shows: it plays, shows the title from the config and
# then the one set through the admin URL, the listener count, and for a
# stream whose device is down the 503, until the device is back and it plays.
player_tests+=(test_player_page)
test_player_page() {
    local cfg_title="Morning Show – It's live" admin_title="Song <b>&amp; 'Two'</b> – Café"
    player_devices
    printf 'dj:secret\n' > "$WORK/player-users"
    start_server page "$(player_conf page)
auth.backend = \"plain\"
auth.backend.plain.userfile = \"$WORK/player-users\"
auth.require = ( \"/admin/\" => ( \"method\" => \"basic\", \"realm\" => \"radio\", \"require\" => \"valid-user\" ) )
audiostream.status-url = \"/status-json.xsl\"
audiostream.admin-url = \"/admin/metadata\"
audiostream.streams = (
  \"/live.mp3\" => ( \"device\" => \"tone997\", \"name\" => \"Test FM\", \"title\" => \"$cfg_title\" ),
  \"/down.mp3\" => ( \"device\" => \"player_down\" ),
  \"/hold.mp3\" => ( \"device\" => \"player_hold\", \"outage-ms\" => 0 ),
)" || { fail "player page: lighttpd did not start" "$(cat "$DIR/stderr.log")"; return; }
    wait_live /live.mp3 && wait_live /hold.mp3 || { fail "player page: streams never went live"; stop_server; return; }
    echo "# $(player_version chromium)"
    # the player fills the 800x600 window (the screenshot); the second one is below it
    cat > "$DIR/htdocs/page.html" <<'EOF'
<!DOCTYPE html><meta charset="utf-8"><title>player page test</title>
<style>body { margin: 0; overflow: hidden } iframe { display: block; border: 0; width: 800px; height: 600px }</style>
<iframe id="main" src="/player/?stream=/live.mp3&amp;status=/status-json.xsl&amp;poll=1"></iframe>
<iframe id="down" src="/player/?stream=/down.mp3&amp;status=/status-json.xsl&amp;poll=1"></iframe>
<script async src="/hold.mp3"></script>
<script>
var t0 = performance.now(), n = 0, clicked = {}, stopped = false;
function report(q) { fetch('/report?n=' + n++ + '&' + q, { cache: 'no-store' }).catch(function () {}); }
function doc(id) { var d = document.getElementById(id).contentDocument; return d && d.getElementById('audio') ? d : null; }
// what an element shows, on one line (lighttpd refuses control characters in URLs)
function shown(d, id) { var e = d.getElementById(id); return encodeURIComponent((e.hidden ? '' : e.textContent).replace(/\s+/g, ' ')); }
setInterval(function () {
  ['main', 'down'].forEach(function (id) {
    var d = doc(id);
    if (!d) return;
    if (!clicked[id] && d.readyState === 'complete') {
      clicked[id] = true;
      d.getElementById('play').click();
      report('frame=' + id + '&event=click-play');
    }
    report('frame=' + id + '&ct=' + d.getElementById('audio').currentTime.toFixed(3) +
           '&pt=' + (performance.now() - t0).toFixed(0) + '&state=' + shown(d, 'state') +
           '&button=' + encodeURIComponent(d.getElementById('play').getAttribute('aria-label')) +
           '&title=' + shown(d, 'title') + '&name=' + shown(d, 'name') + '&listeners=' + shown(d, 'listeners') +
           '&format=' + shown(d, 'format') + '&error=' + shown(d, 'error') + '&note=' + shown(d, 'note'));
  });
  // the down stream, once back and played 3 s: stop it
  var d = doc('down');
  if (d && !stopped && d.getElementById('audio').currentTime >= 3) {
    stopped = true;
    d.getElementById('play').click();
    report('frame=down&event=click-stop');
  }
}, 500);
</script>
EOF
    local why=$DIR/why shot=$DIR/player-page.png t_plug=0 t_curls=0 t_curls_end=0 t_update=0 t_hold pids=() enc
    chromium_start --screenshot="$shot" "$URL/page.html" --timeout=60000
    # the page plays and shows 1 listener; the other shows the 503
    wait_report 'frame=main&ct=[^&]*&pt=[^&]*&state=playing&.*&listeners=1&' 300
    wait_report 'frame=down&.*&state=off%20the%20air&' 100
    t_plug=$(now_ms); touch "$WORK/player-down.present"
    # two more listeners for 6 s
    t_curls=$(now_ms)
    curl -s --max-time 6 -o /dev/null "$URL/live.mp3" & pids+=($!)
    curl -s --max-time 6 -o /dev/null "$URL/live.mp3" & pids+=($!)
    wait_report 'frame=main&.*&listeners=3&' 60
    t_update=$(now_ms)
    enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$admin_title")
    curl -s -u dj:secret -o "$DIR/admin.body" --max-time 3 "$URL/admin/metadata?mount=/live.mp3&mode=updinfo&song=$enc"
    wait "${pids[@]}"; t_curls_end=$(now_ms)
    # the down stream came back, played 3 s and was stopped; the count is 1 again
    wait_report 'frame=down&event=click-stop' 250
    sleep 4
    t_hold=$(now_ms)
    chromium_finish
    stop_server
    { player_reports page
      [ "$CHROMIUM_RC" = 0 ] || echo "chromium exit $CHROMIUM_RC: $(grep -v 'dbus\|ALSA lib' "$DIR/chromium.log" | tail -5)"; } > "$why"
    verdict "player page: its play button starts the stream in Chromium, currentTime advances ~1 s per s ($SUMMARY)" "$why"
    { grep -q '<return>1</return>' "$DIR/admin.body" || echo "admin update: $(cat "$DIR/admin.body")"
      player_reports titles config="$cfg_title" admin="$admin_title" update="$t_update" name="Test FM" \
          format="MP3, 128 kbit/s, 44.1 kHz, stereo"; } > "$why"
    verdict "player page: shows the station, the config's title, then the admin URL's as text ($SUMMARY after the update)" "$why"
    player_reports listeners curls="$t_curls" curls_end="$t_curls_end" > "$why"
    verdict "player page: shows the listener count from the status URL (alone, with two more, after: $SUMMARY)" "$why"
    player_reports down plug="$t_plug" hold="$t_hold" > "$why"
    verdict "player page: a stream whose device is down shows the 503 and the device state, plays once it is back ($SUMMARY), stop ends the connection" "$why"
    { python3 -c 'import struct, sys
b = open(sys.argv[1], "rb").read()
if b[:8] != b"\x89PNG\r\n\x1a\n":
    print("not a PNG"); sys.exit(0)
w, h = struct.unpack(">II", b[16:24])
if (w, h) != (800, 600): print("%dx%d, want 800x600" % (w, h))
if len(b) < 10000: print("only %d bytes: a blank page?" % len(b))' "$shot" 2>&1 | head -3; } > "$why"
    verdict "player page: Chromium's screenshot ($(stat -c %s "$shot" 2>/dev/null || echo 0) bytes)" "$why"
    if [ -f "$shot" ]; then
        if [ -n "${ARTIFACTS:-}" ]; then
            mkdir -p "$ARTIFACTS" && cp "$shot" "$ARTIFACTS/player-page.png" && echo "# screenshot: $ARTIFACTS/player-page.png"
        else
            echo "# screenshot: $shot (the work dir is kept with KEEP_WORK=1 or when a test fails)"
        fi
    fi
    sanitizer_reports "player page"
}
