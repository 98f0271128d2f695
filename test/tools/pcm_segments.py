"""pcm_segments.py RAW HZ SEGMENTS_OUT LABEL:MIN-MAX...: the runs of tone (T),
silence (S) and anything else of a 44.1 kHz s16le stereo RAW, in 100 ms
blocks, checked against the pattern (test/faults.sh segments_check);
prints what is wrong, writes the runs to SEGMENTS_OUT."""
import array, math, sys
path, hz, seg_path, pattern = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
rate, block, glitch = 44100, 4410, 3            # 100 ms blocks; X runs of <= 3 blocks dropped
pcm = array.array("h")
with open(path, "rb") as f:
    data = f.read()
pcm.frombytes(data[: len(data) // 4 * 4])        # whole stereo frames
x = pcm[0::2]                                    # channel 0
w = 2 * math.pi * hz / rate
cos_t = [math.cos(w * i) for i in range(block)]
sin_t = [math.sin(w * i) for i in range(block)]
labels = []
for b in range(len(x) // block):
    v = [s / 32768.0 for s in x[b * block:(b + 1) * block]]
    ms = sum(s * s for s in v) / block
    i = sum(s * c for s, c in zip(v, cos_t)); q = sum(s * c for s, c in zip(v, sin_t))
    amp2 = 4 * (i * i + q * q) / (block * block)  # squared amplitude of the HZ component
    if ms < 10 ** (-50 / 10):
        labels.append("S")
    elif ms > 10 ** (-20 / 10) and amp2 / 2 > 0.9 * ms:
        labels.append("T")
    else:
        labels.append("X")
runs = []                                        # [label, first block, blocks]
for k, l in enumerate(labels):
    if runs and runs[-1][0] == l:
        runs[-1][2] += 1
    else:
        runs.append([l, k, 1])
with open(seg_path, "w") as f:
    f.write(" ".join("%s@%.1f:%.1f" % (l, s / 10, n / 10) for l, s, n in runs) + "\n")
kept = []
for r in runs:
    if r[0] == "X" and r[2] <= glitch:
        continue
    if kept and kept[-1][0] == r[0]:
        kept[-1][2] += r[2]
    else:
        kept.append(list(r))
have = " ".join("%s:%.1f" % (l, n / 10) for l, s, n in kept)
want = [p.split(":") for p in pattern]
ok = len(kept) == len(want)
for (l, s, n), (wl, rng) in zip(kept, want):
    lo, hi = rng.split("-")
    ok = ok and l == wl and n / 10 >= float(lo) and (hi == "" or n / 10 <= float(hi))
if not ok:
    print("decoded %.1f s: runs %s, want %s (blocks: %s)"
          % (len(x) / rate, have or "none", " ".join(pattern), open(seg_path).read().strip()))
