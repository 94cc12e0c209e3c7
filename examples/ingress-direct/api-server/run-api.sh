#!/bin/sh
# A tiny HTTP service on a Unix socket, for the http ingress of this
# example: answers every request with the path it was asked for. /run is
# private to the container, so the socket is created there.
set -e
mkdir -p /run/api
exec python3 -c '
import http.server, socketserver, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("api-server: %s\n" % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def address_string(self):
        return "unix"
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
path = "/run/api/api.sock"
if os.path.exists(path):
    os.unlink(path)
S(path, H).serve_forever()
'
