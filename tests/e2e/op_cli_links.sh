#!/usr/bin/env bash
# Issue 11, `pvcontrol links ls`: one row per link with the ingress name
# where there is one, type, listener, backend, provider/pid and the state
# with its reason (bound, bind failed: Address already in use, provider
# stopped, waiting for address), and counters; pv-xconnect's status JSON
# carries the reason. A --ctrl pointing at pv-xconnect's status socket says
# which socket it is instead of "HTTP 404". Loopback in a private netns.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer echo echo 127.0.0.1:0
BE=$READY
start_peer holder echo 127.0.0.1:0 # holds a port: that bind must fail
BUSY=$READY
P1=$(freeport)
P3=$(freeport)
P4=$(freeport)
ok=$(link_json svc-a "127.0.0.1:$P1" "127.0.0.1:$BE" 0 $$ |
	sed 's/}$/,"ingress":"web-in"}/')
write_graph "$ok" \
	"$(link_json svc-busy "127.0.0.1:$BUSY" "127.0.0.1:$BE" 0 $$)" \
	"$(link_json svc-stopped "127.0.0.1:$P3" "127.0.0.1:$BE" 0 0)" \
	"$(link_json svc-noaddr "127.0.0.1:$P4" "" 0 0)"
start_xc
wait_listen "$P1"
timeout 20 "$PY" "$PEERS" client "127.0.0.1:$P1" --bytes 1000 --conns 2 ||
	fail "echo through the link"

CLI=("$PVX_BIN/pvcontrol" --status "$TMP/status.sock")
for ((i = 0; i < 100; i++)); do
	table=$("${CLI[@]}" links ls) || fail "links ls failed"
	grep -q "^web-in .* 2 *0 *0 *2000/2000 *0/0 " <<<"$table" && break
	sleep 0.05
done
log "links ls:"$'\n'"$table"
head -n1 <<<"$table" | grep -qE '^LINK +TYPE +LISTENER +BACKEND +PROVIDER/PID +STATE +ACCEPTED +ACTIVE +FAILED +BYTES_IN/OUT +REFUSED/TIMEOUTS +HEALTH +HELD +DENIED +REQUESTS/NEW/REUSED$' ||
	fail "header: $(head -n1 <<<"$table")"
row() { grep "^$1 " <<<"$table" || fail "no row $1"; }
[[ $(row web-in) =~ ^web-in\ +tcp\ +127\.0\.0\.1:$P1\ +127\.0\.0\.1:$BE\ +test/$$\ +bound\ +2\ +0\ +0\ +2000/2000\ +0/0\ +up\ [0-9.]+ms\ +0\ +0\ +-$ ]] ||
	fail "row web-in: $(row web-in)"
row svc-busy | grep -q " bind failed: Address already in use " ||
	fail "row svc-busy: $(row svc-busy)"
row svc-stopped | grep -q "test/0 *provider stopped " ||
	fail "row svc-stopped: $(row svc-stopped)"
row svc-noaddr | grep -qE "127.0.0.1:$P4 +- +test/0 +waiting for address " ||
	fail "row svc-noaddr: $(row svc-noaddr)"
"${CLI[@]}" links ls --json | "$PY" -c '
import json, sys
l = {x["name"]: x for x in json.load(sys.stdin)}
assert l["svc-a"]["reason"] == "bound" and l["svc-a"]["ingress"] == "web-in", l["svc-a"]
assert l["svc-busy"]["state"] == "failed", l["svc-busy"]
assert l["svc-busy"]["reason"] == "bind failed: Address already in use", l["svc-busy"]
' || fail "links ls --json: no reason"
log "links ls: rows, reasons and counters"

# The status socket given as the control socket: say so, exit 3.
rc=0
"$PVX_BIN/pvcontrol" --ctrl "$TMP/status.sock" graph ls 2>"$TMP/err" || rc=$?
((rc == 3)) || fail "graph ls on the status socket: exit $rc, want 3"
grep -q "not pv-ctrld's control socket (pv-xconnect's status socket?" "$TMP/err" ||
	fail "wrong-socket message: $(cat "$TMP/err")"
log "wrong socket: $(cat "$TMP/err")"
