#!/usr/bin/env bash
# Issue 3, "Done when" 10 (first half): pv-xconnect follows the real
# pv-ctrld (--no-runtime) over its control socket. The ingress provider is
# in host mode, so its socket is "127.0.0.1:PORT". A state reload that
# moves the service to another port, the adoption of a PID and the removal
# of the ingress rule each reach the data plane within 1 s (long-poll; the
# polling interval is 5 s).
# shellcheck source=tests/e2e/lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

answer_is() { [[ $(ask "$1" "$2") == "$3" ]]; }

tag_backend be-a A
PA=$READY
tag_backend be-b B
PB=$READY
P1=$(freeport)

# mkstate BACKEND-PORT [noingress]: the state directory, written anew.
mkstate() {
	local ingress
	ingress="{\"name\":\"web-in\",\"type\":\"tcp\",\"external\":\"127.0.0.1:$P1\",\"provider\":\"web\",\"service\":\"http\"}"
	[[ ${2:-} == noingress ]] && ingress=""
	mkdir -p "$TMP/state/web"
	printf '{"ingress":[%s]}\n' "$ingress" >"$TMP/state/device.json"
	printf '{"name":"web","type":"lxc","network":{"mode":"host"}}\n' \
		>"$TMP/state/web/run.json"
	printf '[{"name":"http","type":"tcp","port":%d}]\n' "$1" \
		>"$TMP/state/web/services.json"
}
api() { curl -sS --max-time 5 --unix-socket "$TMP/ctl.sock" "$@"; }

mkstate "$PA"
mkdir -p "$TMP/sd"
spawn ctrld "$PVX_BIN/pv-ctrld" --state "$TMP/state" --ctrl "$TMP/ctl.sock" \
	--state-dir "$TMP/sd" --no-runtime --wait-timeout 5 -v
CTRLD=$SPAWNED
until_ms 5000 test -S "$TMP/ctl.sock" >/dev/null ||
	fail "pv-ctrld did not create its socket: $(tail -5 "$TMP/ctrld.out")"
start_xc_ctrl
wait_listen "$P1"
answer_is "127.0.0.1:$P1" hi A:hi || fail "no answer from backend A through the ingress"
log "ingress 127.0.0.1:$P1 -> web (host mode) 127.0.0.1:$PA works"
sleep 0.3 # let the first long-poll reach pv-ctrld

mkstate "$PB"
api -X POST http://x/state/reload >"$TMP/reload.out" ||
	fail "POST /state/reload: $(cat "$TMP/reload.out")"
ms=$(until_ms 1000 answer_is "127.0.0.1:$P1" x B:x) ||
	fail "backend change not applied within 1 s: $(api http://x/xconnect-graph)"
log "state reload (service moved to :$PB) applied after $ms ms"

spawn holder sleep 60
HOLDER=$SPAWNED
api -X PUT -d "{\"pid\": $HOLDER}" http://x/containers/web >"$TMP/adopt.out" ||
	fail "PUT /containers/web: $(cat "$TMP/adopt.out")"
ms=$(until_ms 1000 log_has "link updated type=tcp name=http consumer=EXTERNAL consumer_pid=0 provider=web provider_pid=$HOLDER") ||
	fail "adopted pid $HOLDER not seen by pv-xconnect: $(api http://x/xconnect-graph)"
answer_is "127.0.0.1:$P1" y B:y || fail "link disturbed by the pid change"
log "provider pid $HOLDER adopted, link updated after $ms ms"

mkstate "$PB" noingress
api -X POST http://x/state/reload >"$TMP/reload.out" ||
	fail "POST /state/reload: $(cat "$TMP/reload.out")"
ms=$(until_ms 1000 refused "$P1") ||
	fail "removed ingress still accepts after 1 s"
log "ingress removed: port refused after $ms ms"

kill -TERM "$CTRLD"
wait "$CTRLD" 2>/dev/null || true
kill -0 "$XC_PID" || fail "pv-xconnect died with pv-ctrld"
