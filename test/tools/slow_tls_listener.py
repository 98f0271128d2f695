"""slow_tls_listener.py PORT PATH CAFILE OUT RATE SECONDS: an HTTPS listener
(HTTP/1.0, Python's ssl) with a small receive buffer that reads RATE bytes
a second for SECONDS; the body goes to OUT, "status=... bytes=N" to stdout
(test/scaleout.sh)."""
import socket, ssl, sys, time
port, path, ca, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rate, secs = int(sys.argv[5]), float(sys.argv[6])
ctx = ssl.create_default_context(cafile=ca)
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.settimeout(5)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
s.sendall(("GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, port)).encode())
data = b""
t0 = time.monotonic()
tick = 0
while time.monotonic() - t0 < secs:
    tick += 1
    want = rate // 4
    while want > 0:
        try:
            b = s.recv(want)
        except socket.timeout:
            b = None
        if not b:
            break
        data += b
        want -= len(b)
    time.sleep(max(0.0, t0 + tick * 0.25 - time.monotonic()))
head, _, body = data.partition(b"\r\n\r\n")
open(out, "wb").write(body)
print("status=%s bytes=%d" % (head.split(b"\r\n")[0].decode(errors="replace"), len(body)))
