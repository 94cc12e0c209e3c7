#!/usr/bin/env python3
"""A minimal xconnect graph server on a Unix socket, for the pv-xconnect
end-to-end tests. It serves GET /xconnect-graph from a file (re-read on
every request, so a test changes the graph by rewriting the file).

--mode plain: like Pantavisor's pv-ctrl: "HTTP/1.0 200 OK", no
  Content-Length, no ETag, the body written in small pieces, then close.
--mode etag: HTTP/1.1 with an ETag and Content-Length; "?wait=<etag>"
  holds the request until the file's graph has another ETag (answered 200)
  or --wait-timeout passes (answered 304).

Prints "READY <socket>" once listening and "REQ <path>" for each request.
"""

import argparse
import hashlib
import os
import socket
import socketserver
import sys
import time
import urllib.parse


def load(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b"[]"


def etag_of(body):
    return '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


def unquote_etag(s):
    s = s.strip()
    if s.startswith("W/"):
        s = s[2:]
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        s = s[1:-1]
    return s


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        a = self.server.args
        line = self.rfile.readline(8192).decode("latin-1").strip()
        while True:  # headers, ignored
            h = self.rfile.readline(8192)
            if h in (b"\r\n", b"\n", b""):
                break
        parts = line.split()
        if len(parts) != 3 or parts[0] != "GET":
            self.wfile.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            return
        print(f"REQ {parts[1]}", flush=True)
        url = urllib.parse.urlsplit(parts[1])
        if url.path != "/xconnect-graph":
            self.wfile.write(b"HTTP/1.0 404 Not Found\r\n\r\n{}")
            return
        if a.mode == "plain":
            self.plain()
        else:
            wait = urllib.parse.parse_qs(url.query).get("wait", [None])[0]
            self.etag(wait)

    def plain(self):
        body = load(self.server.args.graph)
        w = self.wfile
        w.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        w.flush()
        # In pieces, as a slow server would: the client must not parse
        # the first read as the whole answer.
        for i in range(0, len(body), 7):
            w.write(body[i:i + 7])
            w.flush()
            time.sleep(0.002)

    def etag(self, wait):
        a = self.server.args
        body = load(a.graph)
        tag = etag_of(body)
        if wait is not None and unquote_etag(wait) == unquote_etag(tag):
            end = time.monotonic() + a.wait_timeout
            while time.monotonic() < end:
                time.sleep(0.02)
                body = load(a.graph)
                tag = etag_of(body)
                if unquote_etag(wait) != unquote_etag(tag):
                    break
            else:
                self.wfile.write(
                    f"HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\n"
                    "Connection: close\r\n\r\n".encode())
                return
        self.wfile.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"ETag: {tag}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode() + body)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--socket", required=True)
    p.add_argument("--graph", required=True)
    p.add_argument("--mode", choices=("plain", "etag"), default="etag")
    p.add_argument("--wait-timeout", type=float, default=30)
    args = p.parse_args()
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    srv = Server(args.socket, Handler)
    srv.args = args
    print(f"READY {args.socket}", flush=True)
    try:
        srv.serve_forever()
    finally:
        try:
            os.unlink(args.socket)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
