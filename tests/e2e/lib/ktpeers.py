"""Test peers of the kernel relay tests (tests/e2e/kt_*.sh, issue 10). The
clients take --status SOCK (pv-xconnect's status socket): after the first
bytes each way (a session goes on the kernel path once its backend has
spoken, so every server here speaks first or echoes) they wait until GET
/sessions shows their connection with mode "kernel", so that what follows
crosses the kernel path (without --status they do not wait: the splice
relay of the same test). Servers
print "READY <port>" once listening.

  echo ADDR [--pause-every N --pause S]
                  server: echoes; after every N bytes read it stops
                  reading for S seconds (a reader that pauses)
  bulk ADDR --bytes N [--pause-every N --pause S] [--status SOCK]
                  client: sends N random bytes in 1 MiB writes, pausing
                  S seconds after every N sent, while it reads the echo
                  with the same pauses; checks count and sha256 and the
                  EOF after them
  burst ADDR --bytes N --answer-bytes M [--greet] [--status SOCK]
                  client of peers.py's sink: sends N random bytes at once
                  and SHUT_WR right after them (FIN after a burst); checks
                  the sink's "<count> <sha256>" line, its M answer bytes
                  and their EOF. --greet: the sink (--greet) sends "+"
                  first, read after the first byte sent: a session is put
                  on the kernel path once its backend has spoken
  talker ADDR --bytes N [--rst]
                  server: sends "+", reads 2 bytes, sends N bytes of peers.py's
                  pattern() and closes first (--rst: with a reset,
                  SO_LINGER 0)
  listener ADDR [--status SOCK] [--hold S]
                  client of talker: sends "x", reads "+", (waits for the
                  kernel path), sends "g", reads N bytes and the end, holds
                  its side open S seconds; prints "END <bytes> <eof|reset>
                  pattern <ok|prefix|bad>"
  watch ADDR [--rst-after N] [--greet]
                  server: (sends "+",) reads until the connection ends, prints
                  "END <bytes> <eof|reset>" per connection (--rst-after:
                  resets it after N bytes, prints "RST after <bytes>")
  rst ADDR --bytes N [--status SOCK]
                  client of watch --greet: sends 1 byte, reads "+", then
                  sends N bytes and resets the connection (SO_LINGER 0
                  and close)
  pingpong ADDR --conns C --rounds R [--size B] [--status SOCK]
                  client: C connections, each R round trips of B bytes
                  (600) against an echo server, checked byte-exact
  abandon ADDR --conns C --rounds R [--size B] [--status SOCK]
                  client of an echo server: C connections one after the
                  other, each R round trips then one more message and
                  close() at once, its answer still in flight
  slowpush --backend ADDR --via ADDR [--rate BPS --bytes N --seconds S
                  --pid PID --status SOCK]
                  a backend reading RATE bytes/s and a client pushing up
                  to N bytes for at most S seconds through the proxy at
                  VIA; samples every 0.1 s what the client got accepted,
                  what the backend read, /proc/net/sockstat's TCP memory,
                  MemAvailable and the proxy's VmRSS; prints one JSON
                  line "SLOW {...}" with the peaks, then resets both ends
"""
import argparse
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

# Addresses, listeners and the answer pattern as every other peer of the
# tests has them (peers.py, in this directory).
from peers import connect, listen, parse_addr, pattern, serve  # noqa: E402

MB = 1 << 20


def status_get(path, what):
    """GET WHAT on pv-xconnect's status socket; the decoded JSON body."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(f"GET {what} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    buf = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    _, _, body = bytes(buf).partition(b"\r\n\r\n")
    return json.loads(body)


def session_of(status, sock):
    """This client socket's entry in GET /sessions, or None."""
    port = sock.getsockname()[1]
    for e in status_get(status, "/sessions").get("sessions", []):
        if str(e.get("client", "")).endswith(f":{port}"):
            return e
    return None


def wait_kernel(status, sock, timeout=20.0):
    """Until the session of sock is on the kernel path; exits 1 if it never
    gets there (the test would otherwise prove nothing)."""
    if not status:
        return
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = session_of(status, sock)
        if last and last.get("mode") == "kernel":
            return
        time.sleep(0.02)
    raise SystemExit(f"session of port {sock.getsockname()[1]} never on "
                     f"the kernel path: {last}")


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def read_end(s, limit=None):
    """Reads until EOF or reset; returns (bytes, data-or-None, how)."""
    got = bytearray()
    n = 0
    try:
        while True:
            d = s.recv(MB)
            if not d:
                return n, got, "eof"
            n += len(d)
            if limit is not None:
                got += d
    except ConnectionResetError:
        return n, got, "reset"


# ------------------------------------------------------------- servers
def cmd_echo(a):
    def handle(c):
        with c:
            try:
                since = 0
                while True:
                    d = c.recv(1 << 16)
                    if not d:
                        break
                    c.sendall(d)
                    since += len(d)
                    if a.pause_every and since >= a.pause_every:
                        since = 0
                        time.sleep(a.pause)
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
    serve(a.addr, handle)


def cmd_talker(a):
    def handle(c):
        with c:
            try:
                # "+" (the backend has spoken: the session can go on
                # the kernel path), then "x" and, once the client saw
                # its session there, "g": the answer crosses that path.
                c.sendall(b"+")
                got = b""
                while len(got) < 2:
                    d = c.recv(2 - len(got))
                    if not d:
                        return
                    got += d
                c.sendall(pattern(a.bytes))
                if a.rst:
                    linger0(c)
            except OSError as e:
                print(f"talker: {e}", flush=True)
    serve(a.addr, handle)


def cmd_watch(a):
    def handle(c):
        with c:
            if a.greet:
                c.sendall(b"+")
            if a.rst_after:
                n = 0
                while n < a.rst_after:
                    d = c.recv(min(MB, a.rst_after - n))
                    if not d:
                        break
                    n += len(d)
                linger0(c)
                print(f"RST after {n}", flush=True)
                return
            n, _, how = read_end(c)
            print(f"END {n} {how}", flush=True)
    serve(a.addr, handle)


# ------------------------------------------------------------- clients
def cmd_bulk(a):
    s = connect(a.addr, a.timeout)
    s.sendall(b"ping")
    got = b""
    while len(got) < 4:
        d = s.recv(4 - len(got))
        if not d:
            print("bulk: EOF before the ping's echo", flush=True)
            sys.exit(1)
        got += d
    wait_kernel(a.status, s)
    data = os.urandom(a.bytes)
    want = hashlib.sha256(data).hexdigest()
    err = []

    def send():
        try:
            off = since = 0
            while off < len(data):
                n = s.send(data[off:off + MB])
                off += n
                since += n
                if a.pause_every and since >= a.pause_every:
                    since = 0
                    time.sleep(a.pause)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(f"send: {e}")
    t = threading.Thread(target=send)
    t0 = time.monotonic()
    t.start()
    h = hashlib.sha256()
    n = since = 0
    back = bytearray()  # kept to name the first byte that differs
    try:
        while True:
            d = s.recv(MB)
            if not d:
                break
            h.update(d)
            back += d
            n += len(d)
            since += len(d)
            if a.pause_every and since >= a.pause_every:
                since = 0
                time.sleep(a.pause)
    except OSError as e:
        err.append(f"recv after {n} bytes: {e}")
    t.join()
    s.close()
    ok = not err and n == a.bytes and h.hexdigest() == want
    print(f"bulk: {n} of {a.bytes} bytes echoed in "
          f"{time.monotonic() - t0:.2f} s, sha256 "
          f"{'ok' if h.hexdigest() == want else 'MISMATCH'} {' '.join(err)}",
          flush=True)
    if h.hexdigest() != want:
        print("bulk: " + first_difference(data, bytes(back)), flush=True)
    sys.exit(0 if ok else 1)


def first_difference(want, got):
    """Where got first differs from want, and whether the bytes found
    there are from elsewhere in want (reordered, duplicated) or not."""
    n = min(len(want), len(got))
    lo = 0
    step = MB
    while lo < n and want[lo:lo + step] == got[lo:lo + step]:
        lo += step
    while lo < n and want[lo] == got[lo]:
        lo += 1
    if lo >= n:
        return f"first {n} bytes equal; lengths {len(got)} vs {len(want)}"
    probe = got[lo:lo + 64]
    at = want.find(probe)
    where = (f"they are want's bytes at offset {at} (shift {at - lo:+d})"
             if at >= 0 else "they appear nowhere in what was sent")
    return f"first difference at offset {lo} of {n}: {where}"


def cmd_burst(a):
    s = connect(a.addr, a.timeout)
    data = os.urandom(a.bytes)
    try:
        s.sendall(data[:1])
        if a.greet and s.recv(1) != b"+":
            raise OSError("no greeting from the sink")
        wait_kernel(a.status, s)
        s.sendall(data[1:])
        s.shutdown(socket.SHUT_WR)
        n, buf, how = read_end(s, limit=True)
    except OSError as e:
        print(f"burst: {e}", flush=True)
        sys.exit(1)
    s.close()
    line, _, rest = bytes(buf).partition(b"\n")
    want = f"{a.bytes} {hashlib.sha256(data).hexdigest()}"
    ok = (how == "eof" and line.decode(errors="replace") == want
          and rest == pattern(a.answer_bytes))
    print(f"burst: sink saw '{line.decode(errors='replace')}', want "
          f"'{want}'; answer {len(rest)} bytes of {a.answer_bytes} "
          f"({'ok' if rest == pattern(a.answer_bytes) else 'MISMATCH'}), "
          f"then {how}", flush=True)
    sys.exit(0 if ok else 1)


def cmd_listener(a):
    s = connect(a.addr, a.timeout)
    s.sendall(b"x")
    if s.recv(1) != b"+":
        raise SystemExit("listener: no greeting")
    wait_kernel(a.status, s)
    s.sendall(b"g")
    n, buf, how = read_end(s, limit=True)
    # "ok": all of it; "prefix": a correct beginning (a reset may cut the
    # rest); "bad": bytes that were never sent.
    want = pattern(a.bytes)
    got = bytes(buf)
    good = "ok" if got == want else \
        "prefix" if want.startswith(got) else "bad"
    print(f"END {n} {how} pattern {good}", flush=True)
    if a.hold:
        time.sleep(a.hold)
    s.close()
    print("CLOSED", flush=True)


def cmd_rst(a):
    s = connect(a.addr, a.timeout)
    s.sendall(b"x")
    if s.recv(1) != b"+":
        raise SystemExit("rst: no greeting")
    wait_kernel(a.status, s)
    s.sendall(os.urandom(a.bytes))
    linger0(s)
    s.close()
    print("rst: reset sent", flush=True)


def echo_round(s, msg, r):
    """Sends msg and reads its echo back whole (round r, for errors)."""
    s.sendall(msg)
    got = bytearray()
    while len(got) < len(msg):
        d = s.recv(len(msg) - len(got))
        if not d:
            raise OSError(f"EOF in round {r}")
        got += d
    return got


def cmd_pingpong(a):
    res = [None] * a.conns
    msg = pattern(a.size)

    def one(i):
        try:
            s = connect(a.addr, a.timeout)
            for r in range(a.rounds):
                got = echo_round(s, msg, r)
                if got != msg:
                    raise OSError(f"round {r}: echo differs")
                if r == 0:
                    wait_kernel(a.status, s)
            s.shutdown(socket.SHUT_WR)
            if s.recv(1):
                raise OSError("data after the last round")
            s.close()
        except (OSError, SystemExit) as e:
            res[i] = str(e)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(a.conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    bad = [r for r in res if r]
    print(f"pingpong: {a.conns - len(bad)}/{a.conns} connections did "
          f"{a.rounds} round trips of {a.size} B"
          + (f"; first error: {bad[0]}" if bad else ""), flush=True)
    sys.exit(1 if bad else 0)


def cmd_abandon(a):
    """C connections, each: R round trips of B bytes with an echo server
    (after the first, waits for the kernel path with --status), then one
    more message and close() at once, its answer still in flight (it
    meets a closed socket: a reset)."""
    msg = pattern(a.size)
    for i in range(a.conns):
        s = connect(a.addr, a.timeout)
        for r in range(a.rounds):
            try:
                echo_round(s, msg, r)
            except OSError as e:
                raise SystemExit(f"abandon: {e}")
            if r == 0:
                wait_kernel(a.status, s)
        s.sendall(msg)
        s.close()
    print(f"abandon: {a.conns} connections closed with an answer in "
          "flight", flush=True)


def sockstat_tcp_mem():
    """Pages of TCP memory (kernel-wide, not per network namespace)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                return int(w[w.index("mem") + 1])
    return 0


def meminfo_kb(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmd_slowpush(a):
    page = os.sysconf("SC_PAGE_SIZE")
    ls = listen(a.backend)
    c = connect(a.via, a.timeout)
    ls.settimeout(a.timeout)
    b, _ = ls.accept()
    ls.close()
    c.sendall(b"x")
    b.sendall(b"+")  # the backend has spoken: the kernel path may start
    if c.recv(1) != b"+":
        raise SystemExit("slowpush: no greeting")
    wait_kernel(a.status, c)
    received = [0]
    stop = threading.Event()

    def reader():
        # RATE bytes/s in 10 steps a second; the receive buffer stays at
        # its default: what a slow consumer looks like.
        step = max(1, a.rate // 10)
        t = time.monotonic()
        try:
            while not stop.is_set():
                want = step
                while want > 0 and not stop.is_set():
                    b.settimeout(0.1)
                    try:
                        d = b.recv(want)
                    except socket.timeout:
                        continue
                    if not d:
                        return
                    received[0] += len(d)
                    want -= len(d)
                t += 0.1
                time.sleep(max(0.0, t - time.monotonic()))
        except OSError:
            pass
    rt = threading.Thread(target=reader, daemon=True)
    base_mem = sockstat_tcp_mem()
    base_avail = meminfo_kb("MemAvailable")
    base_rss = rss_kb(a.pid) if a.pid else 0
    rt.start()
    c.setblocking(False)
    chunk = b"\xa5" * MB
    sent = 0
    peak = {"inflight": 0, "tcp_mem": 0, "avail_drop": 0, "rss": 0}
    t0 = time.monotonic()
    next_sample = t0
    end = t0 + a.seconds
    while time.monotonic() < end:
        if sent < a.bytes:
            try:
                sent += c.send(chunk[:min(MB, a.bytes - sent)])
            except BlockingIOError:
                time.sleep(0.005)
        else:
            time.sleep(0.01)
        if time.monotonic() >= next_sample:
            next_sample += 0.1
            peak["inflight"] = max(peak["inflight"], sent - received[0])
            peak["tcp_mem"] = max(peak["tcp_mem"],
                                  (sockstat_tcp_mem() - base_mem) * page)
            peak["avail_drop"] = max(
                peak["avail_drop"],
                (base_avail - meminfo_kb("MemAvailable")) * 1024)
            if a.pid:
                peak["rss"] = max(peak["rss"],
                                  (rss_kb(a.pid) - base_rss) * 1024)
    stop.set()
    rt.join(2)
    out = dict(peak, sent=sent, received=received[0],
               seconds=round(time.monotonic() - t0, 2),
               base_tcp_mem=base_mem * page, base_rss=base_rss * 1024)
    linger0(c)
    c.close()
    linger0(b)
    b.close()
    print("SLOW " + json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn, addr=True):
        q = sub.add_parser(name)
        if addr:
            q.add_argument("addr")
        q.add_argument("--timeout", type=float, default=20)
        q.add_argument("--status", default="")
        q.set_defaults(fn=fn)
        return q
    q = add("echo", cmd_echo)
    q.add_argument("--pause-every", type=int, default=0)
    q.add_argument("--pause", type=float, default=0)
    q = add("bulk", cmd_bulk)
    q.add_argument("--bytes", type=int, default=MB)
    q.add_argument("--pause-every", type=int, default=0)
    q.add_argument("--pause", type=float, default=0)
    q = add("burst", cmd_burst)
    q.add_argument("--bytes", type=int, default=MB)
    q.add_argument("--answer-bytes", type=int, default=0)
    q.add_argument("--greet", action="store_true")
    q = add("talker", cmd_talker)
    q.add_argument("--bytes", type=int, default=MB)
    q.add_argument("--rst", action="store_true")
    q = add("listener", cmd_listener)
    q.add_argument("--bytes", type=int, default=MB)
    q.add_argument("--hold", type=float, default=0)
    q = add("watch", cmd_watch)
    q.add_argument("--rst-after", type=int, default=0)
    q.add_argument("--greet", action="store_true")
    q = add("rst", cmd_rst)
    q.add_argument("--bytes", type=int, default=MB)
    q = add("pingpong", cmd_pingpong)
    q.add_argument("--conns", type=int, default=4)
    q.add_argument("--rounds", type=int, default=1000)
    q.add_argument("--size", type=int, default=600)
    q = add("abandon", cmd_abandon)
    q.add_argument("--conns", type=int, default=20)
    q.add_argument("--rounds", type=int, default=5)
    q.add_argument("--size", type=int, default=600)
    q = add("slowpush", cmd_slowpush, addr=False)
    q.add_argument("--backend", required=True)
    q.add_argument("--via", required=True)
    q.add_argument("--rate", type=int, default=400000)
    q.add_argument("--bytes", type=int, default=256 * MB)
    q.add_argument("--seconds", type=float, default=4)
    q.add_argument("--pid", type=int, default=0)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
