#!/usr/bin/env bash
# The runtime follows state changes (SPEC §7, issue 4): on a new state an
# unchanged container keeps its process, a changed one is restarted with the
# same address, a removed one is stopped and unwired, a removed pool's bridge
# (ours) is deleted, a new container is started. A bad command gives status
# "error" with the reason; a none-mode container gets a namespace with lo
# only; adoption of a pid sharing the device's namespace is refused (the
# device never gets an eth0 or a default route). With --no-runtime nothing
# is created or started, adoption only tracks the pid.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init rtrl
sb_device
D=$SB_DEV
ST=$SB_TMP/st
mkdir -p "$ST"

ct() { # NAME EXEC-JSON|- NETWORK-JSON [TYPE]
	local exec='"exec": '$2', '
	[[ $2 != - ]] || exec=''
	printf '"%s/run.json": { "name": "%s", "type": "%s", %s"network": %s },\n' \
		"$1" "$1" "${4:-process}" "$exec" "$3"
}
pool() { printf '{ "pool": "%s" }' "$1"; }
device() { # POOLS-JSON
	printf '"device.json": { "network": { "pools": { %s } } } }\n' "$1"
}
P_INT='"internal": { "type": "bridge", "bridge": "br0", "subnet": "10.0.4.0/24", "gateway": "10.0.4.1" }'
P_SPARE='"spare": { "type": "bridge", "bridge": "br2", "subnet": "10.0.6.0/24", "gateway": "10.0.6.1" }'
{
	echo '{ "#spec": "pantavisor-service-system@1",'
	ct keep '["sleep", "600"]' "$(pool internal)"
	ct change '["sleep", "600"]' "$(pool internal)"
	ct gone '["sleep", "600"]' "$(pool spare)"
	ct bad '["/nonexistent/pvx-cmd"]' "$(pool internal)"
	ct iso '["sleep", "600"]' '{ "mode": "none" }'
	ct multi '["sleep", "600"]' '{ "mode": "pool", "interfaces": [
		{ "name": "eth0", "pool": "internal" },
		{ "name": "eth1", "pool": "spare", "ipv4_address": "10.0.6.9" } ] }'
	ct ext - "$(pool internal)" lxc
	device "$P_INT, $P_SPARE"
} >"$ST/a.json"
{
	echo '{ "#spec": "pantavisor-service-system@1",'
	ct keep '["sleep", "600"]' "$(pool internal)"
	ct change '["sleep", "601"]' "$(pool internal)"
	ct fresh '["sleep", "600"]' "$(pool internal)"
	ct ext - "$(pool internal)" lxc
	device "$P_INT"
} >"$ST/b.json"

ctrld_up() { # NAME STATE [ARGS]
	local name=$1 state=$2
	shift 2
	rm -f "$SB_CTRL"
	sb_spawn "$name" ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$state" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE" "$@"
	sb_wait_for "control socket" 10 test -S "$SB_CTRL"
}
get() { sb_container_get "$1" "$2"; }
running() { [[ $(get "$1" status) == running ]]; }
addr() {
	sb_api GET /containers |
		sb_json "[c for c in j if c['name'] == '$1'][0]['addresses'][0]['address']"
}
# (the list is read whole: grep -q closing the pipe early would fail it
# under pipefail)
has_link() {
	local all
	all=$(ip -n "$D" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
	grep -qx -- "$1" <<<"$all"
}
# PUT that must be refused with a 4xx: prints the answer.
refused() { # PATH BODY
	local out code
	out=$(curl -sS --max-time 10 --unix-socket "$SB_CTRL" -X PUT \
		-H 'Content-Type: application/json' --data-binary "$2" \
		-w '\n%{http_code}' "http://localhost$1")
	code=${out##*$'\n'}
	[[ $code == 4* ]] || sb_fail "PUT $1 $2 answered $code, want 4xx: ${out%$'\n'*}"
	printf '%s\n' "${out%$'\n'*}"
}

sb_step "1. state A"
ctrld_up ctrld "$ST/a.json"
declare -A P
for c in keep change gone iso multi; do
	sb_wait_for "$c running" 10 running "$c"
	P[$c]=$(get "$c" pid)
	sb_record "ct-$c" "${P[$c]}"
done
[[ $(get bad status) == error ]] || sb_fail "bad: status $(get bad status), want error"
[[ $(get bad error) == *"No such file or directory"* ]] || sb_fail "bad: error '$(get bad error)'"
[[ $(get bad pid) == 0 ]] || sb_fail "bad has a pid"
sb_ok "bad: error '$(get bad error)'"
{ has_link br0 && has_link br2; } || sb_fail "bridges missing: $(ip -n "$D" -br link)"
iso_links=$(nsenter --net="/proc/${P[iso]}/ns/net" ip -o link show | awk -F': ' '{ print $2 }' | paste -sd' ')
[[ $iso_links == lo ]] || sb_fail "none-mode iso has links '$iso_links', want lo only"
grep -q '[<,]UP[,>]' <<<"$(nsenter --net="/proc/${P[iso]}/ns/net" ip -o link show dev lo)" || sb_fail "iso: lo down"
sb_netns_private "${P[iso]}" || sb_fail "iso in the root netns"
[[ $(readlink "/proc/${P[iso]}/ns/net") != "$(ip netns exec "$D" readlink /proc/self/ns/net)" ]] ||
	sb_fail "none-mode iso shares the device's netns"
A_CHANGE=$(addr change)
in_multi() { nsenter --net="/proc/${P[multi]}/ns/net" "$@"; }
m0=$(in_multi ip -4 -o addr show dev eth0 | awk '{ print $4 }')
m1=$(in_multi ip -4 -o addr show dev eth1 | awk '{ print $4 }')
[[ $m0 == 10.0.4.* && $m1 == 10.0.6.9/24 ]] || sb_fail "multi: eth0 '$m0', eth1 '$m1'"
routes=$(in_multi ip route show default)
[[ $routes == "default via 10.0.4.1 dev eth0"* && $(wc -l <<<"$routes") == 1 ]] ||
	sb_fail "multi: default routes '$routes', want one via 10.0.4.1 on eth0"
sb_ok "multi: eth0 $m0 on br0, eth1 $m1 on br2, one default route via eth0"
sb_ok "keep ${P[keep]}, change ${P[change]} ($A_CHANGE), gone ${P[gone]}, iso ${P[iso]} (lo only)"

sb_step "2. PUT /state B: keep kept, change restarted, gone stopped, spare pool removed, fresh started"
out=$(sb_api PUT /state "$(cat "$ST/b.json")") || sb_fail "state B refused: $out"
sb_wait_for "fresh running" 10 running fresh
sb_record ct-fresh "$(get fresh pid)"
sb_wait_for "change running" 10 running change
[[ $(get keep pid) == "${P[keep]}" ]] || sb_fail "keep was restarted ($(get keep pid) != ${P[keep]})"
[[ $(get change pid) != "${P[change]}" ]] || sb_fail "change was not restarted"
sb_record ct-change2 "$(get change pid)"
! sb_alive "${P[change]}" || sb_fail "change's old process ${P[change]} lives on"
[[ $(addr change) == "$A_CHANGE" ]] || sb_fail "change moved from $A_CHANGE to $(addr change)"
grep -q 'sleep 601' <<<"$(tr '\0' ' ' <"/proc/$(get change pid)/cmdline")" || sb_fail "change runs the old command"
! sb_alive "${P[gone]}" || sb_fail "gone (pid ${P[gone]}) still runs after leaving the state"
! sb_alive "${P[iso]}" || sb_fail "iso (pid ${P[iso]}) still runs after leaving the state"
! sb_alive "${P[multi]}" || sb_fail "multi (pid ${P[multi]}) still runs after leaving the state"
! has_link br2 || sb_fail "br2 of the removed pool is still there"
has_link br0 || sb_fail "br0 disappeared"
n=$(ip -n "$D" -o link show master br0 | wc -l)
((n == 3)) || sb_fail "br0 has $n ports, want 3 (keep, change, fresh): $(ip -n "$D" -o link show master br0)"
sb_ok "keep ${P[keep]} kept, change now $(get change pid) at $A_CHANGE, gone/iso stopped, br2 deleted"

sb_step "3. refusals: adopting a pid of the device's own netns, actions on external containers"
sb_spawn sleeper sb_dev_exec sleep 60
out=$(refused /containers/ext "{\"pid\": $SB_LAST_PID}")
sb_log "answer: $out"
! ip -n "$D" link show eth0 >/dev/null 2>&1 || sb_fail "the device got an eth0"
[[ -z $(ip -n "$D" route show default) ]] || sb_fail "the device got a default route"
out=$(refused /containers/ext '{"action": "stop"}')
sb_log "answer: $out"
out=$(refused /containers/keep '{"action": "explode"}')
sb_log "answer: $out"
out=$(refused /containers/keep '{"pid": 999999999}')
sb_log "answer: $out"
sb_ok "refused, and the device's netns is untouched"

sb_step "4. --no-runtime: nothing created or started; adoption only tracks"
sb_stop ctrld 10 || sb_fail "pv-ctrld exited with status $?"
[[ -z $(ip -n "$D" -o link show | grep -E ': (pvx|br)') ]] || sb_fail "left: $(ip -n "$D" -br link)"
ctrld_up ctrld2 "$ST/b.json" --no-runtime
sleep 0.3
! has_link br0 || sb_fail "--no-runtime created br0"
for c in keep change fresh; do
	[[ $(get "$c" pid) == 0 ]] || sb_fail "--no-runtime started $c"
done
sb_spawn holder sb_dev_exec unshare --net sleep 60
H=$SB_LAST_PID
# Neither the root's nor the device's: until unshare(2) has run the pid is
# still in one of those.
sb_wait_for "pid $H in its own netns" 5 sb_netns_own "$H" "$D"
out=$(sb_api PUT /containers/ext "{\"pid\": $H}") || sb_fail "adoption refused: $out"
[[ $(get ext pid) == "$H" && $(get ext status) == running ]] || sb_fail "ext not running as $H"
sleep 0.2
! nsenter --net="/proc/$H/ns/net" ip link show eth0 >/dev/null 2>&1 || sb_fail "--no-runtime wired eth0"
kill "$H"
sb_wait_for "ext stopped after its pid died" 5 eval '[[ $(get ext status) == stopped && $(get ext pid) == 0 ]]'
out=$(refused /containers/keep '{"action": "start"}')
sb_log "answer: $out"
sb_stop ctrld2 10 || sb_fail "pv-ctrld exited with status $?"
sb_pass "runtime follows state changes; refusals; --no-runtime"
