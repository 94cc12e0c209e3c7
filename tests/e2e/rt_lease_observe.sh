#!/usr/bin/env bash
# Issue 12, item 4, last part: pv-ctrld crashes (SIGKILL) while adopted
# pool containers run, and both generations of the lease file are damaged.
# The next pv-ctrld has no valid lease file: the addresses it sees on the
# running containers (peers of its leftover host veths) win over a fresh
# assignment, which would swap them. Every container keeps its address.
# docs/graph.md (generations).
. "$(dirname "$0")/lib/sandbox.sh"

sb_init lsobs
sb_device
D=$SB_DEV

# state FILE NAME...: external (lxc) containers in pool "internal".
state() {
	local out=$1 c
	shift
	{
		echo '{ "#spec": "pantavisor-service-system@1",'
		for c in "$@"; do
			cat <<JSON
  "$c/run.json": { "name": "$c", "type": "lxc",
    "network": { "mode": "pool", "pool": "internal" } },
JSON
		done
		cat <<'JSON'
  "device.json": { "network": { "pools": { "internal": {
    "type": "bridge", "bridge": "br0",
    "subnet": "10.0.4.0/24", "gateway": "10.0.4.1" } } } }
}
JSON
	} >"$out"
}

ctrld_up() { # NAME STATE
	rm -f "$SB_CTRL"
	sb_spawn "$1" ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$2" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
	sb_wait_for "control socket" 10 test -S "$SB_CTRL"
}

# addr_in PID: the address on eth0 in PID's netns.
addr_in() {
	nsenter --net="/proc/$1/ns/net" ip -4 -o addr show dev eth0 2>/dev/null |
		awk '{ sub(/\/.*/, "", $4); print $4 }'
}
has_addr() { [[ $(addr_in "$1") == "$2" ]]; }
adopt() { # NAME PID IP
	sb_api PUT "/containers/$1" "{\"pid\": $2}" >/dev/null ||
		sb_fail "adoption of $1 (pid $2) refused"
	sb_wait_for "$1 (pid $2) with $3 on eth0" 20 has_addr "$2" "$3"
}

declare -A P
for c in zeta alpha; do
	sb_spawn "ct-$c" sb_dev_exec unshare --net sleep 300
	P[$c]=$SB_LAST_PID
	sb_wait_for "pid ${P[$c]} in its own netns" 5 sb_netns_own "${P[$c]}" "$D"
done

state "$SB_TMP/s1.json" zeta
state "$SB_TMP/s2.json" zeta alpha
sb_step "zeta first (10.0.4.2), then alpha (10.0.4.3), both adopted"
ctrld_up ctrld1 "$SB_TMP/s1.json"
adopt zeta "${P[zeta]}" 10.0.4.2
sb_api PUT /state "$(cat "$SB_TMP/s2.json")" >/dev/null
adopt alpha "${P[alpha]}" 10.0.4.3
sb_ok "zeta 10.0.4.2, alpha 10.0.4.3 (a fresh start would give alpha .2)"

sb_step "pv-ctrld crashes; both lease generations damaged"
kill -KILL "$(sb_pid ctrld1)"
sb_stop ctrld1 || true
printf '{"version": 1, "lea' >"$SB_STATE/leases.json"
: >"$SB_STATE/leases.json.prev"
for c in zeta alpha; do
	sb_alive "${P[$c]}" || sb_fail "$c died with pv-ctrld"
done

sb_step "restart: the addresses seen on the running containers win"
ctrld_up ctrld2 "$SB_TMP/s2.json"
sb_wait_for "the loss logged" 10 grep -q 'LEASES LOST' "$SB_TMP/ctrld2.log"
grep -q 'seen on a running container: 10.0.4.3/24 on eth0' "$SB_TMP/ctrld2.log" ||
	sb_fail "the address of alpha was not seen"
adopt zeta "${P[zeta]}" 10.0.4.2
adopt alpha "${P[alpha]}" 10.0.4.3
for c in zeta alpha; do
	a=$(sb_container_get "$c" addresses | sb_json "j[0]['address']")
	[[ $a == "$(addr_in "${P[$c]}")/24" ]] || sb_fail "GET /containers: $c has $a"
done
[[ $(compgen -G "$SB_STATE/leases.json.damaged-*" | wc -l) == 2 ]] ||
	sb_fail "damaged generations not moved aside: $(ls "$SB_STATE")"
sb_ok "after the crash: zeta 10.0.4.2, alpha 10.0.4.3 kept; damage moved aside"
sb_stop ctrld2
sb_pass "addresses seen on running containers win over new assignments"
