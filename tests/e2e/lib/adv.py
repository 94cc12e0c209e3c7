#!/usr/bin/env python3
"""Hostile clients and a hostile graph server for the adv_*.sh end-to-end
tests. Every load is bounded in count and time; only Unix sockets and
127.0.0.1 are used. Each subcommand prints "ok: ..." lines and exits 1
with a "FAIL: ..." line on the first broken expectation.

ctrl subcommands talk to a running pv-ctrld on --sock:
  slowloris   many clients trickle a header byte every 100 ms while a plain
              GET /xconnect-graph must still answer promptly
  concurrent  N clients at once, each must get the same graph
  pipeline    several requests in one write, answered in order
  longpoll    long-poll clients that go away early (close, reset,
              half-close), then a graph change: the daemon serves on
xc subcommand: a graph server on --sock whose answers turn hostile
  (garbage, huge, trickling, cut short, ...) while pv-xconnect follows
  it; the running link must keep its backend and keep proxying.
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}", flush=True)


# ------------------------------------------------------------ HTTP client

def uconnect(path, timeout=5.0):
    """A Unix stream connection; a full backlog (EAGAIN) is retried for
    up to the timeout, as pvcontrol does."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.01)


def read_response(f):
    """One HTTP/1.1 response from a buffered reader: (status, headers,
    body). Content-Length framing only (what pv-ctrld sends)."""
    line = f.readline()
    if not line:
        raise EOFError("connection closed before the status line")
    parts = line.decode("latin1").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = f.read(n) if n else b""
    return status, headers, body


def request(sock, method, path, body=None, timeout=5.0, headers=None):
    s = uconnect(sock, timeout)
    try:
        h = f"{method} {path} HTTP/1.1\r\nHost: pvx\r\n"
        for k, v in (headers or {}).items():
            h += f"{k}: {v}\r\n"
        if body is not None:
            h += f"Content-Length: {len(body)}\r\n"
        h += "Connection: close\r\n\r\n"
        s.sendall(h.encode() + (body or b""))
        with s.makefile("rb") as f:
            return read_response(f)
    finally:
        s.close()


def graph_now(sock):
    st, h, body = request(sock, "GET", "/xconnect-graph")
    if st != 200:
        fail(f"GET /xconnect-graph: HTTP {st}")
    return h.get("etag", ""), body


def alive(pid, what):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        fail(f"pv-ctrld (pid {pid}) died: {what}")


# ------------------------------------------------------------ slowloris

def cmd_slowloris(a):
    etag0, g0 = graph_now(a.sock)
    stop = time.monotonic() + a.seconds
    clients = []
    for i in range(a.clients):
        try:
            s = uconnect(a.sock, 2)
        except OSError as e:
            fail(f"slowloris client {i}: connect: {e}")
        s.sendall(b"GET /xconnect-graph HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        clients.append(s)
    worst = 0.0
    probes = 0
    while time.monotonic() < stop:
        for s in clients:
            try:
                s.send(b"a")
            except OSError:
                pass  # closed by the daemon: that is allowed
        t0 = time.monotonic()
        etag, g = graph_now(a.sock)
        dt = time.monotonic() - t0
        worst = max(worst, dt)
        probes += 1
        if g != g0:
            fail("graph changed under slowloris")
        if dt > a.max_ms / 1000:
            fail(f"GET /xconnect-graph took {dt * 1000:.0f} ms under "
                 f"slowloris ({len(clients)} clients)")
        time.sleep(0.1)
    alive(a.pid, "slowloris")
    # Finish some of them: a request sent over 3 s is still a request.
    answered = 0
    for s in clients[:10]:
        try:
            s.sendall(b"\r\n\r\n")
            s.settimeout(3)
            with s.makefile("rb") as f:
                st, _, _ = read_response(f)
            if st == 200:
                answered += 1
        except (OSError, EOFError, ValueError):
            pass
    for s in clients:
        s.close()
    ok(f"{len(clients)} slowloris clients for {a.seconds} s: {probes} "
       f"probes, worst {worst * 1000:.0f} ms; {answered}/10 finished "
       f"requests answered 200")


# ------------------------------------------------------------ concurrent

def cmd_concurrent(a):
    etag0, g0 = graph_now(a.sock)
    barrier = threading.Barrier(a.clients)
    results = [None] * a.clients

    def one(i):
        try:
            barrier.wait(timeout=10)
            st, h, body = request(a.sock, "GET", "/xconnect-graph",
                                  timeout=10)
            results[i] = (st, h.get("etag"), body)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = ("error", str(e), b"")

    t0 = time.monotonic()
    th = [threading.Thread(target=one, args=(i,)) for i in range(a.clients)]
    for t in th:
        t.start()
    for t in th:
        t.join(20)
    dt = time.monotonic() - t0
    bad = [r for r in results if r is None or r[0] != 200 or r[2] != g0 or
           r[1] != etag0]
    if bad:
        fail(f"{len(bad)} of {a.clients} concurrent clients did not get "
             f"the graph: {bad[:3]}")
    alive(a.pid, "concurrent clients")
    ok(f"{a.clients} concurrent clients got the same graph and ETag in "
       f"{dt:.2f} s")


# ------------------------------------------------------------ pipeline

def cmd_pipeline(a):
    etag0, g0 = graph_now(a.sock)
    reqs = [
        ("GET", "/xconnect-graph", 200),
        ("GET", "/containers", 200),
        ("GET", "/nope", 404),
        ("DELETE", "/state", 405),
        ("GET", "/xconnect-graph", 200),
    ]
    data = b""
    for m, p, _ in reqs:
        data += f"{m} {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    # A PUT with a body in the middle, then one more GET.
    body = b'{"pid": 0}'
    data += (f"PUT /containers/{a.container} HTTP/1.1\r\nHost: x\r\n"
             f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    reqs.append(("PUT", f"/containers/{a.container}", 400))
    data += b"GET /xconnect-graph HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reqs.append(("GET", "/xconnect-graph", 200))
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(a.sock)
    s.sendall(data)
    got = []
    with s.makefile("rb") as f:
        for m, p, want in reqs:
            try:
                st, h, b = read_response(f)
            except (EOFError, OSError, ValueError) as e:
                fail(f"pipelined {m} {p}: no answer ({e}); got {got}")
            got.append(st)
            if st != want:
                fail(f"pipelined {m} {p}: HTTP {st}, want {want}; "
                     f"answers so far {got}")
            if p == "/xconnect-graph" and b != g0:
                fail("pipelined GET /xconnect-graph: another body")
    s.close()
    alive(a.pid, "pipelined requests")
    ok(f"{len(reqs)} pipelined requests answered in order: {got}")


# ------------------------------------------------------------ long-poll

def cmd_longpoll(a):
    etag0, g0 = graph_now(a.sock)
    path = f"/xconnect-graph?wait={etag0}"
    req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    held = []
    # 1. Clients that close, reset or half-close while held.
    for i in range(a.clients):
        s = uconnect(a.sock)
        s.sendall(req)
        held.append(s)
    time.sleep(0.3)
    for i, s in enumerate(held):
        if i % 3 == 0:
            s.close()
        elif i % 3 == 1:
            # RST-like: SO_LINGER 0 (a Unix socket just closes).
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()
        else:
            s.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    alive(a.pid, "long-poll clients gone")
    # The half-closed ones may have been answered (304) or closed; read
    # what there is, without waiting long.
    for i, s in enumerate(held):
        if i % 3 == 2:
            try:
                s.settimeout(2)
                s.recv(4096)
            except OSError:
                pass
            s.close()
    # 2. A held client that goes away right when the graph changes, and a
    # well-behaved one that must get the new graph.
    racer = socket.socket(socket.AF_UNIX)
    racer.connect(a.sock)
    racer.sendall(req)
    good = socket.socket(socket.AF_UNIX)
    good.settimeout(5)
    good.connect(a.sock)
    good.sendall(req)
    time.sleep(0.2)
    racer.close()
    t0 = time.monotonic()
    # Change the graph: register a pid for an external container.
    st, _, b = request(a.sock, "PUT", f"/containers/{a.container}",
                       json.dumps({"pid": a.adopt_pid}).encode())
    if st != 200:
        fail(f"adopt {a.container} pid {a.adopt_pid}: HTTP {st} {b!r}")
    with good.makefile("rb") as f:
        try:
            st, h, body = read_response(f)
        except (EOFError, OSError, ValueError) as e:
            fail(f"held long-poll: no answer after the change ({e})")
    dt_change = dt = time.monotonic() - t0
    good.close()
    if st != 200 or body == g0 or h.get("etag") == etag0:
        fail(f"held long-poll after a change: HTTP {st}, same graph "
             f"{body == g0}")
    if dt > 1.0:
        fail(f"held long-poll answered {dt * 1000:.0f} ms after the change")
    alive(a.pid, "long-poll clients gone during a change")
    etag1, g1 = graph_now(a.sock)
    if g1 != body:
        fail("graph after the change differs from the long-poll answer")
    # 3. A burst of waiters that all vanish, then a fresh long-poll that
    # times out to 304 (server --wait-timeout is short in the test).
    burst = []
    req1 = f"GET /xconnect-graph?wait={etag1} HTTP/1.1\r\nHost: x\r\n\r\n"
    for i in range(a.clients):
        s = uconnect(a.sock)
        s.sendall(req1.encode())
        burst.append(s)
    for s in burst:
        s.close()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(a.wait_timeout + 5)
    s.connect(a.sock)
    s.sendall(req1.encode())
    t0 = time.monotonic()
    with s.makefile("rb") as f:
        st, h, _ = read_response(f)
    dt = time.monotonic() - t0
    s.close()
    if st != 304:
        fail(f"long-poll without a change: HTTP {st}, want 304")
    if dt < a.wait_timeout - 1:
        fail(f"long-poll without a change answered after {dt:.1f} s, "
             f"before the {a.wait_timeout} s timeout")
    alive(a.pid, "long-poll burst")
    ok(f"{a.clients} long-polls closed/reset/half-closed, a racer gone at "
       f"the change: held client answered in {dt_change * 1000:.0f} ms; a "
       f"fresh one got 304 after {dt:.1f} s")


# ------------------------------------------------------------ hold

def cmd_hold(a):
    """Holds long-polls, a half-sent request and a pipelined pair open for
    --seconds (the test stops the daemon meanwhile); prints HELD."""
    etag, _ = graph_now(a.sock)
    req = f"GET /xconnect-graph?wait={etag} HTTP/1.1\r\nHost: x\r\n\r\n"
    held = []
    for i in range(a.clients):
        s = uconnect(a.sock)
        s.sendall(req.encode())
        held.append(s)
    s = uconnect(a.sock)
    s.sendall(b"PUT /state HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    held.append(s)
    s = uconnect(a.sock)
    s.sendall(req.encode() + b"GET /containers HTTP/1.1\r\n\r\n")
    held.append(s)
    time.sleep(0.3)
    print("HELD", flush=True)
    time.sleep(a.seconds)
    for s in held:
        s.close()


# ------------------------------------------------------------ xc graph server

class HostileServer:
    """Serves GET /xconnect-graph as HTTP/1.0 without ETag (Pantavisor
    style, so pv-xconnect polls) in the current mode; counts requests per
    mode."""

    def __init__(self, path, good_body):
        self.path = path
        self.mode = "good"
        self.good = good_body
        self.bad = b"[]"
        self.count = {}
        self.done = {}
        self.lock = threading.Lock()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.ls = socket.socket(socket.AF_UNIX)
        self.ls.bind(path)
        self.ls.listen(64)
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,),
                             daemon=True).start()

    def handle(self, c):
        with self.lock:
            mode = self.mode
            self.count[mode] = self.count.get(mode, 0) + 1
        c.settimeout(30)
        try:
            buf = b""
            while b"\r\n\r\n" not in buf and len(buf) < 65536:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            getattr(self, "m_" + mode.replace("-", "_"))(c)
        except OSError:
            pass
        finally:
            with self.lock:
                self.done[mode] = self.done.get(mode, 0) + 1
            try:
                c.close()
            except OSError:
                pass

    def head(self, extra=""):
        return (f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                f"{extra}\r\n").encode()

    def m_good(self, c):
        c.sendall(self.head() + self.good)

    def m_etagflood(self, c):
        # Answers every request (waits included) at once, with a new
        # ETag each time: a server whose graph "changes" constantly.
        with self.lock:
            n = self.count.get("etagflood", 0)
        c.sendall((f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   f"ETag: \"flood-{n}\"\r\nContent-Length: {len(self.good)}"
                   f"\r\nConnection: close\r\n\r\n").encode() + self.good)

    def m_garbage(self, c):
        c.sendall(os.urandom(3000))

    def m_notjson(self, c):
        c.sendall(self.head() + b"<html>oops</html>" + self.bad[:40])

    def m_status500(self, c):
        c.sendall(b"HTTP/1.0 500 Internal Server Error\r\n\r\n" + self.bad)

    def m_notmodified(self, c):
        c.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")

    def m_huge(self, c):
        # 24 MiB of a growing JSON array, then close: over any sane cap.
        c.sendall(self.head())
        chunk = b"[" + b"1," * 32767 + b"1]"
        c.sendall(b"[")
        for i in range(24 * 1024 * 1024 // len(chunk)):
            c.sendall(chunk + b",")
        c.sendall(b"1]")

    def m_hugecl(self, c):
        c.sendall(self.head("Content-Length: 99999999999\r\n") + self.bad)
        time.sleep(1.0)

    def m_cl_overflow(self, c):
        c.sendall(self.head("Content-Length: 18446744073709551617\r\n") +
                  self.bad)

    def m_midclose(self, c):
        c.sendall(self.head(f"Content-Length: {len(self.bad) + 500}\r\n") +
                  self.bad)

    def m_chunked_bad(self, c):
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"fffffffffffffffffff\r\n" + self.bad + b"\r\n0\r\n\r\n")

    def m_chunked_cut(self, c):
        n = len(self.bad)
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  f"{n:x}\r\n".encode() + self.bad[: n // 2])

    def m_headerbomb(self, c):
        c.sendall(b"HTTP/1.0 200 OK\r\n")
        for i in range(1024):
            c.sendall(b"X-Bomb: " + b"b" * 1014 + b"\r\n")

    def m_nul(self, c):
        body = self.bad[:20] + b"\0" + self.bad[20:]
        c.sendall(self.head(f"Content-Length: {len(body)}\r\n") + body)

    def m_trickle(self, c):
        # The moved graph, one byte every 10 ms: must be parsed whole.
        c.sendall(self.head()[:10])
        time.sleep(0.05)
        c.sendall(self.head()[10:])
        for i in range(len(self.good)):
            c.sendall(self.good[i:i + 1])
            time.sleep(0.01)

    def m_silent(self, c):
        time.sleep(2.0)


def probe(addr, word, timeout=3):
    host, _, port = addr.rpartition(":")
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        f = s.makefile("rwb")
        f.write(word.encode() + b"\n")
        f.flush()
        return f.readline().decode().strip()
    finally:
        s.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmd_xc(a):
    good = open(a.graph_a, "rb").read()
    moved = open(a.graph_b, "rb").read()
    srv = HostileServer(a.sock, good)
    srv.bad = moved
    log = open(a.log, "wb")
    xc = subprocess.Popen(
        ["setpriv", "--pdeathsig", "KILL", "--", a.xconnect, "--ctrl",
         a.sock, "--interval", "1", "--no-status", "-v"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    print(f"PID {xc.pid}", flush=True)

    def xc_alive(what):
        if xc.poll() is not None:
            fail(f"pv-xconnect exited ({xc.returncode}) during {what}")

    def wait_answer(want, secs, what):
        end = time.monotonic() + secs
        last = None
        while time.monotonic() < end:
            xc_alive(what)
            try:
                last = probe(a.probe, "hi")
                if last == want:
                    return
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        fail(f"{what}: link answers {last!r}, want {want!r}")

    def wait_done(mode, n, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            with srv.lock:
                if srv.done.get(mode, 0) >= n:
                    return True
            xc_alive(mode)
            time.sleep(0.02)
        return False

    try:
        wait_answer("A:hi", 8, "start")
        ok("link up through the graph server (backend A)")
        rss0 = rss_kb(xc.pid)
        modes = ["garbage", "notjson", "status500", "notmodified",
                 "hugecl", "cl-overflow", "midclose", "chunked-bad",
                 "chunked-cut", "headerbomb", "nul", "huge", "silent"]
        for m in modes:
            with srv.lock:
                srv.mode = m
            if not wait_done(m, 1, 12):
                fail(f"{m}: pv-xconnect did not ask within 12 s")
            # During and right after the hostile answer the running link
            # keeps its backend: the moved graph was never applied.
            for i in range(3):
                r = None
                try:
                    r = probe(a.probe, f"m{i}")
                except OSError as e:
                    r = str(e)
                if r != f"A:m{i}":
                    fail(f"{m}: link answered {r!r} after the hostile "
                         f"answer, want 'A:m{i}'")
            xc_alive(m)
            with srv.lock:
                srv.mode = "good"
            if not wait_done("good", srv.done.get("good", 0) + 1, 12):
                fail(f"{m}: pv-xconnect did not come back within 12 s")
            ok(f"{m}: link kept backend A, pv-xconnect asked again")
        # A server that answers every ?wait= at once with a new ETag must
        # not make pv-xconnect spin: it waits 10 ms between such answers.
        with srv.lock:
            srv.mode = "etagflood"
        if not wait_done("etagflood", 1, 12):
            fail("etagflood: pv-xconnect did not ask within 12 s")
        with srv.lock:
            n0 = srv.count.get("etagflood", 0)
        t0 = time.monotonic()
        time.sleep(2)
        with srv.lock:
            n1 = srv.count.get("etagflood", 0)
            srv.mode = "good"
        rate = (n1 - n0) / (time.monotonic() - t0)
        if rate > 130:
            fail(f"etagflood: {rate:.0f} requests/s, want <= 100 (10 ms apart)")
        wait_answer("A:hi", 8, "after etagflood")
        ok(f"etagflood: {rate:.0f} requests/s, link kept backend A")
        rss1 = rss_kb(xc.pid)
        if rss1 > rss0 + a.rss_growth_kb:
            fail(f"pv-xconnect RSS grew from {rss0} to {rss1} kB")
        ok(f"RSS {rss0} -> {rss1} kB after the hostile answers")
        # Trickled, the moved graph still arrives whole and is applied.
        srv.good = moved
        with srv.lock:
            srv.mode = "trickle"
        t0 = time.monotonic()
        # While it trickles, the old backend serves.
        r = probe(a.probe, "during")
        if r != "A:during":
            fail(f"trickle: link answered {r!r} while the graph trickled")
        if not wait_done("trickle", 1, 20):
            fail("trickle: the trickled answer never ended")
        with srv.lock:
            srv.mode = "good"
        wait_answer("B:hi", 8, "trickled graph")
        ok(f"a graph trickled byte by byte was applied whole "
           f"({time.monotonic() - t0:.1f} s)")
        xc_alive("end")
    finally:
        xc.terminate()
        try:
            xc.wait(5)
        except subprocess.TimeoutExpired:
            xc.kill()
            xc.wait()
        log.close()
    if xc.returncode not in (0, -15):
        fail(f"pv-xconnect exited {xc.returncode} on SIGTERM")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("slowloris", "concurrent", "pipeline", "longpoll", "hold"):
        s = sub.add_parser(name)
        s.add_argument("--sock", required=True)
        s.add_argument("--pid", type=int, required=True)
        s.add_argument("--clients", type=int, default=50)
        s.add_argument("--seconds", type=float, default=3)
        s.add_argument("--max-ms", type=float, default=500)
        s.add_argument("--container", default="provider")
        s.add_argument("--adopt-pid", type=int, default=0)
        s.add_argument("--wait-timeout", type=float, default=2)
    s = sub.add_parser("xc")
    s.add_argument("--sock", required=True)
    s.add_argument("--xconnect", required=True)
    s.add_argument("--graph-a", required=True)
    s.add_argument("--graph-b", required=True)
    s.add_argument("--probe", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--rss-growth-kb", type=int, default=32 * 1024)
    a = p.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
