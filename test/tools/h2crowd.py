#!/usr/bin/env python3
"""h2crowd: HTTP/2 clients (prior knowledge, cleartext) that open streams of
a live URL and abandon them, for test/robustness.sh. Standard library only;
frames and the little HPACK needed are written by hand. Loopback only.

  h2crowd.py PORT PATH rst STREAMS
    One connection. Opens streams in waves of the server's
    SETTINGS_MAX_CONCURRENT_STREAMS, at most the module's 4 audio streams
    on one connection (429 past them), until STREAMS of them have been served
    (response HEADERS and DATA), resetting each wave (RST_STREAM CANCEL) once
    it is served; streams the server refuses (REFUSED_STREAM: it has not yet
    let go of the reset ones) are opened again.
    Then STREAMS HEADERS at once, past the server's limit: each is served,
    answered otherwise (the module's 429) or refused; what goes on is reset. Then, on the same connection: a PING must come back
    and one more stream must get 200 and its burst of audio.
    Prints key=value figures on one line.

  h2crowd.py PORT PATH cut CONNECTIONS STREAMS
    CONNECTIONS connections, each with STREAMS streams receiving DATA, then
    every connection vanishes mid-stream without GOAWAY: even ones with an
    RST (SO_LINGER 0), odd ones with a FIN.
    Prints key=value figures on one line.
"""
import socket
import struct
import sys
import time

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL, REFUSED_STREAM = 0x8, 0x7
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_WINDOW = 0x7fffffff
AUDIO_STREAMS_PER_CONNECTION = 4   # the module's limit (README, "What listeners get")

# RFC 7541 Appendix B: the Huffman codes of the digits, enough for :status
HUFF_DIGITS = {("00000", "0"), ("00001", "1"), ("00010", "2"), ("011001", "3"), ("011010", "4"),
               ("011011", "5"), ("011100", "6"), ("011101", "7"), ("011110", "8"), ("011111", "9")}
STATIC_STATUS = {8: "200", 9: "204", 10: "206", 11: "304", 12: "400", 13: "404", 14: "500"}


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def hpack_int(value, prefix_bits, first):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name_index, value):
    """literal header field without indexing, indexed name, no Huffman"""
    v = value.encode()
    return hpack_int(name_index, 4, 0x00) + hpack_int(len(v), 7, 0x00) + v


def request_block(path, authority):
    # :method GET (2), :scheme http (6), :path (4), :authority (1)
    return b"\x82\x86" + hpack_literal(4, path) + hpack_literal(1, authority)


def read_int(block, pos, prefix_bits):
    limit = (1 << prefix_bits) - 1
    value = block[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        b = block[pos]
        pos += 1
        value += (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def huff_digits(data):
    bits = "".join(format(b, "08b") for b in data)
    out, cur = "", ""
    codes = dict(HUFF_DIGITS)
    for bit in bits:
        cur += bit
        if cur in codes:
            out += codes[cur]
            cur = ""
        if len(cur) > 6:
            break
    return out


def status_of(block):
    """:status of a response header block (it comes first), as text"""
    if not block:
        return "none"
    b0 = block[0]
    if b0 & 0x80:
        index, _ = read_int(block, 0, 7)
        return STATIC_STATUS.get(index, "indexed-%d" % index)
    prefix = 6 if b0 & 0x40 else 4
    index, pos = read_int(block, 0, prefix)
    if index not in STATIC_STATUS:
        return "literal-name-%d" % index
    huff = block[pos] & 0x80
    length, pos = read_int(block, pos, 7)
    value = block[pos:pos + length]
    return huff_digits(value) if huff else value.decode("latin-1")


class Conn:
    def __init__(self, port, authority):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.authority = authority
        self.buf = b""
        self.next_id = 1
        self.max_streams = None        # the server's SETTINGS_MAX_CONCURRENT_STREAMS
        self.status = {}               # stream id -> :status text
        self.data = {}                 # stream id -> DATA bytes
        self.refused = set()
        self.reset_by_server = set()
        self.reset_by_us = set()
        self.ping_acks = 0
        self.goaway = None
        self.closed = False
        self.pending_headers = {}
        # initial window of every stream and of the connection: as large as
        # allowed, so flow control never stops the server
        settings = struct.pack(">HI", 0x4, MAX_WINDOW) + struct.pack(">HI", 0x2, 0)
        self.send(PREFACE + frame(SETTINGS, 0, 0, settings)
                  + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - 65535)))

    def send(self, data):
        self.sock.sendall(data)

    def open_streams(self, path, n):
        ids, out = [], b""
        for _ in range(n):
            sid = self.next_id
            self.next_id += 2
            ids.append(sid)
            self.data[sid] = 0
            out += frame(HEADERS, END_STREAM | END_HEADERS, sid, request_block(path, self.authority))
        self.send(out)
        return ids

    def reset(self, ids, code=CANCEL):
        out = b""
        for sid in ids:
            self.reset_by_us.add(sid)
            out += frame(RST_STREAM, 0, sid, struct.pack(">I", code))
        if out:
            self.send(out)

    def pump(self, until, deadline):
        """reads and handles frames until until() is true or the deadline"""
        while not until() and time.monotonic() < deadline and not self.closed:
            self.sock.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except OSError:
                self.closed = True
                break
            if not chunk:
                self.closed = True
                break
            self.buf += chunk
            self.handle_frames()
        return until()

    def handle_frames(self):
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            if ftype == SETTINGS and not flags & ACK:
                for i in range(0, len(payload) - 5, 6):
                    ident, value = struct.unpack(">HI", payload[i:i + 6])
                    if ident == 0x3:
                        self.max_streams = value
                self.send(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                self.send(frame(PING, ACK, 0, payload))
            elif ftype == PING:
                self.ping_acks += 1
            elif ftype == HEADERS or ftype == CONTINUATION:
                block = self.pending_headers.pop(sid, b"") + payload
                if ftype == HEADERS:
                    pad = payload[0] if flags & 0x8 else 0
                    start = (1 if flags & 0x8 else 0) + (5 if flags & 0x20 else 0)
                    block = payload[start:len(payload) - pad]
                if flags & END_HEADERS:
                    self.status.setdefault(sid, status_of(block))
                else:
                    self.pending_headers[sid] = block
            elif ftype == DATA:
                self.data[sid] = self.data.get(sid, 0) + length
            elif ftype == RST_STREAM:
                code = int.from_bytes(payload[0:4], "big")
                (self.refused if code == REFUSED_STREAM else self.reset_by_server).add(sid)
            elif ftype == GOAWAY:
                self.goaway = int.from_bytes(payload[4:8], "big")

    def started(self, sid):
        return sid in self.status and self.data.get(sid, 0) > 0

    def ended(self, sid):
        return sid in self.refused or sid in self.reset_by_server

    def abandon(self, rst):
        if rst:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def mode_rst(port, path, streams):
    c = Conn(port, "127.0.0.1:%d" % port)
    c.pump(lambda: c.max_streams is not None, time.monotonic() + 5)
    wave = max(1, min(c.max_streams or 8, AUDIO_STREAMS_PER_CONNECTION, streams))
    opened = ok = with_data = refused = lost = 0
    statuses = {}
    # a stream reset stays counted by the server until it has let it go, so
    # the next wave may be refused in part (REFUSED_STREAM): those are sent
    # again, as the RFC allows, up to a bound
    while ok < streams and opened < streams * 4 and not c.closed:
        ids = c.open_streams(path, min(wave, streams - ok))
        opened += len(ids)
        c.pump(lambda: all(c.started(s) or c.ended(s) for s in ids), time.monotonic() + 10)
        for s in ids:
            if s in c.refused:
                refused += 1
                continue
            st = c.status.get(s, "none")
            statuses[st] = statuses.get(st, 0) + 1
            ok += st == "200" and c.data.get(s, 0) > 0
            with_data += c.data.get(s, 0) > 0
            lost += not c.started(s)
        c.reset([s for s in ids if not c.ended(s)])
    # past the limit at once: the server refuses or serves each, never stalls
    flurry = c.open_streams(path, streams) if not c.closed else []
    c.pump(lambda: all(c.status.get(s) or c.ended(s) for s in flurry), time.monotonic() + 5)
    flurry_ok = sum(c.status.get(s) == "200" for s in flurry)
    flurry_other = sum(c.status.get(s) not in (None, "200") for s in flurry)
    flurry_refused = sum(s in c.refused for s in flurry)
    c.reset([s for s in flurry if not c.ended(s)])
    # the same connection still works: a PING and one more listener
    after_status, after_bytes = "none", 0
    if not c.closed:
        c.send(frame(PING, 0, 0, b"robust!!"))
        c.pump(lambda: c.ping_acks > 0, time.monotonic() + 3)
        (last,) = c.open_streams(path, 1)
        c.pump(lambda: c.data.get(last, 0) >= 16000 or c.ended(last), time.monotonic() + 5)
        after_status, after_bytes = c.status.get(last, "none"), c.data.get(last, 0)
        c.reset([last])
        c.send(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)))
    print("wave=%d opened=%d refused=%d served=%d lost=%d statuses=%s flurry=%d flurry_200=%d "
          "flurry_other=%d flurry_refused=%d ping_ack=%d after_status=%s after_bytes=%d goaway=%s "
          "closed=%d"
          % (wave, opened, refused, ok, lost, ",".join("%s:%d" % kv for kv in sorted(statuses.items())),
             len(flurry), flurry_ok, flurry_other, flurry_refused, c.ping_acks, after_status,
             after_bytes,
             "none" if c.goaway is None else c.goaway, c.closed))
    c.abandon(False)


def mode_cut(port, path, connections, streams):
    conns = [Conn(port, "127.0.0.1:%d" % port) for _ in range(connections)]
    ids = {}
    for c in conns:
        c.pump(lambda: c.max_streams is not None, time.monotonic() + 5)
        ids[c] = c.open_streams(path, min(streams, c.max_streams or 8))
    deadline = time.monotonic() + 10
    for c in conns:
        c.pump(lambda: all(c.started(s) or c.ended(s) for s in ids[c]), deadline)
    opened = sum(len(v) for v in ids.values())
    ok = sum(c.status.get(s) == "200" for c in conns for s in ids[c])
    with_data = sum(c.data.get(s, 0) > 0 for c in conns for s in ids[c])
    for i, c in enumerate(conns):
        c.abandon(i % 2 == 0)
    print("connections=%d opened=%d status200=%d with_data=%d cut=%d"
          % (connections, opened, ok, with_data, len(conns)))


def main(argv):
    try:
        port, path, mode = int(argv[1]), argv[2], argv[3]
        if mode == "rst" and len(argv) == 5:
            return mode_rst(port, path, int(argv[4]))
        if mode == "cut" and len(argv) == 6:
            return mode_cut(port, path, int(argv[4]), int(argv[5]))
    except (IndexError, ValueError):
        pass
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
