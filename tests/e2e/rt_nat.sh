#!/usr/bin/env bash
# Issue 13 (c): pool NAT and isolation through nftables. A second
# namespace stands in for the uplink (its own address, a route from the
# device to it, nothing beyond, no route back to the pools). A process
# container in a `nat: true` pool reaches a server there, which sees the
# device's uplink address; one in a `nat: false` pool does not; a
# container of another pool cannot reach the first pool nor the device's
# addresses other than its own gateway; an `isolate: false` pool can.
# After pv-ctrld stops, and after a SIGKILL and a restart, the device's
# ruleset holds nothing of pvx and ip_forward is back to what it was.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init pnnat
sb_device
D=$SB_DEV
sb_netns up
U=${SB_PREFIX}up
ST=$SB_TMP/st
mkdir -p "$ST"

# Uplink: 10.200.0.1 (device) -- 10.200.0.2 (uplink); the server on
# 10.201.0.1, reached through a route in the device. The uplink has no
# route to the pools: only a masqueraded packet can be answered.
ip -n "$D" link add up0 type veth peer name dn0 netns "$U"
ip -n "$D" addr add 10.200.0.1/24 dev up0
ip -n "$D" link set up0 up
ip -n "$U" addr add 10.200.0.2/24 dev dn0
ip -n "$U" link set dn0 up
ip -n "$U" addr add 10.201.0.1/32 dev lo
ip -n "$D" route add 10.201.0.1/32 via 10.200.0.2
# The device does not route before pvx (a fresh netns may inherit 1).
sb_dev_exec sysctl -qw net.ipv4.ip_forward=0

# Answers every GET with the client's address.
cat >"$ST/peer.py" <<'PY'
import socketserver, sys
from http.server import BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        b = self.client_address[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
PY
sb_spawn uplink-srv ip netns exec "$U" "$SB_PY" "$ST/peer.py" 10.201.0.1 8000
sb_spawn device-srv ip netns exec "$D" "$SB_PY" "$ST/peer.py" 0.0.0.0 8001

# Containers answer with the client's address too (socat: lighter than
# python for five of them; cwd is the state's directory).
cat >"$ST/hello.sh" <<'SH'
# the request head is read whole: closing on unread bytes would reset
cr=$(printf '\r')
while read -r l && [ "$l" != "$cr" ] && [ -n "$l" ]; do :; done
printf 'HTTP/1.0 200 OK\r\n\r\n%s' "$SOCAT_PEERADDR"
SH
ct() { # NAME POOL
	cat <<JSON
  "$1/run.json": { "type": "process",
    "exec": ["socat", "TCP-LISTEN:80,fork,reuseaddr", "EXEC:/bin/sh hello.sh"],
    "network": { "pool": "$2" } },
JSON
}
pool() { # NAME BRIDGE THIRD-OCTET EXTRA
	echo "\"$1\": { \"bridge\": \"$2\", \"subnet\": \"10.0.$3.0/24\" $4 }"
}
{
	echo '{ "#spec": "pantavisor-service-system@1",'
	ct ca a
	ct cb b
	ct cc c
	ct cd d
	ct ce d
	echo '"device.json": { "network": { "pools": {'
	pool a br-a 4 ', "nat": true'
	echo ,
	pool b br-b 5 ', "nat": true'
	echo ,
	pool c br-c 6 ', "nat": false'
	echo ,
	pool d br-d 7 ', "isolate": false'
	echo '} } } }'
} >"$ST/state.json"
echo '{ "#spec": "pantavisor-service-system@1", "device.json": {} }' >"$ST/empty.json"
# The same pools without containers.
"$SB_PY" -c 'import json, sys
j = json.load(open(sys.argv[1]))
json.dump({k: v for k, v in j.items() if "/" not in k}, open(sys.argv[2], "w"))' \
	"$ST/state.json" "$ST/pools.json"

declare -A PID IP
ctrld_up() { # NAME STATE
	rm -f "$SB_CTRL"
	sb_spawn "$1" ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$2" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
	sb_wait_for "control socket" 10 test -S "$SB_CTRL"
}
wait_cts() {
	local c
	for c in ca cb cc cd ce; do
		sb_wait_for "$c running" 10 eval '[[ $(sb_container_get "$c" status) == running ]]'
		PID[$c]=$(sb_container_get "$c" pid)
		sb_record "ct-$c" "${PID[$c]}"
		IP[$c]=$(sb_api GET /containers |
			sb_json "[c for c in j if c['name'] == '$c'][0]['addresses'][0]['address'].split('/')[0]")
		sb_wait_for "$c listening" 10 sb_listen_pids "pid:${PID[$c]}" 80
	done
}
# from CT URL: the body, or failure (2 s: a guard, not a measure)
from() {
	local c=$1
	shift
	nsenter --net="/proc/${PID[$c]}/ns/net" curl -sS --noproxy '*' \
		--max-time 2 --fail "$@"
}
ruleset() { sb_dev_exec nft list ruleset; }
has_pvx_table() { grep -q '^table ip pvx ' <<<"$(ruleset)"; }

sb_step "1. NAT pools reach the uplink as the device"
ctrld_up ctrld "$ST/state.json"
wait_cts
has_pvx_table || sb_fail "no pvx table in the device: $(ruleset)"
[[ $(sb_dev_exec cat /proc/sys/net/ipv4/ip_forward) == 1 ]] || sb_fail "ip_forward not on"
got=$(from ca http://10.201.0.1:8000/) || sb_fail "nat pool a cannot reach the uplink"
[[ $got == 10.200.0.1 ]] || sb_fail "uplink saw $got, want the device's 10.200.0.1"
got=$(from cb http://10.201.0.1:8000/) || sb_fail "nat pool b cannot reach the uplink"
[[ $got == 10.200.0.1 ]] || sb_fail "uplink saw $got from b"
sb_ok "a and b reach the uplink server, which sees 10.200.0.1"

sb_step "2. a nat: false pool does not"
if got=$(from cc http://10.201.0.1:8000/ 2>/dev/null); then
	sb_fail "nat: false pool c reached the uplink (seen as $got)"
fi
sb_ok "c (nat: false) cannot reach the uplink"

sb_step "3. isolation between pools and from the device's addresses"
got=$(sb_dev_exec "${SB_CURL[@]}" "http://${IP[ca]}/") || sb_fail "device cannot reach ca"
[[ $got == 10.0.4.1 ]] || sb_fail "ca saw the device as $got"
if from cb "http://${IP[ca]}/" >/dev/null 2>&1; then
	sb_fail "cb (pool b) reached ca (pool a) at ${IP[ca]}"
fi
if from cd "http://${IP[ca]}/" >/dev/null 2>&1; then
	sb_fail "cd (pool d, not isolated) reached ca in isolated pool a"
fi
got=$(from cb http://10.0.5.1:8001/) || sb_fail "cb cannot reach its gateway"
[[ $got == "${IP[cb]}" ]] || sb_fail "device saw cb as $got"
for a in 10.0.4.1 10.200.0.1; do
	if from cb "http://$a:8001/" >/dev/null 2>&1; then
		sb_fail "cb reached the device at $a (not its gateway)"
	fi
done
got=$(from cd http://10.200.0.1:8001/) ||
	sb_fail "cd (isolate: false) cannot reach the device's uplink address"
got=$(from cd "http://${IP[ce]}/") || sb_fail "cd cannot reach ce in its own pool"
sb_ok "b cannot reach pool a nor device addresses beyond 10.0.5.1; d (isolate: false) can"

sb_step "4. each container's own /etc/hosts and /etc/resolv.conf"
in_ct() { # NAME CMD...: in the container's mount, UTS and net namespaces
	local p=${PID[$1]}
	shift
	nsenter --target "$p" --mount --uts --net "$@"
}
for c in ca cc; do
	got=$(in_ct "$c" hostname -f 2>&1) || sb_fail "$c: hostname -f: $got"
	[[ $got == "$c" ]] || sb_fail "$c: hostname -f says $got"
	got=$(in_ct "$c" "$SB_PY" -c 'import socket
n = socket.gethostname()
print(socket.getfqdn(), socket.gethostbyname(n), socket.gethostbyaddr(socket.gethostbyname(n))[0])') ||
		sb_fail "$c: python name lookups failed"
	[[ $got == "$c ${IP[$c]} $c" ]] || sb_fail "$c: getfqdn, address, reverse: $got"
done
# The device's resolvers, loopback ones (unreachable from a pool) left out.
want=$(sb_dev_exec cat /etc/resolv.conf | awk '$1 == "nameserver" { print $2 }' |
	grep -vE '^(127\.|::1$)' || true)
got=$(in_ct ca cat /etc/resolv.conf | awk '$1 == "nameserver" { print $2 }')
[[ $got == "$want" ]] || sb_fail "ca (nat pool) resolvers: '$got', want '$want'"
! grep -q "^nameserver" <<<"$(in_ct cc cat /etc/resolv.conf)" ||
	sb_fail "cc (no nat) has a resolver: $(in_ct cc cat /etc/resolv.conf)"
! grep -qw ca <<<"$(sb_dev_exec cat /etc/hosts)" || sb_fail "the device's /etc/hosts names ca"
! grep -qw ca /etc/hosts || sb_fail "the root's /etc/hosts names ca"
sb_ok "hostname -f, getfqdn() and reverse lookups answer the container's name and lease; resolvers only with NAT"

sb_step "5. SIGTERM: the table and ip_forward restored"
rc=0
sb_stop ctrld 10 || rc=$?
[[ $rc == 0 ]] || sb_fail "pv-ctrld exited $rc"
! has_pvx_table || sb_fail "pvx table left after SIGTERM: $(ruleset)"
[[ $(sb_dev_exec cat /proc/sys/net/ipv4/ip_forward) == 0 ]] || sb_fail "ip_forward left on"
sb_ok "nothing of pvx in the ruleset, ip_forward 0"

sb_step "6. SIGKILL, then a restart cleans up from runtime.json"
ctrld_up ctrld2 "$ST/pools.json"
sb_wait_for "pvx table" 10 has_pvx_table
has_pvx_table || sb_fail "no pvx table after restart"
grep -q '"nat"' "$SB_STATE/runtime.json" || sb_fail "runtime.json does not record the table"
kill -KILL "$(sb_pid ctrld2)"
sb_wait_for "pv-ctrld gone" 10 eval '! sb_alive "$(sb_pid ctrld2)"'
has_pvx_table || sb_fail "table gone without a cleanup?"
# A state without pools: only the crash cleanup can remove the table.
ctrld_up ctrld3 "$ST/empty.json"
sb_wait_for "graph answers" 10 sb_graph
! has_pvx_table || sb_fail "pvx table left after SIGKILL + restart: $(ruleset)"
[[ $(sb_dev_exec cat /proc/sys/net/ipv4/ip_forward) == 0 ]] ||
	sb_fail "ip_forward left on after SIGKILL + restart"
sb_stop ctrld3 10 || true
ruleset >"$SB_TMP/final.nft"
! grep -q pvx "$SB_TMP/final.nft" || sb_fail "pvx rules left: $(cat "$SB_TMP/final.nft")"
if grep -q "^table ip pvx$" <<<"$(nft list tables 2>/dev/null)"; then
	sb_fail "the root namespace has a pvx table"
fi
sb_ok "crash leftovers removed; the root namespace never got a table"
sb_pass "pool NAT and isolation"
