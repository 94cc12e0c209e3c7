#!/usr/bin/env bash
# tcp plugin against idle clients: --max-conns-per-client caps the
# connections one address holds on a link (refusals closed at once,
# counted as refused_per_client and failed, logged), while a client from
# another loopback address (127.0.0.2) is still served; a connection where
# neither side sent a byte is closed after --first-byte-timeout (counted
# as timeout_first_byte), but one whose backend spoke first (a banner, as
# SMTP or SSH send) is not, however silent its client.
# Runs in a private network namespace (xc_tcp_lib.sh), loopback only.
# shellcheck source=tests/e2e/lib/xc_tcp_lib.sh
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

SLOW="$PVX_SRC/tests/e2e/lib/slowcli.py"
start_peer echo echo 127.0.0.1:0
BE=$READY
cat >"$TMP/banner.py" <<'PY'
# banner.py: a server that speaks first ("220 hello\n"), then echoes.
import socket, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print(f"READY {ls.getsockname()[1]}", flush=True)
def serve(c):
    with c:
        c.sendall(b"220 hello\n")
        while (d := c.recv(4096)):
            c.sendall(d)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
spawn banner "$PY" -u "$TMP/banner.py"
wait_ready banner
BANNER=$READY
P=$(freeport)
Q=$(freeport)
write_graph "$(link_json idle "127.0.0.1:$P" "127.0.0.1:$BE")" \
	"$(link_json smtp "127.0.0.1:$Q" "127.0.0.1:$BANNER")"
# The deadline must outlast the checks made while the clients are held,
# even on a loaded machine: 10 s.
start_xc --max-conns-per-client 10 --first-byte-timeout 10
wait_listen "$P"
wait_listen "$Q"

wait_line() { # NAME TEXT
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q "^$2" "$TMP/$1.out" && return 0
		sleep 0.05
	done
	fail "$1: no '$2' line: $(cat "$TMP/$1.out")"
}
wait_field() { # LINK FIELD VALUE
	local i
	for ((i = 0; i < 600; i++)); do
		[[ $(status_field "$1" "$2") == "$3" ]] && return 0
		sleep 0.05
	done
	fail "$1 $2=$(status_field "$1" "$2"), want $3"
}
# echo_from SRC PORT: one round trip through the link from address SRC.
echo_from() {
	timeout 10 "$PY" - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.settimeout(5)
s.connect(("127.0.0.1", int(sys.argv[2])))
s.sendall(b"ping\n")
got = b""
while len(got) < 5:
    d = s.recv(64)
    if not d:
        break
    got += d
sys.exit(0 if got == b"ping\n" else 1)
PY
}

log "30 idle clients from 127.0.0.1, 10 per client: 10 held, 20 refused"
spawn idle "$PY" -u "$SLOW" "127.0.0.1:$P" --src 127.0.0.1 --conns 30 --seconds 30
IDLE_PID=$SPAWNED
wait_line idle CONNECTED
wait_field idle refused_per_client 20
[[ $(status_field idle active) == 10 ]] || fail "active=$(status_field idle active), want 10"
[[ $(status_field idle failed) == 20 ]] || fail "failed=$(status_field idle failed), want 20"
echo_from 127.0.0.2 "$P" || fail "client from 127.0.0.2 not served while 127.0.0.1 holds its share"
grep -qF "client 127.0.0.1 has 10 connections, the per-client limit" "$TMP/xc.log" || fail "no log line for the refusals"

log "the 10 held ones say nothing: closed after --first-byte-timeout"
wait "$IDLE_PID" || fail "idle clients: $(cat "$TMP/idle.out")"
log "idle: $(grep RESULT "$TMP/idle.out")"
wait_field idle timeout_first_byte 10
[[ $(status_field idle active) == 0 ]] || fail "active=$(status_field idle active), want 0"
grep -q '"closed": {[^}]*"n": 30' "$TMP/idle.out" || fail "not all 30 closed: $(grep RESULT "$TMP/idle.out")"
log "127.0.0.1 is served again once its connections were closed"
echo_from 127.0.0.1 "$P" || fail "127.0.0.1 not served once its connections were closed"

log "a server that speaks first keeps its silent client past the deadline"
timeout 40 "$PY" - "$Q" <<'PY' || fail "banner connection closed by the first-byte deadline"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
assert s.recv(64) == b"220 hello\n"
time.sleep(11)  # past --first-byte-timeout 10, the client silent
s.sendall(b"still\n")
assert s.recv(64) == b"still\n"
PY
[[ $(status_field smtp timeout_first_byte) == 0 ]] ||
	fail "smtp timeout_first_byte=$(status_field smtp timeout_first_byte), want 0"
