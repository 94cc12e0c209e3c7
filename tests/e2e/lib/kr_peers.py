"""Peers of the kernel relay's tests (tests/e2e/kr_*.sh): a request/response
client that checks every answer, and a client that pushes and reads a
byte-exact stream both ways with pauses."""
import argparse
import hashlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402
from peers import pattern, serve  # noqa: E402


def connect(addr, timeout=20.0):
    s = peers.connect(addr, timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(min(n - len(buf), 1 << 20))
        if not b:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += b
    return bytes(buf)


def cmd_rr(a):
    """N request/answer rounds of SIZE bytes on one connection to an echo
    server, each answer checked; then a clean close."""
    s = connect(a.addr)
    for i in range(a.rounds):
        msg = os.urandom(a.size)
        s.sendall(msg)
        if recv_exact(s, a.size) != msg:
            print(f"rr: round {i}: answer differs", flush=True)
            sys.exit(1)
        if a.pause and i % a.pause_every == 0:
            time.sleep(a.pause)
    s.shutdown(socket.SHUT_WR)
    if s.recv(1) != b"":
        print("rr: bytes after the last answer", flush=True)
        sys.exit(1)
    print(f"rr: {a.rounds} rounds of {a.size} bytes ok", flush=True)


def cmd_stream(a):
    """Sends BYTES to an echo server in chunks with pauses while reading the
    echo (two threads); checks count and sha256 of what came back, then
    the EOF after SHUT_WR."""
    import threading
    s = connect(a.addr, timeout=a.timeout)
    h_out, h_in = hashlib.sha256(), hashlib.sha256()
    got = [0]
    err = []

    def reader():
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    return
                h_in.update(b)
                got[0] += len(b)
                if a.read_pause and got[0] % (8 << 20) < len(b):
                    time.sleep(a.read_pause)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=reader)
    t.start()
    sent = 0
    chunk = 1 << 16
    while sent < a.bytes:
        b = os.urandom(min(chunk, a.bytes - sent))
        s.sendall(b)
        h_out.update(b)
        sent += len(b)
        if a.pause and sent % (4 << 20) < len(b):
            time.sleep(a.pause)
    s.shutdown(socket.SHUT_WR)
    t.join(a.timeout)
    if err or got[0] != sent or h_in.digest() != h_out.digest():
        print(f"stream: sent {sent}, got back {got[0]}, "
              f"sha256 {'same' if h_in.digest() == h_out.digest() else 'differs'} {err}",
              flush=True)
        sys.exit(1)
    print(f"stream: {sent} bytes both ways, sha256 ok", flush=True)


def rst_close(s):
    """Closes with a RST instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def cmd_burst_server(a):
    """Per connection: reads a 5-byte hello, sends BYTES of pattern() in
    one go, then closes first (FIN, or RST with --rst)."""
    def handle(c):
        try:
            recv_exact(c, 5)
            c.sendall(pattern(a.bytes))
            if a.rst:
                rst_close(c)
            else:
                c.close()
        except OSError:
            c.close()
    serve(a.addr, handle)


def cmd_burst_client(a):
    """Sends the hello, then reads until EOF: the burst must be complete
    and exact, the EOF after it (with --reset: a reset or an EOF is
    enough, the bytes before it are checked)."""
    s = connect(a.addr)
    s.sendall(b"hello")
    got = bytearray()
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += b
    except ConnectionResetError:
        if not a.reset:
            print(f"burst: reset after {len(got)} bytes", flush=True)
            sys.exit(1)
    if got != pattern(len(got)) or (not a.reset and len(got) != a.bytes):
        print(f"burst: got {len(got)} of {a.bytes}, "
              f"{'exact' if got == pattern(len(got)) else 'differs'}",
              flush=True)
        sys.exit(1)
    print(f"burst: {len(got)} bytes then EOF", flush=True)


def cmd_rst_client(a):
    """Sends BYTES (after --rounds answered rounds, so that the session is
    established on the relay's kernel path), then resets."""
    s = connect(a.addr)
    for _ in range(a.rounds):
        s.sendall(b"x" * 600)
        recv_exact(s, 600)
    s.sendall(os.urandom(a.bytes))
    rst_close(s)
    print("rst: sent and reset", flush=True)


def cmd_close_early(a):
    """Connects, sends a few bytes, and closes before any answer: before
    the relay could put the session on the kernel path."""
    for _ in range(a.conns):
        s = connect(a.addr)
        s.sendall(b"early")
        s.close()
    print(f"close-early: {a.conns} connections", flush=True)


def cmd_stall_sink(a):
    """Per connection: answers a 5-byte hello with "ready", reads nothing
    for DELAY seconds (a stalled reader), then reads to EOF and answers
    "<count> <sha256>\\n"."""
    def handle(c):
        with c:
            try:
                recv_exact(c, 5)
                c.sendall(b"ready")
                time.sleep(a.delay)
                h = hashlib.sha256()
                n = 0
                while True:
                    d = c.recv(1 << 20)
                    if not d:
                        break
                    h.update(d)
                    n += len(d)
                c.sendall(f"{n} {h.hexdigest()}\n".encode())
            except OSError:
                pass
    serve(a.addr, handle)


def cmd_flood(a):
    """After a hello and its answer (the session is established on the
    relay's kernel path), pushes as fast as the socket takes for SECONDS (a backend that does
    not read yet: only backpressure stops it), prints how much was taken
    ("FLOOD n"), waits for a line on stdin, then sends the rest up to
    --total, SHUT_WR, and checks the sink's count and sha256."""
    import select
    s = connect(a.addr)
    s.sendall(b"hello")
    recv_exact(s, 5)
    s.setblocking(False)
    h = hashlib.sha256()
    block = os.urandom(1 << 16)
    sent = 0
    t_end = time.monotonic() + a.seconds
    while time.monotonic() < t_end:
        _, w, _ = select.select([], [s], [], 0.05)
        if not w:
            continue
        try:
            n = s.send(block)
        except BlockingIOError:
            continue
        h.update(block[:n])
        sent += n
    print(f"FLOOD {sent}", flush=True)
    sys.stdin.readline()
    s.setblocking(True)
    while sent < a.total:
        b = block[:min(len(block), a.total - sent)]
        s.sendall(b)
        h.update(b)
        sent += len(b)
    s.shutdown(socket.SHUT_WR)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(256)
        if not b:
            break
        line += b
    want = f"{sent} {h.hexdigest()}"
    if line.decode().strip() != want:
        print(f"flood: sink saw '{line.decode().strip()}', want '{want}'",
              flush=True)
        sys.exit(1)
    print(f"flood: {sent} bytes, sink agrees", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rr")
    r.add_argument("addr")
    r.add_argument("--rounds", type=int, default=1000)
    r.add_argument("--size", type=int, default=600)
    r.add_argument("--pause", type=float, default=0)
    r.add_argument("--pause-every", type=int, default=100)
    r.set_defaults(fn=cmd_rr)
    t = sub.add_parser("stream")
    t.add_argument("addr")
    t.add_argument("--bytes", type=int, default=64 << 20)
    t.add_argument("--pause", type=float, default=0)
    t.add_argument("--read-pause", type=float, default=0)
    t.add_argument("--timeout", type=float, default=60)
    t.set_defaults(fn=cmd_stream)
    b = sub.add_parser("burst-server")
    b.add_argument("addr")
    b.add_argument("--bytes", type=int, default=8 << 20)
    b.add_argument("--rst", action="store_true")
    b.set_defaults(fn=cmd_burst_server)
    c = sub.add_parser("burst-client")
    c.add_argument("addr")
    c.add_argument("--bytes", type=int, default=8 << 20)
    c.add_argument("--reset", action="store_true")
    c.set_defaults(fn=cmd_burst_client)
    r2 = sub.add_parser("rst-client")
    r2.add_argument("addr")
    r2.add_argument("--bytes", type=int, default=1 << 20)
    r2.add_argument("--rounds", type=int, default=3)
    r2.set_defaults(fn=cmd_rst_client)
    e = sub.add_parser("close-early")
    e.add_argument("addr")
    e.add_argument("--conns", type=int, default=20)
    e.set_defaults(fn=cmd_close_early)
    k = sub.add_parser("stall-sink")
    k.add_argument("addr")
    k.add_argument("--delay", type=float, default=4)
    k.set_defaults(fn=cmd_stall_sink)
    f = sub.add_parser("flood")
    f.add_argument("addr")
    f.add_argument("--seconds", type=float, default=2)
    f.add_argument("--total", type=int, default=0)
    f.set_defaults(fn=cmd_flood)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
