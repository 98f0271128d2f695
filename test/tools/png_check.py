"""png_check.py FILE WIDTH HEIGHT MIN_BYTES: FILE is a PNG of WIDTH x HEIGHT
and at least MIN_BYTES (fewer: a blank page); prints what is wrong."""
import struct
import sys

path, want_w, want_h, min_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
b = open(path, "rb").read()
if b[:8] != b"\x89PNG\r\n\x1a\n":
    print("not a PNG")
    sys.exit(0)
w, h = struct.unpack(">II", b[16:24])
if (w, h) != (want_w, want_h):
    print("%dx%d, want %dx%d" % (w, h, want_w, want_h))
if len(b) < min_bytes:
    print("only %d bytes: a blank page?" % len(b))
