#!/usr/bin/env python3
"""Test peers for the pv-xconnect end-to-end tests: echo servers, a sink
that counts and hashes what it gets and answers after EOF, clients that
check echoes and answers byte-exact by sha256, and helpers to hold or probe
connections. Addresses are "HOST:PORT", "[V6]:PORT" or an absolute Unix
socket path. Servers print "READY <port-or-path>" once listening."""

import argparse
import hashlib
import os
import socket
import sys
import threading
import time

CHUNK = 1 << 16


def parse_addr(s):
    if s.startswith("/"):
        return socket.AF_UNIX, s
    host, _, port = s.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def connect(addr, timeout=10.0):
    fam, sa = parse_addr(addr)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sa)
    return s


def listen(addr):
    fam, sa = parse_addr(addr)
    s = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_UNIX:
        try:
            os.unlink(sa)
        except FileNotFoundError:
            pass
    else:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(sa)
    s.listen(1024)
    where = sa if fam == socket.AF_UNIX else s.getsockname()[1]
    print(f"READY {where}", flush=True)
    return s


def pattern(n):
    """Deterministic answer bytes, so the client can check them."""
    block = bytes(i % 251 for i in range(251)) * 64
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def serve(addr, handler):
    ls = listen(addr)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def cmd_echo(a):
    def handle(c):
        with c:
            try:
                while True:
                    d = c.recv(CHUNK)
                    if not d:
                        break
                    c.sendall(d)
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
    serve(a.addr, handle)


def cmd_sink(a):
    """Reads until EOF (after an optional delay: a slow reader), then
    answers "<count> <sha256>\\n" and answer_bytes of pattern(), and
    closes. With --greet it first sends "+" (a server that speaks first)."""
    def handle(c):
        with c:
            try:
                if a.greet:
                    c.sendall(b"+")
                if a.delay:
                    time.sleep(a.delay)
                h = hashlib.sha256()
                n = 0
                while True:
                    d = c.recv(1 << 20)
                    if not d:
                        break
                    h.update(d)
                    n += len(d)
                if a.answer_delay:
                    time.sleep(a.answer_delay)
                c.sendall(f"{n} {h.hexdigest()}\n".encode()
                          + pattern(a.answer_bytes))
                c.shutdown(socket.SHUT_WR)
                if a.log:
                    print(f"SINK {n} {h.hexdigest()}", flush=True)
            except OSError as e:
                print(f"SINK error {e}", flush=True)
    serve(a.addr, handle)


def echo_check(addr, nbytes, res, i, timeout):
    try:
        s = connect(addr, timeout)
    except OSError as e:
        res[i] = f"connect: {e}"
        return
    data = os.urandom(nbytes)
    want = hashlib.sha256(data).hexdigest()
    err = []

    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(f"send: {e}")
    t = threading.Thread(target=send)
    t.start()
    h = hashlib.sha256()
    got = 0
    try:
        while True:
            d = s.recv(CHUNK)
            if not d:
                break
            h.update(d)
            got += len(d)
    except OSError as e:
        err.append(f"recv after {got} bytes: {e}")
    t.join()
    s.close()
    if err:
        res[i] = "; ".join(err)
    elif got != nbytes or h.hexdigest() != want:
        res[i] = f"echo mismatch: got {got} bytes of {nbytes}"
    else:
        res[i] = None


def cmd_client(a):
    """C concurrent connections, each sends N random bytes, half-closes,
    and checks the echo (sha256) and the EOF after it."""
    res = [f"not run"] * a.conns
    ts = [threading.Thread(target=echo_check,
                           args=(a.addr, a.bytes, res, i, a.timeout))
          for i in range(a.conns)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    bad = [(i, r) for i, r in enumerate(res) if r]
    dt = time.monotonic() - t0
    print(f"client: {a.conns - len(bad)}/{a.conns} connections ok, "
          f"{a.bytes} bytes each, {dt:.2f} s", flush=True)
    for i, r in bad[:5]:
        print(f"client: connection {i}: {r}", flush=True)
    sys.exit(1 if bad else 0)


def cmd_push(a):
    """Sends N random bytes, shuts down its write side, then reads the
    sink's whole answer and checks count, sha256 and answer bytes."""
    s = connect(a.addr, a.timeout)
    h = hashlib.sha256()
    left = a.bytes
    t0 = time.monotonic()
    while left > 0:
        d = os.urandom(min(left, 1 << 20))
        h.update(d)
        s.sendall(d)
        left -= len(d)
    s.shutdown(socket.SHUT_WR)
    t_sent = time.monotonic() - t0
    buf = bytearray()
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
    s.close()
    line, _, rest = bytes(buf).partition(b"\n")
    want = f"{a.bytes} {h.hexdigest()}"
    ok = line.decode(errors="replace") == want
    ok_ans = rest == pattern(a.answer_bytes)
    dt = time.monotonic() - t0
    print(f"push: sent {a.bytes} bytes in {t_sent:.2f} s, total {dt:.2f} s;"
          f" sink saw '{line.decode(errors='replace')}', want '{want}'; "
          f"answer {len(rest)} bytes, want {a.answer_bytes}"
          f" ({'ok' if ok_ans else 'MISMATCH'})", flush=True)
    sys.exit(0 if ok and ok_ans else 1)


def cmd_expect_close(a):
    """Connects and waits for the proxy to close the connection (EOF or
    reset) without sending anything; fails if it stays open longer than
    --within seconds."""
    t0 = time.monotonic()
    s = connect(a.addr, a.within + 1)
    s.settimeout(a.within + 1)
    try:
        d = s.recv(1)
        what = "EOF" if not d else "data"
    except ConnectionResetError:
        what = "reset"
    except socket.timeout:
        what = "still open"
    dt = time.monotonic() - t0
    print(f"expect-close: {what} after {dt:.2f} s", flush=True)
    sys.exit(0 if what in ("EOF", "reset") and a.min <= dt <= a.within
             else 1)


def cmd_ping(a):
    """One connection that sends a byte and reads its echo every
    --interval seconds; prints "CLOSED <unix time>" when the proxy closes
    it (or "OPEN" after --seconds)."""
    s = connect(a.addr, 5)
    print("CONNECTED", flush=True)
    t_end = time.monotonic() + a.seconds
    while time.monotonic() < t_end:
        try:
            s.sendall(b"p")
            d = s.recv(1)
        except OSError:
            d = b""
        if not d:
            print(f"CLOSED {time.time():.3f}", flush=True)
            return
        time.sleep(a.interval)
    print("OPEN", flush=True)


def cmd_refused(a):
    """Exits 0 if a connection to addr is refused (nothing listens)."""
    try:
        s = connect(a.addr, 2)
    except ConnectionRefusedError:
        print("refused", flush=True)
        sys.exit(0)
    except OSError as e:
        print(f"connect: {e}", flush=True)
        sys.exit(1)
    s.close()
    print("connected (not refused)", flush=True)
    sys.exit(1)


def cmd_hold(a):
    """Opens up to N connections (stops at the first failure) and holds
    them until stdin is closed or --seconds pass."""
    held = []
    for _ in range(a.conns):
        try:
            held.append(connect(a.addr, 2))
        except OSError as e:
            print(f"hold: connect failed after {len(held)}: {e}",
                  flush=True)
            break
    print(f"HELD {len(held)}", flush=True)
    t_end = time.monotonic() + a.seconds
    while time.monotonic() < t_end:
        if sys.stdin.readline() == "":
            break
    for s in held:
        s.close()


def cmd_blackhole(a):
    """A TCP listener that never accepts, its accept queue filled by
    connections of its own: the kernel drops further SYNs, so connecting
    to it hangs (a backend that does not answer)."""
    ls = listen_quiet(a.addr, 0)
    port = ls.getsockname()[1]
    fam, sa = parse_addr(a.addr)
    fill = []
    for _ in range(4):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((sa[0], port))
        except BlockingIOError:
            pass
        fill.append(s)
    time.sleep(0.3)
    print(f"READY {port}", flush=True)
    while True:
        time.sleep(3600)


def listen_quiet(addr, backlog):
    fam, sa = parse_addr(addr)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(sa)
    s.listen(backlog)
    return s


def cmd_freeport(a):
    s = socket.socket(socket.AF_INET6 if a.v6 else socket.AF_INET)
    s.bind(("::1" if a.v6 else "127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("addr")
    e.set_defaults(fn=cmd_echo)
    k = sub.add_parser("sink")
    k.add_argument("addr")
    k.add_argument("--delay", type=float, default=0)
    k.add_argument("--answer-delay", type=float, default=0)
    k.add_argument("--answer-bytes", type=int, default=0)
    k.add_argument("--log", action="store_true")
    k.add_argument("--greet", action="store_true")
    k.set_defaults(fn=cmd_sink)
    c = sub.add_parser("client")
    c.add_argument("addr")
    c.add_argument("--bytes", type=int, default=1 << 20)
    c.add_argument("--conns", type=int, default=1)
    c.add_argument("--timeout", type=float, default=20)
    c.set_defaults(fn=cmd_client)
    u = sub.add_parser("push")
    u.add_argument("addr")
    u.add_argument("--bytes", type=int, default=1 << 20)
    u.add_argument("--answer-bytes", type=int, default=0)
    u.add_argument("--timeout", type=float, default=30)
    u.set_defaults(fn=cmd_push)
    x = sub.add_parser("expect-close")
    x.add_argument("addr")
    x.add_argument("--within", type=float, default=6)
    x.add_argument("--min", type=float, default=0)
    x.set_defaults(fn=cmd_expect_close)
    g = sub.add_parser("ping")
    g.add_argument("addr")
    g.add_argument("--interval", type=float, default=0.1)
    g.add_argument("--seconds", type=float, default=20)
    g.set_defaults(fn=cmd_ping)
    r = sub.add_parser("refused")
    r.add_argument("addr")
    r.set_defaults(fn=cmd_refused)
    h = sub.add_parser("hold")
    h.add_argument("addr")
    h.add_argument("--conns", type=int, default=10)
    h.add_argument("--seconds", type=float, default=30)
    h.set_defaults(fn=cmd_hold)
    b = sub.add_parser("blackhole")
    b.add_argument("addr")
    b.set_defaults(fn=cmd_blackhole)
    f = sub.add_parser("freeport")
    f.add_argument("--v6", action="store_true")
    f.set_defaults(fn=cmd_freeport)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
