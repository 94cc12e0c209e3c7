#!/usr/bin/env bash
# Issue 13 (e): a macvlan pool. A dummy interface in the device stands in
# for its LAN port (the pool's parent); the device's own presence on that
# LAN is a macvlan of its own (a parent does not talk to its macvlans).
# A process container on the pool gets a macvlan eth0 born in its
# namespace, its lease, the MAC 02:00:<ip>, the default route via the
# pool's gateway (which the device does not own), and a TCP ingress to it
# serves. Nothing of the pool is left on the device after pv-ctrld stops.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init pnmv
sb_device
D=$SB_DEV
ST=$SB_TMP/st
mkdir -p "$ST"
# A dummy parent; a veth with its peer up where the kernel has no dummy
# driver (the macvlans' bridge mode works the same on both).
if ! ip -n "$D" link add lan0 type dummy 2>/dev/null; then
	ip -n "$D" link add lan0 type veth peer name lan0p
	ip -n "$D" link set lan0p up
fi
ip -n "$D" link set lan0 up
NLINKS=$(sb_dev_exec ip -o link show | wc -l)
ip -n "$D" link add lanhost link lan0 type macvlan mode bridge
ip -n "$D" addr add 10.0.8.254/24 dev lanhost
ip -n "$D" link set lanhost up

cat >"$ST/hello.sh" <<'SH'
cr=$(printf '\r')
while read -r l && [ "$l" != "$cr" ] && [ -n "$l" ]; do :; done
printf 'HTTP/1.0 200 OK\r\n\r\n%s' "$SOCAT_PEERADDR"
SH
cat >"$ST/state.json" <<'JSON'
{ "#spec": "pantavisor-service-system@1",
  "device.json": {
    "network": { "pools": { "lan": { "type": "macvlan", "parent": "lan0",
      "subnet": "10.0.8.0/24", "gateway": "10.0.8.1" } } },
    "ingress": [ { "name": "web-in", "type": "tcp", "external": "0.0.0.0:8080",
      "provider": "web", "service": "www" } ] },
  "web/run.json": { "type": "process",
    "exec": ["socat", "TCP-LISTEN:80,fork,reuseaddr", "EXEC:/bin/sh hello.sh"],
    "network": { "pool": "lan" } },
  "web/services.json": [ { "name": "www", "type": "tcp", "port": 80 } ] }
JSON

sb_step "1. the container on the macvlan pool"
sb_pvx_up "$ST/state.json"
sb_pvx_wait_ingress www web 8080
P=$SB_PROVIDER_PID
[[ $(sb_graph_get www socket) == 10.0.8.2:80 ]] || sb_fail "socket $(sb_graph_get www socket)"
in_ct() { nsenter --net="/proc/$P/ns/net" "$@"; }
link=$(in_ct ip -d -o link show dev eth0) || sb_fail "no eth0 in the container"
grep -q "macvlan mode bridge" <<<"$link" || sb_fail "eth0 is not a macvlan: $link"
grep -q "link/ether 02:00:0a:00:08:02 " <<<"$link" || sb_fail "eth0 MAC: $link"
grep -q "inet 10.0.8.2/24 " <<<"$(in_ct ip -4 -o addr show dev eth0)" ||
	sb_fail "eth0 address: $(in_ct ip -4 -o addr show dev eth0)"
grep -q "default via 10.0.8.1 dev eth0" <<<"$(in_ct ip route show default)" ||
	sb_fail "default route: $(in_ct ip route)"
! grep -q "10.0.8.1/" <<<"$(sb_dev_exec ip -4 -o addr)" ||
	sb_fail "the device took the gateway address"
[[ $(sb_dev_exec ip -o link show type bridge) == "" ]] || sb_fail "a bridge was made"
sb_ok "eth0: macvlan on lan0, 10.0.8.2/24, 02:00:0a:00:08:02, default via 10.0.8.1"

sb_step "2. ingress to it serves"
got=$(sb_dev_exec "${SB_CURL[@]}" http://127.0.0.1:8080/) || sb_fail "ingress did not serve"
[[ $got == 10.0.8.254 ]] || sb_fail "container saw the device as $got"
sb_ok "GET through the ingress reached the container (it saw 10.0.8.254)"

sb_step "3. SIGTERM: nothing of the pool left"
sb_stop xconnect 10 || true
rc=0
sb_stop ctrld 10 || rc=$?
[[ $rc == 0 ]] || sb_fail "pv-ctrld exited $rc"
links=$(sb_dev_exec ip -o link show)
[[ $(wc -l <<<"$links") == $((NLINKS + 1)) ]] || sb_fail "links left in the device: $links"
sb_ok "the device holds only what the test made"
sb_pass "macvlan pool"
