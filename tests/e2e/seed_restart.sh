#!/usr/bin/env bash
# Issue 4, Done when 2: restarting the nginx container through the control
# API (PUT /containers/<name> {"action":"restart"}) gives it a new pid and
# the same address, and the ingress works again without restarting
# pv-xconnect.
. "$(dirname "$0")/lib/sandbox.sh"

CT=example-nginx-ingress
sb_init rst
cp -a "$PVX_SRC/examples/ingress-hybrid" "$SB_TMP/state-src"

fetch() { sb_dev_exec "${SB_CURL[@]}" http://127.0.0.1:80/ | grep -q "Welcome to nginx!"; }

sb_step "seed scenario up"
sb_device
sb_pvx_up "$SB_TMP/state-src"
sb_pvx_wait_ingress nginx-http "$CT" 80
OLD=$SB_PROVIDER_PID
XC=$(sb_pid xconnect)
XC_START=$(sb_start_of xconnect)
SOCK=$(sb_graph_get nginx-http socket)
fetch || sb_fail "ingress does not work before the restart"
sb_ok "nginx pid $OLD at $SOCK answers through pv-xconnect $XC"

sb_step "PUT /containers/$CT {\"action\": \"restart\"}"
out=$(sb_api PUT "/containers/$CT" '{"action": "restart"}') || sb_fail "restart refused: $out"
sb_log "answer: $out"
new_pid() {
	local p
	p=$(sb_graph_get nginx-http provider_pid)
	[[ -n $p && $p != 0 && $p != "$OLD" ]]
}
sb_wait_for "a new provider_pid in the graph" 20 new_pid
NEW=$(sb_graph_get nginx-http provider_pid)
sb_record nginx-new "$NEW"
sb_wait_for "old nginx (pid $OLD) gone" 10 eval '! sb_alive "$OLD"'
[[ $(sb_graph_get nginx-http socket) == "$SOCK" ]] ||
	sb_fail "socket changed: $(sb_graph_get nginx-http socket), was $SOCK"
[[ $(sb_container_get "$CT" status) == running ]] || sb_fail "status $(sb_container_get "$CT" status) after restart"
has_addr() { nsenter --net="/proc/$NEW/ns/net" ip -4 -o addr show dev eth0 | grep -q " ${SOCK%:*}/"; }
sb_wait_for "eth0 with ${SOCK%:*} in the new container (pid $NEW)" 10 has_addr
sb_ok "new pid $NEW (was $OLD), same socket $SOCK, eth0 ${SOCK%:*}"

sb_step "ingress works again, same pv-xconnect"
sb_wait_for "nginx listening again in pid $NEW's netns" 20 sb_listen_pids "pid:$NEW" "${SOCK##*:}"
sb_wait_for "curl through the ingress after the restart" 10 fetch
sb_alive "$XC" "$XC_START" || sb_fail "pv-xconnect (pid $XC) is not the one started before"
[[ $(sb_listen_pids "$SB_DEV" 80) == "$XC" ]] || sb_fail ":80 in the device is not held by pv-xconnect $XC"
sb_ok "'Welcome to nginx!' through pv-xconnect $XC, which was not restarted"

sb_step "a second restart, through pvcontrol when built"
if [[ -x $PVX_BIN/pvcontrol ]]; then
	sb_dev_exec "$PVX_BIN/pvcontrol" --ctrl "$SB_CTRL" container restart "$CT" ||
		sb_fail "pvcontrol container restart failed"
else
	sb_api PUT "/containers/$CT" '{"action": "restart"}' >/dev/null || sb_fail "second restart refused"
fi
OLD=$NEW
sb_wait_for "a new provider_pid in the graph" 20 new_pid
NEW=$(sb_graph_get nginx-http provider_pid)
sb_record nginx-new2 "$NEW"
sb_wait_for "curl through the ingress after the second restart" 20 fetch
sb_ok "second restart: pid $NEW, ingress works"
sb_assert_root_clean || sb_fail "root netns not clean"

sb_step "shutdown"
sb_stop xconnect 5 || true
sb_stop ctrld 15 || sb_fail "pv-ctrld exited with status $?"
sb_pass "container restart through the API"
