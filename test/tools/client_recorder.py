"""client_recorder.py STOP MAXSECS READY SPEC...: the players' outputs, for
test/clients.sh: until the file STOP exists (or MAXSECS pass), reads FIFOs
and polls directories; SPEC is KIND:PATH:OUT, KIND one of
  pcm   a FIFO of PCM: OUT.raw gets it, OUT.tlog "MS TOTAL_BYTES" per read
  text  a FIFO of messages: OUT.log "MS LINE" per line (split at CR and
        LF; a line like the one before it within 1 s is left out: status
        lines)
  dir   a directory: OUT.tlog "MS TOTAL_BYTES" of its *.mp3 files, polled
        every 100 ms, when it changed
MS is the wall clock in ms (the tests' now_ms). Each FIFO is opened
read-write, so that a player opening it for writing does not block and
one that closes and opens it again (MPD's pipe output) is read on; READY
is created once all are open."""
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
