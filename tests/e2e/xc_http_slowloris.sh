#!/usr/bin/env bash
# http plugin against slow and idle clients (slowloris):
# 1. 320 clients trickling a request head one byte per second (from four
#    loopback addresses) and 20 that send nothing: a normal client from
#    127.0.0.2 is served all along; each slow one gets a 408 once
#    --header-timeout (2 s here) has passed since its accept, although it
#    keeps sending; each silent one is closed without an answer after
#    --first-byte-timeout (1 s). Counted as timeout_header and
#    timeout_first_byte on the link. On a keep-alive connection the next
#    head has the same deadline from the end of the answer: idle, the
#    connection is closed without a word; with part of a head, 408.
# 2. 520 slow clients from 127.0.0.1 against the default limits (512
#    connections, 128 per client address): 128 are taken, 392 refused and
#    counted as refused_per_client, and a client from 127.0.0.2 is still
#    served. Over --max-conns, refusals are counted too (refused_max_conns).
# Runs in a private network namespace (xc_tcp_lib.sh), loopback only.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

SLOW="$PVX_SRC/tests/e2e/lib/slowcli.py"
HEAD='GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n'

http_backend be A
BE=$READY
P=$(freeport)
write_graph "$(http_link web "127.0.0.1:$P" "127.0.0.1:$BE")"

# served: a normal request from 127.0.0.2 gets the backend's answer.
served() {
	local out
	out=$(curl -sS --max-time 10 --interface 127.0.0.2 "http://127.0.0.1:$P/normal") || return 1
	[[ $(jget "$out" tag) == A ]]
}
# result NAME OUTCOME FIELD: a figure of slowcli's RESULT line.
result() {
	"$PY" -c 'import json,sys
line = [l for l in open(sys.argv[1]) if l.startswith("RESULT ")][0]
print(json.loads(line[7:]).get(sys.argv[2], {}).get(sys.argv[3], 0))' "$TMP/$1.out" "$2" "$3"
}
wait_line() { # NAME TEXT
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q "^$2" "$TMP/$1.out" && return 0
		sleep 0.05
	done
	fail "$1: no '$2' line: $(cat "$TMP/$1.out")"
}

log "1. 320 slow and 20 silent clients, --header-timeout 2 --first-byte-timeout 1"
start_xc --header-timeout 2 --first-byte-timeout 1
wait_listen "$P"
spawn slow "$PY" -u "$SLOW" "127.0.0.1:$P" --src 127.0.0.10,127.0.0.11,127.0.0.12,127.0.0.13 \
	--conns 320 --text "$HEAD" --interval 1 --seconds 25
SLOW_PID=$SPAWNED
spawn idle "$PY" -u "$SLOW" "127.0.0.1:$P" --src 127.0.0.20 --conns 20 --seconds 25
IDLE_PID=$SPAWNED
wait_line slow CONNECTED
wait_line idle CONNECTED
n=0
while kill -0 "$SLOW_PID" 2>/dev/null && ((n < 50)); do
	served || fail "normal client not served during the attack (request $((n + 1)))"
	n=$((n + 1))
	sleep 0.2
done
log "normal client served $n times during the attack"
((n >= 1)) || fail "no normal request during the attack"
wait "$SLOW_PID" || fail "slow clients: $(cat "$TMP/slow.out")"
wait "$IDLE_PID" || fail "idle clients: $(cat "$TMP/idle.out")"
log "slow: $(grep RESULT "$TMP/slow.out")"
log "idle: $(grep RESULT "$TMP/idle.out")"
[[ $(result slow 408 n) == 320 ]] || fail "$(result slow 408 n) of 320 slow clients got 408"
# Each byte restarted nothing: the 408s came while the clients still had
# most of their 60-byte head to send (at one byte a second).
[[ $(result idle closed n) == 20 ]] || fail "$(result idle closed n) of 20 silent clients closed without answer"
[[ $(status_field web timeout_header) == 320 ]] ||
	fail "timeout_header=$(status_field web timeout_header), want 320"
[[ $(status_field web timeout_first_byte) == 20 ]] ||
	fail "timeout_first_byte=$(status_field web timeout_first_byte), want 20"
served || fail "normal client not served after the attack"

log "keep-alive: the next head has the same deadline from the end of the answer"
timeout 20 "$PY" - "$P" <<'PY' || fail "keep-alive head deadline"
import socket, sys, time
def answer(f):
    line = f.readline()
    n = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            n = int(h.split(b":")[1])
    f.read(n)
    return line
req = b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n"
# idle after an answer: closed without a word once the deadline passes
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
s.sendall(req)
assert answer(f).startswith(b"HTTP/1.1 200"), "first answer"
assert s.recv(100) == b"", "idle keep-alive connection not closed silently"
# part of a second head, then nothing: 408
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
s.sendall(req)
assert answer(f).startswith(b"HTTP/1.1 200"), "first answer"
s.sendall(b"GET /ka HTTP/1.1\r\nHo")
line = answer(f)
assert line.startswith(b"HTTP/1.1 408"), line
PY
stop_xc

log "2. 520 slow clients from 127.0.0.1, default limits (512, 128 per client)"
# Long deadlines: the 128 must still hold their slots when counted, on a
# loaded machine too.
start_xc --header-timeout 120 --first-byte-timeout 120
wait_listen "$P"
spawn slow2 "$PY" -u "$SLOW" "127.0.0.1:$P" --src 127.0.0.1 --conns 520 --text "$HEAD" \
	--interval 1 --seconds 25 --stop-file "$TMP/stop2"
SLOW_PID=$SPAWNED
wait_line slow2 CONNECTED
for ((i = 0; i < 100; i++)); do
	[[ $(status_field web refused_per_client) == 392 ]] && break
	sleep 0.05
done
[[ $(status_field web refused_per_client) == 392 ]] ||
	fail "refused_per_client=$(status_field web refused_per_client), want 392"
for ((i = 0; i < 5; i++)); do
	served || fail "normal client from 127.0.0.2 not served while 127.0.0.1 holds its share"
done
touch "$TMP/stop2"
wait "$SLOW_PID" || fail "slow clients: $(cat "$TMP/slow2.out")"
log "slow2: $(grep RESULT "$TMP/slow2.out")"
[[ $(result slow2 closed n) == 392 ]] || fail "$(result slow2 closed n) of 520 closed at once, want 392"
[[ $(result slow2 open n) == 128 ]] || fail "$(result slow2 open n) of 520 held, want 128"
log_has "client 127.0.0.1 has 128 connections, the per-client limit" || fail "no log line for the refusals"
stop_xc

log "3. over --max-conns 10 (no per-client cap): refusals counted and logged"
start_xc --max-conns 10 --max-conns-per-client 0
wait_listen "$P"
spawn slow3 "$PY" -u "$SLOW" "127.0.0.1:$P" --conns 15 --seconds 25 --stop-file "$TMP/stop3"
SLOW_PID=$SPAWNED
wait_line slow3 CONNECTED
for ((i = 0; i < 100; i++)); do
	[[ $(status_field web refused_max_conns) == 5 ]] && break
	sleep 0.05
done
[[ $(status_field web refused_max_conns) == 5 ]] ||
	fail "refused_max_conns=$(status_field web refused_max_conns), want 5"
log_has "10 connections, the limit: closing new ones" || fail "no log line for the refusals over --max-conns"
touch "$TMP/stop3"
wait "$SLOW_PID" || true
