#!/usr/bin/env bash
# Issue 12, item 6: one pv-ctrld per state directory. A second pv-ctrld on
# the same state dir (another control socket, in the same device or in
# another network namespace) refuses to start, naming the holder's pid,
# and touches nothing: the first one's bridge, veth and container live on.
# Once the first has stopped, the state dir is free again.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init crlk
sb_device
D=$SB_DEV
sb_netns other

mkdir -p "$SB_TMP/st"
cat >"$SB_TMP/st/state.json" <<'JSON'
{
  "#spec": "pantavisor-service-system@1",
  "device.json": { "network": { "pools": {
    "internal": { "type": "bridge", "bridge": "br0",
                  "subnet": "10.0.4.0/24", "gateway": "10.0.4.1" } } } },
  "idle/run.json": { "name": "idle", "type": "process",
    "exec": ["sleep", "600"], "network": { "pool": "internal" } }
}
JSON
links() { ip -n "$D" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }

sb_step "1. the first pv-ctrld"
sb_spawn ctrld ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$SB_TMP/st/state.json" \
	--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
P1=$SB_LAST_PID
sb_wait_for "control socket" 10 test -S "$SB_CTRL"
sb_wait_for "idle running" 10 eval '[[ $(sb_container_get idle status) == running ]]'
CT=$(sb_container_get idle pid)
sb_record ct-idle "$CT"
before=$(links | sort | paste -sd' ')
grep -qw br0 <<<"$before" || sb_fail "no br0: $before"
sb_ok "pv-ctrld $P1, container $CT, links: $before"

second() { # NETNS NAME: a second pv-ctrld on the same state dir; its status
	local rc=0
	timeout 20 ip netns exec "$1" "$PVX_BIN/pv-ctrld" \
		--state "$SB_TMP/st/state.json" --ctrl "$SB_TMP/ctrl-$2" \
		--state-dir "$SB_STATE" >"$SB_TMP/$2.log" 2>&1 || rc=$?
	return "$rc"
}
for ns in "$D" "${SB_PREFIX}other"; do
	sb_step "2. a second pv-ctrld on the same state dir, in $ns"
	rc=0
	second "$ns" second-${ns##*-} || rc=$?
	((rc != 0 && rc != 124)) || sb_fail "second pv-ctrld in $ns: status $rc (started or hung)"
	grep -q "in use by pv-ctrld pid $P1" "$SB_TMP/second-${ns##*-}.log" ||
		sb_fail "second pv-ctrld does not name the holder $P1: $(cat "$SB_TMP/second-${ns##*-}.log")"
	[[ ! -e $SB_TMP/ctrl-second-${ns##*-} ]] || sb_fail "the second pv-ctrld made a control socket"
	sb_alive "$CT" || sb_fail "the first pv-ctrld's container $CT was killed"
	[[ $(links | sort | paste -sd' ') == "$before" ]] ||
		sb_fail "links changed: $(links | sort | paste -sd' '), were $before"
	[[ $(sb_container_get idle pid) == "$CT" ]] || sb_fail "the first pv-ctrld lost its container"
	sb_ok "refused: $(grep -m1 'in use' "$SB_TMP/second-${ns##*-}.log")"
done

sb_step "3. the first stops: the state dir is free"
sb_stop ctrld 10 || sb_fail "pv-ctrld exited with status $?"
sb_spawn ctrld2 ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$SB_TMP/st/state.json" \
	--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
sb_wait_for "idle running under the new pv-ctrld" 10 eval '[[ $(sb_container_get idle status) == running ]]'
sb_record ct-idle2 "$(sb_container_get idle pid)"
sb_stop ctrld2 10 || sb_fail "pv-ctrld exited with status $?"
sb_ok "a new pv-ctrld starts once the first is gone"

sb_pass "one pv-ctrld per state dir"
