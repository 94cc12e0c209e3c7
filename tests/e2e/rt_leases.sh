#!/usr/bin/env bash
# Issue 4, Done when 5: a pool with one static and two dynamic process
# containers. The addresses seen inside the containers follow SPEC §4 (the
# static one as given, the dynamic ones the lowest free, skipping the
# gateway and the static one), with MAC 02:00:<ip>, a default route via the
# gateway and lo up; each container is reachable from the device on its
# address, runs with its hostname, cwd, $PVX_STATE_DIR and private /tmp and
# /run; all of it survives a pv-ctrld restart. A container's exit is noticed
# at once and keeps its lease.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init rtls
sb_device
D=$SB_DEV
ST=$SB_TMP/st
mkdir -p "$ST"

# The container: answers GET with what it sees of itself. No http.server
# (its bind looks the host name up in DNS, which hangs in a sandbox).
cat >"$ST/srv.py" <<'PY'
import json, os, socket, socketserver
from http.server import BaseHTTPRequestHandler
role = os.environ.get("ROLE", "?")
with open("/tmp/pvxrtls-" + role, "w") as f:
    f.write(role)
def fstype(path):
    t = None
    for line in open("/proc/self/mounts"):
        f = line.split()
        if f[1] == path:
            t = f[2]
    return t
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "role": role, "host": socket.gethostname(), "cwd": os.getcwd(),
            "state_dir": os.environ.get("PVX_STATE_DIR"),
            "tmp": fstype("/tmp"), "run": fstype("/run"),
            "tmp_files": sorted(os.listdir("/tmp"))}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(("", 80), H).serve_forever()
PY

ct() { # NAME EXTRA-NETWORK-JSON
	cat <<JSON
  "$1/run.json": { "name": "$1", "type": "process",
    "exec": ["/usr/bin/python3", "srv.py"], "env": { "ROLE": "$1" },
    "network": { "pool": "internal" $2 } },
JSON
}
{
	echo '{ "#spec": "pantavisor-service-system@1",'
	ct dyna ''
	ct dynb ''
	ct stat ', "hostname": "static-host", "interfaces": [ { "name": "eth0", "pool": "internal", "ipv4_address": "10.0.4.2/24" } ]'
	cat <<'JSON'
  "device.json": { "network": { "pools": { "internal": {
    "type": "bridge", "bridge": "br0",
    "subnet": "10.0.4.0/24", "gateway": "10.0.4.1" } } } }
}
JSON
} >"$ST/state.json"
CTS=(dyna dynb stat)
declare -A IP PID
rm -f /tmp/pvxrtls-dyna /tmp/pvxrtls-dynb /tmp/pvxrtls-stat

ctrld_up() {
	rm -f "$SB_CTRL"
	sb_spawn "$1" ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$ST/state.json" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
	sb_wait_for "control socket" 10 test -S "$SB_CTRL"
}
in_ct() { # NAME CMD...
	local p=${PID[$1]}
	shift
	nsenter --net="/proc/$p/ns/net" "$@"
}
api_addr() { # NAME: the lease in GET /containers, without prefix
	sb_api GET /containers |
		sb_json "[c for c in j if c['name'] == '$1'][0]['addresses'][0]['address'].split('/')[0]"
}

# Checks every container: running, address inside = lease, MAC, route, lo,
# reachable from the device with the right identity and environment.
check_all() {
	local c p addr mac o3 o4 info want_host
	for c in "${CTS[@]}"; do
		sb_wait_for "$c running" 10 eval '[[ $(sb_container_get "$c" status) == running ]]'
		p=$(sb_container_get "$c" pid)
		sb_record "ct-$c" "$p"
		PID[$c]=$p
		sb_netns_private "$p" || sb_fail "$c (pid $p) is in the root netns"
		addr=$(in_ct "$c" ip -4 -o addr show dev eth0 | awk '{ print $4 }')
		[[ -n $addr ]] || sb_fail "$c has no IPv4 address on eth0"
		[[ ${addr#*/} == 24 ]] || sb_fail "$c: prefix of $addr is not /24"
		IP[$c]=${addr%/*}
		[[ $(api_addr "$c") == "${IP[$c]}" ]] ||
			sb_fail "$c: eth0 has ${IP[$c]}, GET /containers says $(api_addr "$c")"
		IFS=. read -r _ _ o3 o4 <<<"${IP[$c]}"
		mac=$(printf '02:00:0a:00:%02x:%02x' "$o3" "$o4")
		grep -q "link/ether $mac " <<<"$(in_ct "$c" ip -o link show dev eth0)" ||
			sb_fail "$c: eth0 MAC is not $mac"
		grep -q "default via 10.0.4.1 dev eth0" <<<"$(in_ct "$c" ip route show default)" ||
			sb_fail "$c: no default route via 10.0.4.1: $(in_ct "$c" ip route)"
		grep -q '[<,]UP[,>]' <<<"$(in_ct "$c" ip -o link show dev lo)" || sb_fail "$c: lo is down"
		sb_wait_for "$c listening on :80" 10 sb_listen_pids "pid:$p" 80
		info=$(sb_dev_exec "${SB_CURL[@]}" "http://${IP[$c]}/") ||
			sb_fail "$c unreachable from the device at ${IP[$c]}"
		want_host=$c
		[[ $c != stat ]] || want_host=static-host
		printf '%s' "$info" | "$SB_PY" -c '
import json, sys
j = json.load(sys.stdin)
role, host, wd = sys.argv[1:4]
want = {"role": role, "host": host, "cwd": wd, "state_dir": wd,
        "tmp": "tmpfs", "run": "tmpfs", "tmp_files": ["pvxrtls-" + role]}
bad = {k: (j.get(k), v) for k, v in want.items() if j.get(k) != v}
if bad:
    sys.exit("%s: (seen, wanted): %s" % (role, bad))
' "$c" "$want_host" "$ST" || sb_fail "$c answered $info"
	done
	[[ ${IP[stat]} == 10.0.4.2 ]] || sb_fail "static container has ${IP[stat]}, want 10.0.4.2"
	[[ "$(printf '%s\n' "${IP[dyna]}" "${IP[dynb]}" | sort | paste -sd' ')" == "10.0.4.3 10.0.4.4" ]] ||
		sb_fail "dynamic containers have ${IP[dyna]} ${IP[dynb]}, want 10.0.4.3 and 10.0.4.4"
	for c in "${CTS[@]}"; do
		[[ ! -e /tmp/pvxrtls-$c ]] || sb_fail "$c's /tmp file is visible on the host: /tmp not private"
	done
}

sb_step "1. start: leases, wiring, identity, reachability"
ctrld_up ctrld
check_all
declare -A IP1 PID1
for c in "${CTS[@]}"; do
	IP1[$c]=${IP[$c]}
	PID1[$c]=${PID[$c]}
done
sb_ok "stat ${IP[stat]}, dyna ${IP[dyna]}, dynb ${IP[dynb]}; all reachable, private /tmp and /run"

sb_step "2. pv-ctrld restart: same addresses, new processes"
sb_stop ctrld 10 || sb_fail "pv-ctrld exited with status $?"
ctrld_up ctrld2
check_all
for c in "${CTS[@]}"; do
	[[ ${IP[$c]} == "${IP1[$c]}" ]] || sb_fail "$c moved from ${IP1[$c]} to ${IP[$c]}"
	[[ ${PID[$c]} != "${PID1[$c]}" ]] || sb_fail "$c kept pid ${PID[$c]} across a restart"
done
sb_ok "addresses kept: stat ${IP[stat]}, dyna ${IP[dyna]}, dynb ${IP[dynb]}"

sb_step "3. a container's exit is noticed at once, its lease is kept"
t0=${EPOCHREALTIME/./}
kill -KILL "${PID[dyna]}"
for ((i = 0; i < 100; i++)); do
	[[ $(sb_container_get dyna status) == exited ]] && break
	sleep 0.01
done
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
[[ $(sb_container_get dyna status) == exited ]] || sb_fail "dyna not 'exited' 1 s after SIGKILL"
[[ $(sb_container_get dyna pid) == 0 ]] || sb_fail "dyna's pid is not 0 after its exit"
[[ $(api_addr dyna) == "${IP[dyna]}" ]] || sb_fail "dyna lost its lease on exit"
sb_ok "dyna 'exited', pid 0, after ${ms} ms; lease ${IP[dyna]} kept"
out=$(sb_api PUT /containers/dyna '{"action": "start"}') || sb_fail "start refused: $out"
check_all
[[ ${IP[dyna]} == "${IP1[dyna]}" ]] || sb_fail "dyna moved to ${IP[dyna]}"
sb_ok "started again through the API: pid ${PID[dyna]}, ${IP[dyna]}"

sb_step "4. SIGTERM: everything of pv-ctrld's is gone"
sb_stop ctrld2 10 || sb_fail "pv-ctrld exited with status $?"
for c in "${CTS[@]}"; do
	! sb_alive "${PID[$c]}" || sb_fail "$c (pid ${PID[$c]}) survived"
done
[[ -z $(ip -n "$D" -o link show | grep -E ': (pvx|br0)') ]] ||
	sb_fail "links left: $(ip -n "$D" -br link)"
sb_pass "leases, wiring and container environment, across a restart"
