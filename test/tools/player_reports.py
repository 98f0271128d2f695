"""player_reports.py MODE ACCESS_LOG SUMMARY_FILE [KEY=VALUE...]: the analysis
of a test page's reports to lighttpd (test/players.sh): the access log's
"/report?..." lines read back and checked for MODE; prints what is wrong,
writes a summary of what was seen to SUMMARY_FILE."""
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
