#!/usr/bin/env bash
# http plugin: Upgrade (WebSocket-like) tunnelled after the backend's 101,
# both ways until one side closes; 504 when the backend does not answer
# in time (response head) or cannot be connected to (a black-holed address
# on a veth link inside this test's own namespace); 101 not asked for
# is a 502. A removed link's open tunnel goes on for the drain period.
# After the 101 the relay core carries the tunnel (issue 8, "Done when" 5):
# the request's access log line says "upgraded", the relay's own line
# counts the tunnel's bytes exactly, and half-closes pass both ways.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

http_backend a A
A=$READY
cat >"$TMP/mute.py" <<'PY'
# mute.py: accepts and reads, never answers.
import socket, threading, time
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(16)
print(f"READY {ls.getsockname()[1]}", flush=True)
keep = []
while True:
    c, _ = ls.accept(); keep.append(c)
PY
spawn mute "$PY" -u "$TMP/mute.py"
wait_ready mute
M=$READY
# 10.231.7.2 is on a veth link whose far end has no address: a SYN there
# gets no answer (not even ARP), in this test's namespace only.
ip link add pvxhu-a type veth peer name pvxhu-b
ip addr add 10.231.7.1/24 dev pvxhu-a
ip link set pvxhu-a up
ip link set pvxhu-b up
P=$(freeport)
write_graph "$(http_link ws "127.0.0.1:$P/ws" "127.0.0.1:$A")" \
	"$(http_link mute "127.0.0.1:$P/mute" "127.0.0.1:$M")" \
	"$(http_link hole "127.0.0.1:$P/hole" "10.231.7.2:80")"
start_xc --idle-timeout 2 --connect-timeout 500 --drain 1 \
	--access-log "$TMP/access.log" --access-log-format json
wait_listen "$P"

log "upgrade and echo through the tunnel"
timeout 20 "$PY" - "$P" <<'PY' || fail "tunnel"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
          b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    b = s.recv(4096)
    if not b:
        sys.exit("closed before the 101: %r" % head)
    head += b
head, _, rest = head.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
assert lines[0].startswith("HTTP/1.1 101"), lines[0]
low = [l.lower() for l in lines]
assert "upgrade: websocket" in low, lines
assert "connection: upgrade" in low, lines
for i in range(20):
    msg = b"frame %d " % i + b"y" * (i * 5000)
    s.sendall(msg)
    want = b"echo:" + msg
    got = rest
    while len(got) < len(want):
        b = s.recv(65536)
        if not b:
            sys.exit("tunnel closed early")
        got += b
    # The echo server answers per recv: pieces may come prefixed apiece.
    rest = b""
    assert got.replace(b"echo:", b"") == msg, (i, len(got))
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
assert s.recv(10) == b"", "not closed after our EOF"
PY
until_ms 3000 bash -c "[[ \$(curl -sS --unix-socket $TMP/status.sock http://x/links | grep -c '\"active\": 0') -ge 3 ]]" ||
	fail "tunnel still active: $(status_field ws active)"

log "tunnel: 4 MiB then our EOF at once: all of it echoed, then the close"
OUTN=$(timeout 20 "$PY" - "$P" <<'PY'

import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /ws/hc HTTP/1.1\r\nHost: x\r\nUpgrade: t\r\nConnection: upgrade\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
head, _, got = head.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 101"), head
payload = b"z" * (4 << 20)
def send():
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
t.join()
n = len(got.replace(b"echo:", b""))
assert n == len(payload), (n, len(payload))
print(len(got), flush=True)
PY
) || fail "tunnel half-close"
log "that tunnel was the relay core's: its own access log line, bytes exact, both halves closed"
until_ms 3000 grep -q '"bytes_in":4194304' "$TMP/access.log" ||
	fail "no relay line for the tunnel: $(cat "$TMP/access.log")"
"$PY" - "$TMP/access.log" "$OUTN" <<'PY' || fail "access log: $(cat "$TMP/access.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
req = [l for l in lines if l.get("path") == "/ws/hc"]
assert len(req) == 1, req
assert req[0]["status"] == 101 and req[0]["reason"] == "upgraded", req
tun = [l for l in lines
       if l.get("link") == "ws" and "method" not in l and l["bytes_in"] == 4 << 20]
assert len(tun) == 1, tun
t = tun[0]
assert t["type"] == "http", t
assert t["bytes_out"] == int(sys.argv[2]), (t, sys.argv[2])
# "done": the relay passed the client's EOF on and then the backend's.
assert t["reason"] == "done", t
PY
log_has 'closed requests=1 reason="upgraded"' || fail "no close line for the handed-over connection"

log "tunnel idle timeout (2 s) counts bytes either way"
timeout 20 "$PY" - "$P" <<'PY' || fail "tunnel idle"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /ws/sink HTTP/1.1\r\nHost: x\r\nUpgrade: t\r\nConnection: upgrade\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
assert head.startswith(b"HTTP/1.1 101"), head
for _ in range(6):  # 4.2 s of one-way bytes: the tunnel must stay
    s.sendall(b"x")
    time.sleep(0.7)
s.sendall(b"x")
t0 = time.monotonic()
assert s.recv(10) == b"", "data from a sink"
t = time.monotonic() - t0
# Closed (the recv timeout is only a guard), and not before the idle
# timeout: a loaded machine makes it later, never earlier.
assert t > 1.5, "closed %.2f s after the last byte" % t
print("idle close after %.2f s" % t)
PY

log "101 not asked for: 502"
# The backend answers 101 to /force101 whatever was asked.
got=$(raw "$P" "GET /ws/force101 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
[[ $got == 502 ]] || fail "unasked 101: $got"

log "504: no response head within the timeout (2 s)"
t0=$(now_ms)
[[ $(code "http://127.0.0.1:$P/mute/x") == 504 ]] || fail "mute backend: not 504"
t=$(($(now_ms) - t0))
# Not before the timeout (curl's --max-time is the guard for "never").
((t >= 1800)) || fail "504 after $t ms, before the 2 s timeout"
log "504: connect timeout (500 ms)"
t0=$(now_ms)
[[ $(code "http://127.0.0.1:$P/hole/x") == 504 ]] || fail "black hole: not 504"
t=$(($(now_ms) - t0))
((t >= 400)) || fail "504 after $t ms, before the 500 ms timeout"
[[ $(status_field hole failed) == 1 ]] || fail "hole failed: $(status_field hole failed)"

log "link removed while a tunnel is open: it drains (1 s), new requests 404"
cat >"$TMP/tun.py" <<'PY'
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /ws/d HTTP/1.1\r\nHost: x\r\nUpgrade: t\r\nConnection: upgrade\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
assert head.startswith(b"HTTP/1.1 101"), head
def echo(m):
    s.sendall(m)
    got = b""
    while len(got) < len(m) + 5:
        b = s.recv(4096)
        assert b, "closed"
        got += b
    assert got == b"echo:" + m, got
echo(b"one")
open(sys.argv[2] + "/t1", "w").close()
end = time.monotonic() + 10
while not os.path.exists(sys.argv[2] + "/t2") and time.monotonic() < end:
    time.sleep(0.02)
echo(b"two")
t0 = time.monotonic()
assert s.recv(10) == b"", "data instead of the close"
print("CLOSED %.2f" % (time.monotonic() - t0), flush=True)
PY
spawn tun "$PY" -u "$TMP/tun.py" "$P" "$TMP"
TUN=$SPAWNED
until_ms 5000 test -e "$TMP/t1" || fail "tunnel not up: $(cat "$TMP/tun.out")"
write_graph "$(http_link mute "127.0.0.1:$P/mute" "127.0.0.1:$M")" \
	"$(http_link hole "127.0.0.1:$P/hole" "10.231.7.2:80")"
until_ms 3000 log_has "link removed type=http name=ws" || fail "ws not removed"
touch "$TMP/t2"
[[ $(code "http://127.0.0.1:$P/ws/x") == 404 ]] || fail "removed route: not 404"
wait "$TUN" || fail "tunnel during the drain: $(cat "$TMP/tun.out")"
grep -q '^CLOSED' "$TMP/tun.out" || fail "tunnel not closed: $(cat "$TMP/tun.out")"
log "tunnel $(cat "$TMP/tun.out") s after the second echo"
until_ms 3000 bash -c "! curl -sS --unix-socket $TMP/status.sock http://x/links | grep -q '\"ws\"'" ||
	fail "ws still listed after the drain"
