#!/usr/bin/env bash
# Issue 4, Done when 3: stopping pv-ctrld (SIGTERM) leaves no veth, bridge or
# container process of its own behind in the device, and never touches what
# it did not create (a bridge that was there before, a foreign veth even
# with our "pvx" prefix, an adopted container's process). After a crash
# (SIGKILL) a new pv-ctrld removes the leftovers its record names.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init rtsd
sb_device
D=$SB_DEV

sb_step "foreign interfaces in the device, created by the test"
# A bridge a pool will use (pv-ctrld must use it and leave it), and a veth
# whose name carries our prefix but is not ours.
ip -n "$D" link add br1 type bridge
ip -n "$D" link add pvx0badf00d type veth peer name fgn0
ip -n "$D" link set br1 up
FOREIGN=(br1 pvx0badf00d fgn0)
sb_ok "br1, pvx0badf00d, fgn0"

mkdir -p "$SB_TMP/st"
cat >"$SB_TMP/st/state.json" <<'JSON'
{
  "#spec": "pantavisor-service-system@1",
  "device.json": { "network": { "pools": {
    "internal": { "type": "bridge", "bridge": "br0",
                  "subnet": "10.0.4.0/24", "gateway": "10.0.4.1" },
    "other": { "type": "bridge", "bridge": "br1",
               "subnet": "10.0.5.0/24", "gateway": "10.0.5.1" } } } },
  "web/run.json": { "name": "web", "type": "process",
    "exec": ["/usr/bin/python3", "-c",
      "import socketserver as s, http.server as h; s.TCPServer(('', 80), h.SimpleHTTPRequestHandler).serve_forever()"],
    "network": { "pool": "internal" } },
  "idle/run.json": { "name": "idle", "type": "process",
    "exec": ["sleep", "600"], "network": { "pool": "other" } },
  "hostc/run.json": { "name": "hostc", "type": "process",
    "exec": ["sleep", "600"], "network": { "mode": "host" } },
  "ext/run.json": { "name": "ext", "type": "lxc",
    "network": { "pool": "internal" } }
}
JSON
echo '{"#spec": "pantavisor-service-system@1", "device.json": {}}' \
	>"$SB_TMP/st/empty.json"

ctrld_up() { # NAME STATE
	sb_spawn "$1" ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$2" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
	sb_wait_for "control socket" 10 test -S "$SB_CTRL"
}
dev_netns() { ip netns exec "$D" readlink /proc/self/ns/net; }
running() { [[ $(sb_container_get "$1" status) == running ]]; }
links() { ip -n "$D" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }
our_veths() { links | grep '^pvx' | grep -vx pvx0badf00d || true; }
has_link() { grep -qx -- "$1" <<<"$(links)"; }
check_foreign() {
	local l
	for l in "${FOREIGN[@]}"; do
		has_link "$l" || sb_fail "foreign link $l was removed"
	done
	# pv-ctrld gave br1 its pool's gateway address: it must take it back
	[[ -z $(ip -n "$D" -4 -o addr show dev br1) ]] ||
		sb_fail "br1 keeps the address pv-ctrld gave it: $(ip -n "$D" -4 -o addr show dev br1)"
}
# Waits for the own containers and records their pids for the cleanup.
wait_own() {
	local c p
	for c in web idle hostc; do
		sb_wait_for "$c running" 10 running "$c"
		p=$(sb_container_get "$c" pid)
		sb_record "ct-$c" "$p"
		PIDS[$c]=$p
	done
}
declare -A PIDS

sb_step "the holder: an external container's process (unshare --net)"
sb_spawn holder sb_dev_exec unshare --net sleep 120
H=$SB_LAST_PID
sb_wait_for "pid $H in its own netns" 5 eval \
	'[[ $(sb_netns_of "$H") != "$(readlink /proc/$$/ns/net)" && $(sb_netns_of "$H") != "$(dev_netns)" ]]'

sb_step "1. pv-ctrld, then SIGTERM"
ctrld_up ctrld "$SB_TMP/st/state.json"
wait_own
sb_api PUT /containers/ext "{\"pid\": $H}" >/dev/null || sb_fail "adoption of $H refused"
sb_wait_for "eth0 in the holder" 5 nsenter --net="/proc/$H/ns/net" ip link show eth0
has_link br0 || sb_fail "no br0"
n=$(our_veths | wc -l)
((n == 3)) || sb_fail "want 3 veths of ours (web, idle, ext), have $n: $(our_veths | paste -sd' ')"
[[ $(ip -n "$D" -o link show pvx0badf00d) != *master* ]] || sb_fail "foreign veth enslaved"
grep -q pvx <<<"$(ip -n "$D" -o link show master br1)" || sb_fail "idle's veth is not on br1"
grep -q ' 10.0.5.1/24 ' <<<"$(ip -n "$D" -4 -o addr show dev br1)" || sb_fail "br1 has no gateway address"
for c in web idle; do
	[[ $(sb_netns_of "${PIDS[$c]}") != "$(dev_netns)" ]] ||
		sb_fail "$c is not in its own netns"
done
[[ $(sb_netns_of "${PIDS[hostc]}") == "$(dev_netns)" ]] ||
	sb_fail "host-mode container hostc is not in the device's netns"
[[ -s $SB_STATE/runtime.json ]] || sb_fail "no runtime.json record"
sb_ok "br0 + 3 veths ($(our_veths | paste -sd' ')), containers ${PIDS[*]}"

sb_stop ctrld 10 || sb_fail "pv-ctrld exited with status $? on SIGTERM"
for c in web idle hostc; do
	! sb_alive "${PIDS[$c]}" || sb_fail "$c (pid ${PIDS[$c]}) survived pv-ctrld's shutdown"
done
[[ -z $(our_veths) ]] || sb_fail "veths left: $(our_veths | paste -sd' ')"
! has_link br0 || sb_fail "bridge br0 (created by pv-ctrld) left behind"
check_foreign
sb_alive "$H" || sb_fail "the adopted process $H was killed: not pv-ctrld's to stop"
! nsenter --net="/proc/$H/ns/net" ip link show eth0 >/dev/null 2>&1 ||
	sb_fail "the adopted process still has its eth0"
[[ ! -e $SB_STATE/runtime.json ]] || sb_fail "runtime.json left: $(cat "$SB_STATE/runtime.json")"
[[ -s $SB_STATE/leases.json ]] || sb_fail "leases.json is gone"
sb_ok "nothing of pv-ctrld's left; br1, pvx0badf00d, fgn0 and pid $H untouched"

sb_step "2. pv-ctrld again, then SIGKILL (a crash)"
ctrld_up ctrld2 "$SB_TMP/st/state.json"
wait_own
sb_api PUT /containers/ext "{\"pid\": $H}" >/dev/null || sb_fail "adoption of $H refused"
sb_wait_for "eth0 in the holder" 5 nsenter --net="/proc/$H/ns/net" ip link show eth0
kill -KILL "$(sb_pid ctrld2)"
sb_stop ctrld2 1 || true
rm -f "$SB_CTRL"
# Our own processes die with pv-ctrld (parent-death signal); the bridge and
# the adopted container's veth stay until the next start.
for c in web idle hostc; do
	sb_wait_for "$c (pid ${PIDS[$c]}) gone after the crash" 5 eval '! sb_alive "${PIDS[$c]}"'
done
has_link br0 || sb_fail "br0 already gone after a crash (nothing to test)"
left=$(our_veths)
[[ -n $left ]] || sb_fail "no veth left after a crash (nothing to test)"
sb_ok "left by the crash: br0 $left"

sb_step "3. a new pv-ctrld with an empty state cleans the leftovers"
ctrld_up ctrld3 "$SB_TMP/st/empty.json"
sb_wait_for "br0 (recorded as ours) removed after the crash" 5 eval '! has_link br0'
sb_wait_for "veths removed after the crash" 5 eval '[[ -z $(our_veths) ]]'
check_foreign
sb_alive "$H" || sb_fail "the adopted process $H was killed"
sb_ok "leftovers removed; foreign links and pid $H untouched"

sb_step "4. crash again, restart on the full state: one veth per container"
sb_stop ctrld3 10 || sb_fail "pv-ctrld exited with status $?"
ctrld_up ctrld4 "$SB_TMP/st/state.json"
wait_own
kill -KILL "$(sb_pid ctrld4)"
sb_stop ctrld4 1 || true
rm -f "$SB_CTRL"
ctrld_up ctrld5 "$SB_TMP/st/state.json"
old=("${PIDS[@]}")
wait_own
n=$(our_veths | wc -l)
((n == 2)) || sb_fail "want 2 veths (web, idle), have $n: $(our_veths | paste -sd' ')"
for p in "${old[@]}"; do
	! sb_alive "$p" || sb_fail "pid $p of the crashed pv-ctrld is alive"
done
sb_wait_for "web serving" 10 sb_listen_pids "pid:${PIDS[web]}" 80
ip=$(sb_api GET /containers | sb_json "[c for c in j if c['name'] == 'web'][0]['addresses'][0]['address'].split('/')[0]")
sb_dev_exec "${SB_CURL[@]}" -o /dev/null "http://$ip/" || sb_fail "web unreachable at $ip"
# SIGINT (Ctrl-C) is a shutdown like SIGTERM
kill -INT "$(sb_pid ctrld5)"
sb_wait_for "pv-ctrld gone after SIGINT" 10 eval '! sb_alive "$(sb_pid ctrld5)"'
sb_stop ctrld5 1 || sb_fail "pv-ctrld exited with status $? on SIGINT"
for p in "${PIDS[@]}"; do
	! sb_alive "$p" || sb_fail "pid $p survived pv-ctrld's SIGINT"
done
{ [[ -z $(our_veths) ]] && ! has_link br0; } || sb_fail "left after SIGINT: $(links | paste -sd' ')"
check_foreign
sb_ok "restart after a crash: fresh containers, web reachable, clean stop on SIGINT"

sb_pass "pv-ctrld shutdown and crash cleanup"
