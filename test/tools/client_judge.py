"""The judge of one player in test/clients.sh.

client_judge.py lead FILE prints the ms of silence a raw 44.1 kHz s16le
stereo FILE starts with (a player's own clock may write silence until its
input plays). client_judge.py KEY=VALUE...
judges one player; its keys:
  name, events (a file of "EVENT MS" lines: play restart up reload title2
  end, and replay when MPD was told to play again), tlog and bps (its
  output's arrivals and bytes per second: 176400 for PCM, 16000 for the
  ripped MP3), lead (ms of silence before its first tone), pcm (pcmcheck's
  output), log (its messages), title_re (a regex whose group 1 is a title
  it shows; empty: it shows none), titles ("follows": it shows a title as
  it changes; "kept": as it changes until a reconnect, then keeps the one
  it had, and heard_re, a regex on its messages, says what its network
  layer got), expect ("ride": it
  rides through both; "ends": it ends at the restart; "stops": it stops at
  the restart, is told to play again, and rides through the reload),
  restart_bound and reload_bound (the longest gap allowed, ms), exited
  ("" when it ran until the test stopped it, else how and when it ended:
  client_stop's "rc=N at +MS ms of the restart"), t1 and t2 (the titles
  set through the admin URL before the restart and after the reload).
Prints what is wrong, one problem a line, and writes the summary (the
measured gaps, tone, pace and titles) into the file named by summary."""
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
        # its one try at once lands before or after the restarted server
        # listens: it stops, or plays on by itself and needs no telling
        if replay is None and not by_itself:
            problems.append("%s: was not told to play again after the restart" % name)
        parts.append("played again at +%d ms" % (replay - ev["restart"]) if replay
                     else "playing, not told to play again" if by_itself else "not played again")
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
