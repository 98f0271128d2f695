#!/usr/bin/env python3
"""rawhttp: sends bytes as they are (a request, several pipelined ones, a
broken one) on one loopback connection, reads what comes back for at most
SECONDS, and takes the answer apart, for test/robustness.sh. Standard
library only.

  rawhttp.py PORT SECONDS OUT < REQUEST_BYTES

Writes OUT.http (all of it) and OUT.mp3 (the body of the first audio/mpeg
response that has one, de-chunked). The answer to a HEAD has no body: the
methods are taken from the request lines sent. Prints one line:
  responses=N statuses=S1,S2 first_byte_ms=T closed=0|1 send_error=E audio_bytes=B extra=X
where S are the status codes in order, closed says the server closed the
connection within SECONDS, and extra counts bytes after the last response
that parse as no response (0 when all is well-framed)."""
import re
import socket
import sys
import time


def parse(data, methods):
    """[(status, headers dict, body bytes, complete)], leftover bytes;
    methods are those of the requests in order (a HEAD's answer has no body)"""
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0 or not data.startswith(b"HTTP/", pos):
            break
        lines = data[pos:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = parts[1] if len(parts) > 1 else "?"
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        pos = end + 4
        if status.startswith("1"):          # 100 Continue: no body
            out.append((status, headers, b"", True))
            continue
        if len(out) < len(methods) and methods[len(out)] == b"HEAD":
            out.append((status, headers, b"", True))
            continue
        if "content-length" in headers:
            n = int(headers["content-length"])
            body = data[pos:pos + n]
            out.append((status, headers, body, len(body) == n))
            pos += len(body)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body, complete = b"", False
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    break
                try:
                    size = int(data[pos:eol].split(b";")[0], 16)
                except ValueError:
                    out.append((status, headers, body, False))
                    return out, data[pos:]
                if size == 0:
                    trailer_end = data.find(b"\r\n", eol + 2)
                    if trailer_end >= 0:
                        pos, complete = trailer_end + 2, True
                    else:
                        pos = len(data)
                    break
                if len(data) < eol + 2 + size + 2:
                    body += data[eol + 2:eol + 2 + size]
                    pos = len(data)
                    break
                body += data[eol + 2:eol + 2 + size]
                if data[eol + 2 + size:eol + 4 + size] != b"\r\n":
                    out.append((status, headers, body, False))
                    return out, data[eol + 2 + size:]
                pos = eol + 4 + size
            out.append((status, headers, body, complete))
        else:                               # delimited by the close
            out.append((status, headers, data[pos:], True))
            pos = len(data)
    return out, data[pos:]


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    port, secs, out = int(argv[1]), float(argv[2]), argv[3]
    request = sys.stdin.buffer.read()
    t0 = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=secs)
    send_error = "none"
    try:
        sock.sendall(request)
    except OSError as e:
        send_error = type(e).__name__
    data, closed, first = b"", 0, -1.0
    deadline = t0 + secs
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            break
        except OSError:
            closed = 1
            break
        if not chunk:
            closed = 1
            break
        if first < 0:
            first = (time.monotonic() - t0) * 1e3
        data += chunk
    sock.close()
    with open(out + ".http", "wb") as f:
        f.write(data)
    # the request lines: at the start and after each header block
    methods = re.findall(rb"(?:^|\r\n\r\n)([A-Z]+) [^ ]+ HTTP/", request)
    responses, rest = parse(data, methods)
    audio = next((r[2] for r in responses if r[1].get("content-type") == "audio/mpeg" and r[2]), b"")
    with open(out + ".mp3", "wb") as f:
        f.write(audio)
    print("responses=%d statuses=%s first_byte_ms=%.0f closed=%d send_error=%s audio_bytes=%d extra=%d"
          % (len(responses), ",".join(r[0] for r in responses) or "none", first, closed,
             send_error, len(audio), len(rest)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
