"""Test peers of the tests/e2e/ing_*.sh scripts (issue 9: allowlists,
PROXY protocol, hold-and-retry, health). Each server prints
"READY <port or path>" once listening.

  counted ADDR FILE [--reset-first N]
                         server: appends one line per accepted connection to
                         FILE, answers "hello\\n" and closes (the first N
                         connections: reads, then resets without answering)
  ppserver ADDR FILE     server: reads a PROXY v1/v2 header, writes what it
                         decoded as one JSON line to FILE, answers
                         "hello\\n" and closes
  fetch ADDR [--src IP] [--n N]
                         client: connects (from IP), prints what it got:
                         "data:<text>", "eof" or "reset" (N times)
  burst ADDR N           client: N connections at once, each sends "GET\\n"
                         and must read "hello\\n" then EOF; prints
                         "served=X failed=Y"
"""
import argparse, json, os, socket, struct, sys, threading, time


# Addresses and listeners as every other peer of the tests parses and
# opens them (peers.py, in this directory).
from peers import listen, parse_addr  # noqa: E402


def serve(ls, handler):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def append(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def cmd_counted(a):
    ls = listen(a.addr)
    resets = [a.reset_first]

    def h(c):
        append(a.file, "conn")
        if resets[0] > 0:
            # Reads the request, then resets the connection without a
            # byte back (a backend dying under a restart).
            resets[0] -= 1
            c.recv(4096)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            c.close()
            return
        try:
            c.sendall(b"hello\n")
        finally:
            c.close()
    serve(ls, h)


SIG2 = b"\r\n\r\n\x00\r\nQUIT\n"


def read_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def read_pp(c):
    first = read_exact(c, 12)
    if first == SIG2:
        vc, fam, ln = struct.unpack("!BBH", read_exact(c, 4))
        body = read_exact(c, ln)
        out = {"version": 2, "cmd": "LOCAL" if vc & 0xF == 0 else "PROXY",
               "ver_cmd": vc, "family": fam, "len": ln}
        if fam == 0x11:
            s, d, sp, dp = struct.unpack("!4s4sHH", body[:12])
            out.update(src=socket.inet_ntop(socket.AF_INET, s), sport=sp,
                       dst=socket.inet_ntop(socket.AF_INET, d), dport=dp)
        elif fam == 0x21:
            s, d, sp, dp = struct.unpack("!16s16sHH", body[:36])
            out.update(src=socket.inet_ntop(socket.AF_INET6, s), sport=sp,
                       dst=socket.inet_ntop(socket.AF_INET6, d), dport=dp)
        return out
    line = first
    while not line.endswith(b"\r\n"):
        line += read_exact(c, 1)
        if len(line) > 107:
            raise ValueError("v1 line too long")
    return {"version": 1, "line": line.decode().rstrip("\r\n")}


def cmd_ppserver(a):
    ls = listen(a.addr)

    def h(c):
        try:
            info = read_pp(c)
        except Exception as e:  # noqa: BLE001 (report anything)
            info = {"error": repr(e)}
        append(a.file, json.dumps(info))
        try:
            c.sendall(b"hello\n")
        finally:
            c.close()
    serve(ls, h)


def cmd_fetch(a):
    for _ in range(a.n):
        fetch_one(a)


def fetch_one(a):
    fam, addr = parse_addr(a.addr)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    if a.src:
        s.bind((a.src, 0))
    s.connect(addr)
    try:
        s.sendall(b"GET\n")
    except OSError:
        pass
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except ConnectionResetError:
        if not got:
            print("reset")
            return
    print(f"data:{got.decode().strip()}" if got else "eof")


def cmd_burst(a):
    fam, addr = parse_addr(a.addr)
    res = []
    lock = threading.Lock()

    def one():
        ok = False
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(a.timeout)
            s.connect(addr)
            s.sendall(b"GET\n")
            got = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                got += d
            ok = got == b"hello\n"
        except OSError:
            ok = False
        with lock:
            res.append(ok)
    ts = [threading.Thread(target=one) for _ in range(a.n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"served={sum(res)} failed={len(res) - sum(res)}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("counted")
    c.add_argument("addr")
    c.add_argument("file")
    c.add_argument("--reset-first", type=int, default=0)
    c.set_defaults(fn=cmd_counted)
    s = sub.add_parser("ppserver")
    s.add_argument("addr")
    s.add_argument("file")
    s.set_defaults(fn=cmd_ppserver)
    f = sub.add_parser("fetch")
    f.add_argument("addr")
    f.add_argument("--src")
    f.add_argument("--timeout", type=float, default=10)
    f.add_argument("--n", type=int, default=1)
    f.set_defaults(fn=cmd_fetch)
    b = sub.add_parser("burst")
    b.add_argument("addr")
    b.add_argument("n", type=int)
    b.add_argument("--timeout", type=float, default=20)
    b.set_defaults(fn=cmd_burst)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
