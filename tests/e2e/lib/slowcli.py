#!/usr/bin/env python3
"""Slow and idle clients for the pv-xconnect tests (slowloris): opens
--conns connections to ADDR, round-robin from the --src addresses, then
sends the next byte of --text to each every --interval seconds (no --text:
idle clients that never send). Prints "CONNECTED <n>" once all are open,
then, when every connection was closed by the other side, --seconds have
passed or --stop-file exists, one line "RESULT <json>": how each
connection ended ("408", any status seen, "closed" without an answer,
"open" at the end) and, per outcome, the earliest and latest close in
seconds after the connects."""

import argparse
import json
import os
import selectors
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("addr", help="HOST:PORT")
    p.add_argument("--src", default="127.0.0.1", help="IP[,IP...]")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--text", default="", help="Python escapes allowed")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--stop-file", default="")
    a = p.parse_args()
    host, _, port = a.addr.rpartition(":")
    text = a.text.encode().decode("unicode_escape").encode("latin-1")
    srcs = a.src.split(",")
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(a.conns):
        s = socket.socket()
        s.bind((srcs[i % len(srcs)], 0))
        s.settimeout(5)
        s.connect((host, int(port)))
        s.setblocking(False)
        c = {"s": s, "sent": 0, "data": b"", "end": None, "t": None}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    print("CONNECTED", len(conns), flush=True)
    t0 = time.monotonic()
    next_send = t0
    live = len(conns)

    def close(c, now):
        nonlocal live
        d = c["data"]
        if d.startswith(b"HTTP/1.") and len(d) >= 12:
            c["end"] = d[9:12].decode("latin-1")
        else:
            c["end"] = "closed"
        c["t"] = round(now - t0, 2)
        sel.unregister(c["s"])
        c["s"].close()
        live -= 1

    while live and time.monotonic() - t0 < a.seconds:
        if a.stop_file and os.path.exists(a.stop_file):
            break
        now = time.monotonic()
        if text and now >= next_send:
            for c in conns:
                if c["end"] is None and c["sent"] < len(text):
                    try:
                        c["s"].send(text[c["sent"]:c["sent"] + 1])
                        c["sent"] += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        pass  # the read side reports the close
            next_send += a.interval
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                d = c["s"].recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                c["data"] += d
            else:
                close(c, time.monotonic())
    res = {}
    for c in conns:
        end = c["end"] or "open"
        r = res.setdefault(end, {"n": 0, "first": None, "last": None})
        r["n"] += 1
        if c["t"] is not None:
            r["first"] = c["t"] if r["first"] is None else min(r["first"], c["t"])
            r["last"] = c["t"] if r["last"] is None else max(r["last"], c["t"])
        if c["end"] is None:
            c["s"].close()
    print("RESULT", json.dumps(res, sort_keys=True), flush=True)


if __name__ == "__main__":
    sys.exit(main())
