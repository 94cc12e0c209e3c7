#!/usr/bin/env bash
# Issue 9, done-when 3 (seed scenario): `pvcontrol container restart
# example-nginx-ingress` while a client loop fetches the page through the
# ingress: zero failed fetches (clients that arrive while nginx is gone
# are held until the new nginx listens).
. "$(dirname "$0")/lib/sandbox.sh"

CT=example-nginx-ingress
sb_init igrst
cp -a "$PVX_SRC/examples/ingress-hybrid" "$SB_TMP/state-src"

sb_step "seed scenario up"
sb_device
sb_pvx_up "$SB_TMP/state-src"
sb_pvx_wait_ingress nginx-http "$CT" 80
OLD=$SB_PROVIDER_PID

sb_step "client loop during pvcontrol container restart"
# At most 200 fetches or 40 s; each may wait (held) up to 15 s.
cat >"$SB_TMP/loop.sh" <<'LOOP'
ok=0 bad=0 end=$((SECONDS + 40))
for ((i = 0; i < 200 && SECONDS < end; i++)); do
	if [[ -e $1/stop ]]; then break; fi
	if curl -sS --max-time 15 http://127.0.0.1:80/ 2>>"$1/curl.err" | grep -q "Welcome to nginx!"; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
	fi
	sleep 0.02
done
echo "ok=$ok bad=$bad" >"$1/loop.out"
LOOP
sb_spawn loop ip netns exec "$SB_DEV" bash "$SB_TMP/loop.sh" "$SB_TMP"
sleep 0.3
sb_dev_exec "$PVX_BIN/pvcontrol" --ctrl "$SB_CTRL" container restart "$CT" ||
	sb_fail "pvcontrol container restart failed"
new_pid() {
	local p
	p=$(sb_graph_get nginx-http provider_pid)
	[[ -n $p && $p != 0 && $p != "$OLD" ]]
}
sb_wait_for "a new provider_pid in the graph" 20 new_pid
NEW=$(sb_graph_get nginx-http provider_pid)
sb_record nginx-new "$NEW"
sb_wait_for "new nginx listening" 20 sb_listen_pids "pid:$NEW" 80
sleep 1 # a few fetches against the new nginx too
touch "$SB_TMP/stop"
sb_wait_for "client loop done" 30 test -s "$SB_TMP/loop.out"
res=$(cat "$SB_TMP/loop.out")
sb_log "client loop: $res"
[[ $res =~ ok=([0-9]+)\ bad=0$ ]] || sb_fail "failed fetches across the restart: $res; $(tail -5 "$SB_TMP/curl.err")"
((BASH_REMATCH[1] >= 5)) || sb_fail "too few fetches to mean anything: $res"
sb_ok "zero failed fetches across the restart ($res)"
sb_assert_root_clean || sb_fail "root netns not clean"

sb_step "shutdown"
sb_stop xconnect 5 || true
sb_stop ctrld 15 || sb_fail "pv-ctrld exited with status $?"
sb_pass "no client refused across a container restart"
