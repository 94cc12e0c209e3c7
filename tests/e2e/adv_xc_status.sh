#!/usr/bin/env bash
# Hostile clients on pv-xconnect's --status socket (issue 3, counters
# readable from the status socket): garbage, a silent client, unknown
# paths, and a header of up to 16 MiB. The data plane shares the event loop, so the
# link must keep proxying, the status must keep answering, and memory must
# stay bounded (an oversized header is refused, not buffered whole).
# Private network namespace (xc_tcp_lib.sh), loopback and Unix sockets.
# shellcheck source=lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

tag_backend be-a A
BA=127.0.0.1:$READY
P1=$(freeport)
write_graph "$(link_json keep "127.0.0.1:$P1" "$BA")"
start_xc
wait_listen "$P1"
[[ $(ask "127.0.0.1:$P1" hi) == A:hi ]] || fail "link not up"
for ((i = 0; i < 100; i++)); do [[ -S $TMP/status.sock ]] && break; sleep 0.05; done
[[ $(status_field keep accepted) -ge 1 ]] || fail "status: no accepted count"

"$PY" - "$TMP/status.sock" "$XC_PID" "127.0.0.1:$P1" <<'PY' || fail "status socket (see above)"
import os, socket, sys, time
path, pid, probe = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
def ask():
    host, _, port = probe.rpartition(":")
    s = socket.create_connection((host, int(port)), timeout=2)
    f = s.makefile("rwb"); f.write(b"x\n"); f.flush()
    r = f.readline(); s.close()
    assert r == b"A:x\n", r
def status(p="/links"):
    # The 21 clients above fill the listen backlog (16) until pv-xconnect
    # accepts them; a Unix connect then fails at once with EAGAIN.
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX); s.settimeout(3)
        try:
            s.connect(path); break
        except BlockingIOError:
            s.close(); time.sleep(0.01)
    s.sendall(f"GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    buf = b""
    while True:
        d = s.recv(65536)
        if not d: break
        buf += d
    s.close()
    return buf.split(b"\r\n")[0]
T0 = time.monotonic()
held = []
for i in range(20):  # silent clients
    s = socket.socket(socket.AF_UNIX); s.connect(path); held.append(s)
g = socket.socket(socket.AF_UNIX); g.connect(path); g.sendall(os.urandom(4096) + b"\r\n\r\n"); held.append(g)
assert status().startswith(b"HTTP/1.1 200"), status()
st = status("/nope")
assert st.split()[1] in (b"404", b"400"), st
ask()
print(f"ok: status answers with 21 hostile clients open, link proxies ({time.monotonic() - T0:.1f} s)")
r0 = rss()
s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(5)
s.sendall(b"GET /links HTTP/1.1\r\nX-Big: ")
sent, chunk = 0, b"a" * 65536
t_end = time.monotonic() + 5
try:
    for i in range(256):  # up to 16 MiB or 5 s
        if time.monotonic() > t_end:
            break
        s.sendall(chunk); sent += len(chunk)
except OSError:
    pass
time.sleep(0.2)
r1 = rss()
s.close()
ask()
assert status().startswith(b"HTTP/1.1 200")
print(f"header bytes accepted before refusal: {sent}; RSS {r0} -> {r1} kB ({time.monotonic() - T0:.1f} s)")
if sent >= 8 << 20 and r1 - r0 > 4 * 1024:
    sys.exit(f"FAIL: {sent >> 20} MiB of one header line taken by the status socket (pv-xconnect grew {r1 - r0} kB): it is buffered, not refused")
print("ok: an oversized header is refused with bounded memory")
PY
kill -0 "$XC_PID" || fail "pv-xconnect died"
[[ $(ask "127.0.0.1:$P1" end) == A:end ]] || fail "link stopped"
