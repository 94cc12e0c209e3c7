#!/usr/bin/env bash
# Issue 3, "Done when" 6: graph changes followed by ?wait= long-polls on a
# control socket (tests/e2e/lib/graphsrv.py --mode etag):
#  (b) a link whose socket goes from "" to "127.0.0.1:P" starts working
#      without a restart (the seed's race);
#  (c) a changed backend is used by new connections while an open one
#      keeps talking to the old backend;
#  (a) a removed link's port refuses connections within 1 s;
#  (d) a changed target rebinds: the old port refuses, the new one accepts.
# Also: the control socket going away keeps the links running, and the
# client does not spin on long-polls.
# shellcheck source=tests/e2e/lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

answer_is() { [[ $(ask "$1" "$2") == "$3" ]]; }

tag_backend be-a A
BA=127.0.0.1:$READY
tag_backend be-b B
BB=127.0.0.1:$READY
P1=$(freeport)
P2=$(freeport)
P3=$(freeport)
P4=$(freeport)
KEEP=$(link_json keep "127.0.0.1:$P1" "$BA")
write_graph "$KEEP" "$(link_json late "127.0.0.1:$P2" "")" \
	"$(link_json gone "127.0.0.1:$P3" "$BA")"
start_graphsrv etag --wait-timeout 3
start_xc_ctrl
wait_listen "$P1"
wait_listen "$P2"
wait_listen "$P3"
answer_is "127.0.0.1:$P1" hi A:hi || fail "keep: no answer from backend A"
until_ms 3000 grep -q 'wait=' "$TMP/graphsrv.out" >/dev/null ||
	fail "pv-xconnect does not long-poll (no ?wait= request)"

log "(b) socket \"\" -> $BB without restart"
write_graph "$KEEP" "$(link_json late "127.0.0.1:$P2" "$BB")" \
	"$(link_json gone "127.0.0.1:$P3" "$BA")"
ms=$(until_ms 2000 answer_is "127.0.0.1:$P2" x B:x) ||
	fail "late: backend B not reached 2 s after its socket appeared"
log "late link works after $ms ms"
log_has "link updated type=tcp name=late" || fail "no 'link updated' line for late"

log "(c) changed backend: new connections to B, the open one stays on A"
spawn session "$PY" -u "$TMP/session.py" "127.0.0.1:$P1" "$TMP/go"
SESSION=$SPAWNED
until_ms 3000 grep -q '^A:first$' "$TMP/session.out" >/dev/null ||
	fail "session: no first answer from A: $(cat "$TMP/session.out")"
KEEP=$(link_json keep "127.0.0.1:$P1" "$BB")
write_graph "$KEEP" "$(link_json late "127.0.0.1:$P2" "$BB")" \
	"$(link_json gone "127.0.0.1:$P3" "$BA")"
ms=$(until_ms 2000 answer_is "127.0.0.1:$P1" y B:y) ||
	fail "keep: new connections do not reach B after the change"
log "new connections reach B after $ms ms"
touch "$TMP/go"
wait "$SESSION" || fail "session failed: $(cat "$TMP/session.out")"
[[ $(sed -n 2p "$TMP/session.out") == A:second ]] ||
	fail "the open session lost backend A: $(cat "$TMP/session.out")"
log "the open session still talked to A"

log "(a) removed link refuses within 1 s; its open connection drains"
spawn session2 "$PY" -u "$TMP/session.py" "127.0.0.1:$P3" "$TMP/go2"
SESSION2=$SPAWNED
until_ms 3000 grep -q '^A:first$' "$TMP/session2.out" >/dev/null ||
	fail "session2: no first answer: $(cat "$TMP/session2.out")"
write_graph "$KEEP" "$(link_json late "127.0.0.1:$P2" "$BB")"
ms=$(until_ms 1000 refused "$P3") ||
	fail "gone: port $P3 still accepts 1 s after the link left the graph"
log "gone: port refused after $ms ms"
[[ $(status_field gone state) == draining ]] ||
	fail "gone: status state '$(status_field gone state)', want draining"
touch "$TMP/go2"
wait "$SESSION2" || fail "session2 failed: $(cat "$TMP/session2.out")"
[[ $(sed -n 2p "$TMP/session2.out") == A:second ]] ||
	fail "the draining session was cut: $(cat "$TMP/session2.out")"
gone_listed() { [[ -n $(status_field gone state) ]]; }
until_ms 2000 eval '! gone_listed' >/dev/null ||
	fail "gone still listed after its last connection closed"
log "the open connection of the removed link finished, then it was freed"
answer_is "127.0.0.1:$P1" z B:z || fail "keep disturbed by the removal"

log "(d) changed target rebinds"
write_graph "$(link_json keep "127.0.0.1:$P4" "$BB")" \
	"$(link_json late "127.0.0.1:$P2" "$BB")"
ms=$(until_ms 1000 refused "$P1") || fail "old target :$P1 still accepts"
until_ms 1000 accepts "$P4" >/dev/null || fail "new target :$P4 does not accept"
answer_is "127.0.0.1:$P4" w B:w || fail "new target: no answer from B"
log "rebound from :$P1 to :$P4 ($ms ms)"

log "no spinning: a quiet graph costs one long-poll per wait timeout"
n0=$(grep -c '^REQ' "$TMP/graphsrv.out")
sleep 2
n1=$(grep -c '^REQ' "$TMP/graphsrv.out")
((n1 - n0 <= 2)) || fail "$((n1 - n0)) requests in 2 s while nothing changed"

log "control socket down: links keep running, reconnect with backoff"
kill -TERM "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || true
sleep 1
answer_is "127.0.0.1:$P4" v B:v || fail "link stopped with the control socket"
answer_is "127.0.0.1:$P2" v B:v || fail "link stopped with the control socket"
n=$(grep -c 'keeping the running links' "$TMP/xc.log" || true)
((n == 1)) || fail "$n warnings for one outage (want exactly 1)"
write_graph "$(link_json keep "127.0.0.1:$P4" "$BA")"
start_graphsrv etag --wait-timeout 3
ms=$(until_ms 7000 answer_is "127.0.0.1:$P4" u A:u) ||
	fail "graph change not picked up after the control socket came back"
until_ms 1000 refused "$P2" >/dev/null || fail "late not removed after reconnect"
log_has "answering again" || fail "no recovery log line"
log "reconnected and applied the new graph after $ms ms"
