#!/usr/bin/python3
"""h2abuse: HTTP/2 clients (prior knowledge, cleartext, loopback only) that
misuse a live URL the way test/robustness.sh's HTTP/2 tests need, built on
Debian's python3-h2 (hyper-h2): the library frames and encodes, this program
only decides what to send.

  h2abuse.py PORT PATH body MBYTES SECONDS
    One GET of PATH whose HEADERS frame has no END_STREAM and no
    content-length, then DATA as fast as the server's flow-control windows
    let it, until MBYTES MiB are sent, the stream is reset or answered and
    closed, or SECONDS pass.
    Prints: status=N sent=BYTES reset=0|1 audio=BYTES

  h2abuse.py PORT PATH flood STREAMS SECONDS [BLOCKER_PATH BLOCKERS]
    STREAMS GETs of PATH in the connection's first flight, before the
    server's SETTINGS are read (so before they are acknowledged), after
    BLOCKERS GETs of BLOCKER_PATH (a large file) whose DATA is never
    acknowledged, so that they stay busy; reads what comes for SECONDS,
    then exits without GOAWAY (the kernel sends a FIN).
    Prints: answered=N ok=N refused=N status=LIST

  h2abuse.py PORT PATH beside FILE_PATH SECONDS
    One connection: a GET of PATH (a stream) and, once its audio flows, a
    GET of FILE_PATH (a download) on the same connection, both read as
    fast as they come, the stream's audio for SECONDS in all.
    Prints: download_s=SECONDS download=BYTES audio=BYTES

  h2abuse.py PORT PATH head SECONDS
    One HEAD of PATH; reads what comes for SECONDS or until the stream ends.
    Prints: status=N ended=0|1 (END_STREAM came) with_headers=0|1 (on the
    HEADERS frame itself) data=BYTES (DATA frames' payload) headers_ms=MS
"""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    return sock, conn


def request_headers(port, path):
    return [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1:%d" % port),
            (":path", path)]


def flush(sock, conn):
    data = conn.data_to_send()
    while data:
        try:
            n = sock.send(data)
        except BlockingIOError:
            return data           # the server is not reading: keep the rest
        data = data[n:]
    return b""


def receive(sock, conn, timeout):
    """Events from what the server sent within timeout s; None once it closed."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except (socket.timeout, BlockingIOError):
        return []
    except ConnectionResetError:
        return None
    finally:
        sock.setblocking(False)
    if not data:
        return None
    try:
        return conn.receive_data(data)
    except h2.exceptions.ProtocolError:
        return None


def body(port, path, mbytes, seconds):
    sock, conn = connect(port)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, request_headers(port, path), end_stream=False)
    flush(sock, conn)
    total = mbytes * 1024 * 1024
    sent = audio = reset = closed = 0
    status = "none"
    chunk = b"\0" * 16384
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and sent < total and not reset and not closed:
        try:
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                       total - sent)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            room, closed = 0, 1
        if room > 0:
            conn.send_data(sid, chunk[:room])
            sent += room
        flush(sock, conn)
        events = receive(sock, conn, 0.0 if room > 0 else 0.05)
        if events is None:
            closed = 1
            break
        for e in events:
            if isinstance(e, h2.events.ResponseReceived):
                status = dict(e.headers).get(":status", "?")
            elif isinstance(e, h2.events.DataReceived):
                audio += len(e.data)
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.StreamReset):
                reset = 1
            elif isinstance(e, h2.events.StreamEnded):
                closed = 1
        flush(sock, conn)
    sock.close()
    print("status=%s sent=%d reset=%d audio=%d" % (status, sent, reset, audio))


def flood(port, path, streams, seconds, blocker_path, blockers):
    sock, conn = connect(port)
    # windows as browsers open them (Chromium: 15 MB for the connection).
    # With the default 64 KiB, four streams' bursts (16 KB each) fill it at
    # once; the 429s behind them wait for the WINDOW_UPDATE, which lighttpd
    # does not read while 8 streams are busy and more wait
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24})
    conn.increment_flow_control_window(1 << 24)
    for _ in range(blockers):
        conn.send_headers(conn.get_next_available_stream_id(), request_headers(port, blocker_path),
                          end_stream=True)
    for _ in range(streams):
        conn.send_headers(conn.get_next_available_stream_id(), request_headers(port, path),
                          end_stream=True)
    flush(sock, conn)
    statuses = {}
    refused = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = receive(sock, conn, 0.1)
        if events is None:
            break
        for e in events:
            if isinstance(e, h2.events.ResponseReceived):
                statuses[e.stream_id] = dict(e.headers).get(":status", "?")
            elif isinstance(e, h2.events.StreamReset):
                refused += 1
        flush(sock, conn)
    sock.close()        # no GOAWAY: as a client that exits or crashes
    codes = sorted(statuses.values())
    print("answered=%d ok=%d refused=%d status=%s"
          % (len(codes), codes.count("200"), refused, ",".join(codes) or "none"))


def beside(port, path, file_path, seconds):
    sock, conn = connect(port)
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24})
    conn.increment_flow_control_window(1 << 24)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(port, path), end_stream=True)
    flush(sock, conn)
    download = None
    got = {stream: 0}
    t0 = t1 = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = receive(sock, conn, 0.05)
        if events is None:
            break
        for e in events:
            if isinstance(e, h2.events.DataReceived):
                got[e.stream_id] = got.get(e.stream_id, 0) + len(e.data)
                conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded) and e.stream_id == download:
                t1 = time.monotonic()
        if download is None and got[stream] > 0:
            download = conn.get_next_available_stream_id()
            conn.send_headers(download, request_headers(port, file_path), end_stream=True)
            t0 = time.monotonic()
        flush(sock, conn)
    sock.close()
    secs = "%.3f" % (t1 - t0) if t1 else "none"
    print("download_s=%s download=%d audio=%d" % (secs, got.get(download, 0), got[stream]))


def head(port, path, seconds):
    sock, conn = connect(port)
    stream = conn.get_next_available_stream_id()
    headers = request_headers(port, path)
    headers[0] = (":method", "HEAD")
    t0 = time.monotonic()
    conn.send_headers(stream, headers, end_stream=True)
    flush(sock, conn)
    status, ended, with_headers, data, headers_ms = "none", 0, 0, 0, -1
    deadline = t0 + seconds
    while not ended and time.monotonic() < deadline:
        events = receive(sock, conn, 0.05)
        if events is None:
            break
        for e in events:
            if isinstance(e, h2.events.ResponseReceived) and e.stream_id == stream:
                status = dict(e.headers).get(":status", "none")
                headers_ms = int((time.monotonic() - t0) * 1000)
                with_headers = int(e.stream_ended is not None)
            elif isinstance(e, h2.events.DataReceived) and e.stream_id == stream:
                data += len(e.data)
                conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded) and e.stream_id == stream:
                ended = 1
        flush(sock, conn)
    sock.close()
    print("status=%s ended=%d with_headers=%d data=%d headers_ms=%d" % (status, ended, with_headers, data, headers_ms))


def main(argv):
    if len(argv) == 5 and argv[3] == "head":
        head(int(argv[1]), argv[2], float(argv[4]))
        return
    if len(argv) not in (6, 8) or argv[3] not in ("body", "flood", "beside") \
            or (len(argv) == 8 and argv[3] != "flood"):
        sys.exit(__doc__)
    port, path, mode = int(argv[1]), argv[2], argv[3]
    if mode == "body":
        body(port, path, int(argv[4]), float(argv[5]))
    elif mode == "flood":
        blocker = argv[6:8] if len(argv) == 8 else ["/", "0"]
        flood(port, path, int(argv[4]), float(argv[5]), blocker[0], int(blocker[1]))
    else:
        beside(port, path, argv[4], float(argv[5]))


if __name__ == "__main__":
    main(sys.argv)
