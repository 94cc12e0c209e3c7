#!/usr/bin/env bash
# Issue 3, "Done when" 10 (second half): pv-xconnect against a minimal
# graph server like Pantavisor's: HTTP/1.0, no Content-Length, no ETag,
# the body in small pieces, then close. pv-xconnect polls (--interval 1),
# applies changes, never sends ?wait=, and keeps the links while the
# server is down or answers garbage.
# shellcheck source=tests/e2e/lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

answer_is() { [[ $(ask "$1" "$2") == "$3" ]]; }

tag_backend be-a A
BA=127.0.0.1:$READY
tag_backend be-b B
BB=127.0.0.1:$READY
P1=$(freeport)
P2=$(freeport)
# Long enough that the body arrives in many pieces (7 bytes each).
write_graph "$(link_json web "127.0.0.1:$P1" "$BA")" \
	"$(link_json late "127.0.0.1:$P2" "")"
start_graphsrv plain
start_xc_ctrl --interval 1
wait_listen "$P1"
wait_listen "$P2"
answer_is "127.0.0.1:$P1" hi A:hi || fail "no answer from A"

write_graph "$(link_json web "127.0.0.1:$P1" "$BB")" \
	"$(link_json late "127.0.0.1:$P2" "$BA")"
ms=$(until_ms 2500 answer_is "127.0.0.1:$P1" x B:x) ||
	fail "change not picked up by polling within 2.5 s"
answer_is "127.0.0.1:$P2" x A:x || fail "late: socket \"\" -> $BA not applied"
log "polled change applied after $ms ms"
! grep -q 'wait=' "$TMP/graphsrv.out" || fail "sent ?wait= to a server without ETag"
n=$(grep -c '^REQ' "$TMP/graphsrv.out")
((n <= 6)) || fail "$n requests in about 2 s with --interval 1"

log "server gone: links stay"
kill -TERM "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || true
sleep 1.5
answer_is "127.0.0.1:$P1" y B:y || fail "link stopped while the server is down"

log "server answers garbage: links stay"
rm -f "$TMP/ctl.sock"
spawn garbage "$PY" -u -c '
import os, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(p); s.listen(8)
print("READY", p, flush=True)
while True:
    c, _ = s.accept()
    c.recv(4096); c.sendall(b"SSH-2.0-nonsense\r\n\r\n"); c.close()
' "$TMP/ctl.sock"
GARBAGE=$SPAWNED
wait_ready garbage "$GARBAGE"
# The reconnect backoff has grown while the server was down: wait for the
# next try (a guard, not a bound), then judge what it did.
until_ms 15000 log_has "bad answer: not an HTTP/1.x status line" >/dev/null ||
	fail "garbage answer not logged"
answer_is "127.0.0.1:$P1" z B:z || fail "link stopped on a garbage answer"
kill -TERM "$GARBAGE"
wait "$GARBAGE" 2>/dev/null || true
rm -f "$TMP/ctl.sock"

write_graph "$(link_json web "127.0.0.1:$P1" "$BA")"
start_graphsrv plain
ms=$(until_ms 7000 answer_is "127.0.0.1:$P1" w A:w) ||
	fail "no recovery once the server is back"
until_ms 1000 refused "$P2" >/dev/null || fail "late not removed after recovery"
log "server back: change applied after $ms ms"
